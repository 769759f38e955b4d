"""Playing planned steps onto a socket: the only code that writes a stream or sleeps
(with :mod:`emulator.engine.network`, the network's faults on the way).

Time goes through one :class:`~emulator.core.clock.Clock`: scaled waits follow
``speed`` (``speed=0`` never waits for pacing), fault waits keep their time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from typing import Final

from aiohttp import web

from ..core.clock import Clock
from ..core.endings import COMPLETED, EndingKind, Label
from ..protocol.steps import Drop, Hold, Step, Wait, Write
from ..scenario import PlanError, Transport, model
from .network import (
    CHECK_EVERY,
    Cut,
    Progress,
    Recorder,
    Shaper,
    deliver,
    end_connection,
    ended_at,
    gone,
    latencies,
    no_headers,
    wait_connected,
)
from .stream import COALESCE_BYTES

__all__ = ["STREAM_HEADERS", "Progress", "deliver", "end_connection", "latencies", "play"]


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
) -> web.StreamResponse:
    """Send ``steps`` as a 200 event stream (with extra ``headers``); note how it went in ``call``.

    ``transport``: the network's faults on the way (bandwidth, latency, a cut,
    a lying length, no headers, a slow close), or None.
    """
    if transport is not None and transport.no_headers:
        return await no_headers(request, call, clock)
    response = web.StreamResponse(
        status=status, headers={**base_headers, **headers} if headers else base_headers
    )
    # The schedule, like the transcript's times, counts from the request's
    # arrival: what the server spent before the first step (reading, auth, a
    # queue of other requests under a burst) is part of the first wait, not
    # added to it.
    started = deadline = call.arrived or clock.time()
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
                data = pending[0] if len(pending) == 1 else b"".join(pending)
                if record is not None:
                    if len(pending) == 1:  # the usual paced write: one event
                        ms = (clock.time() - started) * 1000
                        record.wrote(call.bytes_sent, ms, data, whats[0])
                    else:
                        _note(record, call, pending, whats, clock.time() - started)
                    whats = []
                if shaper is None:
                    await response.write(data)
                    call.bytes_sent += len(data)
                else:
                    await shaper.write(response, data)
                unyielded += len(data)
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
            if isinstance(step, Wait):
                # Absolute deadlines: pacing does not drift with write time.
                now = clock.time()
                deadline = max(deadline, now - 0.5) + seconds
                unyielded, yielded = 0, time.perf_counter()
                if record is not None and not step.scaled:
                    ms = (now - started) * 1000
                    record.waited(call.bytes_sent, ms, step.seconds, step.what)
                left = deadline - now
                if 0 < left <= CHECK_EVERY:
                    # A pacing pause: one sleep (a client gone meanwhile fails the
                    # next write, which ends the stream as gone).
                    await clock.sleep(left)
                elif not await wait_connected(request, deadline, clock):
                    gone(call, clock.time() - started)
                    return response
            elif isinstance(step, Drop):
                kind, call.detail = _DROPS[step.how]
                call.ending = ended_at(kind, call, clock.time() - started)
                end_connection(request, step.how)
                return response
            elif isinstance(step, Hold):
                await wait_connected(request, clock.time() + step.seconds, clock)
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        if record is not None and pending:
            _note(record, call, pending, whats, clock.time() - started)
        if shaper is not None:
            await shaper.write(response, last)
            await shaper.finish(response)
        else:
            call.bytes_sent += len(last)
            await response.write_eof(last)
            call.ending = COMPLETED
    except Cut:
        pass  # the shaper noted how it ended
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        gone(call, clock.time() - started)
    return response


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
        if isinstance(step, Write):
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
    offset = call.bytes_sent
    ms = seconds * 1000
    for data, what in zip(pending, whats, strict=True):
        record.wrote(offset, ms, data, what)
        offset += len(data)


#: The player lets other tasks run once it has written this many bytes and for
#: this long without a pause, and after this many steps + 1 (a mask).
_YIELD_BYTES: Final = 256 * 1024
_YIELD_SECONDS: Final = 0.002
_YIELD_STEPS: Final = 4095


#: A body measured for a lying Content-Length is held whole: at most this large.
MEASURED_BYTES: Final = 8 * 1024 * 1024
