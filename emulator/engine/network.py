"""The network between the player and the client: a scenario's ``[transport]`` (bandwidth,
latency, a cut, headers never sent), how a connection is ended, and the call a stream
notes how it went into. Only :mod:`emulator.engine.play` and the HTTP layer use it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Final, Protocol

from aiohttp import web

from ..core.clock import Clock
from ..core.endings import COMPLETED, Ending, EndingKind, Label
from ..scenario import Transport

__all__ = [
    "CHECK_EVERY",
    "Cut",
    "Progress",
    "Recorder",
    "Shaper",
    "deliver",
    "end_connection",
    "ended_at",
    "gone",
    "latencies",
    "no_headers",
    "wait_connected",
]


class Recorder(Protocol):
    """Takes each write as it goes out (a journal entry's transcript)."""

    def wrote(self, offset: int, ms: float, data: bytes, what: Label, frame: int = 0) -> None:
        """``frame``: a WebSocket message's (:data:`~emulator.protocol.steps.TEXT_FRAME`,
        ``BINARY_FRAME``, with ``MORE_FRAMES`` on each piece of a fragmented one but its
        last); 0: bytes."""
        ...

    def wrote_all(
        self, offset: int, ms: float, writes: Sequence[bytes], whats: Sequence[Label]
    ) -> None:
        """Several writes that go out together, from ``offset`` on, at ``ms``."""
        ...

    def wrote_run(
        self, offset: int, ms: float, data: bytes, ends: Sequence[int], whats: Sequence[Label]
    ) -> None:
        """A run of writes planned before, from ``offset`` on, at ``ms``: their bytes
        joined, and where each ends in them."""
        ...

    def waited(self, offset: int, ms: float, seconds: float, what: Label) -> None: ...


class Progress(Protocol):
    """Where the player notes how a stream went (a journal entry has these)."""

    status: int | None
    bytes_sent: int
    detail: str | None
    ending: Ending | None
    ended_ms: float | None  # when a stream that did not complete stopped, since arrival
    arrived: float  # the server clock's time when the request arrived (0: unknown)

    @property
    def transcript(self) -> Recorder | None: ...


def ended_at(kind: EndingKind, call: Progress, seconds: float) -> Ending:
    """The stream ended early, ``seconds`` after the request arrived (noted on ``call``)."""
    call.ended_ms = seconds * 1000
    return Ending(kind, call.bytes_sent, call.ended_ms)


def gone(call: Progress, seconds: float) -> None:
    call.detail = "the client went away"
    call.ending = ended_at("client_gone", call, seconds)


#: How long a response whose headers never come keeps its connection open.
NO_HEADERS_SECONDS: Final = 3600.0
#: A bandwidth cap writes in slices of about this many seconds' worth.
_SLICE_SECONDS: Final = 0.05


#: A wait checks the client is still there at least this often.
CHECK_EVERY: Final = 0.05


async def wait_connected(request: web.BaseRequest, deadline: float, clock: Clock) -> bool:
    """Sleep until ``deadline`` (``clock`` time); False as soon as the client disconnects.

    A stalled or held stream stops at once when its client leaves, instead of
    sleeping on for a reader that is gone.
    """
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        left = deadline - clock.time()
        if left <= 0:
            return True
        await clock.sleep(min(left, CHECK_EVERY))


class Cut(Exception):
    """The transport cut the answer (``cut_after``); the ending is noted."""


async def reading(
    sending: Awaitable[None],
    request: web.BaseRequest,
    call: Progress,
    clock: Clock,
    seconds: float,
) -> None:
    """Await a write that waits on the client to read: one it takes nothing of for
    ``seconds`` (``limits.reader_seconds``) cuts the answer (``too_slow``, noted on
    ``call``; the connection aborted; :class:`Cut` raised)."""
    try:
        async with asyncio.timeout(seconds):
            await sending
    except TimeoutError:
        call.detail = f"the client took nothing for {seconds:g} s (limits.reader_seconds)"
        now = clock.time()
        call.ending = ended_at("too_slow", call, now - (call.arrived or now))
        end_connection(request, "abort")
        raise Cut from None


class Unanswered(Exception):
    """A WebSocket ping that had to be answered was not, within ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no pong within {seconds:g} s")
        self.seconds = seconds


class Shaper:
    """Writes an answer's bytes as a scenario's ``[transport]`` says the network carries them:
    an HTTP body's, or a WebSocket answer's frames (``send`` puts bytes on the way; the
    shaper counts them, in the answer for its cut and in the call)."""

    def __init__(
        self,
        request: web.BaseRequest,
        transport: Transport,
        call: Progress,
        clock: Clock,
        started: float | None = None,
    ) -> None:
        self.request = request
        self.transport = transport
        self.call = call
        self.clock = clock
        self.started = started if started is not None else call.arrived or clock.time()
        self.delays = latencies(transport)
        self.deadline = clock.time()
        self.sent = 0  # the answer's bytes so far (what cut_after counts)

    async def write(self, send: Callable[[bytes], Awaitable[None]], data: bytes) -> None:
        """Send ``data`` with ``send``: after its latency, within the bandwidth, up to the
        cut."""
        t, call = self.transport, self.call
        cut = bool(t.cut_after) and self.sent + len(data) >= t.cut_after
        if cut:
            data = data[: t.cut_after - self.sent]
        delay = next(self.delays)
        if delay > 0 and not await wait_connected(
            self.request, self.clock.time() + delay, self.clock
        ):
            raise ConnectionResetError("the client left")
        if t.bandwidth and data:
            await self._throttled(send, data)
        elif data:
            await send(data)
            self.sent += len(data)
            call.bytes_sent += len(data)
        if cut:
            call.detail = "cut by the transport"
            call.ending = ended_at("cut", call, self.clock.time() - self.started)
            end_connection(self.request, "reset" if t.cut_with == "reset" else "close")
            raise Cut

    async def _throttled(self, send: Callable[[bytes], Awaitable[None]], data: bytes) -> None:
        rate = self.transport.bandwidth
        step = max(1, int(rate * _SLICE_SECONDS))
        self.deadline = max(self.deadline, self.clock.time())
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            await send(piece)
            self.sent += len(piece)
            self.call.bytes_sent += len(piece)
            self.deadline += len(piece) / rate
            if not await wait_connected(self.request, self.deadline, self.clock):
                raise ConnectionResetError("the client left")

    async def finish(self, response: web.StreamResponse) -> None:
        """End the body; with ``slow_close``, keep the connection a while before the FIN."""
        await response.write_eof()
        declared, call = response.content_length, self.call
        if self.transport.length_error < 0 and declared is not None and call.bytes_sent > declared:
            # aiohttp sends no byte past the length declared.
            call.bytes_sent = declared
            call.detail = "cut by the Content-Length"
            call.ending = ended_at("short_length", call, self.clock.time() - self.started)
        else:
            call.ending = COMPLETED
        if self.transport.slow_close:
            await wait_connected(
                self.request, self.clock.time() + self.transport.slow_close, self.clock
            )


def latencies(transport: Transport) -> Iterator[float]:
    """The delay before each write, drawn from ``transport.seed`` (the same every request)."""
    mean, sd = transport.latency, transport.latency_sd
    if not sd or transport.distribution == "fixed":
        while True:
            yield mean
    rng = random.Random(transport.seed)
    if transport.distribution == "normal":
        while True:
            yield max(0.0, rng.gauss(mean, sd))
    # A lognormal with this mean and standard deviation.
    sigma = math.sqrt(math.log1p((sd / mean) ** 2))
    mu = math.log(mean) - sigma * sigma / 2
    while True:
        yield rng.lognormvariate(mu, sigma)


async def deliver(
    request: web.BaseRequest,
    answer: web.Response,
    transport: Transport,
    call: Progress,
    clock: Clock,
) -> web.StreamResponse:
    """Send a whole answer (a JSON body, an error page) through ``transport``'s network."""
    if transport.no_headers:
        return await no_headers(request, call, clock)
    body = answer.body if isinstance(answer.body, bytes) else b""
    response = web.StreamResponse(
        status=answer.status,
        reason=answer.reason,
        headers={
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding")
        },
    )
    for name, morsel in answer.cookies.items():
        response.cookies[name] = morsel
    response.content_length = max(0, len(body) + transport.length_error)
    if transport.length_error or transport.cut_after or transport.slow_close:
        response.force_close()
    shaper = Shaper(request, transport, call, clock)
    try:
        await response.prepare(request)
        call.status = answer.status
        await shaper.write(response.write, body)
        await shaper.finish(response)
    except Cut:
        pass
    except ConnectionError:
        gone(call, clock.time() - shaper.started)
    return response


async def no_headers(request: web.BaseRequest, call: Progress, clock: Clock) -> web.StreamResponse:
    """The status line, and then nothing: the headers never come, the connection stays."""
    transport = request.transport
    started = call.arrived or clock.time()
    if transport is not None:
        transport.write(b"HTTP/1.1 200 OK\r\n")
    call.status = 200
    await wait_connected(request, clock.time() + NO_HEADERS_SECONDS, clock)
    call.detail = "headers never sent"
    call.ending = ended_at("no_headers", call, clock.time() - started)
    end_connection(request, "abort")
    return web.Response(status=200)  # never sent: the connection is gone


def end_connection(request: web.BaseRequest, how: str) -> None:
    """End the connection now: ``abort`` (unsent bytes lost), ``close`` (a FIN after
    every byte written) or ``reset`` (an RST: ``SO_LINGER`` 0, then close)."""
    transport = request.transport
    if transport is None:
        return
    if how == "close":
        transport.close()
        return
    if how == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
