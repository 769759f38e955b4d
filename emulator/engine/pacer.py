"""A paced stream planned before, played by the event loop's timer: each write at its
deadline, straight to the socket, framed as aiohttp frames a chunk.

What :func:`~emulator.engine.play.play` does with a :class:`~emulator.protocol.steps.Paced`
step (a paced stream asked for again) on an HTTP/1.1 connection kept alive, on the real
clock. The player would wake a task for each write, through the response's writer and a
sleep; here each write is one timer callback that writes its chunk: about a third less
CPU a stream under load. The bytes are the player's: the head as
:mod:`~emulator.engine.direct` writes it, then each write after its pause (writes with no
pause between them together, as the player joins them) as one chunk, the last one with
the end of the body; the deadlines are the player's (absolute, from the request's
arrival, never more than half a second behind); the transcript notes each write as the
player does. A client that leaves ends the stream (``client_gone``); one that takes
nothing while its unsent bytes pass :data:`~.body.WRITE_BYTES` is waited for, and cut
after ``reader_seconds`` (``too_slow``), as the player cuts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

from aiohttp import web

from ..core.endings import COMPLETED
from ..protocol.steps import Paced
from .body import WRITE_BYTES
from .direct import Head, Written, sent_head, written
from .network import CHECK_EVERY, Progress, end_connection, ended_at, gone

__all__ = ["pace", "paceable"]

#: The terminating chunk of a chunked body.
_LAST: Final = b"0\r\n\r\n"


def paceable(step: Paced) -> bool:
    """Whether the pacer plays ``step``: each group of writes with no pause between them
    small enough to go as one chunk (a larger one goes through the player, in pieces that
    wait for the reader)."""
    start = 0
    ends, pauses = step.ends, step.pauses
    for k in range(1, len(ends) + 1):
        if k == len(ends) or pauses[k] > 0:
            if ends[k - 1] - start > WRITE_BYTES:
                return False
            start = ends[k - 1]
    return True


async def pace(
    request: web.BaseRequest,
    head: Head,
    headers: Mapping[str, str],
    step: Paced,
    call: Progress,
    speed: float,
    reader_seconds: float,
) -> Written | None:
    """Play ``step`` (``head`` from :func:`~.direct.head_of`), noting how it went in
    ``call``; None: nothing was written (the connection is closing or busy: the player
    answers as usual)."""
    loop = asyncio.get_running_loop()
    date = sent_head(request, head)
    if date is None:
        return None
    call.status = 200
    done: asyncio.Future[None] = loop.create_future()
    pacer = _Pacer(request, step, call, speed, reader_seconds, done)
    pacer.next()
    try:
        await done
    finally:
        pacer.stop()
    return written(head, headers, date, whole=call.ending is COMPLETED)


class _Pacer:
    """One stream's writes, each group at its deadline (a timer callback a group)."""

    __slots__ = ("arrived", "blocked", "call", "data", "deadline", "done", "ends", "handle",
                 "i", "loop", "pauses", "reader_seconds", "request", "speed", "whats")  # fmt: skip

    def __init__(
        self,
        request: web.BaseRequest,
        step: Paced,
        call: Progress,
        speed: float,
        reader_seconds: float,
        done: asyncio.Future[None],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.request = request
        self.call = call
        self.speed = speed
        self.reader_seconds = reader_seconds
        self.done = done
        self.data, self.ends, self.whats, self.pauses = (
            step.data,
            step.ends,
            step.whats,
            step.pauses,
        )
        self.i = 0  # the next write
        self.arrived = call.arrived or self.loop.time()
        self.deadline = self.arrived  # as the player's schedule: from the request's arrival
        self.blocked = 0.0  # since when the client has taken nothing (0: it takes)
        self.handle: asyncio.TimerHandle | asyncio.Handle | None = None

    def next(self) -> None:
        """Schedule the next group of writes after its pause (at once: none)."""
        pause = self.pauses[self.i] * self.speed
        if pause <= 0:
            self.handle = self.loop.call_soon(self.write)
            return
        now = self.loop.time()
        self.deadline = max(self.deadline, now - 0.5) + pause
        self.handle = self.loop.call_at(self.deadline, self.write)

    def write(self) -> None:
        """Write the writes due (this one and those with no pause after it) as one chunk;
        anything raised ends the stream with it (its handler answers as for any error)."""
        self.handle = None
        if self.done.done():
            return
        try:
            self._write()
        except Exception as exc:  # noqa: BLE001  # never a stream left waiting on a failed callback
            if not self.done.done():
                self.done.set_exception(exc)

    def _write(self) -> None:
        transport = self.request.transport
        now = self.loop.time()
        call = self.call
        if transport is None or transport.is_closing():
            gone(call, now - self.arrived)
            self.done.set_result(None)
            return
        ends, pauses = self.ends, self.pauses
        first = self.i
        last = first + 1
        while last < len(ends) and pauses[last] * self.speed <= 0:
            last += 1
        start = ends[first - 1] if first else 0
        size = ends[last - 1] - start
        if transport.get_write_buffer_size() + size > WRITE_BYTES:
            self.wait_for_reader(now)
            return
        self.blocked = 0.0
        record = call.transcript
        if record is not None:
            ms = (now - self.arrived) * 1000
            at, whats = start, self.whats
            for k in range(first, last):
                record.wrote(call.bytes_sent + at - start, ms, self.data[at : ends[k]], whats[k])
                at = ends[k]
        data = self.data[start : ends[last - 1]]
        ending = last == len(ends)
        if size:
            transport.write(b"%x\r\n%b\r\n%b" % (size, data, _LAST if ending else b""))
        elif ending:
            transport.write(_LAST)
        call.bytes_sent += size
        self.i = last
        if ending:
            call.ending = COMPLETED
            self.done.set_result(None)
        else:
            self.next()

    def wait_for_reader(self, now: float) -> None:
        """The client takes nothing: look again soon; cut it once it has taken nothing
        for ``reader_seconds``."""
        if not self.blocked:
            self.blocked = now
        elif now - self.blocked >= self.reader_seconds:
            call = self.call
            call.detail = f"the client took nothing for {self.reader_seconds:g} s " \
                "(limits.reader_seconds)"  # fmt: skip
            call.ending = ended_at("too_slow", call, now - self.arrived)
            end_connection(self.request, "abort")
            self.done.set_result(None)
            return
        self.handle = self.loop.call_later(CHECK_EVERY, self.write)

    def stop(self) -> None:
        """No more writes (the stream ended, or its handler was cancelled)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
