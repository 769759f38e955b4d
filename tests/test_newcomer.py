"""What a new user meets in the first hour, each as they would meet it."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest

import client.errors
from client import FakeGpt, UpstreamTimeoutError
from emulator import Emulator, builtin_scenarios, scenario_from_dict
from emulator.conformance.clients import CLIENT_FAILURE_KINDS
from emulator.dialects.registry import DIALECTS
from emulator.scenario import FAILURES
from tests.helpers import collect, conversation, converse, login, serving

ROOT = Path(__file__).resolve().parent.parent


def test_every_failure_kind_is_one_of_the_clients_errors() -> None:
    # The one table mapping this client's errors to client-neutral kinds covers them all,
    # but a corrupt binary frame (its stream, SSE, has no frames) and a refusal (its
    # upstream has no refusal field).
    assert set(CLIENT_FAILURE_KINDS.values()) == set(FAILURES) - {"corrupt_stream", "refused"}
    for name in CLIENT_FAILURE_KINDS:
        assert issubclass(getattr(client.errors, name), client.errors.FakeGptError)


def test_version_names_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("fakegpt-emulator 0.")


def test_list_into_a_closed_pipe_exits_quietly() -> None:
    done = subprocess.run(
        f"{sys.executable} -m emulator --list | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == ""  # no BrokenPipeError traceback
    assert len(done.stdout.splitlines()) == 1


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_emulator_serves_ipv6_and_dual_stack() -> None:
    with serving("--host", "::1") as (_, url):
        assert url.startswith("http://[::1]:")
        with urllib.request.urlopen(url + "/api/loads") as r:
            assert r.status == 200
    with serving("--host", "::") as (_, url):
        port = url.rsplit(":", 1)[1]
        for host in ("127.0.0.1", "[::1]"):  # one socket, both families
            with urllib.request.urlopen(f"http://{host}:{port}/api/loads") as r:
                assert r.status == 200


def test_a_scenarios_dir_adds_to_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('description = "mine"\n[reply]\ntext = "Mine!"\n')
    (tmp_path / "default.toml").write_text('description = "my default"\n[reply]\ntext = "M"\n')
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "list", "--scenarios-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    names = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert len(names) == len(builtin_scenarios()) + 1
    assert "mine" in names and "stall_silent" in names
    assert "my default" in names["default"]  # the user's file of the same name wins


def test_python_m_client_takes_a_scenario_and_a_timeout(emulator: Emulator) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "client", "hi", "--url", emulator.url, "--scenario", "echo_prompt"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n"
    assert emulator.calls("/api/conversation").last.scenario == "echo_prompt"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "client",
            "hi",
            "--url",
            emulator.url,
            "--scenario",
            "stall_silent",
            "--timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no bytes within the idle timeout of 0.5 s" in done.stderr


@pytest.mark.emulator_scenario("stall_silent")
async def test_a_timeout_error_states_the_limit_it_hit(fakegpt: type[FakeGpt]) -> None:
    with pytest.raises(UpstreamTimeoutError, match=r"idle timeout of 0\.3 s"):
        await collect(fakegpt, idle_timeout=0.3)
    with pytest.raises(UpstreamTimeoutError, match=r"deadline passed \(total_timeout\) of 0\.4 s"):
        await collect(fakegpt, total_timeout=0.4)


@pytest.mark.parametrize("name", ["http_500_loads", "login_rejected", "empty_loads"])
async def test_a_prompt_cannot_choose_a_login_phase_scenario_silently(
    name: str, emulator: Emulator
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
        body = conversation(f"[scenario:{name}]")
        status, _, answered, _ = await converse(http, emulator.url, token, body)
    assert status == 400
    assert f"chose '{name}', which acts on the login calls" in answered["detail"]
    assert "X-Emulator-Scenario header" in answered["detail"]


async def test_a_queued_login_phase_scenario_that_was_served_counts_as_used(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    emulator.queue("http_500_loads")
    with pytest.raises(client.errors.UpstreamStatusError):
        await collect(fakegpt)
    assert emulator.calls("/api/loads").last.scenario == "http_500_loads"
    assert emulator.problems() == []  # served (to /api/loads), so not "never used"
    emulator.reset()


def test_dicts_without_a_name_get_distinct_names() -> None:
    a = scenario_from_dict({"description": "a"})
    b = scenario_from_dict({"description": "b"})
    named = scenario_from_dict({"name": "mine", "description": "c"})
    assert a.name.startswith("inline-") and b.name.startswith("inline-") and a.name != b.name
    assert scenario_from_dict({"description": "a"}).name == a.name
    assert named.name == "mine"


def test_the_ini_scenarios_dir_and_relative_markers(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("my_scenarios")
    (folder / "greeting.toml").write_text('description = "g"\n[reply]\ntext = "Greetings!"\n')
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "beside.toml").write_text(
        'description = "b"\n[reply]\ntext = "Beside!"\n'
    )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "emulator_scenarios_dir = my_scenarios\n"
    )
    (pytester.path / "tests" / "test_mine.py").write_text(
        """
import pytest

@pytest.mark.emulator_scenario("greeting")
async def test_by_name(emulator, fakegpt):
    assert await fakegpt.create_async("m", [{"role": "user", "content": "x"}]) == "Greetings!"

@pytest.mark.emulator_scenario("greeting.toml")
async def test_by_relative_path(emulator, fakegpt):
    assert await fakegpt.create_async("m", [{"role": "user", "content": "x"}]) == "Greetings!"

@pytest.mark.emulator_scenario("beside.toml")
async def test_beside_the_test(emulator, fakegpt):
    assert await fakegpt.create_async("m", [{"role": "user", "content": "x"}]) == "Beside!"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_license_and_changelog_ship() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert "MIT License" in license_text
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert "## 0.2.0" in (ROOT / "CHANGELOG.md").read_text()


def test_every_package_is_installed() -> None:
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("emulator", "client")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk | {"emulator.scenarios"} == listed


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen", "twenty", "twenty-one", "twenty-two")  # fmt: skip


def test_the_readme_s_first_screen_counts_what_ships() -> None:
    # The counts a newcomer reads first, checked against the registry and the scenarios
    # folder, so they cannot go stale.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = " ".join(readme[: readme.index("## Two commands")].split())
    dialects = len(DIALECTS)
    assert f"speaks {_WORDS[dialects]} dialects" in first, first
    assert all(d.title.split()[-1] in first for d in DIALECTS.values()), first
    assert f"serves the same {len(builtin_scenarios())} scripted scenarios" in first, first
