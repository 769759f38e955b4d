"""Playing planned steps onto a socket: the only code that writes a stream or sleeps.

Time goes through one :class:`Clock`, so ``speed=0`` never waits for pacing
(fault waits keep their real time).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
from collections.abc import Iterator, Mapping
from typing import Final, Protocol

from aiohttp import web

from ..protocol.steps import Drop, Hold, Step, Wait, Write
from ..scenario import PlanError, Transport, model
from .stream import COALESCE_BYTES

__all__ = ["STREAM_HEADERS", "Clock", "Progress", "deliver", "end_connection", "latencies", "play"]


#: The headers of an event stream (a recording may answer with its own).
STREAM_HEADERS: Final = dict(model.STREAM_HEADERS)


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
    transport: Transport | None = None,
    status: int = 200,
    base_headers: Mapping[str, str] = STREAM_HEADERS,
) -> web.StreamResponse:
    """Send ``steps`` as a 200 event stream (with extra ``headers``); note how it went in ``call``.

    ``transport``: the network's faults on the way (bandwidth, latency, a cut,
    a lying length, no headers, a slow close), or None.
    """
    if transport is not None and transport.no_headers:
        return await _no_headers(request, call)
    response = web.StreamResponse(
        status=status, headers={**base_headers, **headers} if headers else base_headers
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    started = call.arrived or deadline  # transcript times count from the request's arrival
    shaper = None
    if transport is not None:
        shaper = Shaper(request, transport, call, started)
        if transport.length_error:
            steps, length = _measured(steps)
            response.content_length = max(0, length + transport.length_error)
        if transport.length_error or transport.slow_close:
            response.force_close()  # the lie cannot leave the connection reusable
    await response.prepare(request)
    call.status = status
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
                unyielded += await _flush(response, call, pending, shaper)
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
                what = _DROPS[step.how]
                call.detail = what
                call.ending = _at(what, call, loop.time() - started)
                end_connection(request, step.how)
                return response
            elif isinstance(step, Hold):
                await _wait_connected(request, loop.time() + step.seconds)
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        if record is not None and pending:
            _note(record, call, pending, whats, loop.time() - started)
        if shaper is not None:
            await shaper.write(response, last)
            await shaper.finish(response)
        else:
            call.bytes_sent += len(last)
            await response.write_eof(last)
            call.ending = "completed"
    except Cut:
        pass  # the shaper noted how it ended
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        _gone(call, loop.time() - started)
    return response


#: What each way of ending a stream early is called in the journal.
_DROPS: Final = {
    "abort": "dropped by the scenario",
    "close": "closed by the scenario",
    "reset": "reset by the scenario",
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


#: The player lets other tasks run after this many bytes written without a
#: pause, and after this many steps + 1 (a mask).
_YIELD_BYTES: Final = 256 * 1024
_YIELD_STEPS: Final = 4095


async def _flush(
    response: web.StreamResponse, call: Progress, pending: list[bytes], shaper: Shaper | None
) -> int:
    data = pending[0] if len(pending) == 1 else b"".join(pending)
    if shaper is not None:
        await shaper.write(response, data)
        return len(data)
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


# -- the network between the player and the client ---------------------------------------

#: A body measured for a lying Content-Length is held whole: at most this large.
MEASURED_BYTES: Final = 8 * 1024 * 1024
#: How long a response whose headers never come keeps its connection open.
NO_HEADERS_SECONDS: Final = 3600.0
#: A bandwidth cap writes in slices of about this many seconds' worth.
_SLICE_SECONDS: Final = 0.05


class Cut(Exception):
    """The transport cut the answer (``cut_after``); the ending is noted."""


class Shaper:
    """Writes an answer's bytes as a scenario's ``[transport]`` says the network carries them."""

    def __init__(
        self, request: web.BaseRequest, transport: Transport, call: Progress, started: float
    ) -> None:
        self.request = request
        self.transport = transport
        self.call = call
        self.started = started
        self.delays = latencies(transport)
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time()

    async def write(self, response: web.StreamResponse, data: bytes) -> None:
        """Send ``data``: after its latency, within the bandwidth, up to the cut."""
        t, call = self.transport, self.call
        cut = bool(t.cut_after) and call.bytes_sent + len(data) >= t.cut_after
        if cut:
            data = data[: t.cut_after - call.bytes_sent]
        delay = next(self.delays)
        if delay > 0 and not await _wait_connected(self.request, self.loop.time() + delay):
            raise ConnectionResetError("the client left")
        if t.bandwidth and data:
            await self._throttled(response, data)
        elif data:
            await response.write(data)
            call.bytes_sent += len(data)
        if cut:
            what = "cut by the transport"
            call.detail = what
            call.ending = _at(what, call, self.loop.time() - self.started)
            end_connection(self.request, "reset" if t.cut_with == "reset" else "close")
            raise Cut

    async def _throttled(self, response: web.StreamResponse, data: bytes) -> None:
        rate = self.transport.bandwidth
        step = max(1, int(rate * _SLICE_SECONDS))
        self.deadline = max(self.deadline, self.loop.time())
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            await response.write(piece)
            self.call.bytes_sent += len(piece)
            self.deadline += len(piece) / rate
            if not await _wait_connected(self.request, self.deadline):
                raise ConnectionResetError("the client left")

    async def finish(self, response: web.StreamResponse) -> None:
        """End the body; with ``slow_close``, keep the connection a while before the FIN."""
        await response.write_eof()
        declared, call = response.content_length, self.call
        if self.transport.length_error < 0 and declared is not None and call.bytes_sent > declared:
            # aiohttp sends no byte past the length declared.
            call.bytes_sent = declared
            call.detail = "cut by the Content-Length"
            call.ending = _at(call.detail, call, self.loop.time() - self.started)
        else:
            call.ending = "completed"
        if self.transport.slow_close:
            await _wait_connected(self.request, self.loop.time() + self.transport.slow_close)


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
    request: web.BaseRequest, answer: web.Response, transport: Transport, call: Progress
) -> web.StreamResponse:
    """Send a whole answer (a JSON body, an error page) through ``transport``'s network."""
    if transport.no_headers:
        return await _no_headers(request, call)
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
    shaper = Shaper(request, transport, call, call.arrived or asyncio.get_running_loop().time())
    try:
        await response.prepare(request)
        call.status = answer.status
        await shaper.write(response, body)
        await shaper.finish(response)
    except Cut:
        pass
    except ConnectionError:
        _gone(call, shaper.loop.time() - shaper.started)
    return response


async def _no_headers(request: web.BaseRequest, call: Progress) -> web.StreamResponse:
    """The status line, and then nothing: the headers never come, the connection stays."""
    transport = request.transport
    loop = asyncio.get_running_loop()
    started = call.arrived or loop.time()
    if transport is not None:
        transport.write(b"HTTP/1.1 200 OK\r\n")
    call.status = 200
    await _wait_connected(request, loop.time() + NO_HEADERS_SECONDS)
    call.detail = "headers never sent"
    call.ending = _at("headers never sent", call, loop.time() - started)
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
