"""Where the player writes: the sink an answer is played into, and an HTTP response body
as one (through the scenario's network, if any). A WebSocket's sink is in
:mod:`emulator.engine.sinks`."""

from __future__ import annotations

from typing import Final, Protocol

from aiohttp import web

from ..core.clock import Clock
from ..core.endings import COMPLETED
from ..protocol.steps import WebSocketStep
from ..scenario import PlanError
from .network import Progress, Shaper, reading

__all__ = ["READER_SECONDS", "WRITE_BYTES", "HttpBody", "Sink"]


class Sink(Protocol):
    """Where played bytes and messages go: an HTTP body, or a WebSocket. Each counts what it
    sent in the call's ``bytes_sent``."""

    async def write(self, data: bytes) -> None:
        """Send ``data`` as it is (a body's bytes; raw bytes on a WebSocket's socket)."""
        ...

    async def send(self, step: WebSocketStep) -> None:
        """Send a message, a fragment, a ping or a close (a WebSocket's own terms)."""
        ...

    async def finish(self, last: bytes) -> None:
        """The answer is complete: its ``last`` bytes, then its end."""
        ...


#: A body's write goes to the socket in pieces of at most this many bytes, each waiting
#: for the client to take what is pending: a stream's unsent bytes stay near the
#: transport's high-water mark (64 KiB) however large a write, and a long write lets the
#: loop serve others between its pieces.
WRITE_BYTES: Final = 64 * 1024
#: How long a write may wait for a client that takes nothing before the answer is cut
#: (``too_slow``), unless the server says otherwise (``limits.reader_seconds``).
READER_SECONDS: Final = 60.0


class HttpBody:
    """An HTTP response body as a sink (through the scenario's network, if any)."""

    __slots__ = ("call", "clock", "reader_seconds", "request", "response", "shaper")

    def __init__(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        shaper: Shaper | None,
        call: Progress,
        clock: Clock,
        reader_seconds: float = READER_SECONDS,
    ) -> None:
        self.request = request
        self.response = response
        self.shaper = shaper
        self.call = call
        self.clock = clock
        self.reader_seconds = reader_seconds

    async def write(self, data: bytes) -> None:
        if self.shaper is not None:
            await self.shaper.write(self.response.write, data)
            return
        if len(data) <= WRITE_BYTES:
            await self._put(data)
            return
        view = memoryview(data)
        for i in range(0, len(data), WRITE_BYTES):
            await self._put(view[i : i + WRITE_BYTES])

    async def _put(self, data: bytes | memoryview) -> None:
        """Write ``data``; a client that takes none of it in ``reader_seconds`` is cut."""
        transport = self.request.transport
        if transport is None or transport.get_write_buffer_size() + len(data) <= WRITE_BYTES:
            await self.response.write(data)  # it cannot wait on the reader: no timer
        else:
            await reading(self.response.write(data), self.request, self.call, self.clock,
                          self.reader_seconds)  # fmt: skip
        self.call.bytes_sent += len(data)

    async def send(self, step: WebSocketStep) -> None:
        raise PlanError(f"an HTTP body cannot carry a WebSocket's {type(step).__name__.lower()}")

    async def finish(self, last: bytes) -> None:
        if self.shaper is not None:
            await self.shaper.write(self.response.write, last)
            await self.shaper.finish(self.response)
            return
        if len(last) > WRITE_BYTES:
            await self.write(last)
            last = b""
        self.call.bytes_sent += len(last)
        await self.response.write_eof(last)
        self.call.ending = COMPLETED
