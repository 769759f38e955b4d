"""Playing planned steps onto a socket: the only code that writes a stream or sleeps.

Time goes through one :class:`Clock`, so ``speed=0`` never waits for pacing
(fault waits keep their real time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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


class Progress(Protocol):
    """Where the player notes how a stream went (a journal entry has these)."""

    status: int | None
    bytes_sent: int
    detail: str | None


async def play(
    request: web.BaseRequest, steps: Iterator[Step], clock: Clock, call: Progress
) -> web.StreamResponse:
    """Send ``steps`` as a 200 event stream; note how it went in ``call``."""
    response = web.StreamResponse(status=200, headers=STREAM_HEADERS)
    await response.prepare(request)
    call.status = 200
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    pending: list[bytes] = []
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
                if size < COALESCE_BYTES:
                    continue
            elif isinstance(step, Wait):
                seconds = clock.seconds(step)
                if seconds <= 0 and step.scaled:
                    continue
            if pending:
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
                if not await _wait_connected(request, deadline):
                    call.detail = "the client went away"
                    return response
            elif isinstance(step, Drop):
                call.detail = "dropped by the scenario"
                if request.transport is not None:
                    request.transport.abort()
                return response
            elif isinstance(step, Hold):
                await _wait_connected(request, loop.time() + step.seconds)
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        call.bytes_sent += len(last)
        await response.write_eof(last)
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        call.detail = "the client went away"
    return response


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
