"""The steps a planned stream is made of: writes, waits, a drop, a hold. Pure values.

The planner (:mod:`emulator.engine`) yields them, fault writers make them,
and only the player (:mod:`emulator.engine.play`) turns them into socket
writes and sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Drop", "Hold", "Step", "Wait", "Write"]


@dataclass(frozen=True, slots=True)
class Write:
    """Bytes to send; ``what`` says what they are (for the journal's transcript)."""

    data: bytes
    what: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause; ``scaled`` pauses follow the server's speed factor, faults do not."""

    seconds: float
    scaled: bool = True
    what: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Drop:
    """Cut the connection (no end of chunked body): a drop mid-stream."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the response open without writing, until the client leaves or time is up."""

    seconds: float


Step = Write | Wait | Drop | Hold
