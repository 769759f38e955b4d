"""Faults on the WebSocket itself, over real sockets on loopback: frames of the other kind,
a message past a client's limit, a ping the client must answer, pings the server leaves
unanswered, and a normal close before the answer is whole. Read by the `websockets` library
(what the official SDKs read with), aiohttp's client, and the official `openai` SDK."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import pytest
import websockets.exceptions
import websockets.sync.client

from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios
from emulator.scenario.text import reply_text

MODEL = "gpt-realtime"
TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}
#: What a client says to get one text response to "hi".
ASK = (
    {"type": "session.update", "session": TEXT_ONLY},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                  "content": [{"type": "input_text",
                                                               "text": "hi"}]}},
    {"type": "response.create"},
)  # fmt: skip
LIVE = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
EXPECTED = reply_text(builtin_scenarios()["default"].reply, "hi")


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as running:
        yield running


def _url(server: EmulatorServer) -> str:
    return server.url.replace("http", "ws", 1) + "/v1/realtime?model=" + MODEL


def _headers(name: str) -> dict[str, str]:
    return {"Authorization": "Bearer sk-test", "X-Emulator-Scenario": name}


def _frames(server: EmulatorServer, name: str, **options: Any) -> list[str | bytes]:
    """Every message of one text response under ``name``, as ``websockets`` reads them (a
    str from a text frame, bytes from a binary one), to ``response.done``."""
    got: list[str | bytes] = []
    with websockets.sync.client.connect(_url(server), additional_headers=_headers(name),
                                        **options) as ws:  # fmt: skip
        for sent in ASK:
            ws.send(json.dumps(sent))
        for _ in range(1_000):
            got.append(ws.recv(timeout=5))
            if json.loads(got[-1])["type"] == "response.done":
                return got
    raise AssertionError("no response.done")


def _sdk_text(server: EmulatorServer, name: str) -> tuple[str, str]:
    """The text and status the official SDK reads of one response under ``name``."""
    with (
        openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as client,
        client.realtime.connect(model=MODEL, extra_headers={"X-Emulator-Scenario": name}) as c,
    ):
        c.session.update(session=TEXT_ONLY)  # type: ignore[arg-type]
        c.conversation.item.create(item=ASK[1]["item"])  # type: ignore[arg-type]
        c.response.create()
        text = ""
        for event in c:
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.done":
                return text, event.response.status or ""
    return text, "the socket closed"


def _entry(server: EmulatorServer, name: str, nth: int = 1) -> Any:
    """The ``nth`` connection journaled under ``name``, once it has ended (waiting up to
    5 s for it)."""
    deadline = time.monotonic() + 5
    while True:
        found = [c for c in server.requests if c.scenario == name and c.duration is not None]
        if len(found) >= nth or time.monotonic() > deadline:
            return found[nth - 1]
        time.sleep(0.02)


def test_frames_of_the_other_kind_carry_the_same_events(server: EmulatorServer) -> None:
    frames = _frames(server, "ws_swapped_frames")
    kinds = [type(f) for f in frames]
    # Text until the response's first delta, binary from there on: the same JSON in them.
    first = next(i for i, f in enumerate(frames) if json.loads(f)["type"].endswith(".delta"))
    assert set(kinds[:first]) == {str} and set(kinds[first:]) == {bytes}
    text = "".join(json.loads(f).get("delta", "") for f in frames
                   if json.loads(f)["type"] == "response.output_text.delta")  # fmt: skip
    assert text == EXPECTED
    assert _sdk_text(server, "ws_swapped_frames") == (EXPECTED, "completed")


def test_on_gemini_live_the_other_kind_is_text(server: EmulatorServer) -> None:
    url = server.url.replace("http", "ws", 1) + LIVE + "?key=test"
    headers = {"X-Emulator-Scenario": "ws_swapped_frames"}
    with websockets.sync.client.connect(url, additional_headers=headers) as ws:
        ws.send(json.dumps({"setup": {"model": "models/gemini-live-2.5-flash",
                                      "generationConfig": {"responseModalities": ["TEXT"]}}}))  # fmt: skip
        assert isinstance(ws.recv(timeout=5), bytes)  # setupComplete, as the API frames it
        ws.send(json.dumps({"clientContent": {"turns": [{"role": "user",
                                                         "parts": [{"text": "hi"}]}],
                                              "turnComplete": True}}))  # fmt: skip
        frames = []
        while not frames or "turnComplete" not in json.loads(frames[-1]).get("serverContent", {}):
            frames.append(ws.recv(timeout=5))
    assert {type(f) for f in frames} == {str}
    parts = [json.loads(f)["serverContent"].get("modelTurn", {}).get("parts", []) for f in frames]
    assert "".join(p["text"] for each in parts for p in each) == EXPECTED


def test_a_message_past_the_client_s_limit(server: EmulatorServer) -> None:
    # websockets' default limit is 1 MiB: it refuses the 2 MiB message with 1009.
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
        _frames(server, "ws_big_message")
    assert closed.value.sent is not None and closed.value.sent.code == 1009
    # With no limit (the openai SDK's setting), the message is read past.
    frames = _frames(server, "ws_big_message", max_size=None)
    assert max(len(f) for f in frames) > 2 * 1024 * 1024
    assert _sdk_text(server, "ws_big_message") == (EXPECTED, "completed")


async def _never_ponging(server: EmulatorServer, name: str) -> tuple[list[Any], int | None]:
    """What aiohttp's client, never answering a ping, reads: each message's type, and the
    close code it got."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(_url(server), headers=_headers(name), autoping=False) as ws,
    ):
        for sent in ASK:
            await ws.send_str(json.dumps(sent))
        got: list[Any] = []
        for _ in range(1_000):
            msg = await ws.receive(timeout=10)
            got.append((msg.type, msg.extra if msg.type is aiohttp.WSMsgType.CLOSE else None))
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING):
                break
        return got, ws.close_code


def test_a_server_ping_must_be_answered(server: EmulatorServer) -> None:
    # websockets answers pings as they come: the reply is whole.
    assert _sdk_text(server, "ws_server_ping") == (EXPECTED, "completed")
    assert _entry(server, "ws_server_ping").ending.kind == "completed"
    # A client that never answers is closed as a server's keepalive closes it.
    started = time.monotonic()
    got, code = asyncio.run(_never_ponging(server, "ws_server_ping"))
    assert 1.5 < time.monotonic() - started < 8
    assert (aiohttp.WSMsgType.PING, None) in got
    assert got[-1] == (aiohttp.WSMsgType.CLOSE, "keepalive ping timeout") and code == 1011
    entry = _entry(server, "ws_server_ping", 2)
    assert entry.ending.kind == "close_code"
    assert entry.detail == "no pong within 2 s: closed with 1011"


def _keepalive_read(server: EmulatorServer, name: str) -> BaseException:
    """How a `websockets` client pinging every 0.2 s (0.3 s for each pong) stops reading."""
    options: dict[str, Any] = {"ping_interval": 0.2, "ping_timeout": 0.3}
    try:
        with websockets.sync.client.connect(_url(server), additional_headers=_headers(name),
                                            **options) as ws:  # fmt: skip
            for sent in ASK:
                ws.send(json.dumps(sent))
            for _ in range(1_000):
                ws.recv(timeout=2)
    except (websockets.exceptions.ConnectionClosedError, TimeoutError) as stopped:
        return stopped
    raise AssertionError("the client read on")


def test_pings_left_unanswered_make_the_client_s_keepalive_fire(server: EmulatorServer) -> None:
    started = time.monotonic()
    stopped = _keepalive_read(server, "ws_unanswered_pings")
    assert isinstance(stopped, websockets.exceptions.ConnectionClosedError)
    assert stopped.sent is not None and stopped.sent.code == 1011  # keepalive ping timeout
    assert time.monotonic() - started < 2
    # A half-open socket whose server still answers pings keeps the keepalive quiet: only
    # the read's own timeout ends the wait.
    assert isinstance(_keepalive_read(server, "half_open"), TimeoutError)


def test_the_server_answers_a_client_s_ping(server: EmulatorServer) -> None:
    with websockets.sync.client.connect(_url(server), additional_headers=_headers("default"),
                                        ping_interval=None) as ws:  # fmt: skip
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        assert ws.ping(b"are you there").wait(timeout=2)


def test_a_normal_close_before_the_answer_is_whole_is_no_answer(server: EmulatorServer) -> None:
    with pytest.raises(websockets.exceptions.ConnectionClosedOK) as closed:
        _frames(server, "ws_close_normal_early")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    # The SDK's iterator just ends on a normal close: no response.done, no completed status.
    text, status = _sdk_text(server, "ws_close_normal_early")
    assert status == "the socket closed" and EXPECTED.startswith(text) and text != EXPECTED


def _masked(payload: bytes) -> bytes:
    """A client's text frame (RFC 6455, 5.3: masked), for a client made by hand."""
    mask, n = os.urandom(4), len(payload)
    head = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0xFE, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_client_that_reads_nothing_is_cut_after_reader_seconds() -> None:
    # A send that waits on a client taking nothing ends the answer after
    # limits.reader_seconds (too_slow), as an HTTP body's write does: no task waits on it
    # for good. The client, made by hand, shakes hands, asks, and never reads again.
    from emulator import Limits

    big = {"description": "4 MB in 64 KiB deltas", "reply": {
        "text": "x" * 1023 + " ", "repeat": 4000, "cut": "byte", "cut_size": 65536}}  # fmt: skip
    config = EmulatorConfig(speed=0, limits=Limits(reader_seconds=0.5))
    with EmulatorServer(config) as server, socket.socket() as sock:
        server.use(big)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /v1/realtime?model={MODEL} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-test\r\n\r\n"
                     .encode())  # fmt: skip
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(1)
        assert answer.startswith(b"HTTP/1.1 101 ")
        for sent in ASK:
            sock.sendall(_masked(json.dumps(sent).encode()))
        entry = _entry(server, server.state.active.name)
        assert entry.ending.kind == "too_slow"
        assert entry.detail == "the client took nothing for 0.5 s (limits.reader_seconds)"
        assert entry.duration < 5


def test_an_answer_s_network_faults_act_on_its_frames(server: EmulatorServer) -> None:
    # [transport] on a WebSocket's answer: its frames' bytes within the bandwidth (4,000 B/s)...
    started = time.monotonic()
    frames = _frames(server, "bandwidth_cap")
    took = time.monotonic() - started
    answer = sum(len(f) for f in frames[4:])  # from response.created on: the answer's
    assert took >= 0.8 * answer / 4000
    text = "".join(json.loads(f).get("delta", "") for f in frames
                   if json.loads(f)["type"] == "response.output_text.delta")  # fmt: skip
    assert text == EXPECTED
    # ... and cut 600 bytes into them, mid-frame: the client sees no close frame (1006).
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
        _frames(server, "cut_mid_utf8")
    assert closed.value.rcvd is None
    entry = _entry(server, "cut_mid_utf8")
    assert (entry.ending.kind, entry.detail) == ("cut", "cut by the transport")


def test_network_faults_a_websocket_has_not_are_refused_with_why() -> None:
    from emulator.conformance.runner import skipped

    why = dict(skipped("openai-realtime"))
    assert why["no_headers"] == ("its no_headers network fault: a WebSocket's answers come "
                                 "after its handshake's headers")  # fmt: skip
    assert why["content_length_short"] == ("its length_error network fault: a WebSocket's "
                                           "messages have no Content-Length")  # fmt: skip
    assert why["slow_close"] == ("its slow_close network fault: a WebSocket stays open after "
                                 "each answer")  # fmt: skip
    assert {"bandwidth_cap", "latency_lognormal", "cut_mid_utf8"}.isdisjoint(why)


@pytest.mark.parametrize(
    ("name", "reconnects"),
    [("drop_mid_stream", [1006]), ("reset_mid_stream", [1006]), ("ws_close_code", [1011]),
     ("ws_close_normal_early", [])],
)  # fmt: skip
def test_the_sdk_s_reconnect_option_meets_the_close_code_it_is_given(
    server: EmulatorServer, name: str, reconnects: list[int]
) -> None:
    # openai's on_reconnecting reconnects after a close it deems recoverable (1006, 1011,
    # ...), here onto a healed upstream (the handler's headers choose the default
    # scenario), where the client asks again and gets a whole response; after a normal
    # close (1000) it does not, and its iterator just ends: no response.done at all.
    seen: list[int] = []

    def on_reconnecting(event: Any) -> Any:
        seen.append(event.close_code)
        return {"extra_headers": {"X-Emulator-Scenario": "default"}}

    def ask(connection: Any) -> None:
        connection.session.update(session=TEXT_ONLY)
        connection.conversation.item.create(item=ASK[1]["item"])
        connection.response.create()

    done = None
    with (
        openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as client,
        client.realtime.connect(
            model=MODEL,
            extra_headers={"X-Emulator-Scenario": name},
            on_reconnecting=on_reconnecting,
        ) as connection,  # fmt: skip
    ):
        ask(connection)
        sessions = 0
        for _, event in zip(range(1_000), connection, strict=False):
            if event.type == "session.created":
                sessions += 1
                if sessions > 1:  # a new session on the new socket: ask again
                    ask(connection)
            if event.type == "response.done":
                done = event
                break
    assert seen == reconnects
    if reconnects:
        assert done is not None and done.response.status == "completed" and sessions == 2
    else:
        assert done is None
