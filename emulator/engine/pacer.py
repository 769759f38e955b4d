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
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Final, Generic, NamedTuple, TypeVar

from aiohttp import web

from ..core.endings import COMPLETED, Label
from ..protocol.steps import Message, Paced, Step, Wait, Write, frame_of
from ..protocol.websocket import Opcode, frame
from ..scenario import PlanError
from .body import WRITE_BYTES
from .direct import Head, Written, sent_head, written
from .network import CHECK_EVERY, Progress, end_connection, ended_at, gone
from .sinks import WebSocketSink
from .stream import COALESCE_BYTES

__all__ = ["pace", "pace_messages"]

#: The terminating chunk of a chunked body.
_LAST: Final = b"0\r\n\r\n"


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
    date = sent_head(request, head)
    if date is None:
        return None
    call.status = 200
    pacer = _Body(request, call, speed, reader_seconds, call.arrived, iter(step.writes))
    await pacer.played()
    return written(head, headers, date, whole=call.ending is COMPLETED)


async def pace_messages(
    request: web.BaseRequest,
    steps: Iterator[Step],
    sink: WebSocketSink,
    speed: float,
    call: Progress,
    started: float,
) -> tuple[Iterator[Step], float] | None:
    """Play an answer's ``steps`` on a WebSocket while they are whole messages and the
    pauses the speed scales (``started``: when its schedule counts from), each message
    framed as aiohttp frames it when it compresses nothing; the steps left from the first
    that is another (a fault's, a fragment, a ping, a close) and the deadline they count
    from, for the player; None: the answer was played (or ended early, noted in
    ``call``)."""
    pacer = _Messages(request, call, speed, sink.reader_seconds, started, steps,
                      lambda: sink.ws.closed)  # fmt: skip
    return await pacer.played()


class _Group(NamedTuple):
    """The writes due together (those with no pause between them), as the player sends
    them: its bytes, and the pause after it (None: the answer ends with it)."""

    writes: list[tuple[bytes, Label, int]]  # each: its bytes, what it is, its frame (0: bytes)
    framed: bytes  # as they go on the socket (after the last group, the body's end)
    size: int  # the writes' bytes (the messages' payloads)
    pause: float | None
    rest: Iterator[Step] | None = None  # the steps left for the player (a WebSocket's)


_Result = TypeVar("_Result")


class _Timed(Generic[_Result]):
    """An answer's groups, each written at its deadline by a timer callback: what the
    body and the messages pacers share (the schedule, a reader that takes nothing, a
    client that leaves, a handler cancelled)."""

    __slots__ = ("arrived", "blocked", "call", "closed", "deadline", "done", "handle", "held",
                 "loop", "reader_seconds", "request", "speed", "steps")  # fmt: skip

    def __init__(
        self,
        request: web.BaseRequest,
        call: Progress,
        speed: float,
        reader_seconds: float,
        started: float,
        steps: Iterator[Step],
        closed: Callable[[], bool] = lambda: False,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.steps = steps  # the answer's, made as they are played
        #: Whether the answer's medium closed (a WebSocket's close), beside its socket.
        self.closed = closed
        self.request = request
        self.call = call
        self.speed = speed
        self.reader_seconds = reader_seconds
        self.done: asyncio.Future[_Result] = self.loop.create_future()
        self.arrived = call.arrived or self.loop.time()
        self.deadline = started or self.arrived  # as the player's schedule
        self.blocked = 0.0  # since when the client has taken nothing (0: it takes)
        self.held: _Group | None = None  # a group due but not yet written (the reader)
        self.handle: asyncio.TimerHandle | None = None

    async def played(self) -> _Result:
        """Play it all (the first group at once); what :meth:`_ended` gives."""
        self.due()
        try:
            return await self.done
        finally:  # ended, or its handler cancelled: no more writes
            if self.handle is not None:
                self.handle.cancel()
                self.handle = None

    def due(self) -> None:
        """Write the group due now (made now, as the player makes each step as it plays
        it); anything raised ends the answer with it (its handler answers as for any
        error)."""
        self.handle = None
        if self.done.done():
            return
        try:
            self._due()
        except Exception as exc:  # noqa: BLE001  # never an answer left waiting on a failed callback
            if not self.done.done():
                self.done.set_exception(exc)

    def _due(self) -> None:
        transport = self.request.transport
        now = self.loop.time()
        call = self.call
        if transport is None or transport.is_closing() or self.closed():
            gone(call, now - self.arrived)
            self.done.set_result(self._ended(None))
            return
        group = self.held or self._next()
        pending = transport.get_write_buffer_size()
        if pending and pending + len(group.framed) > WRITE_BYTES:
            self.held = group
            self._wait_for_reader(now)
            return
        self.held, self.blocked = None, 0.0
        self._note(group, (now - self.arrived) * 1000)
        if group.framed:
            transport.write(group.framed)
        call.bytes_sent += group.size
        if group.rest is not None or group.pause is None:
            if group.rest is None:
                call.ending = COMPLETED
            self.done.set_result(self._ended(group.rest))
            return
        self.deadline = max(self.deadline, now - 0.5) + group.pause
        self.handle = self.loop.call_at(self.deadline, self.due)

    def _wait_for_reader(self, now: float) -> None:
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
            self.done.set_result(self._ended(None))
            return
        self.handle = self.loop.call_later(CHECK_EVERY, self.due)

    def _next(self) -> _Group:
        raise NotImplementedError

    def _note(self, group: _Group, ms: float) -> None:
        """The group's writes in the transcript, as the player notes each."""
        record = self.call.transcript
        if record is not None:
            at = self.call.bytes_sent
            for data, what, kind in group.writes:
                record.wrote(at, ms, data, what, kind)
                at += len(data)

    def _ended(self, rest: Iterator[Step] | None) -> _Result:
        raise NotImplementedError


class _Body(_Timed[None]):
    """A paced HTTP body made as it plays: each group of writes as the player's chunks."""

    __slots__ = ()

    def _next(self) -> _Group:
        """The writes up to the next pause (or the end, or COALESCE_BYTES of them, as the
        player sends them), framed as the player's writes are."""
        writes: list[tuple[bytes, Label, int]] = []
        size = 0
        for step in self.steps:
            if isinstance(step, Write):
                writes.append((step.data, step.what, 0))
                size += len(step.data)
                if size >= COALESCE_BYTES:
                    return _Group(writes, _framed(writes, last=False), size, 0.0)
                continue
            if not isinstance(step, Wait) or not step.scaled:
                raise PlanError(f"a paced stream holds a {type(step).__name__.lower()}")
            pause = step.seconds * self.speed
            if pause > 0:
                return _Group(writes, _framed(writes, last=False), size, pause)
        return _Group(writes, _framed(writes, last=True), size, None)

    def _ended(self, rest: Iterator[Step] | None) -> None:
        return None


class _Messages(_Timed[tuple[Iterator[Step], float] | None]):
    """A paced answer on a WebSocket: its whole messages, each group's frames in one
    write, until a step that is none (left to the player)."""

    __slots__ = ()

    def _next(self) -> _Group:
        """The messages up to the next pause, the end, or a step that is no message."""
        messages: list[tuple[bytes, Label, int]] = []
        frames: list[bytes] = []
        size = 0
        for step in self.steps:
            if type(step) is Message:
                messages.append((step.data, step.what, frame_of(step)))
                frames.append(frame(Opcode.BINARY if step.binary else Opcode.TEXT, step.data))
                size += len(step.data)
                continue
            if isinstance(step, Wait) and step.scaled:
                pause = step.seconds * self.speed
                if pause > 0:
                    return _Group(messages, b"".join(frames), size, pause)
                continue
            return _Group(
                messages, b"".join(frames), size, 0.0, itertools.chain((step,), self.steps)
            )
        return _Group(messages, b"".join(frames), size, None)

    def _ended(self, rest: Iterator[Step] | None) -> tuple[Iterator[Step], float] | None:
        return None if rest is None else (rest, self.deadline)


def _framed(writes: list[tuple[bytes, Label, int]], *, last: bool) -> bytes:
    """The chunks the player sends ``writes`` in (they go out together): joined, but a
    last one of :data:`~.body.WRITE_BYTES` or more on its own; each write of more in
    pieces of that size; after the last group, the end of the body (with the last
    piece, when it is not larger than that)."""
    datas = [data for data, _, _ in writes]
    if last:  # the player's finish(): one write, then the end
        joined = datas[0] if len(datas) == 1 else b"".join(datas)
        if len(joined) > WRITE_BYTES:
            return b"".join((*_chunks(joined), _LAST))
        return b"%x\r\n%b\r\n%b" % (len(joined), joined, _LAST) if joined else _LAST
    if not datas:
        return b""
    if len(datas) == 1 or len(datas[-1]) < WRITE_BYTES:
        sent = [datas[0] if len(datas) == 1 else b"".join(datas)]
    else:
        sent = [b"".join(datas[:-1]), datas[-1]]
    return b"".join(piece for data in sent for piece in _chunks(data))


def _chunks(data: bytes) -> list[bytes]:
    """``data`` as the HTTP body writes it: in pieces of at most WRITE_BYTES, each a chunk
    (nothing for no bytes)."""
    return [b"%x\r\n%b\r\n" % (len(piece), piece)
            for piece in (data[i : i + WRITE_BYTES] for i in range(0, len(data), WRITE_BYTES))]  # fmt: skip
