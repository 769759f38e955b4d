"""A WebSocket session recorded by the journal and replayed: the journal's recording of a
Realtime session (its messages both ways, with their times), imported as a scenario with
``python -m emulator import``, replays the server's side on a connection of its own, to the
official SDK, message for message and at the recorded pace."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import openai

from emulator import EmulatorConfig, EmulatorServer, load_scenario
from emulator.dialects.replaying import runs

TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


def _session(url: str, prompts: list[str], **headers: str) -> list[list[Any]]:
    """Each prompt asked in turn on one connection: the events of each response."""
    answers = []
    with (
        openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0) as client,
        client.realtime.connect(model="gpt-realtime", extra_headers=headers) as connection,
    ):
        connection.session.update(session=TEXT_ONLY)  # type: ignore[arg-type]
        for prompt in prompts:
            connection.conversation.item.create(item={"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": prompt}]})  # type: ignore[arg-type]  # fmt: skip
            connection.response.create()
            events = []
            for _, event in zip(range(10_000), connection, strict=False):
                events.append(event)
                if event.type == "response.done":
                    break
            answers.append(events)
    return answers


def _text(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def _recorded(server: EmulatorServer, tmp_path: Path) -> Path:
    """The journal's recording of the server's last session, imported as a scenario file."""
    entry = next(c for c in reversed(server.requests) if c.path == "/v1/realtime")
    with urllib.request.urlopen(f"{server.url}/_emulator/journal/{entry.id}/recording") as got:
        lines = got.read()
    capture = tmp_path / "session.jsonl"
    capture.write_bytes(lines)
    first = json.loads(lines.splitlines()[0])
    assert (first["status"], first["dialect"]) == (101, "openai-realtime")
    kinds = [json.loads(line).get("message") for line in lines.splitlines()[1:-1]]
    assert kinds.count("heard") == 5 and "text" in kinds  # the client's five events
    scenario = tmp_path / "replayed.toml"
    done = subprocess.run([sys.executable, "-m", "emulator", "import", str(capture), "-o",
                           str(scenario)], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return scenario


def test_a_recorded_session_replays_message_for_message(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        original = _session(server.url, ["hi", "and again"])
        scenario = _recorded(server, tmp_path)
    assert _text(original[0]) == "Hello! How can I help you today?"
    with EmulatorServer(EmulatorConfig(speed=0)) as replaying:
        replaying.use(scenario)
        replayed = _session(replaying.url, ["something else", "anything"])
        entry = replaying.requests[-1]
        assert entry.scenario == "replayed" and entry.served is not None
    # The server's side again, event for event: the same ids, the same text.
    assert [[e.to_dict() for e in r] for r in replayed] == [
        [e.to_dict() for e in r] for r in original
    ]


def test_a_replay_keeps_the_recorded_pace(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorConfig(speed=1)) as server:
        server.use("paced_50_tps")  # first event after 200 ms, then 50 tokens a second
        started = time.monotonic()
        _session(server.url, ["hi"])
        took = time.monotonic() - started
        scenario = _recorded_once(server, tmp_path)
    recording = load_scenario(scenario).recording
    assert recording is not None
    waits = sum(getattr(s, "seconds", 0.0) for run in runs(recording) for s in run)
    assert waits > 0.5 * (took - 0.5)  # the recorded pauses, most of the session's time
    for speed, at_least in ((1.0, 0.8 * waits), (0.0, 0.0)):
        with EmulatorServer(EmulatorConfig(speed=speed)) as replaying:
            replaying.use(scenario)
            started = time.monotonic()
            events = _session(replaying.url, ["hi"])[0]
            replay_took = time.monotonic() - started
        assert events[-1].response.status == "completed"
        assert replay_took >= at_least
        if speed == 0:
            assert replay_took < max(0.5 * waits, 0.5)


def _recorded_once(server: EmulatorServer, tmp_path: Path) -> Path:
    entry = next(c for c in reversed(server.requests) if c.path == "/v1/realtime")
    with urllib.request.urlopen(f"{server.url}/_emulator/journal/{entry.id}/recording") as got:
        (tmp_path / "paced.jsonl").write_bytes(got.read())
    scenario = tmp_path / "paced.toml"
    done = subprocess.run([sys.executable, "-m", "emulator", "import",
                           str(tmp_path / "paced.jsonl"), "-o", str(scenario)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return scenario


def test_a_recorded_session_chosen_for_one_ask_is_refused_with_why(tmp_path: Path) -> None:
    import websockets.sync.client

    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        _session(server.url, ["hi"])
        scenario = _recorded_once(server, tmp_path)
    with EmulatorServer(EmulatorConfig(speed=0)) as replaying:
        replaying.add_rule("refuse me", scenario)  # chosen per ask, not as it opens
        url = replaying.url.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime"
        key = {"Authorization": "Bearer sk-test"}
        with websockets.sync.client.connect(url, additional_headers=key) as ws:
            for sent in ({"type": "conversation.item.create", "item": {
                              "type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": "refuse me"}]}},
                         {"type": "response.create"}):  # fmt: skip
                ws.send(json.dumps(sent))
            said = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
    error = next(e for e in said if e["type"] == "error")["error"]
    assert "'paced' is a recorded session: it replays a whole connection" in error["message"]
