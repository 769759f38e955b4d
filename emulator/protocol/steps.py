"""The steps a planned answer is made of. Pure values.

Any answer: bytes written (:class:`Write`; a run of them planned before,
:class:`Run`, or one with a pause before each write, :class:`Paced`), a wait, a drop (the connection cut), a hold. On a WebSocket, its own
terms too: a whole message (text or binary), a fragment of one, a ping, a close with a
code and a reason. The planner (:mod:`emulator.engine`) and the dialects yield them,
fault writers make them, and only the player (:mod:`emulator.engine.play`) turns them
into socket writes and sleeps, through a sink (an HTTP body, a WebSocket).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ..core.endings import Label

__all__ = [
    "BINARY_FRAME",
    "MORE_FRAMES",
    "TEXT_FRAME",
    "Close",
    "Cut",
    "Deaf",
    "Drop",
    "Fragment",
    "Hold",
    "Message",
    "Paced",
    "Ping",
    "Reframe",
    "Run",
    "Step",
    "Until",
    "Wait",
    "WebSocketStep",
    "Write",
    "frame_of",
]

_EVENT: Final = Label("event")
_WAIT: Final = Label("pause", "wait")
#: How a connection is cut: at once, after every byte written (a FIN), or with an RST.
Cut = Literal["abort", "close", "reset"]


# Writes and waits are made for every event of every stream (a template fills one in
# per event): not frozen, which costs half a microsecond a value. Nothing changes a step.
@dataclass(slots=True)
class Write:
    """Bytes to send; ``what`` says what they are (for the journal's transcript)."""

    data: bytes
    what: Label = field(default=_EVENT, compare=False)


@dataclass(frozen=True, slots=True)
class Run:
    """Writes planned before, sent at once: their bytes joined, where each ends in them,
    and what each is (a stream asked for again: :mod:`emulator.engine.flat`)."""

    data: bytes
    ends: Sequence[int]
    whats: Sequence[Label]


@dataclass(frozen=True, slots=True)
class Paced:
    """A paced stream planned before: only writes and the pauses the speed scales, made
    as they are played (a paced stream asked for again: a flat's, a template's). Played by
    the pacer (:mod:`emulator.engine.pacer`) or, step by step, by the player."""

    writes: Iterator[Write | Wait]


@dataclass(slots=True)
class Wait:
    """Pause; ``scaled`` pauses follow the server's speed factor, faults do not."""

    seconds: float
    scaled: bool = True
    what: Label = field(default=_WAIT, compare=False)


@dataclass(frozen=True, slots=True)
class Drop:
    """End the connection here, the body unfinished (no end of chunked body).

    ``how``: ``"abort"`` at once (what is not yet sent is lost), ``"close"``
    after every byte written (a FIN), ``"reset"`` with an RST (``SO_LINGER 0``).
    """

    how: Cut = "abort"


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the response open without writing, until the client leaves or time is up."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Until:
    """Send nothing until ``ready()`` says so (the client's answer to a request the server
    made has come), for at most ``seconds`` (never scaled by the server's speed)."""

    ready: Callable[[], bool] = field(compare=False)
    seconds: float
    what: Label = field(default=Label("pause", "the client's answer"), compare=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One whole WebSocket message: text (``data`` is its UTF-8) or ``binary``."""

    data: bytes
    binary: bool = False
    what: Label = field(default=_EVENT, compare=False)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of a fragmented WebSocket message (RFC 6455, 5.4): the ``first`` says text
    or ``binary``, the others are continuations, and the ``final`` one ends the message."""

    data: bytes
    first: bool
    final: bool
    binary: bool = False
    what: Label = field(default=_EVENT, compare=False)


@dataclass(frozen=True, slots=True)
class Ping:
    """A WebSocket ping (a client answers with a pong). ``awaits`` > 0: nothing more is sent
    until the pong comes, and none within that many seconds closes the socket (1011)."""

    data: bytes = b""
    awaits: float = 0.0
    what: Label = field(default=Label("event", "ping"), compare=False)


@dataclass(frozen=True, slots=True)
class Deaf:
    """From here on the server answers none of the client's pings: a dead peer behind a
    socket that is still open (a client's keepalive must notice)."""

    data: bytes = b""
    what: Label = field(default=Label("event", "pings unanswered"), compare=False)


@dataclass(frozen=True, slots=True)
class Reframe:
    """From here on, each message of the answer goes in the other kind of frame (binary
    where the API sends text; text where it sends binary). The framing stage
    (:func:`emulator.engine.stream.frame`) takes it; it is never sent."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with ``code`` and ``reason``: the close handshake, then the end."""

    code: int = 1000
    reason: str = ""
    what: Label = field(default=Label("end", "close"), compare=False)


#: How a transcript notes a WebSocket message it sent (values, ORed): a text one, a
#: binary one, and a piece of one that more pieces follow (0: bytes, not a message).
TEXT_FRAME: Final = 1
BINARY_FRAME: Final = 2
MORE_FRAMES: Final = 4


def frame_of(step: Message | Fragment) -> int:
    """How a transcript notes the message (or piece of one) ``step`` sends."""
    kind = BINARY_FRAME if step.binary else TEXT_FRAME
    return kind | MORE_FRAMES if isinstance(step, Fragment) and not step.final else kind


#: What only a WebSocket can carry.
WebSocketStep = Message | Fragment | Ping | Close | Deaf
Step = (
    Write
    | Run
    | Paced
    | Wait
    | Drop
    | Hold
    | Until
    | Message
    | Fragment
    | Ping
    | Close
    | Deaf
    | Reframe
)
