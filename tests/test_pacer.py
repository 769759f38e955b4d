"""A paced stream asked for again is played by the loop's timer, straight to the socket
(:mod:`emulator.engine.pacer`): the bytes the player writes, chunk for chunk, each after
its pause; a client that leaves, one that takes nothing, and a server that stops end it
as they end the player's."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from emulator import Emulator, EmulatorConfig, builtin_scenarios, serve
from emulator.core.clock import REAL_CLOCK, VirtualClock
from emulator.core.endings import Label
from emulator.dialects.fakegpt.cache import TemplateCache
from emulator.dialects.fakegpt.plan import plan
from emulator.dialects.registry import registered
from emulator.engine.direct import head_of
from emulator.engine.flat import FLATS
from emulator.engine.pacer import pace
from emulator.protocol.steps import Paced, Wait, Write
from emulator.scenario import scenario_from_dict
from emulator.state.journal import Call
from emulator.state.transcript import Transcript

from .helpers import conversation, login
from .test_direct import _DATE, _REQUEST_ID, _answer, _request
from .test_engine import CTX
from .test_flat import ASKED, Asked
from .toy_websocket import KEY, TOY_WS_PATH, toy_ws

#: The shipped paced scenario (a 200 ms first event, then 50 tokens a second): at this
#: speed about 25 ms a stream.
_PACED: Final = "paced_50_tps"
_SPEED: Final = 0.02


def _paced(asked: Asked, scenario: str = _PACED) -> Asked:
    return asked._replace(headers={**asked.headers, "X-Emulator-Scenario": scenario})


@pytest.mark.parametrize("closing", [False, True], ids=["kept", "closing"])
@pytest.mark.parametrize("dialect", ASKED)
async def test_the_pacer_writes_the_bytes_the_player_writes(dialect: str, closing: bool) -> None:
    asked = _paced(ASKED[dialect])
    anew = re.compile(asked.anew.encode()) if asked.anew else None
    extra = "Connection: close\r\n" if closing else ""

    def normalized(answer: bytes) -> bytes:
        answer = _REQUEST_ID.sub(rb"\r\n\1: ~", _DATE.sub(b"\r\nDate: ~\r\n", answer))
        return anew.sub(b"~", answer) if anew else answer

    async with serve(EmulatorConfig(speed=_SPEED)) as emulator:
        FLATS.clear()  # this worker's earlier tests may have asked the same
        reused = FLATS.reused
        answers, seconds = [], []
        reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
        try:
            for _ in range(3):
                if closing and answers:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
                started = time.monotonic()
                writer.write(_request(asked, extra=extra))
                answers.append(await _answer(reader))
                seconds.append(time.monotonic() - started)
        finally:
            writer.close()
        # The first is planned (the player plays it); the others come from its flat.
        assert FLATS.reused - reused == 2
        calls = list(emulator.calls(asked.path.partition("?")[0]))
    planned, *paced = answers
    for answer in paced:
        assert normalized(answer) == normalized(planned)
    # Each write after its pause: the 200 ms first event and 49 tokens at 50 a second.
    planned_seconds = (0.2 + 49 / 50) * _SPEED
    assert all(s >= planned_seconds * 0.9 for s in seconds), (seconds, planned_seconds)
    first, last = (c.transcript for c in (calls[0], calls[-1]))
    assert first is not None and last is not None
    assert [(w.offset, w.size, w.what) for w in last.writes] == [
        (w.offset, w.size, w.what) for w in first.writes
    ]
    times = [w.ms for w in last.writes]
    assert times == sorted(times) and times[-1] - times[0] >= 49 / 50 * _SPEED * 1000 * 0.9
    assert [str(c.ending) for c in calls] == ["completed"] * 3
    assert len({c.bytes_sent for c in calls}) == 1


async def _flat_made(asked: Asked) -> None:
    """Plan ``asked`` twice at speed 0, so that its flat is kept (for a paced server)."""
    async with serve(EmulatorConfig(speed=0)) as emulator:
        FLATS.clear()
        for _ in range(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
            try:
                writer.write(_request(asked))
                await _answer(reader)
            finally:
                writer.close()
        assert len(FLATS) == 1


@asynccontextmanager
async def _mid_stream() -> AsyncIterator[
    tuple[Emulator, asyncio.StreamReader, asyncio.StreamWriter]
]:
    """A paced Chat Completions stream from its flat, at real speed, its first event read
    (at 200 ms)."""
    asked = _paced(ASKED["openai-chat"])
    await _flat_made(asked)
    reused = FLATS.reused
    async with serve(EmulatorConfig(speed=1)) as emulator:
        reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
        writer.write(_request(asked))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 OK")
        await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
        assert FLATS.reused - reused == 1  # the pacer's
        yield emulator, reader, writer


async def test_a_client_that_leaves_ends_the_paced_stream_as_gone() -> None:
    async with _mid_stream() as (emulator, _, writer):
        writer.close()
        for _ in range(100):  # at most 5 s: the next write finds it gone
            (call,) = emulator.calls("/v1/chat/completions")
            if call.ending is not None:
                break
            await asyncio.sleep(0.05)
        assert call.ending is not None and call.ending.kind == "client_gone", call.ending
        assert 0 < call.ending.at_bytes < call.transcript.writes[-1].offset + 10_000  # type: ignore[union-attr]
        assert emulator.problems() == []


async def test_a_client_that_takes_nothing_is_waited_for_then_cut_as_too_slow() -> None:
    """A client that reads nothing, on a real socket with small buffers (the kernel's own
    would take a whole flat of a loopback stream): once its unsent bytes pass 64 KiB the
    pacer writes no more, and after reader_seconds it cuts the connection (``too_slow``),
    as the player cuts it."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    try:
        request = make_mocked_request("POST", "/v1/chat/completions", transport=transport)
        headers = {"Content-Type": "text/event-stream; charset=utf-8"}
        head = head_of(request, 200, headers)
        assert head is not None
        n, size = 40, 60_000
        writes: list[Write | Wait] = [Write(b"x" * size, Label("event"))]
        for _ in range(n - 1):
            writes += [Wait(0.002), Write(b"x" * size, Label("event"))]
        step = Paced(iter(writes))
        call = Call("POST", "/v1/chat/completions", {}, headers, b"", arrived=loop.time())
        call.transcript = Transcript()
        started = loop.time()
        response = await asyncio.wait_for(pace(request, head, headers, step, call, 1.0, 0.3), 10)
        waited = loop.time() - started
    finally:
        theirs.close()
        transport.abort()
    assert response is not None and response.keep_alive is False
    assert call.ending is not None and call.ending.kind == "too_slow", call.ending
    assert "took nothing for 0.3 s" in (call.detail or "")
    # Held back while the client took nothing: a few writes out of 40, then the cut.
    assert 0 < call.bytes_sent <= 8 * size and waited >= 0.3
    assert transport.is_closing()


async def test_a_server_that_stops_ends_its_paced_streams() -> None:
    async with _mid_stream() as (emulator, reader, writer):
        journal = emulator.state
    # Stopped mid-stream: the stream ends there, the connection with it.
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert not rest.endswith(b"\r\n0\r\n\r\n")
    (call,) = journal.calls("/v1/chat/completions")
    assert call.ending is not None and call.ending.kind == "shutdown"
    assert json.loads(json.dumps(call.to_dict()))["ending_kind"] == "shutdown"


_FAKEGPT_ANEW: Final = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|modr-[0-9a-f]{24}"
    rb'|"create_time": [0-9.e+]+'
)


_CHUNK_SIZE: Final = re.compile(rb"\r\n[0-9a-f]+\r\n(?=data: )")


async def test_a_paced_fakegpt_template_is_played_by_the_pacer_as_the_player_plays_it() -> None:
    """The upstream's paced stream comes from a template, filled as it is played: by the
    pacer on the real clock, by the player on a virtual one; the same bytes."""
    cache = TemplateCache()
    scenario = builtin_scenarios()[_PACED]
    for _ in range(2):  # the second sight builds the template
        steps = list(plan(scenario, CTX, templates=cache))
    assert len(steps) == 1 and isinstance(steps[0], Paced)

    answers: dict[str, list[bytes]] = {}
    for name, clock in (("pacer", REAL_CLOCK), ("player", VirtualClock())):
        config = EmulatorConfig(speed=_SPEED, clock=clock)
        jar = aiohttp.CookieJar(unsafe=True)  # the login's cookie, on 127.0.0.1
        async with serve(config) as emulator, aiohttp.ClientSession(cookie_jar=jar) as http:
            token = await login(http, emulator.url)
            asked = Asked("/api/conversation",
                          {"Authorization": f"Bearer {token}", "X-Emulator-Scenario": _PACED},
                          conversation("hi"))  # fmt: skip
            answers[name] = []
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
                try:
                    writer.write(_request(asked))
                    answers[name].append(await _answer(reader))
                finally:
                    writer.close()
            calls = list(emulator.calls("/api/conversation"))
            assert [str(c.ending) for c in calls] == ["completed"] * 2

    def normalized(answer: bytes) -> bytes:
        # A create_time's digits vary, and so does the size line of its chunk: each chunk
        # boundary stays where it is.
        answer = _FAKEGPT_ANEW.sub(b"~", _DATE.sub(b"\r\nDate: ~\r\n", answer))
        return _CHUNK_SIZE.sub(b"\r\n~\r\n", answer)

    (shape,) = {normalized(a) for a in answers["player"]}
    assert [normalized(a) for a in answers["pacer"]] == [shape, shape]
    assert shape.count(b"\r\ndata: ") > 40  # the events, each its own chunk


@pytest.mark.parametrize("fault", [None, "close_code"], ids=["whole", "handed-on"])
async def test_a_paced_websocket_answer_is_played_by_the_pacer_as_the_player_plays_it(
    fault: str | None,
) -> None:
    """A paced answer on a WebSocket (the toy dialect's): its messages by the pacer on the
    real clock, by the player on a virtual one: the same messages, each after its pause,
    and the same notes. A fault's step (a close code at the 5th event) is the player's:
    the pacer hands it on, and the rest, at its place in the schedule."""
    spec: dict[str, Any] = {
        "description": "paced",
        "reply": {"text": "one two three four five six seven eight", "cut": "word"},
        "timing": {"first_event": 0.2, "tokens_per_second": 50},
    }
    if fault is not None:
        spec["faults"] = [{"kind": fault, "at": 5, "code": 1011, "text": "fell over"}]
    scenario = scenario_from_dict(spec, name="paced")
    got: dict[str, list[Any]] = {}
    notes: dict[str, list[tuple[int, int, str]]] = {}
    took: dict[str, float] = {}
    with registered(toy_ws()):
        for name, clock in (("pacer", REAL_CLOCK), ("player", VirtualClock())):
            config = EmulatorConfig(speed=0.25, clock=clock, scenarios={"paced": scenario},
                                    default="paced")  # fmt: skip
            async with serve(config) as emulator, aiohttp.ClientSession() as http:
                async with http.ws_connect(emulator.url + TOY_WS_PATH, headers=KEY) as ws:
                    assert await ws.receive_json(timeout=5) == {"hello": "toy"}
                    started = time.monotonic()
                    await ws.send_str(json.dumps({"say": "hi"}))
                    got[name] = await _toy_messages(ws)
                    took[name] = time.monotonic() - started
                for _ in range(500):  # the server ends its side of a close a moment later
                    (call,) = emulator.calls(TOY_WS_PATH)
                    if call.duration is not None:
                        break
                    await asyncio.sleep(0.01)
                assert call.transcript is not None
                notes[name] = [(w.offset, w.size, str(w.what)) for w in call.transcript.writes]
    assert got["pacer"] == got["player"]
    assert notes["pacer"] == notes["player"]
    # 200 ms, then 7 more words at 50 a second (or 4 before the close), at speed 0.25.
    assert took["pacer"] >= (0.2 + (3 if fault else 7) / 50) * 0.25 * 0.9
    if fault is not None:
        assert got["pacer"][-1] == ("close", 1011, "fell over")


async def _toy_messages(ws: aiohttp.ClientWebSocketResponse) -> list[Any]:
    """The toy's messages to the answer's end, or to the socket's close (code, reason)."""
    got: list[Any] = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return [*got, ("close", ws.close_code, msg.extra)]
        got.append(json.loads(msg.data))
        if got[-1].get("end"):
            return got
