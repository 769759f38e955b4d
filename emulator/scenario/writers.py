"""How the fault kinds that look the same on every wire are written (a cut, a stall, raw
bytes, a comment, a close code), and the types a dialect's own shapes take. Pure.

:mod:`emulator.scenario.faults`, the table, names each kind's writer here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Final, Protocol

from ..protocol.sse import SSEFormat
from ..protocol.steps import (
    Close,
    Cut,
    Deaf,
    Drop,
    Hold,
    Message,
    Ping,
    Reframe,
    Step,
    Wait,
    Write,
)
from .model import Fault

__all__ = [
    "BIG_MESSAGE_BYTES",
    "DEFAULT_GARBAGE",
    "HALF_OPEN_SECONDS",
    "PONG_SECONDS",
    "Sent",
    "ShapeWriter",
    "Shapes",
    "Writer",
    "awaited_ping",
    "big_message",
    "close",
    "comment",
    "cutting",
    "deaf",
    "garbage",
    "invalid_text",
    "nothing",
    "reframe",
    "stall",
]


class Sent(Protocol):
    """The snapshots a stream has sent so far (what ``stale`` and ``repeat`` resend)."""

    def back(self, n: int) -> str:
        """The snapshot sent ``n`` events ago (0: the last one)."""
        ...


#: How a dialect writes one fault of a kind whose look is its own (once; the table
#: repeats it ``count`` times and labels its steps).
ShapeWriter = Callable[[Fault, SSEFormat, Sent], Iterator[Step]]
#: A dialect's shapes for one stream, by fault kind.
Shapes = Mapping[str, ShapeWriter]
#: How a kind that looks the same everywhere is written (a stall's pings are the dialect's).
Writer = Callable[[Fault, SSEFormat, Shapes], Iterator[Step]]


def garbage(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    # Framed as a line of its own, so it cannot glue itself to the next field.
    end = fmt.line_ending.encode()
    yield Write((fault.raw or DEFAULT_GARBAGE) + end + end)


#: What a garbage fault sends by default: bytes that are not UTF-8.
DEFAULT_GARBAGE: Final = b"\x00\xff\xfe garbage \xc3\x28 \xed\xa0\x80"


def comment(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    yield Write(fmt.comment(fault.text or " keep-alive"))


def cutting(cut: Cut, *, holds: bool = False) -> Writer:
    """A writer that ends the connection this way (``holds``: after staying open and silent
    for the fault's seconds, an hour by default)."""

    def write(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
        if holds:
            yield Hold(fault.seconds or HALF_OPEN_SECONDS)
        yield Drop(cut)

    return write


def close(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    yield Close(fault.code, fault.text)


#: How long a half-open connection stays open when the fault gives no seconds.
HALF_OPEN_SECONDS: Final = 3600.0


class _NothingSent:
    def back(self, n: int) -> str:
        return ""


def invalid_text(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """A WebSocket text message whose bytes are not UTF-8 (RFC 6455, 8.1: the reader fails
    the connection)."""
    yield Message(fault.raw or DEFAULT_GARBAGE)


def reframe(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """The messages after it in the other kind of frame (the framing stage does it)."""
    yield Reframe()


#: How long a server's ping waits for its pong when the fault gives no seconds.
PONG_SECONDS: Final = 5.0


def awaited_ping(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """A WebSocket ping the client must answer before anything more is sent."""
    yield Ping(b"emulator", awaits=fault.seconds or PONG_SECONDS)


def deaf(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """Pings unanswered from here, the connection open and silent, then closed."""
    yield Deaf()
    yield Hold(fault.seconds or HALF_OPEN_SECONDS)
    yield Drop("close")


#: A big message's size: twice the message limit of the ``websockets`` library (1 MiB),
#: which google-genai and many Python clients read with.
BIG_MESSAGE_BYTES: Final = 2 * 1024 * 1024


def big_message(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """The dialect's event of a type no client has met, padded to :data:`BIG_MESSAGE_BYTES`."""
    padded = dataclasses.replace(fault, text="x" * BIG_MESSAGE_BYTES)
    yield from shapes["unknown_event"](padded, fmt, _NothingSent())


def nothing(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    """Nothing in the answer: the fault acts elsewhere (on a WebSocket's handshake)."""
    yield from ()


def stall(fault: Fault, fmt: SSEFormat, shapes: Shapes) -> Iterator[Step]:
    if fault.ping_every <= 0:
        yield Wait(fault.seconds, scaled=False)
        return
    ping = shapes["ping"]
    left = fault.seconds
    while left > 1e-9:
        step = min(fault.ping_every, left)
        yield Wait(step, scaled=False)
        left -= step
        yield from ping(fault, fmt, _NothingSent())
