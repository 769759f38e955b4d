"""Playing planned steps onto a socket: the only code that writes a stream or sleeps.

Time goes through one :class:`Clock`, so ``speed=0`` never waits for pacing
(fault waits keep their real time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Final, Protocol

from aiohttp import web

from ..protocol.steps import Drop, Hold, Step, Wait, Write
from .stream import COALESCE_BYTES

__all__ = ["STREAM_HEADERS", "Clock", "Progress", "play"]


class Clock:
    """Time for the player: scaled waits follow ``speed``, fault waits do not."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def seconds(self, wait: Wait) -> float:
        return wait.seconds * self.speed if wait.scaled else wait.seconds


class Recorder(Protocol):
    """Takes each write as it goes out (a journal entry's transcript)."""

    def wrote(self, offset: int, ms: float, data: bytes, what: str) -> None: ...

    def waited(self, offset: int, ms: float, seconds: float, what: str) -> None: ...


class Progress(Protocol):
    """Where the player notes how a stream went (a journal entry has these)."""

    status: int | None
    bytes_sent: int
    detail: str | None
    ending: str | None
    ended_ms: float | None  # when a stream that did not complete stopped, since arrival
    arrived: float  # the loop's clock when the request arrived (0: unknown)

    @property
    def transcript(self) -> Recorder | None: ...


async def play(
    request: web.BaseRequest,
    steps: Iterator[Step],
    clock: Clock,
    call: Progress,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Send ``steps`` as a 200 event stream (with extra ``headers``); note how it went in ``call``."""
    response = web.StreamResponse(
        status=200, headers={**STREAM_HEADERS, **headers} if headers else STREAM_HEADERS
    )
    await response.prepare(request)
    call.status = 200
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    started = call.arrived or deadline  # transcript times count from the request's arrival
    record = call.transcript
    pending: list[bytes] = []
    whats: list[str] = []  # what each pending write carries (only when recording)
    size = 0
    unyielded = 0  # bytes written since this task last let others run
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
                seconds = clock.seconds(step)
                if seconds <= 0 and step.scaled:
                    continue
            if pending:
                if record is not None:
                    _note(record, call, pending, whats, loop.time() - started)
                    whats = []
                unyielded += await _flush(response, call, pending)
                pending, size = [], 0
                if unyielded >= _YIELD_BYTES:
                    # A fast reader never makes a write wait, so the loop
                    # would serve this stream alone until it ends.
                    await asyncio.sleep(0)
                    unyielded = 0
            if isinstance(step, Wait):
                # Absolute deadlines: pacing does not drift with write time.
                deadline = max(deadline, loop.time() - 0.5) + clock.seconds(step)
                unyielded = 0
                if record is not None and not step.scaled:
                    ms = (loop.time() - started) * 1000
                    record.waited(call.bytes_sent, ms, step.seconds, step.what or "wait")
                if not await _wait_connected(request, deadline):
                    _gone(call, loop.time() - started)
                    return response
            elif isinstance(step, Drop):
                call.detail = "dropped by the scenario"
                call.ending = _at("dropped by the scenario", call, loop.time() - started)
                if request.transport is not None:
                    request.transport.abort()
                return response
            elif isinstance(step, Hold):
                await _wait_connected(request, loop.time() + step.seconds)
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        if record is not None and pending:
            _note(record, call, pending, whats, loop.time() - started)
        call.bytes_sent += len(last)
        await response.write_eof(last)
        call.ending = "completed"
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        _gone(call, loop.time() - started)
    return response


def _at(what: str, call: Progress, seconds: float) -> str:
    call.ended_ms = seconds * 1000
    return f"{what} at {call.bytes_sent:,} B after {call.ended_ms:.0f} ms"


def _gone(call: Progress, seconds: float) -> None:
    call.detail = "the client went away"
    call.ending = _at("client gone", call, seconds)


def _note(
    record: Recorder, call: Progress, pending: list[bytes], whats: list[str], seconds: float
) -> None:
    """Record the writes about to go out (one entry each, at their offsets)."""
    offset = call.bytes_sent
    ms = seconds * 1000
    for data, what in zip(pending, whats, strict=True):
        record.wrote(offset, ms, data, what)
        offset += len(data)


STREAM_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
}


#: The player lets other tasks run after this many bytes written without a
#: pause, and after this many steps + 1 (a mask).
_YIELD_BYTES: Final = 256 * 1024
_YIELD_STEPS: Final = 4095


async def _flush(response: web.StreamResponse, call: Progress, pending: list[bytes]) -> int:
    data = pending[0] if len(pending) == 1 else b"".join(pending)
    await response.write(data)
    call.bytes_sent += len(data)
    return len(data)


async def _wait_connected(request: web.BaseRequest, deadline: float) -> bool:
    """Sleep until ``deadline`` (loop time); False as soon as the client disconnects.

    A stalled or held stream stops at once when its client leaves, instead of
    sleeping on for a reader that is gone.
    """
    loop = asyncio.get_running_loop()
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        left = deadline - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
