"""The steps a planned stream is made of: writes, waits, a drop, a hold. Pure values.

The planner (:mod:`emulator.engine`) yields them, fault writers make them,
and only the player (:mod:`emulator.engine.play`) turns them into socket
writes and sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from ..core.endings import Label

__all__ = ["Cut", "Drop", "Hold", "Step", "Wait", "Write"]

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


Step = Write | Wait | Drop | Hold
