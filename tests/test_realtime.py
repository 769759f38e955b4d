"""OpenAI's Realtime API over a real WebSocket, judged by the official SDK (``openai``'s
``client.realtime.connect``, unchanged): text, synthesized audio with its transcript, a tool
loop on one connection, a handshake refused, an error event, a dropped connection, and the
API's errors for events it cannot take."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets.exceptions
import websockets.sync.client

from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios
from emulator.conformance.sdks import openai_realtime_sdk
from emulator.dialects import vad
from emulator.protocol.audio import BYTES_PER_MS, SAMPLES_PER_CHAR, speech
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

MODEL = "gpt-realtime"
TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as running:
        yield running


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def _say(connection: Any, text: str) -> None:
    connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )


def _until_done(connection: Any) -> list[Any]:
    """Every server event up to ``response.done`` (at most 10,000)."""
    events = []
    for _, sent in zip(range(10_000), connection, strict=False):
        events.append(sent)
        if sent.type == "response.done":
            break
    return events


def _scenario(name: str) -> dict[str, str]:
    return {"X-Emulator-Scenario": name}


def _text_response(url: str, name: str) -> list[Any]:
    """One text response to "hi" under scenario ``name``, on a connection of its own: its
    events, to ``response.done``."""
    with (
        _client(url) as client,
        client.realtime.connect(model=MODEL, extra_headers=_scenario(name)) as connection,
    ):
        connection.session.update(session=TEXT_ONLY)
        _say(connection, "hi")
        connection.response.create()
        return _until_done(connection)


def test_a_text_response_arrives_whole_with_its_items_and_usage(server: EmulatorServer) -> None:
    with _client(server.url) as client, client.realtime.connect(model=MODEL) as connection:
        created = connection.recv()
        assert created.type == "session.created" and created.session.model == MODEL
        connection.session.update(session=TEXT_ONLY)
        updated = connection.recv()
        assert updated.type == "session.updated"
        assert updated.session.output_modalities == ["text"]
        _say(connection, "Tell me something.")
        assert [connection.recv().type for _ in range(2)] == [
            "conversation.item.added",
            "conversation.item.done",
        ]
        connection.response.create()
        events = _until_done(connection)
    kinds = [e.type for e in events]
    assert kinds[:5] == ["response.created", "conversation.item.added",
                         "response.output_item.added", "response.content_part.added",
                         "response.output_text.delta"]  # fmt: skip
    assert kinds[-5:] == ["response.output_text.done", "response.content_part.done",
                          "conversation.item.done", "response.output_item.done",
                          "response.done"]  # fmt: skip
    wanted = reply_text(builtin_scenarios()["default"].reply, "")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == wanted
    done = events[-1].response
    assert done.status == "completed" and done.output[0].content[0].text == wanted
    assert done.usage.output_tokens > 0 and done.usage.input_tokens > 0


def test_audio_is_synthesized_pcm_with_its_transcript(server: EmulatorServer) -> None:
    with _client(server.url) as client, client.realtime.connect(model=MODEL) as connection:
        assert connection.recv().session.output_modalities == ["audio"]  # the API's default
        _say(connection, "Say something.")
        connection.response.create()
        events = _until_done(connection)
    wanted = reply_text(builtin_scenarios()["default"].reply, "")
    transcript = "".join(e.delta for e in events
                         if e.type == "response.output_audio_transcript.delta")  # fmt: skip
    pcm = b"".join(base64.b64decode(e.delta) for e in events
                   if e.type == "response.output_audio.delta")  # fmt: skip
    assert transcript == wanted
    assert len(pcm) == len(wanted) * SAMPLES_PER_CHAR * 2 and pcm.strip(b"\0")
    pieces = [e.delta for e in events if e.type == "response.output_audio_transcript.delta"]
    assert pcm == b"".join(map(speech, pieces))  # deterministic: each piece, its own sound
    assert events[-1].response.output[0].content[0].transcript == wanted


def test_a_tool_loop_runs_on_one_connection(server: EmulatorServer) -> None:
    tools = [{"type": "function", "name": n, "parameters": {"type": "object"}}
             for n in ("get_weather", "get_forecast")]  # fmt: skip
    headers = _scenario("agent_loop")
    with (
        _client(server.url) as client,
        client.realtime.connect(model=MODEL, extra_headers=headers) as connection,
    ):
        connection.session.update(session={**TEXT_ONLY, "tools": tools})
        _say(connection, "What is the weather in Paris?")
        connection.response.create()
        calls, answer = [], ""
        for _turn in range(3):
            events = _until_done(connection)
            done = events[-1].response
            assert done.status == "completed", done
            call = next((o for o in done.output if o.type == "function_call"), None)
            if call is None:
                answer = done.output[0].content[0].text
                break
            calls.append((call.name, json.loads(call.arguments)))
            connection.conversation.item.create(item={
                "type": "function_call_output", "call_id": call.call_id,
                "output": json.dumps({"result": call.name})})  # fmt: skip
            connection.response.create()
    assert calls == [("get_weather", {"city": "Paris"}),
                     ("get_forecast", {"city": "Paris", "days": 1})]  # fmt: skip
    assert answer == "It is 18 °C and sunny in Paris now; tomorrow brings light rain."


def test_unicode_text_is_the_same_as_on_chat_completions(server: EmulatorServer) -> None:
    scenario = builtin_scenarios()["unicode_text"]
    events = _text_response(server.url, "unicode_text")
    with _client(server.url) as client:
        chat = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
            extra_headers=_scenario("unicode_text"))  # fmt: skip
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == chat.choices[0].message.content == reply_text(scenario.reply, "hi")


def test_a_rate_limited_scenario_refuses_the_handshake_with_429(server: EmulatorServer) -> None:
    headers = _scenario("http_429_rate_limited")
    with (
        _client(server.url) as client,
        pytest.raises(websockets.exceptions.InvalidStatus) as refused,
        client.realtime.connect(model=MODEL, extra_headers=headers) as connection,
    ):
        connection.recv()  # pragma: no cover - never reached
    response = refused.value.response
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert json.loads(response.body)["error"]["message"].startswith("Rate limit reached")


def test_a_missing_key_is_refused_at_the_handshake(server: EmulatorServer) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(server.url.replace("http", "ws") + "/v1/realtime")
    assert refused.value.response.status_code == 401


def test_an_error_fault_is_the_api_s_error_event_and_a_failed_response(
    server: EmulatorServer,
) -> None:
    events = _text_response(server.url, "in_stream_error")
    error = next(e for e in events if e.type == "error")
    assert error.error.message == "Something went wrong while generating the response."
    assert events[-1].response.status == "failed"


def test_a_dropped_connection_never_completes_a_response(server: EmulatorServer) -> None:
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
        _text_response(server.url, "drop_mid_stream")
    assert closed.value.rcvd is None  # no close frame: the client sees 1006


def test_events_the_api_cannot_take_get_its_error_events(server: EmulatorServer) -> None:
    url = server.url.replace("http", "ws") + "/v1/realtime?model=" + MODEL
    key = {"Authorization": "Bearer sk-test"}
    with websockets.sync.client.connect(url, additional_headers=key) as ws:
        assert json.loads(ws.recv())["type"] == "session.created"
        said = []
        for sent in ("{not json", json.dumps({"type": "session.flavour"}),
                     json.dumps({"type": "conversation.item.create"}),
                     json.dumps({"type": "response.cancel", "event_id": "evt_1"}),
                     json.dumps({"type": "input_audio_buffer.commit"})):  # fmt: skip
            ws.send(sent)
            said.append(json.loads(ws.recv()))
    assert [s["type"] for s in said] == ["error"] * 5
    errors = [s["error"] for s in said]
    assert [e["code"] for e in errors] == ["invalid_json", "invalid_value",
                                           "missing_required_parameter",
                                           "response_cancel_not_active",
                                           "input_audio_buffer_commit_empty"]  # fmt: skip
    assert errors[1]["param"] == "type" and errors[2]["param"] == "item"
    assert errors[3]["event_id"] == "evt_1"
    assert errors[3]["message"] == "Cancellation failed: no active response found"


def test_a_cancel_while_a_response_plays_stops_it(server: EmulatorServer) -> None:
    # stall_silent holds the response for 20 s after a few deltas: the cancel, read while it
    # plays, ends it at once with the API's cancelled response.done; the session goes on.
    with (
        _client(server.url) as client,
        client.realtime.connect(model=MODEL, extra_headers=_scenario("stall_silent")) as c,
    ):
        c.session.update(session=TEXT_ONLY)
        _say(c, "hi")
        c.response.create()
        for sent in c:
            if sent.type == "response.output_text.delta":
                c.response.cancel()
                break
        events = _until_done(c)
        done = events[-1].response
        assert (done.status, done.status_details.reason) == ("cancelled", "client_cancelled")
        c.response.cancel()  # nothing plays now: the API's error
        assert c.recv().error.code == "response_cancel_not_active"


def test_the_user_speaking_over_a_response_interrupts_it(server: EmulatorServer) -> None:
    with (
        _client(server.url) as client,
        client.realtime.connect(model=MODEL, extra_headers=_scenario("stall_silent")) as c,
    ):
        _say(c, "hi")
        c.response.create()
        for sent in c:
            if sent.type == "response.output_audio.delta":
                c.input_audio_buffer.append(audio=base64.b64encode(speech("hm")).decode())
                break
        events = _until_done(c)
    kinds = [e.type for e in events]
    assert "input_audio_buffer.speech_started" in kinds
    done = events[-1].response
    assert (done.status, done.status_details.reason) == ("cancelled", "turn_detected")


def test_the_readme_s_realtime_test_passes(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "realtime.connect" in b)  # fmt: skip
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    pytester.makepyfile(test_realtime_readme=block)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=1)


async def test_the_readme_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("openai-realtime card", "openai-realtime", openai_realtime_sdk)


@pytest.mark.parametrize("name", ["split_every_byte", "split_writes"])
def test_a_split_scenario_fragments_each_message_and_the_text_is_whole(
    server: EmulatorServer, name: str
) -> None:
    # On a WebSocket, [wire] chunk_size cuts every message into continuation frames (one
    # byte each for split_every_byte, mid-character): the SDK's websockets reassembles them.
    events = _text_response(server.url, name)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == reply_text(builtin_scenarios()[name].reply, "hi")
    entry = next(c for c in reversed(server.requests) if c.scenario == name)
    assert entry.transcript is not None
    fragments = [w for w in entry.transcript.to_dict()["writes"] if "(fragment)" in w["what"]]
    assert len(fragments) > 100  # each message in pieces, every one on the record


def _read_all(ws: websockets.sync.client.ClientConnection) -> None:
    for _ in range(100):
        ws.recv()


def test_a_text_message_that_is_not_utf8_fails_a_strict_client_s_connection(
    server: EmulatorServer,
) -> None:
    # websockets, reading text as text, fails the connection with 1007 (RFC 6455, 8.1).
    url = server.url.replace("http", "ws") + "/v1/realtime?model=" + MODEL
    headers = {"Authorization": "Bearer sk-test", **_scenario("ws_invalid_utf8")}
    with websockets.sync.client.connect(url, additional_headers=headers) as ws:
        for sent in ({"type": "session.update", "session": TEXT_ONLY},
                     {"type": "conversation.item.create", "item": {
                         "type": "message", "role": "user",
                         "content": [{"type": "input_text", "text": "hi"}]}},
                     {"type": "response.create"}):  # fmt: skip
            ws.send(json.dumps(sent))
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            _read_all(ws)
    assert closed.value.sent is not None and closed.value.sent.code == 1007
    # The openai SDK reads bytes (recv(decode=False)): it never checks, and fails on JSON.
    with pytest.raises(json.JSONDecodeError):
        _text_response(server.url, "ws_invalid_utf8")


def test_server_vad_ends_a_spoken_turn_and_answers_it(server: EmulatorServer) -> None:
    # As a voice pipeline streams a microphone: silence, speech, then silence. Server VAD
    # (the session's default) hears the speech start, ends the turn after 200 ms of quiet,
    # commits it and answers, with no commit and no response.create from the client.
    quiet, spoken = b"\0" * 48 * 100, speech("What is the weather like?")
    chunks = [quiet, *(spoken[i : i + 4800] for i in range(0, len(spoken), 4800)), quiet,
              quiet, quiet]  # fmt: skip
    with _client(server.url) as client, client.realtime.connect(model=MODEL) as c:
        c.session.update(session=TEXT_ONLY)
        assert c.recv().type == "session.created"
        for chunk in chunks:
            c.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        events = _until_done(c)
    kinds = [e.type for e in events]
    assert kinds[:5] == ["session.updated", "input_audio_buffer.speech_started",
                         "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                         "conversation.item.added"]  # fmt: skip
    started, stopped = events[1], events[2]
    assert started.audio_start_ms == 100 and stopped.audio_end_ms >= 300
    assert events[-1].response.status == "completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == reply_text(builtin_scenarios()["default"].reply, "")


def test_vad_starts_on_speech_alone_and_ends_after_the_quiet_it_asks_for() -> None:
    detection = {"type": "server_vad", "silence_duration_ms": 200}
    quiet_100ms = b"\0" * 4800
    assert vad.heard(quiet_100ms, False, 0.0, detection, BYTES_PER_MS) == vad.Heard(False, 0.0)
    assert vad.heard(speech("hi"), False, 0.0, detection, BYTES_PER_MS).started
    assert vad.heard(quiet_100ms, True, 0.0, detection, BYTES_PER_MS) == vad.Heard(True, 100.0)
    assert vad.heard(quiet_100ms, True, 100.0, detection, BYTES_PER_MS).ended
    assert vad.heard(speech("hi"), True, 150.0, detection, BYTES_PER_MS) == vad.Heard(
        True, 0.0
    )  # speech again
    assert vad.loudness(b"") == 0.0 and 0.2 < vad.loudness(speech("hi")) < 0.22


def _upgrade_url(server: EmulatorServer) -> str:
    return server.url.replace("http://", "ws://") + f"/v1/realtime?model={MODEL}"


def test_a_handshake_with_a_wrong_accept_is_refused_by_the_client(
    server: EmulatorServer,
) -> None:
    headers = {"Authorization": "Bearer sk-test", **_scenario("ws_bad_accept")}
    with pytest.raises(websockets.exceptions.InvalidHandshake, match="Sec-WebSocket-Accept"):
        websockets.sync.client.connect(_upgrade_url(server), additional_headers=headers,
                                       open_timeout=5)  # fmt: skip
    entry = next(c for c in reversed(server.requests) if c.scenario == "ws_bad_accept")
    assert entry.detail == "the handshake answered with a wrong Sec-WebSocket-Accept"


def test_a_slow_handshake_makes_the_client_s_open_timeout_fire(server: EmulatorServer) -> None:
    headers = {"Authorization": "Bearer sk-test", **_scenario("ws_slow_handshake")}
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        websockets.sync.client.connect(_upgrade_url(server), additional_headers=headers,
                                       open_timeout=0.5)  # fmt: skip
    assert time.monotonic() - started < 5  # the client's timeout, not the server's 20 s
