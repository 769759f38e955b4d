"""Playing planned steps into a sink (an HTTP body, :mod:`emulator.engine.body`; a
WebSocket, :mod:`emulator.engine.sinks`): the only code that writes an answer or sleeps
(with :mod:`emulator.engine.network`, the network's faults on the way).

Time goes through one :class:`~emulator.core.clock.Clock`: scaled waits follow
``speed`` (``speed=0`` never waits for pacing), fault waits keep their time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator, Mapping
from typing import Final

from aiohttp import web

from ..core.clock import Clock, RealClock
from ..core.endings import COMPLETED, EndingKind, Label
from ..protocol.steps import (
    Close,
    Drop,
    Fragment,
    Hold,
    Message,
    Paced,
    Reframe,
    Run,
    Step,
    Until,
    Wait,
    Write,
    frame_of,
)
from ..protocol.websocket import CloseCode, close_payload
from ..scenario import PlanError, Transport, model
from .body import READER_SECONDS, WRITE_BYTES, HttpBody, Sink
from .direct import DIRECT_BYTES, Head, Written, head_of, sent_whole, writable
from .network import (
    CHECK_EVERY,
    Cut,
    Progress,
    Recorder,
    Shaper,
    Unanswered,
    deliver,
    end_connection,
    ended_at,
    gone,
    latencies,
    no_headers,
    wait_connected,
)
from .pacer import pace
from .stream import COALESCE_BYTES

__all__ = [
    "STREAM_HEADERS",
    "Progress",
    "deliver",
    "end_connection",
    "latencies",
    "play",
    "play_steps",
]


#: The headers of an event stream (a recording may answer with its own).
STREAM_HEADERS: Final = dict(model.STREAM_HEADERS)


async def play(
    request: web.BaseRequest,
    steps: Iterator[Step],
    clock: Clock,
    speed: float,
    call: Progress,
    headers: Mapping[str, str] | None = None,
    transport: Transport | None = None,
    status: int = 200,
    base_headers: Mapping[str, str] = STREAM_HEADERS,
    reader_seconds: float = READER_SECONDS,
) -> web.StreamResponse:
    """Send ``steps`` as a 200 event stream (with extra ``headers``); note how it went in ``call``.

    ``transport``: the network's faults on the way (bandwidth, latency, a cut,
    a lying length, no headers, a slow close), or None. ``reader_seconds``: how long
    a write waits on a client that takes nothing before the answer is cut.
    """
    if transport is not None and transport.no_headers:
        return await no_headers(request, call, clock)
    merged = {**base_headers, **headers} if headers else base_headers
    first = next(steps, None)
    second = next(steps, None) if first is not None else None
    if transport is None and isinstance(first, (Write, Run, Paced)) and second is None:
        # The whole answer is one step we may write ourselves, not through aiohttp's writer.
        head = head_of(request, status, merged)
        if head is not None:
            written = await _ours(request, head, merged, first, call, clock, speed, reader_seconds)
            if written is not None:
                return written
    # A paced stream planned before, played here: write by write, after each pause.
    ahead: Iterator[Step] = (
        first.writes if isinstance(first, Paced) else iter(() if first is None else (first,))
    )
    steps = itertools.chain(ahead, () if second is None else (second,), steps)
    response = web.StreamResponse(status=status, headers=merged)
    # The schedule, like the transcript's times, counts from the request's
    # arrival: what the server spent before the first step (reading, auth, a
    # queue of other requests under a burst) is part of the first wait, not
    # added to it.
    started = call.arrived or clock.time()
    shaper = None
    if transport is not None:
        shaper = Shaper(request, transport, call, clock, started)
        if transport.length_error:
            steps, length = _measured(steps)
            response.content_length = max(0, length + transport.length_error)
        if transport.length_error or transport.slow_close:
            response.force_close()  # the lie cannot leave the connection reusable
    await response.prepare(request)
    call.status = status
    body = HttpBody(request, response, shaper, call, clock, reader_seconds)
    await play_steps(request, steps, body, clock, speed, call, started)
    return response


async def _ours(
    request: web.BaseRequest,
    head: Head,
    headers: Mapping[str, str],
    step: Step,
    call: Progress,
    clock: Clock,
    speed: float,
    reader_seconds: float,
) -> Written | None:
    """``step``, the whole answer, written by us (None: it is not, the player plays it):
    one write (a stream asked for again, at speed 0: :mod:`.direct`), or a paced stream
    planned before, on the real clock (:mod:`.pacer`)."""
    if isinstance(step, (Write, Run)) and len(step.data) <= DIRECT_BYTES:
        return _whole(request, head, headers, step, call, clock)
    if isinstance(step, Paced) and speed > 0 and isinstance(clock, RealClock):
        return await pace(request, head, headers, step, call, speed, reader_seconds)
    return None


def _whole(
    request: web.BaseRequest,
    head: Head,
    headers: Mapping[str, str],
    step: Write | Run,
    call: Progress,
    clock: Clock,
) -> Written | None:
    """Send ``step``, the whole answer, in one write (None: it is not sent), noted as the
    player notes it: before the write, as a client that reads the journal once it has the
    answer (from another thread) must find it."""
    if not writable(request):
        return None
    record = call.transcript
    call.status = 200
    if record is not None:
        ms = (clock.time() - (call.arrived or clock.time())) * 1000
        if isinstance(step, Run):
            record.wrote_run(call.bytes_sent, ms, step.data, step.ends, step.whats)
        else:
            record.wrote(call.bytes_sent, ms, step.data, step.what)
    call.bytes_sent += len(step.data)
    call.ending = COMPLETED
    return sent_whole(request, head, headers, step.data)


async def play_steps(
    request: web.BaseRequest,
    steps: Iterator[Step],
    sink: Sink,
    clock: Clock,
    speed: float,
    call: Progress,
    started: float,
) -> None:
    """Play ``steps`` into ``sink``: the only loop that writes an answer and waits.

    ``started``: when the schedule counts from (the request's arrival, or the ask's on a
    WebSocket); the transcript's times count from the request's arrival. How it went is
    noted in ``call``.
    """
    deadline = started
    origin = call.arrived or started
    record = call.transcript
    pending: list[bytes] = []
    whats: list[Label] = []  # what each pending write carries (only when recording)
    size = 0
    unyielded = 0  # bytes written since this task last let others run
    yielded = time.perf_counter()  # ... and when it last did (real time: a share of the CPU)
    count = 0
    try:
        for step in steps:
            count += 1
            if not count & _YIELD_STEPS:
                await asyncio.sleep(0)  # a long run of steps that write nothing
            if isinstance(step, Write):
                # Writes with no real wait between them go out together.
                pending.append(step.data)
                size += len(step.data)
                if record is not None:
                    whats.append(step.what)
                if size < COALESCE_BYTES:
                    continue
            elif isinstance(step, Wait):
                seconds = step.seconds * speed if step.scaled else step.seconds
                if seconds <= 0 and step.scaled:
                    continue
            if pending:
                if record is not None:
                    if len(pending) == 1:  # the usual paced write: one event
                        ms = (clock.time() - origin) * 1000
                        record.wrote(call.bytes_sent, ms, pending[0], whats[0])
                    else:
                        _note(record, call, pending, whats, clock.time() - origin)
                    whats = []
                if len(pending) == 1:
                    await sink.write(pending[0])
                elif len(pending[-1]) < WRITE_BYTES:
                    await sink.write(b"".join(pending))
                else:  # a long piece after small events: it goes as it is, not copied
                    await sink.write(b"".join(pending[:-1]))
                    await sink.write(pending[-1])
                unyielded += size
                pending, size = [], 0
                if unyielded >= _YIELD_BYTES:
                    # A fast reader never makes a write wait, so the loop would
                    # serve this stream alone until it ends: others get a turn
                    # once it has written for _YIELD_SECONDS (not at every
                    # write: a turn of the loop costs as much as a write).
                    unyielded = 0
                    if time.perf_counter() - yielded >= _YIELD_SECONDS:
                        await asyncio.sleep(0)
                        yielded = time.perf_counter()
            if type(step) is Message:  # a WebSocket's message (the most common step there)
                if record is not None:
                    ms = (clock.time() - origin) * 1000
                    record.wrote(call.bytes_sent, ms, step.data, step.what, frame_of(step))
                await sink.send(step)
            elif isinstance(step, Wait):
                # Absolute deadlines: pacing does not drift with write time.
                now = clock.time()
                deadline = max(deadline, now - 0.5) + seconds
                unyielded, yielded = 0, time.perf_counter()
                if record is not None and not step.scaled:
                    ms = (now - origin) * 1000
                    record.waited(call.bytes_sent, ms, step.seconds, step.what)
                left = deadline - now
                if 0 < left <= CHECK_EVERY:
                    # A pacing pause: one sleep (a client gone meanwhile fails the
                    # next write, which ends the stream as gone).
                    await clock.sleep(left)
                elif not await wait_connected(request, deadline, clock):
                    gone(call, clock.time() - origin)
                    return
            elif isinstance(step, Drop):
                kind, call.detail = _DROPS[step.how]
                call.ending = ended_at(kind, call, clock.time() - origin)
                end_connection(request, step.how)
                return
            elif isinstance(step, Hold):
                await wait_connected(request, clock.time() + step.seconds, clock)
            elif isinstance(step, Until):
                if not await _until(request, step, clock):
                    gone(call, clock.time() - origin)
                    return
                if record is not None:
                    ms = (clock.time() - origin) * 1000
                    record.waited(call.bytes_sent, ms, step.seconds, step.what)
            elif isinstance(step, Reframe):
                continue  # the framing stage's (it never reaches a sink)
            elif isinstance(step, Run):  # a stream planned before: its writes at once
                if record is not None:
                    ms = (clock.time() - origin) * 1000
                    record.wrote_run(call.bytes_sent, ms, step.data, step.ends, step.whats)
                await sink.write(step.data)
            elif isinstance(step, Paced):  # play() plays it, or hands on its steps
                raise PlanError("a paced stream planned before is played as the whole answer")
            elif not isinstance(step, Write):
                if record is not None:
                    ms = (clock.time() - origin) * 1000
                    if isinstance(step, Close):
                        said = close_payload(step.code, step.reason)
                        record.wrote(call.bytes_sent, ms, said, step.what.noted(f": {step.code}"))
                    elif isinstance(step, Fragment):
                        record.wrote(call.bytes_sent, ms, step.data, step.what, frame_of(step))
                    else:
                        record.wrote(call.bytes_sent, ms, step.data, step.what)
                await sink.send(step)
                if isinstance(step, Close):
                    call.detail = f"closed by the scenario with {step.code}"
                    call.ending = ended_at("close_code", call, clock.time() - origin)
                    return
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        if record is not None and pending:
            _note(record, call, pending, whats, clock.time() - origin)
        await sink.finish(last)
    except Cut:
        pass  # the shaper noted how it ended
    except Unanswered as exc:  # the client never answered a ping that had to be
        await _unanswered(sink, call, record, exc, clock.time() - origin)
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        gone(call, clock.time() - origin)


async def _until(request: web.BaseRequest, step: Until, clock: Clock) -> bool:
    """Wait for ``step.ready()`` (looked at every CHECK_EVERY) or its time; False: the
    client left meanwhile."""
    deadline = clock.time() + step.seconds
    while not step.ready() and clock.time() < deadline:
        if not await wait_connected(request, min(deadline, clock.time() + CHECK_EVERY), clock):
            return False
    return True


async def _unanswered(
    sink: Sink, call: Progress, record: Recorder | None, exc: Unanswered, seconds: float
) -> None:
    """Close as a server's keepalive does when its ping goes unanswered: 1011."""
    close = Close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
    if record is not None:
        said = close_payload(close.code, close.reason)
        record.wrote(call.bytes_sent, seconds * 1000, said, close.what.noted(f": {close.code}"))
    try:
        await sink.send(close)
    except ConnectionError:
        gone(call, seconds)
        return
    call.detail = f"{exc}: closed with {close.code}"
    call.ending = ended_at("close_code", call, seconds)


#: Each way a scenario cuts a stream: its ending, and the journal's detail.
_DROPS: Final[dict[str, tuple[EndingKind, str]]] = {
    "abort": ("dropped", "dropped by the scenario"),
    "close": ("closed", "closed by the scenario"),
    "reset": ("reset", "reset by the scenario"),
}


def _measured(steps: Iterator[Step]) -> tuple[Iterator[Step], int]:
    """The steps (kept), and how many bytes they write: a Content-Length needs it first."""
    kept: list[Step] = []
    size = 0
    for step in steps:
        kept.append(step)
        if isinstance(step, (Write, Run)):
            size += len(step.data)
            if size > MEASURED_BYTES:
                raise PlanError(
                    f"length_error needs the whole body before it is sent; this one is over "
                    f"{MEASURED_BYTES // 2**20} MiB"
                )
    return iter(kept), size


def _note(
    record: Recorder, call: Progress, pending: list[bytes], whats: list[Label], seconds: float
) -> None:
    """Record the writes about to go out (one entry each, at their offsets)."""
    record.wrote_all(call.bytes_sent, seconds * 1000, pending, whats)


#: The player lets other tasks run once it has written this many bytes and for
#: this long without a pause, and after this many steps + 1 (a mask).
_YIELD_BYTES: Final = 256 * 1024
_YIELD_SECONDS: Final = 0.002
_YIELD_STEPS: Final = 4095


#: A body measured for a lying Content-Length is held whole: at most this large.
MEASURED_BYTES: Final = 8 * 1024 * 1024
