"""python -m emulator: options, banner, list/check (and their old --list/--check), clean shutdown; two processes sharing a secret."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from client import FakeGpt
from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios
from emulator.core.signing import Signer
from emulator.dialects.registry import DIALECTS
from tests.helpers import collect, serving


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_shows_every_scenario_with_its_description() -> None:
    done = run("list")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) >= 20 and any(line.startswith("default ") for line in lines)
    assert run("--list").stdout == done.stdout  # the old spelling, kept for one release


def test_help_lists_every_subcommand_and_serve_is_the_default() -> None:
    from emulator.cli.main import COMMANDS

    done = run("--help")
    assert done.returncode == 0
    listed = done.stdout[done.stdout.index("commands:") :]
    assert all(f"    {command} " in listed for command in COMMANDS), listed
    # Every API it speaks, from the registry: the description cannot go stale.
    said = " ".join(done.stdout[: done.stdout.index("commands:")].split())
    assert all(d.title in said for d in DIALECTS.values()), said
    for command in COMMANDS:
        assert run(command, "--help").returncode == 0, command
    # Serve's options with no command are serve's: a bad one is refused as serve's.
    assert "python -m emulator serve: error: --port" in run("--port", "70000").stderr
    # -o is where each command writes what it makes.
    for command in ("conform", "import", "record"):
        assert "-o OUTPUT, --output OUTPUT" in run(command, "--help").stdout, command


def test_conform_writes_its_report_where_o_says_in_the_format_of_its_suffix(
    tmp_path: Path,
) -> None:
    report = tmp_path / "card.json"
    done = run("conform", "--python", "tests.conformance_clients:sync_fakegpt", "-k", "default",
               "--speed", "0", "-o", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r["scenario"] for r in json.loads(report.read_text())["results"]] == ["default"]
    refused = run("conform", "--python", "x:y", "-o", str(tmp_path / "card.pdf"))
    assert refused.returncode == 2 and "ends in none of .json" in refused.stderr


def test_check_passes_on_the_shipped_folder_and_names_a_bad_file(tmp_path: Path) -> None:
    done = run("check")
    assert done.returncode == 0 and f"{len(builtin_scenarios())} scenarios" in done.stdout
    files = {
        "broken": 'description = "x"\n[wire]\nbody = "none"\n',
        "not_toml": "description = \n",
        "late_fault": 'description = "x"\n[reply]\ntext = "Hi there"\n'
        '[[faults]]\nkind = "drop"\nat = 40\n',
        "no_such_error": 'description = "x"\n[expect]\nerror = "NoSuchError"\n',
        "far_call": 'description = "x"\n[[http_errors]]\nendpoint = "loads"\nstatus = 500\n'
        "on_call = 100000\n",
        "contradiction": 'description = "x"\n[wire]\nbody = "empty"\n[[faults]]\nkind = "drop"\n',
        "fine": 'description = "x"\n',
    }
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text)
    done = run("check", "--scenarios-dir", str(tmp_path))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    expected = [
        ("broken.toml", "[wire.body]"),
        ("contradiction.toml", "[faults] never happen"),
        ("contradiction.toml", "[expect] a reply cannot arrive"),
        ("far_call.toml", "[http_errors[0].on_call] 100000 is past any plausible"),
        ("late_fault.toml", "[faults[0].at] 40 is past the last message event (3)"),
        ("no_such_error.toml", "[expect.error] expect.error (a client's class name) was replaced"),
        ("not_toml.toml", "is not valid TOML"),
    ]
    assert len(lines) == len(expected), done.stdout
    for line, (file, text) in zip(lines, expected, strict=True):
        assert file in line and text in line, line
    assert "7 problems" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port"),
        (["--speed", "-1"], "--speed"),
        (["--port", "x"], "invalid int"),
        (["--scenario", "nope"], "no scenario named 'nope'"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_banner_serves_and_sigterm_stops_within_a_second() -> None:
    with serving("--speed", "0", "--scenario", "paced_50_tps") as (proc, url):
        assert url.startswith("http://localhost:")
        FakeGpt.url = url
        FakeGpt.reset()
        try:
            text = "".join(asyncio.run(collect(FakeGpt)))
        finally:
            FakeGpt.reset()
        assert len(text) > 100
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 1.0
        _, err = proc.communicate()
        assert "POST /api/conversation 200 completed scenario=paced_50_tps bytes=" in err


def test_two_processes_with_one_secret_accept_each_others_logins() -> None:
    with (
        serving("--secret", "shared", "--speed", "0") as (_, first),
        serving("--secret", "shared") as (_, second),
    ):

        async def across() -> str:
            FakeGpt.url = first
            FakeGpt.reset()
            await collect(FakeGpt)  # logs in on the first process
            token = FakeGpt._access_token
            FakeGpt.url = second
            assert FakeGpt._access_token is None  # the client never sends it elsewhere itself
            FakeGpt._access_token = token  # handed over on purpose: the second accepts it
            return "".join(await collect(FakeGpt))

        try:
            assert asyncio.run(across()) == "Hello! How can I help you today?"
        finally:
            FakeGpt.reset()
        with urllib.request.urlopen(f"{second}/_emulator/journal") as answer:
            journal = json.load(answer)
        assert [c["path"] for c in journal] == ["/api/conversation"]  # no login there


def test_a_busy_port_is_reported() -> None:
    with serving() as (_, url):
        port = url.rsplit(":", 1)[1]
        done = run("--port", port)
    assert done.returncode == 1 and "cannot listen" in done.stderr


def test_stopping_the_threaded_server_does_not_wait_for_a_stalled_stream() -> None:
    config = EmulatorConfig(speed=0, secret=b"stop-test")
    token, _ = Signer(b"stop-test").issue("access", "acct", "user-stop")
    server = EmulatorServer(config).start()
    body = json.dumps(
        {
            "action": "next",
            "messages": [{"author": {"role": "user"}, "content": {"parts": ["x"]}}],
            "parent_message_id": "p",
        }
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Emulator-Scenario: stall_before_first_byte\r\n"
            + f"X-Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert sock.recv(15).startswith(b"HTTP/1.1 200")  # the 20 s stall is under way
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3


def test_an_emulator_server_starts_again_after_stop() -> None:
    server = EmulatorServer(EmulatorConfig(speed=0)).start()
    first = server.url
    with urllib.request.urlopen(first + "/api/loads") as r:
        assert r.status == 200
    server.stop()
    assert server.url == ""
    server.start()
    try:
        assert server.url and server.url != ""
        with urllib.request.urlopen(server.url + "/api/loads") as r:
            assert r.status == 200
        # One state across runs: the journal kept both requests.
        assert server.calls("/api/loads").call_count == 2
    finally:
        server.stop()


def test_the_emulator_listens_with_a_backlog_of_1024() -> None:
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("no ss on this machine (iproute2)")
    with serving() as (_, url):
        port = url.rsplit(":", 1)[1]
        listing = subprocess.run(
            [ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout
    # For a listening socket, ss shows the backlog as Send-Q.
    (line,) = listing.splitlines()
    assert int(line.split()[2]) >= 1024, line


def test_faker_is_warmed_before_the_first_request() -> None:
    # In a fresh process: serving a scenario that uses Faker text imports
    # Faker as the server starts, not on the first request.
    code = (
        "import asyncio, sys\n"
        "from emulator import EmulatorConfig, serve\n"
        "async def main():\n"
        "    assert 'faker' not in sys.modules\n"
        "    async with serve(EmulatorConfig(default='long_reply')):\n"
        "        print('faker' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_workers_serve_one_port_and_accept_each_others_tokens() -> None:
    def per_worker(path: str) -> dict[int, int]:
        """Each worker's journal count of ``path`` (fresh connections reach both)."""
        counts: dict[int, int] = {}
        host, port = url.removeprefix("http://").rsplit(":", 1)
        for _ in range(40):
            # Both requests on one connection: one worker answers both.
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                connection.request("GET", "/_emulator")
                pid = json.loads(connection.getresponse().read())["pid"]
                connection.request("GET", f"/_emulator/journal?path={path}")
                counts[pid] = len(json.loads(connection.getresponse().read()))
            finally:
                connection.close()
        return counts

    with serving("--workers", "2", "--speed", "0") as (proc, url):
        # The banner comes once a worker answers; the other may start a moment later
        # (on a busy machine): wait, bounded, until both answer.
        for _ in range(50):
            if len(per_worker("/auth/login")) == 2:
                break
            time.sleep(0.1)

        async def across() -> list[str]:
            FakeGpt.url = url
            FakeGpt.reset()
            # A session per call: fresh connections, to either worker.
            return ["".join(await collect(FakeGpt)) for _ in range(20)]

        try:
            replies = asyncio.run(across())
        finally:
            FakeGpt.reset()
        assert replies == ["Hello! How can I help you today?"] * 20
        logins = per_worker("/auth/login")
        conversations = per_worker("/api/conversation")
        # Two worker processes on one port; the process started only supervises them.
        assert len(logins) == 2 and proc.pid not in logins
        # One login, on one worker; its token was good on both (no second login).
        assert sum(logins.values()) == 1
        assert sum(conversations.values()) == 20 and all(conversations.values())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_list_says_on_which_dialects_a_scenario_is_not_served_and_why() -> None:
    lines = {line.split()[0]: line for line in run("list").stdout.splitlines()}
    assert lines["default"].endswith("the happy path.")
    assert (
        "[not on anthropic, openai-responses, anthropic-bedrock, anthropic-vertex: its done "
        "fault: there is no [DONE] in this API" in (lines["done_early"])
    )
    stale = lines["stale_snapshots"]
    assert stale.endswith("not on gemini, gemini-vertex: its stale fault: a chunk sent again "
                          "cannot be told "
                          "from a new one: the chunks are not numbered]")  # fmt: skip
    # On the Responses API and FakeGpt's stream, sequence numbers tell it apart.
    assert "openai-responses" not in stale and "fakegpt" not in stale
    assert "not on openai-chat, anthropic, bedrock, azure-openai" in stale
    assert lines["tool_call_split"].endswith(
        "[not on fakegpt: its reply is a tool call, which the FakeGpt conversation stream has not]"
    )
    framed = ("bedrock", "anthropic-bedrock")  # binary event-stream frames
    others = ", ".join(name for name in DIALECTS if name not in framed)
    assert lines["bad_prelude_crc"].endswith(
        f"[not on {others}: its bad_prelude_crc fault: its stream is not binary event-stream "
        "frames]"
    )  # served on Bedrock only


def test_list_dialects_shows_every_surface_its_paths_and_what_it_serves() -> None:
    from emulator import builtin_scenarios

    out = run("list", "--dialects").stdout
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert [h.split()[0] for h in heads] == list(DIALECTS)
    scenarios = builtin_scenarios()
    for head in heads:
        dialect = DIALECTS[head.split()[0]]
        served = sum(dialect.not_applicable(s) is None for s in scenarios.values())
        assert f"{dialect.title}: serves {served} of {len(scenarios)} scenarios" in head
    assert "    POST /openai/deployments/{deployment}/chat/completions" in out
    assert "    POST /model/{model}/invoke-with-response-stream" in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_uvloop_answers_alike(workers: str) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed")
    with serving("--loop", "uvloop", "--workers", workers, "--speed", "0") as (proc, url):
        FakeGpt.url = url
        FakeGpt.reset()
        try:
            assert "".join(asyncio.run(collect(FakeGpt))) == "Hello! How can I help you today?"
        finally:
            FakeGpt.reset()
        status = json.loads(urllib.request.urlopen(f"{url}/_emulator", timeout=10).read())
        assert status["loop"] == "uvloop"  # the worker that answered runs on it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_loop_uvloop_without_uvloop_names_the_install(tmp_path: Path) -> None:
    blocker = tmp_path / "uvloop.py"
    blocker.write_text("raise ImportError('no uvloop here')\n")  # shadows an installed one
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "emulator", "--loop", "uvloop"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "--loop uvloop: uvloop is not installed (pip install uvloop)" in done.stderr
