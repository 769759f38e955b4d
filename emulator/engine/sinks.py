"""A WebSocket as the player's sink: whole messages, fragments, pings and closes.

What aiohttp's writer sends whole (a message, a ping, a close with its
handshake) goes through it; what it will not write (a message cut into
fragments, raw bytes) goes onto the socket as frames made by
:mod:`emulator.protocol.websocket`. Only the player calls it.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from ..core.clock import REAL_CLOCK, Clock
from ..core.endings import COMPLETED
from ..protocol.steps import Close, Deaf, Fragment, Message, Ping, WebSocketStep
from ..protocol.websocket import Opcode, close_payload, frame
from ..scenario.model import Transport
from .body import READER_SECONDS, WRITE_BYTES, Sink
from .network import (
    Progress,
    Shaper,
    Unanswered,
    reading,
)

__all__ = ["KeptOpen", "WebSocketSink"]


class WebSocketSink:
    """One WebSocket, prepared: each step goes out as the protocol frames it.

    Its reader (the connection's) answers the client's pings unless the sink is ``deaf``,
    and tells it of each pong (:meth:`ponged`), which a ping that awaits its answer needs.
    """

    __slots__ = ("call", "clock", "deaf", "network", "pong", "reader_seconds", "request", "ws")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.BaseRequest,
        call: Progress,
        clock: Clock = REAL_CLOCK,
        reader_seconds: float = READER_SECONDS,
    ) -> None:
        self.ws = ws
        self.request = request
        self.call = call
        self.clock = clock
        self.reader_seconds = reader_seconds
        self.deaf = False
        self.pong = asyncio.Event()
        self.network: Shaper | None = None

    def shape(self, transport: Transport | None) -> None:
        """The network faults of the answer about to play (None: none): its frames' bytes
        go out after their latency, within the bandwidth, up to the cut."""
        self.network = (None if transport is None
                        else Shaper(self.request, transport, self.call, self.clock))  # fmt: skip

    def ponged(self) -> None:
        """The client's pong came."""
        self.pong.set()

    async def write(self, data: bytes) -> None:
        """Raw bytes on the socket, as they are (a fault's: no frame around them)."""
        await self._raw(data)
        self.call.bytes_sent += len(data)

    async def _raw(self, data: bytes) -> None:
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client left")
        transport.write(data)

    async def send(self, step: WebSocketStep) -> None:
        if self.network is not None and isinstance(step, (Message, Fragment)):
            await self.network.write(self._raw, _frame_of(step))  # it counts what it sends
        elif type(step) is Message:
            kind = WSMsgType.BINARY if step.binary else WSMsgType.TEXT
            transport = self.request.transport
            if (
                transport is None
                or transport.get_write_buffer_size() + len(step.data) <= WRITE_BYTES
            ):
                await self.ws.send_frame(step.data, kind)  # it cannot wait on the reader
            else:
                await reading(self.ws.send_frame(step.data, kind), self.request, self.call,
                              self.clock, self.reader_seconds)  # fmt: skip
            self.call.bytes_sent += len(step.data)
        elif isinstance(step, Fragment):
            await self.write(_frame_of(step))
        elif isinstance(step, Ping):
            self.pong.clear()
            await self.ws.ping(step.data)
            if step.awaits > 0:
                try:
                    await asyncio.wait_for(self.pong.wait(), step.awaits)
                except TimeoutError:
                    raise Unanswered(step.awaits) from None
        elif isinstance(step, Deaf):
            self.deaf = True
        elif isinstance(step, Close):
            # The reason cut to fit a control frame, at a character's end.
            await self.ws.close(code=step.code, message=close_payload(step.code, step.reason)[2:])

    async def finish(self, last: bytes) -> None:
        """The answer is complete; the WebSocket stays open for the next ask."""
        if last:
            await self.write(last)
        self.call.ending = COMPLETED


def _frame_of(step: Message | Fragment) -> bytes:
    """The frame a message (or a piece of one) goes out in, as the sink writes it raw."""
    if isinstance(step, Message):
        return frame(Opcode.BINARY if step.binary else Opcode.TEXT, step.data)
    opcode = (Opcode.BINARY if step.binary else Opcode.TEXT) if step.first else Opcode.CONTINUATION
    return frame(opcode, step.data, fin=step.final)


class KeptOpen:
    """A sink whose answers end but whose body does not: each answer played into it goes
    on the same open body (an event stream that carries every answer of a session, as
    MCP's legacy transport does)."""

    __slots__ = ("call", "inner")

    def __init__(self, inner: Sink, call: Progress) -> None:
        self.inner = inner
        self.call = call

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)

    async def send(self, step: WebSocketStep) -> None:
        await self.inner.send(step)

    async def finish(self, last: bytes) -> None:
        """The answer is whole; the body stays open for the next."""
        if last:
            await self.inner.write(last)
        self.call.ending = COMPLETED
