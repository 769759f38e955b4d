"""``python -m emulator import``: captures become scenarios, secrets stay behind, replays are
byte for byte (over real sockets, with the real client)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from client import FakeGpt, FakeGptError
from emulator import (
    EmulatorConfig,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    scenario_from_dict,
)
from emulator.capture import import_capture
from emulator.capture.proxy import recording_proxy
from emulator.dialects.fakegpt.part import FakeGptPart
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import answer, conversation, login, serving

HAR = Path(__file__).resolve().parent / "captures" / "chatgpt_session.har"
SECRETS = ("hunter2", "fake-access", "credential=", "__cf_bm", "CF-RAY", "0123456789abcdef0")


def run_import(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", "import", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_har_becomes_a_scenario_without_its_secrets_that_the_client_reads(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    out = tmp_path / "bonjour.toml"
    done = run_import(HAR, "-o", out)
    assert done.returncode == 0, done.stderr
    written = out.read_text(encoding="utf-8")
    assert not [s for s in SECRETS if s in written]
    for said in (
        "left out: bearer tokens (Authorization headers)",
        "left out: cookies set (Set-Cookie)",
        "left out: the session_password of the login form",
        "left out: the accessToken of /api/auth/session",
        "left out: the response header CF-RAY",
        "changed: a HAR keeps no times within a body",
        "expecting 17 characters of text",
    ):
        assert said in done.stderr
    scenario = load_scenario(out)
    assert scenario.name == "bonjour" and scenario.part(FakeGptPart).accounts == 2
    assert scenario.expect.text == "Bonjour ! Ça va ?"
    emulator = await emulator_factory(EmulatorConfig(speed=0, default=scenario))

    class Client(FakeGpt):
        url = emulator.url

    text = await Client.create_async("m", [{"role": "user", "content": "Dis bonjour"}])
    assert text == "Bonjour ! Ça va ?"
    har = json.loads(HAR.read_text(encoding="utf-8"))
    body = har["log"]["entries"][-1]["response"]["content"]["text"].encode()
    call = emulator.calls("/api/conversation").last
    assert call.transcript is not None
    assert b"".join(w.data or b"" for w in call.transcript.writes) == body


async def test_a_raw_body_replays_byte_for_byte_whatever_its_framing(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    raw = (
        b'\xef\xbb\xbfdata:{"message": {"author": {"role": "assistant"}, '
        b'"content": {"parts": ["Hi"]}, "status": "finished_successfully", '
        b'"metadata": {}}}\r\n\r\n: ping\r\r\xff\xfe garbage\n\ndata: [DONE]\r\n\r\n'
    )
    imported = import_capture(raw, "curl.txt", "curl")
    assert imported.scenario.expect.text == "Hi"
    path = tmp_path / "curl.toml"
    from emulator.scenario.dump import scenario_to_toml

    path.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    emulator = await emulator_factory(EmulatorConfig(speed=0, default=load_scenario(path)))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
        async with http.post(
            f"{emulator.url}/api/conversation",
            json=conversation("x"),
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            assert await r.read() == raw


def test_bad_captures_are_refused_naming_the_file_and_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "log.jsonl"
    bad.write_text('{"at": 0, "text": "data: 1\\n\\n"}\n{"at": 0.1, "text": 5}\n', "utf-8")
    done = run_import(bad)
    assert done.returncode == 1
    assert f"{bad}: [line 2] give exactly one of text, hex or base64" in done.stderr
    backwards = tmp_path / "back.jsonl"
    backwards.write_text('{"at": 1, "text": "a"}\n{"at": 0.5, "text": "b"}\n', "utf-8")
    assert "chunks must come in time order" in run_import(backwards).stderr
    no_body = tmp_path / "empty.har"
    no_body.write_text(json.dumps({"log": {"entries": []}}), "utf-8")
    assert (
        "has no request to replay (none to /api/conversation, /v1/chat"
        in run_import(no_body).stderr
    )
    missing = run_import(tmp_path / "nope.har")
    assert missing.returncode == 2 and "nope.har" in missing.stderr


def test_a_recording_file_is_read_beside_its_scenario_and_never_named_over_http(
    tmp_path: Path,
) -> None:
    (tmp_path / "chunks.jsonl").write_text(
        '{"status": 503, "headers": {"Content-Type": "application/json"}}\n'
        '{"at": 0.25, "text": "{\\"detail\\": \\"busy\\"}"}\n',
        "utf-8",
    )
    (tmp_path / "busy.toml").write_text(
        'description = "A captured 503."\n[recording]\nfile = "chunks.jsonl"\n', "utf-8"
    )
    scenario = load_scenario(tmp_path / "busy.toml")
    assert scenario.recording is not None and scenario.recording.status == 503
    assert scenario.recording.chunks[0].at == 0.25
    assert scenario.expect.outcome == "reply"  # a file of one's own states what one wants
    (tmp_path / "out.toml").write_text(
        'description = "x"\n[recording]\nfile = "../chunks.jsonl"\n', "utf-8"
    )
    with pytest.raises(ScenarioError, match=r"recording\.file.*own folder"):
        load_scenario(tmp_path / "out.toml")
    with pytest.raises(ScenarioError, match="requests name no files"):
        scenario_from_dict({"description": "x", "recording": {"file": "chunks.jsonl"}})
    with pytest.raises(ScenarioError, match="a recording replaces the reply"):
        scenario_from_dict(
            {"description": "x", "reply": {"text": "y"}, "recording": {"chunks": []}}
        )
    with pytest.raises(ScenarioError, match="resends a snapshot"):
        scenario_from_dict(
            {"description": "x", "recording": {}, "faults": [{"kind": "stale", "at": 1}]}
        )


async def test_the_admin_api_refuses_a_registered_recording_that_names_a_file(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = await emulator_factory(EmulatorConfig(speed=0))
    async with aiohttp.ClientSession() as http:
        status, _, body, _ = await answer(
            http,
            "POST",
            f"{emulator.url}/_emulator/scenarios",
            json={
                "name": "sneaky",
                "scenario": {"description": "x", "recording": {"file": "/etc/passwd.jsonl"}},
            },
        )
    assert status == 400 and "requests name no files" in body["detail"]


def test_the_readme_import_commands_run_as_written(tmp_path: Path) -> None:
    readme = (HAR.parent.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Reproduce a stream you captured") :]
    block = section[
        section.index("```sh\n") + 6 : section.index("```", section.index("```sh") + 5)
    ]
    commands = [line.split() for line in block.strip().splitlines()]
    assert [c[:3] for c in commands] == [["python", "-m", "emulator"]] * 3
    root = HAR.parent.parent.parent
    for command in commands[:2]:  # the third serves until stopped
        args = [a.replace("my_scenarios", str(tmp_path / "my_scenarios")) for a in command[3:]]
        done = subprocess.run(
            [sys.executable, "-m", "emulator", *args],
            cwd=root, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert load_scenario(tmp_path / "my_scenarios" / "bonjour.toml").expect.text == (
        "Bonjour ! Ça va ?"
    )


@pytest.mark.parametrize(
    "name",
    ["default", "unicode_text", "drop_mid_stream", "crlf_line_endings", "http_429_rate_limited"],
)
async def test_the_recording_proxy_records_what_an_upstream_sent_and_it_replays_the_same(
    emulator_factory: EmulatorFactory, tmp_path: Path, name: str
) -> None:
    upstream = await emulator_factory(EmulatorConfig(speed=0))
    upstream.use(name)
    async with recording_proxy(upstream.url, tmp_path / "rec") as proxy:

        class ThroughProxy(FakeGpt):
            url = proxy.url

        expect = builtin_scenarios()[name].expect
        try:
            text: str | None = await ThroughProxy.create_async(
                "m", [{"role": "user", "content": "hi"}]
            )
        except FakeGptError:
            text = None
        assert (text is None) == (expect.outcome == "failure")
        for _ in range(100):  # the file is written when the exchange is over (bounded: 5 s)
            if proxy.written:
                break
            await asyncio.sleep(0.05)
    [path] = proxy.written
    written = path.read_text(encoding="utf-8")
    assert "eyJ" not in written and "Bearer" not in written  # no token of the login
    recorded = load_scenario(path)
    sent = upstream.calls("/api/conversation").last.transcript
    assert sent is not None and recorded.recording is not None
    assert b"".join(c.data for c in recorded.recording.chunks) == b"".join(
        w.data or b"" for w in sent.writes
    )
    assert (recorded.expect.outcome == "failure") == (expect.outcome == "failure")
    assert recorded.expect.failure == expect.failure
    if text is not None:
        assert recorded.expect.text == text
    # The recording, replayed by a third emulator: the same bytes again.
    replay = await emulator_factory(EmulatorConfig(speed=0, default=recorded))

    class FromReplay(FakeGpt):
        url = replay.url

    if text is not None:
        assert await FromReplay.create_async("m", [{"role": "user", "content": "hi"}]) == text
    else:
        with pytest.raises(FakeGptError):
            await FromReplay.create_async("m", [{"role": "user", "content": "hi"}])
    again = replay.calls("/api/conversation").last.transcript
    assert again is not None
    assert b"".join(w.data or b"" for w in again.writes) == b"".join(
        c.data for c in recorded.recording.chunks
    )


def test_python_m_emulator_record_proxies_and_writes_scenarios_until_stopped(
    tmp_path: Path,
) -> None:
    with serving("--speed", "0", "--scenario", "echo_prompt") as (_, upstream):
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "record", "--upstream", upstream,
             "--port", "0", "-o", str(tmp_path / "rec")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            match = re.search(r"recording proxy on (http://\S+)", banner)
            assert match, banner

            class ThroughProxy(FakeGpt):
                url = match.group(1)

            prompt = [{"role": "user", "content": "say it back"}]
            assert asyncio.run(ThroughProxy.create_async("m", prompt)) == "say it back"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert proc.returncode == 0 and "wrote 1 scenarios" in out, err
    [path] = (tmp_path / "rec").glob("*.toml")
    assert path.name.startswith("recorded-") and "left out:" in err
    assert load_scenario(path).expect.text == "say it back"


async def test_the_proxy_replays_a_recorded_prompt_and_passes_the_others_through(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    upstream = await emulator_factory(EmulatorConfig(speed=0))
    upstream.use("echo_prompt")
    folder = tmp_path / "rec"
    async with recording_proxy(upstream.url, folder) as proxy:

        class First(FakeGpt):
            url = proxy.url

        assert await First.create_async("m", [{"role": "user", "content": "hi"}]) == "hi"
    upstream.use("unicode_text")  # the upstream changed: a replay does not ask it
    async with recording_proxy(upstream.url, folder, replay=True, speed=0) as proxy:

        class Second(FakeGpt):
            url = proxy.url

        assert await Second.create_async("m", [{"role": "user", "content": "hi"}]) == "hi"
        other = await Second.create_async("m", [{"role": "user", "content": "other"}])
        assert other.startswith(builtin_scenarios()["unicode_text"].reply.text[:5])  # type: ignore[index]
        assert len(proxy.replayed) == 1 and len(proxy.written) == 1
    assert [c.scenario for c in upstream.calls("/api/conversation")] == [
        "echo_prompt",
        "unicode_text",
    ]
    assert len(list(folder.glob("recorded-*.toml"))) == 2


#: A streamed request of each API with a key: its path, headers and body.
API_REQUESTS = {
    "openai-chat": (
        "/v1/chat/completions",
        {"Authorization": "Bearer sk-test"},
        {"model": "gpt-4o-mini", "stream": True,
         "messages": [{"role": "user", "content": "Tell me something."}]},
    ),
    "anthropic": (
        "/v1/messages",
        {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        {"model": "claude-3-5-haiku-latest", "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": "Tell me something."}]},
    ),
    "openai-responses": (
        "/v1/responses",
        {"Authorization": "Bearer sk-test"},
        {"model": "gpt-4o-mini", "stream": True, "input": "Tell me something."},
    ),
    "gemini": (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        {"x-goog-api-key": "AIza-test"},
        {"contents": [{"role": "user", "parts": [{"text": "Tell me something."}]}]},
    ),
}  # fmt: skip


async def _answer_of(url: str, dialect: str) -> tuple[int, bytes]:
    path, headers, body = API_REQUESTS[dialect]
    async with aiohttp.ClientSession() as http, http.post(url + path, json=body,
                                                           headers=headers) as r:  # fmt: skip
        return r.status, await r.read()


@pytest.mark.parametrize("dialect", sorted(API_REQUESTS))
@pytest.mark.parametrize("form", ["raw", "har"])
async def test_a_capture_of_each_api_imports_as_its_dialect_and_replays_byte_for_byte(
    emulator_factory: EmulatorFactory, tmp_path: Path, dialect: str, form: str
) -> None:
    from emulator.dialects.registry import DIALECTS
    from emulator.scenario.dump import scenario_to_toml
    from emulator.scenario.text import reply_text

    live = await emulator_factory(EmulatorConfig(speed=0))
    status, captured = await _answer_of(live.url, dialect)
    assert status == 200
    path, headers, _ = API_REQUESTS[dialect]
    if form == "raw":
        imported = import_capture(captured, "body.txt", "captured", dialect)
    else:
        har = {"log": {"entries": [{
            "request": {"method": "POST", "url": "https://api.example" + path,
                        "headers": [{"name": k, "value": v} for k, v in headers.items()]},
            "response": {"status": 200, "content": {"text": captured.decode()},
                         "headers": [{"name": "Content-Type", "value": "text/event-stream"}]},
        }]}}  # fmt: skip
        imported = import_capture(json.dumps(har).encode(), "api.har", "captured")
        assert any("API keys" in r or "bearer tokens" in r for r in imported.removed)
    scenario = imported.scenario
    default = builtin_scenarios()["default"]
    assert scenario.expect.text == reply_text(default.reply, "Tell me something.")
    file = tmp_path / "captured.toml"
    file.write_text(scenario_to_toml(scenario), encoding="utf-8")
    loaded = load_scenario(file)
    assert loaded.recording is not None and loaded.recording.dialect == dialect
    assert "sk-" not in file.read_text() and "AIza" not in file.read_text()
    # Azure OpenAI's deployments and the OpenAI-compatible servers speak Chat Completions'
    # wire, Vertex AI's publisher models Anthropic's and Gemini's: they replay them.
    compatible = {"azure-openai", "openrouter", "vllm", "llama-cpp", "mistral", "groq"}
    same_wire = {"openai-chat": compatible, "anthropic": {"anthropic-vertex"},
                 "gemini": {"gemini-vertex"}}.get(dialect, set())  # fmt: skip
    others = {name: d.not_applicable(loaded) for name, d in DIALECTS.items()
              if name != dialect and name not in same_wire}  # fmt: skip
    assert set(others.values()) == {f"its recording is of another API ({dialect})"}
    assert all(DIALECTS[name].not_applicable(loaded) is None for name in same_wire)
    replaying = await emulator_factory(EmulatorConfig(speed=0, default=loaded))
    assert await _answer_of(replaying.url, dialect) == (200, captured)


def test_import_takes_the_dialect_of_a_raw_body_on_the_command_line(tmp_path: Path) -> None:
    body = tmp_path / "messages.txt"
    body.write_bytes(
        b'event: message_start\ndata: {"type": "message_start"}\n\n'
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, '
        b'"delta": {"type": "text_delta", "text": "Hi there"}}\n\n'
        b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
    )
    out = tmp_path / "hi.toml"
    done = run_import(body, "--dialect", "anthropic", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "expecting 8 characters of text" in done.stderr
    scenario = load_scenario(out)
    assert scenario.recording is not None and scenario.recording.dialect == "anthropic"
    refused = run_import(body, "--dialect", "klingon")
    assert refused.returncode == 2 and "invalid choice: 'klingon'" in refused.stderr
