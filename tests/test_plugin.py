"""emulator.pytest_plugin, tested as users meet it: through pytester, and the README's examples."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"


#: What only the README's plugin example says.
PLUGIN_EXAMPLE = 'emulator_scenario("http_401_then_ok")'


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    return pytester


def test_the_fixtures_come_from_the_entry_point(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import aiohttp
        import pytest

        async def test_fixture(emulator, fakegpt):
            assert emulator.url.startswith("http://127.0.0.1:")
            assert fakegpt.url == emulator.url
            text = await fakegpt.create_async("m", [{"role": "user", "content": "hi"}])
            assert text == "Hello! How can I help you today?"
            assert emulator.calls("/api/conversation").last.status == 200
            assert emulator.call_count == 4

        @pytest.mark.emulator_scenario("done_only")
        async def test_marker(emulator):
            assert emulator.state.active.name == "done_only"

        def test_reset_between_tests(emulator):
            assert emulator.requests == [] and emulator.state.active.name == "default"
        """
    )
    inner.runpytest("--strict-markers").assert_outcomes(passed=3)


def test_teardown_fails_a_test_whose_requests_matched_nothing(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import urllib.request, urllib.error
        import pytest

        def get(url):
            try:
                urllib.request.urlopen(url)
            except urllib.error.HTTPError as e:
                return e.code

        def test_strict(emulator):
            assert get(emulator.url + "/api/missing") == 404

        @pytest.mark.emulator_allow(unmatched=True)
        def test_allowed(emulator):
            assert get(emulator.url + "/api/missing") == 404

        def test_unused_queue(emulator):
            emulator.queue("default", "done_only")
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*request matched no route: GET /api/missing*",
            "*queued scenario never used: default*",
            "*@pytest.mark.emulator_allow(unmatched=True, unused=True, errors=True)*",
        ]
    )


def test_the_factory_starts_fresh_servers_and_closes_them_lifo(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import aiohttp
        from emulator import EmulatorConfig
        from emulator.pytest_plugin import EmulatorFactory

        async def test_factory(emulator_factory: EmulatorFactory):
            a = await emulator_factory(EmulatorConfig(secret=b"s", speed=0))
            b = await emulator_factory(EmulatorConfig(secret=b"s", accounts=2))
            assert a.url != b.url and b.config.accounts == 2
            async with aiohttp.ClientSession() as s:
                async with s.get(b.url + "/api/loads") as r:
                    assert len((await r.json())["loads"]) == 2
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_safe_under_xdist(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(8))
        async def test_many(n, emulator, fakegpt):
            text = await fakegpt.create_async("m", [{"role": "user", "content": "hi"}])
            assert text == "Hello! How can I help you today?"
            assert emulator.calls("/api/conversation").call_count == 1
        """
    )
    inner.runpytest_subprocess("-n", "2", "-p", "xdist").assert_outcomes(passed=8)


def test_the_readme_plugin_example_runs_in_an_empty_project(pytester: pytest.Pytester) -> None:
    # As copied into a new project: no ini file, pytest-asyncio in its default
    # (strict) mode, nothing from this repository's configuration.
    example = next(b for b in readme_blocks() if PLUGIN_EXAMPLE in b)
    pytester.makepyfile(test_readme=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_readme_s_ini_for_a_new_project_runs_its_example_without_a_warning(
    pytester: pytest.Pytester,
) -> None:
    # Without it pytest-asyncio warns on every run; with the README's ini (and no other
    # setting), the README's plugin example passes with warnings as errors.
    ini = next(b for b in re.findall(r"```ini\n(.*?)```", README.read_text(encoding="utf-8"),
                                     re.S) if "asyncio_default_fixture_loop_scope" in b)  # fmt: skip
    example = next(b for b in readme_blocks() if PLUGIN_EXAMPLE in b)
    pytester.makepyfile(test_readme=example)
    unset = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    assert "asyncio_default_fixture_loop_scope" in unset.stdout.str() + unset.stderr.str()
    pytester.makeini(ini)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_the_readme_quickstart_runs(inner: pytest.Pytester) -> None:
    quickstart = next(b for b in readme_blocks() if "asyncio.run(main())" in b)
    inner.makepyfile(
        test_quickstart=f"""

        def test_quickstart(emulator, capsys):
            code = {quickstart!r}.replace("http://localhost:8080", emulator.url)
            exec(compile(code, "README.md", "exec"), {{"__name__": "__main__"}})
            assert capsys.readouterr().out == "Hello! How can I help you today?"
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


IN_LOOP_TESTS = """
    import asyncio
    import threading
    import urllib.request
    import pytest

    THREAD_URLS = []

    def server(url):
        return url.split("/_session/")[0]

    def test_sync_tests_get_the_threaded_server(emulator):
        THREAD_URLS.append(server(emulator.url))
        with urllib.request.urlopen(emulator.url + "/api/loads") as r:
            assert r.status == 200

    @pytest.mark.asyncio(loop_scope="session")
    async def test_session_loop_tests_get_a_server_in_their_loop(emulator, fakegpt):
        in_loop = server(emulator.url) != THREAD_URLS[0]
        assert in_loop == IN_LOOP
        emulator.use("echo_prompt")
        text = await fakegpt.create_async("m", [{"role": "user", "content": "hi there"}])
        assert text == "hi there"
        # One journal for both servers: the handle sees what was served.
        assert emulator.calls("/api/conversation").last.scenario == "echo_prompt"
        assert [c.path for c in emulator.requests][-1] == "/api/conversation"

    async def test_function_loop_tests_keep_the_threaded_server(emulator, fakegpt):
        assert server(emulator.url) == THREAD_URLS[0]
        text = await fakegpt.create_async("m", [{"role": "user", "content": "hi"}])
        assert text == "Hello! How can I help you today?"

    @pytest.mark.asyncio(loop_scope="session")
    async def test_the_strict_teardown_holds_in_the_loop(emulator):
        emulator.queue("echo_prompt")
"""


@pytest.mark.parametrize("in_loop", [True, False])
def test_emulator_in_test_loop_serves_session_loop_tests_from_their_loop(
    pytester: pytest.Pytester, in_loop: bool
) -> None:
    pytester.makeini(INI + f"emulator_in_test_loop = {str(in_loop).lower()}\n")
    pytester.makepyfile(f"IN_LOOP = {in_loop}\n" + textwrap.dedent(IN_LOOP_TESTS))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)  # the last test passes, its teardown fails
    result.stdout.fnmatch_lines(["*queued scenario never used: echo_prompt*"])


def test_the_readme_in_loop_settings_serve_unmarked_async_tests_from_the_session_loop(
    pytester: pytest.Pytester,
) -> None:
    readme = README.read_text(encoding="utf-8")
    settings = next(b for b in re.findall(r"```ini\n\[pytest\]\n(.*?)```", readme, re.S)
                    if "emulator_in_test_loop" in b)  # fmt: skip
    assert "emulator_in_test_loop = true" in settings
    pytester.makeini(INI + settings)
    pytester.makepyfile(
        """
        import asyncio

        URLS = []

        def test_sync(emulator):
            URLS.append(emulator.url.split("/_session/")[0])

        async def test_async(emulator, fakegpt):
            # Not the threaded server the sync test got: the one in this loop.
            assert emulator.url.split("/_session/")[0] != URLS[0]
            text = await fakegpt.create_async("m", [{"role": "user", "content": "hi"}])
            assert text == "Hello! How can I help you today?"
            assert emulator.calls("/api/conversation").call_count == 1
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_the_readme_conformance_example_runs_in_an_empty_project(
    pytester: pytest.Pytester,
) -> None:
    example = next(b for b in readme_blocks() if "from emulator.conformance import" in b)
    pytester.makepyfile(test_conformance_example=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)  # the eight http_* scenarios, each judged
