"""THE lifecycle of a connection that asks many times: a dialect's WebSocket.

Accept (the dialect's :class:`~emulator.dialects.session.Talker` reads the
upgrade request; a refusal is an HTTP error, in its shape), upgrade, play
its greeting, then for each client message: note it in the journal, let the
talker say what it means, and for an ask choose the scenario and the turn,
plan the answer and play it into the WebSocket, as the request lifecycle
(:mod:`emulator.http.lifecycle`) does for one HTTP request. The journal
keeps one entry for the connection, both directions with message
boundaries. It ends when the client closes, a fault cuts or closes it, it
idles past :data:`IDLE_SECONDS`, or it has asked :data:`MAX_ASKS` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Final

from aiohttp import WSMessage, WSMsgType, web

from ..core.clock import RealClock
from ..core.endings import Ending, Label
from ..dialects.replaying import ReplayTalker
from ..dialects.session import Ask, Heard, Talker
from ..dialects.speaker import Given, Incoming, Whole
from ..engine.network import end_connection, wait_connected
from ..engine.pacer import pace_messages
from ..engine.play import play_steps
from ..engine.sinks import WebSocketSink
from ..protocol.errors import BadRequest
from ..protocol.steps import Message, Step
from ..protocol.websocket import CloseCode
from ..scenario import ANSWER, Scenario
from ..scenario.asked import Asked
from ..scenario.faults import FAULTS
from ..scenario.writers import HALF_OPEN_SECONDS
from ..state.store import SCENARIO_HEADER
from .asking import applicable, choose, given_for, sent
from .context import Context
from .routes import Served

__all__ = ["IDLE_SECONDS", "MAX_ASKS", "converse"]

#: A connection that says nothing for this long is closed (going away).
IDLE_SECONDS: Final = 300.0
#: At most this many messages from the client on one connection.
MAX_ASKS: Final = 10_000
#: How long the close handshake waits for the client's close frame.
_CLOSE_SECONDS: Final = 5.0
_HEARD: Final = Label("received", "client message")
#: Client messages that may wait while an answer plays; past it, the socket is not read.
_INBOX: Final = 256


async def converse(
    request: web.BaseRequest, ctx: Context, served: Served, talker: Talker[Any], body: bytes
) -> web.StreamResponse:
    """Serve one WebSocket of ``served``'s dialect."""
    given = given_for(request, ctx)
    incoming = Incoming(request.method, request.path, request.query, request.headers, body)
    opened = talker.accept(incoming, given)
    upgrade = choose(request, ctx, "upgrade", None)  # the upgrade's own: its error, its faults
    refused = _refused_upgrade(request, ctx, served, upgrade)
    if refused is not None:
        return sent(refused)
    if upgrade.recording is not None:  # a recorded session: the whole connection replays it
        applicable(served.dialect, upgrade)
        ctx.call.served = upgrade
        replay = ReplayTalker(upgrade.recording, talker.speaker)
        talker, opened = replay, replay.accept(incoming, given)
    if not await _shaken(request, ctx, upgrade):
        return web.Response(status=101)  # never sent: the connection is closed
    # Pings are answered by its reader (unless a scenario makes it deaf), not by aiohttp.
    ws = web.WebSocketResponse(
        timeout=_CLOSE_SECONDS, max_msg_size=ctx.config.max_body, autoping=False
    )
    if not ws.can_prepare(request).ok:
        raise BadRequest(426, f"{served.dialect.title} is a WebSocket: upgrade the connection")
    await ws.prepare(request)
    call = ctx.call
    call.status = 101
    sink = WebSocketSink(ws, request, call, ctx.config.clock, ctx.config.limits.reader_seconds)
    state = opened.state
    await _play(request, ctx, sink, opened.greeting)
    # A reader of its own: the client's close and pings are answered while an answer
    # plays, and what it says meanwhile waits here (or interrupts the answer).
    inbox: asyncio.Queue[WSMessage] = asyncio.Queue(_INBOX)
    reading = asyncio.ensure_future(_read(ws, inbox, sink))
    held: deque[WSMessage] = deque()
    received = 0
    try:
        for _ in range(MAX_ASKS):
            try:
                msg = held.popleft() if held else await asyncio.wait_for(inbox.get(), IDLE_SECONDS)
            except TimeoutError:
                await ws.close(code=CloseCode.GOING_AWAY, message=b"idle")
                break
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break  # closing, closed or an error: the client's part is over
            heard = _heard(msg)
            received = _noted(ctx, received, heard)
            state, said = talker.heard(state, heard, incoming)
            steps: Iterable[Step]
            sink.shape(None)
            if isinstance(said, Ask):
                try:
                    steps, scenario, asked = await _asked(request, ctx, served, talker,
                                                          said.incoming, given)  # fmt: skip
                except BadRequest as exc:
                    steps = talker.refused(state, exc)
                else:
                    state = talker.answered(state, scenario, asked)
                    if scenario.transport.applies(ANSWER):  # its network's faults
                        sink.shape(scenario.transport)
                if said.before:  # lazily: a long answer is not made before it plays
                    steps = itertools.chain(said.before, steps)
            else:
                steps = said.steps
            if isinstance(said, Ask):  # an answer plays: a message may interrupt it
                state, received = await _listening(request, ctx, sink, steps, (talker, state),
                                                   inbox, held, received)  # fmt: skip
            else:  # an acknowledgement: what comes meanwhile waits its turn
                await _play(request, ctx, sink, steps)
            if ws.closed or (call.ending is not None and call.ending.early):
                break
    finally:
        if not ws.closed:
            await ws.close()  # the reader sees the close and stops
        reading.cancel()
    return ws


async def _stopped(playing: asyncio.Future[None]) -> None:
    playing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await playing


async def _read(
    ws: web.WebSocketResponse, inbox: asyncio.Queue[WSMessage], sink: WebSocketSink
) -> None:
    """Every client message into ``inbox`` (waiting while it is full), its close last; each
    ping answered (unless the sink is deaf), each pong told to the sink."""
    while True:
        msg = await ws.receive()
        if msg.type is WSMsgType.PING:
            if not sink.deaf:
                with contextlib.suppress(ConnectionError):
                    await ws.pong(msg.data)
            continue
        if msg.type is WSMsgType.PONG:
            sink.ponged()
            continue
        await inbox.put(msg)
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return


def _heard(msg: WSMessage) -> Heard:
    data = msg.data.encode("utf-8") if isinstance(msg.data, str) else bytes(msg.data)
    return Heard(data, msg.type is WSMsgType.BINARY)


def _noted(ctx: Context, received: int, heard: Heard) -> int:
    """A client message in the journal's transcript: the bytes received so far, after it."""
    call, clock = ctx.call, ctx.config.clock
    if call.transcript is not None:
        ms = (clock.time() - (call.arrived or clock.time())) * 1000
        call.transcript.wrote(received, ms, heard.data, _HEARD)
    return received + len(heard.data)


async def _listening(
    request: web.BaseRequest,
    ctx: Context,
    sink: WebSocketSink,
    steps: Iterable[Step],
    talking: tuple[Talker[Any], Any],
    inbox: asyncio.Queue[WSMessage],
    held: deque[WSMessage],
    received: int,
) -> tuple[Any, int]:
    """Play an answer's ``steps`` while listening: a client message that interrupts it (a
    cancel, the user speaking over it) stops it and plays what the dialect says instead
    (the message noted in the journal); any other waits in ``held`` for its turn. The
    session's state and the bytes received, once done."""
    talker, state = talking
    playing = asyncio.ensure_future(_play(request, ctx, sink, steps))
    try:
        while not playing.done():
            getting = asyncio.ensure_future(inbox.get())
            await asyncio.wait((playing, getting), return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                continue
            msg = getting.result()
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                held.append(msg)  # the client closed (or the socket broke): nothing to play to
                await _stopped(playing)
                return state, received
            heard = _heard(msg)
            interrupted = talker.interrupts(state, heard)
            if interrupted is None:
                held.append(msg)
                continue
            await _stopped(playing)
            received = _noted(ctx, received, heard)
            state, instead = interrupted
            await _play(request, ctx, sink, instead)
            return state, received
        playing.result()
    finally:
        if not playing.done():
            playing.cancel()
    return state, received


async def _play(request: web.BaseRequest, ctx: Context, sink: WebSocketSink,
                steps: Iterable[Step]) -> None:  # fmt: skip
    """Play an answer: paced, on the real clock, its messages by the loop's timer while
    they are whole ones (engine.pacer) and the rest by the player; else all by the
    player."""
    clock, speed = ctx.config.clock, ctx.config.speed
    started = clock.time()
    left: Iterator[Step] = iter(steps)
    # Compressed messages and a network's faults are aiohttp's and the shaper's to send.
    if (
        speed > 0
        and isinstance(clock, RealClock)
        and sink.network is None
        and not sink.ws.compress
    ):
        paced = await pace_messages(request, left, sink, speed, ctx.call, started)
        if paced is None:
            return
        left, started = paced
    await play_steps(request, left, sink, clock, speed, ctx.call, started)


async def _asked(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    talker: Talker[Any],
    incoming: Incoming,
    given: Given,
) -> tuple[Iterable[Step], Scenario, Asked]:
    """One ask on the connection: read by the dialect's speaker, its scenario (and turn)
    chosen from what it says and the upgrade request's headers, its answer planned; a
    scenario's HTTP error on this call is refused as the API refuses a bad event."""
    speaker = talker.speaker
    asked, parsed = speaker.read(incoming, given)
    scenario = choose(request, ctx, ANSWER, asked)
    number = ctx.call.number = ctx.state.next_call(scenario, ANSWER)
    ctx.call.served = scenario
    applicable(served.dialect, scenario)
    if scenario.recording is not None:
        raise BadRequest(400, f"scenario {scenario.name!r} is a recorded session: it replays a "
                         "whole connection, so name it as the connection opens "
                         f"({SCENARIO_HEADER} on the upgrade, or the active scenario)")  # fmt: skip
    scripted = scenario.http_error(ANSWER, number)
    if scripted is not None:
        raise BadRequest(scripted.status, scripted.detail or f"HTTP {scripted.status}")
    answer = await speaker.answer(parsed, scenario, given._replace(number=number))
    if isinstance(answer, Whole):
        return (Message(answer.body),), scenario, asked  # an answer sent whole: one message
    return answer.steps, scenario, asked


async def _shaken(request: web.BaseRequest, ctx: Context, scenario: Scenario) -> bool:
    """The upgrade scenario's faults on the handshake itself (in order): a wait before the
    answer (the client gone meanwhile: False), or a 101 whose Sec-WebSocket-Accept does not
    match the key, written by hand, and the connection closed (False). True: go on."""
    clock = ctx.config.clock
    for fault in scenario.faults:
        spec = FAULTS[fault.kind]
        if not spec.handshake:
            continue
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        if spec.waits:
            ctx.call.detail = (
                f"the handshake answered after {fault.seconds or HALF_OPEN_SECONDS:g} s"
            )
            await wait_connected(
                request, clock.time() + (fault.seconds or HALF_OPEN_SECONDS), clock
            )
        elif spec.cut is not None:
            ctx.call.served, ctx.call.status = scenario, 101
            ctx.call.detail = "the handshake answered with a wrong Sec-WebSocket-Accept"
            ctx.call.ending = Ending("closed", fault=fault.kind)
            transport.write(_WRONG_ACCEPT)
            end_connection(request, spec.cut)
            return False
    transport = request.transport
    return transport is not None and not transport.is_closing()


#: A 101 whose Sec-WebSocket-Accept is not the one the client's key makes (RFC 6455, 4.1:
#: the client must fail the connection).
_WRONG_ACCEPT: Final = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                        b"dGhpcyBpcyBub3QgdGhlIGtleQ==\r\n\r\n")  # fmt: skip


def _refused_upgrade(
    request: web.BaseRequest, ctx: Context, served: Served, scenario: Scenario
) -> Whole | None:
    """The scenario the upgrade request names in its header, when its HTTP error is on
    every call or the first: the handshake refused with it, in the API's shape (a 429 at
    the upgrade, as a rate-limited client meets it)."""
    if SCENARIO_HEADER not in request.headers:
        return None
    scripted = scenario.http_error(ANSWER, 1)
    if scripted is None:
        return None
    ctx.call.served = scenario
    return served.dialect.errors.scripted(scripted)
