"""Sessions over real sockets: what one session chooses, counts and journals, no other sees."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from emulator import EmulatorConfig, Limits, builtin_scenarios
from emulator.core.endings import Problem
from emulator.pytest_plugin import EmulatorFactory
from emulator.remote import RemoteEmulator, RemoteError
from emulator.server import EmulatorServer
from tests.helpers import answer, conversation, converse, login, run_client

from .e2e.test_seed_client import expected_text

SESSION = "X-Emulator-Session"


async def test_sessions_do_not_see_each_others_scenario_queue_counters_or_journal(
    emulator_factory: EmulatorFactory,
) -> None:
    root = await emulator_factory(EmulatorConfig(speed=0))
    a, b = root.session("a"), root.session("b")
    a.use("echo_prompt")
    b.queue("unicode_text")
    b.add_rule("^never$", "long_reply")

    assert await run_client(a.url) == "x"  # echoes the prompt
    assert await run_client(b.url) == expected_text("unicode_text")
    assert await run_client(root.url) == expected_text("default")
    assert await run_client(a.url) == "x"

    assert b.state.queued == [] and root.state.queued == [] and a.state.queued == []
    assert b.state.rules == [("^never$", "long_reply")] and a.state.rules == []
    assert [c.scenario for c in a.calls("/api/conversation")] == ["echo_prompt"] * 2
    # Each session counts its own calls.
    assert [c.number for c in a.calls("/api/conversation")] == [1, 2]
    assert [c.number for c in b.calls("/api/conversation")] == [1]
    assert {c.session for c in a.requests} == {"a"} and {c.session for c in b.requests} == {"b"}
    assert {c.session for c in root.requests} == {None}
    # Each request's path is the upstream's, without the session prefix.
    assert {c.path for c in a.requests} == {
        "/api/loads",
        "/auth/login",
        "/api/auth/session",
        "/api/conversation",
    }
    # The server's journal has all of them.
    assert len(root.state.journal.requests) == sum(len(s.requests) for s in (root, a, b)) == 16


async def test_the_header_names_a_session_for_the_upstream_and_the_admin_api(
    emulator_factory: EmulatorFactory,
) -> None:
    root = await emulator_factory(EmulatorConfig(speed=0))
    admin = f"{root.url}/_emulator"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, _, body, _ = await answer(
            http,
            "PUT",
            f"{admin}/scenario",
            json={"scenario": "echo_prompt"},
            headers={SESSION: "h"},
        )
        assert status == 200 and body["name"] == "echo_prompt"
        # The same session by its URL prefix; the default session is untouched.
        _, _, body, _ = await answer(http, "GET", f"{root.url}/_session/h/_emulator/scenario")
        assert body["name"] == "echo_prompt"
        _, _, body, _ = await answer(http, "GET", f"{admin}/scenario")
        assert body["name"] == "default"

        token = await login(http, f"{root.url}/_session/h")
        status, _, text, _ = await answer(
            http,
            "POST",
            f"{root.url}/api/conversation",
            json=conversation("hello there"),
            headers={"X-Authorization": f"Bearer {token}", SESSION: "h"},
        )
        assert status == 200 and '"parts": ["hello there"]' in text

        _, _, mine, _ = await answer(http, "GET", f"{admin}/journal", headers={SESSION: "h"})
        assert {e["session"] for e in mine} == {"h"} and len(mine) == 4
        _, _, everyone, _ = await answer(http, "GET", f"{admin}/journal")
        assert len(everyone) == 4  # the admin's own calls are not journaled
        _, _, default, _ = await answer(http, "GET", f"{admin}/journal?session=")
        assert default == []
        # An entry of another session is not found from this one.
        status, _, _, _ = await answer(
            http, "GET", f"{admin}/journal/{mine[0]['id']}", headers={SESSION: "other"}
        )
        assert status == 404

        _, _, listing, _ = await answer(http, "GET", f"{admin}/sessions")
        assert [s["id"] for s in listing] == ["h", "other"]
        assert listing[0]["active"] == "echo_prompt" and listing[0]["requests"] == 4

        status, _, body, _ = await answer(http, "DELETE", f"{admin}/sessions/h")
        assert status == 200 and body == {"dropped": "h"}
        status, _, body, _ = await answer(http, "DELETE", f"{admin}/sessions/h")
        assert status == 404 and "no session 'h'" in body["detail"]
        _, _, everyone, _ = await answer(http, "GET", f"{admin}/journal")
        assert everyone == []  # a dropped session's calls leave the journal


async def test_sessions_are_bounded_and_idle_ones_expire(
    emulator_factory: EmulatorFactory,
) -> None:
    limits = Limits(sessions=2, session_idle=0.3)
    root = await emulator_factory(EmulatorConfig(speed=0, limits=limits))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for name in ("a", "b", "c"):
            status, _, _, _ = await answer(http, "GET", f"{root.url}/_session/{name}/api/loads")
            assert status == 200
        # At most two: the third took the place of the least recently used.
        assert [s["id"] for s in root.state.sessions()] == ["b", "c"]
        await asyncio.sleep(0.4)
        status, _, _, _ = await answer(http, "GET", f"{root.url}/_session/d/api/loads")
        assert status == 200
        assert [s["id"] for s in root.state.sessions()] == ["d"]


@pytest.mark.parametrize(
    ("path", "headers", "problem"),
    [
        ("/_session/bad%20id/api/loads", {}, "a session id is 1 to 64"),
        ("/api/loads", {SESSION: "x" * 65}, "a session id is 1 to 64"),
        ("/api/loads", {SESSION: "no/slash"}, "a session id is 1 to 64"),
        ("/_session/a/api/loads", {SESSION: "b"}, "name different sessions"),
        ("/_session//api/loads", {}, "a session id is 1 to 64"),
    ],
)
async def test_a_bad_session_is_a_400_naming_the_problem(
    emulator_factory: EmulatorFactory, path: str, headers: dict[str, str], problem: str
) -> None:
    root = await emulator_factory(EmulatorConfig(speed=0))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, ctype, body, _ = await answer(http, "GET", root.url + path, headers=headers)
    assert status == 400 and ctype == "application/json"
    assert body["detail"].startswith("bad session: ") and problem in body["detail"]
    assert root.state.sessions() == []


async def test_session_tokens_refuse_a_login_made_in_another_session(
    emulator_factory: EmulatorFactory,
) -> None:
    root = await emulator_factory(EmulatorConfig(speed=0))
    scoped = {"description": "tokens per session", "session_tokens": True}
    a, b = root.session("a"), root.session("b")
    a.use(scoped)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token_b = await login(http, b.url)
        status, _, body, _ = await converse(http, a.url, token_b)
        assert status == 401
        assert "issued in another emulator session (b)" in body["detail"]
        # The login cookie made in b does not sign anyone in to a.
        _, _, session, _ = await answer(http, "GET", f"{a.url}/api/auth/session")
        assert session == {}
        token_a = await login(http, a.url)
        status, _, _, _ = await converse(http, a.url, token_a)
        assert status == 200
        # Without session_tokens, a token crosses sessions as it crosses processes.
        status, _, _, _ = await converse(http, b.url, token_a)
        assert status == 200


def test_threads_on_one_server_each_in_a_session_do_not_interfere() -> None:
    """Two threads, each with its own loop and session, changing scenarios as they go."""
    plan = {"t1": ("echo_prompt", "unicode_text"), "t2": ("unicode_text", "echo_prompt")}
    seen: dict[str, list[tuple[str, str]]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=10)

    with EmulatorServer(EmulatorConfig(speed=0)) as server:

        async def work(name: str) -> None:
            handle = server.session(name)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                token = await login(http, handle.url)
                barrier.wait()
                for i in range(20):  # bounded: 20 rounds each
                    scenario = plan[name][i % 2]
                    handle.use(scenario)
                    status, _, text, _ = await converse(
                        http, handle.url, token, conversation(f"{name} {i}")
                    )
                    assert status == 200
                    seen.setdefault(name, []).append((scenario, text))

        def run(name: str) -> None:
            try:
                asyncio.run(work(name))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in plan]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert time.monotonic() - started < 30 and not errors, errors
        for name, rounds in seen.items():
            assert len(rounds) == 20
            for i, (scenario, text) in enumerate(rounds):
                if scenario == "echo_prompt":
                    assert f'"parts": ["{name} {i}"]' in text
                else:
                    assert "Привет" in text or "\\u041f" in text
            calls = server.session(name).calls("/api/conversation")
            assert [c.scenario for c in calls] == [s for s, _ in rounds]


CONCURRENT_TESTS = """
    import pathlib
    import time

    import pytest

    SCENARIOS = {"a": ("echo_prompt", "{prompt}"), "b": ("unicode_text", None)}

    def wait_for_the_other(me, other):
        pathlib.Path(BARRIER, me).touch()
        until = time.monotonic() + 20  # bounded, as every loop here
        while not pathlib.Path(BARRIER, other).exists():
            assert time.monotonic() < until, "the other test never started"
            time.sleep(0.01)

    @pytest.mark.parametrize(("me", "other"), [("a", "b"), ("b", "a")])
    async def test_one_of_two_at_once(emulator, fakegpt, me, other):
        scenario, _ = SCENARIOS[me]
        emulator.use(scenario)
        wait_for_the_other(me, other)
        for i in range(15):
            prompt = f"{me} {i}"
            text = await fakegpt.create_async("m", [{"role": "user", "content": prompt}])
            if scenario == "echo_prompt":
                assert text == prompt
            else:
                assert text.startswith("Привет!")
        calls = emulator.calls("/api/conversation")
        assert [c.number for c in calls] == list(range(1, 16))
        assert {c.scenario for c in calls} == {scenario}
        assert {c.session for c in emulator.requests} == {emulator.session_id}
        pathlib.Path(BARRIER, me + ".done").touch()
"""


def test_two_pytest_workers_share_one_server_each_test_in_its_own_session(
    pytester: pytest.Pytester,
) -> None:
    """xdist's two workers, one emulator (EMULATOR_URL): the two tests run at the same
    time, each changing its scenario and counting its calls, and neither sees the other."""
    barrier = pytester.mkdir("barrier")
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        pytester.makeini(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            f"filterwarnings = error\nemulator_url = {server.url}\n"
        )
        pytester.makepyfile(f"BARRIER = {str(barrier)!r}\n" + textwrap.dedent(CONCURRENT_TESTS))
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
        result.assert_outcomes(passed=2)
        # Both sessions were used from two processes, then dropped by the fixture.
        sessions = {c.session for c in server.state.journal.requests}
        assert server.state.sessions() == [] and sessions == set()
        assert server.state.metrics.requests  # the server did serve them
        served = sum(
            n
            for (path, _, _), n in server.state.metrics.requests.items()
            if path == "/api/conversation"
        )
        assert served == 30
    assert {p.name for p in barrier.iterdir()} == {"a", "b", "a.done", "b.done"}


def test_a_remote_handle_registers_what_it_is_given_and_names_what_the_server_refuses() -> None:
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        remote = RemoteEmulator(server.url).session("r")
        assert remote.use({"description": "mine", "reply": {"text": "own"}}).name.startswith("py-")
        assert server.session("r").state.active.reply.text == "own"
        assert server.state.active.name == "default"  # the default session is untouched
        remote.queue("echo_prompt")
        assert remote.problems() == [Problem("unused", "echo_prompt")]
        assert [str(p) for p in remote.problems()] == ["queued scenario never used: echo_prompt"]
        with pytest.raises(RemoteError, match=r"409 .*at most 1000"):
            remote.queue(*["echo_prompt"] * 1000)
        with pytest.raises(RemoteError, match=r"400 .*no scenario named 'nope'"):
            remote.use("nope")
        assert not hasattr(remote, "state")  # it lives in the other process: not an attribute
        remote.drop()
        assert server.state.sessions() == []
    with pytest.raises(RemoteError, match="cannot be reached"):
        remote.reset()


def readme_example(marker: str) -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    return next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if marker in b)


def run_example(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_sessions_example_prints_what_it_says() -> None:
    greeting = builtin_scenarios()["unicode_text"].reply.text or ""
    expected = f"hi\n{greeting[:7]}\n1 1\n"
    assert run_example(readme_example("emulator.session(")) == expected


def test_the_readme_chaos_example_runs_and_repeats_itself_from_its_seed() -> None:
    code = readme_example("parse_chaos(")
    out = run_example(code)
    tries = re.findall(r"^try \d: (\w+)$", out, re.M)
    calls = re.findall(r"^call \d+: (.+)$", out, re.M)
    assert len(tries) + len(calls) == len(out.splitlines()) and calls
    assert set(tries) <= {"UpstreamTimeoutError", "UpstreamStatusError", "IncompleteStreamError"}
    assert all(re.match(r"(drop|stall|malformed_json) before|HTTP 500", c) for c in calls)
    # Every failure was chaos's doing: as many hits that fail as failures.
    assert len(tries) == sum(not c.startswith("malformed_json") for c in calls)
    assert run_example(code) == out  # the same seed, the same run


def test_both_handles_implement_the_whole_handle_protocol_and_nothing_of_it_raises() -> None:
    from emulator.handle import EmulatorHandle

    members = sorted(
        name
        for name in {*vars(EmulatorHandle), *EmulatorHandle.__annotations__}
        if not name.startswith("_")
    )
    assert {"url", "use", "requests", "problems", "session", "port"} <= set(members)
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        local = server.session("h")
        for handle in (local, RemoteEmulator(server.url).session("h")):
            for name in members:
                value = getattr(handle, name)  # a property is read: it must not raise
                assert value is not None or name == "session_id", name
            assert handle.port == server.port and handle.session_id == "h"
            assert handle.headers == {"X-Emulator-Session": "h"}
            assert handle.call_count == len(handle.requests) == len(handle.calls())
            assert handle.problems() == []
        local.drop()
