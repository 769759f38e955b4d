"""What one fault kind is: :class:`FaultSpec`, the row type of the fault table. Pure.

The table itself is :data:`emulator.scenario.faults.FAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..protocol.steps import Cut
from .writers import Writer

__all__ = ["FaultSpec"]


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault kind: what it does, what it takes, how clients meet it, how it is written."""

    kind: str
    doc: str
    keys: tuple[str, ...]  # the Fault fields it takes, besides kind and at
    write: Writer | None = None  # None: each dialect's shapes say how it looks
    skippable: bool = False  # a correct client reads past it; the text is unchanged
    terminal: bool = False  # the reply ends (or fails) where it stands
    once: bool = False  # written once: count does not apply
    cumulative_only: bool = False  # needs cumulative snapshots (not delta_v1)
    resends_text: bool = False  # writes a snapshot of the reply again (its size grows with it)
    required: Mapping[str, str] | None = None  # key -> what it must be, for keys without defaults
    size: int = 700  # about how many bytes one write takes, but for its text and raw bytes
    meets: str = ""  # how a correct client meets it, where the traits do not say
    fails: bool = False  # an error the API reports in the stream: the client fails with it
    cut: Cut | None = None  # the connection ends here, this way
    holds: bool = False  # before the cut, the connection stays open and silent (seconds)
    waits: bool = False  # silence for seconds (never scaled by --speed)
    ends: bool = False  # the body ends after it, cleanly: nothing more is sent
    framing: bool = False  # it breaks a binary event stream's framing (prelude, CRCs, length)
    websocket: bool = False  # a WebSocket's own: an HTTP body has no such thing
    handshake: bool = False  # it acts on the WebSocket's opening handshake, before any event
    reframes: bool = False  # the messages after it go in the other kind of frame
