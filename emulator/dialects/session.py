"""A dialect that speaks over one long connection (a WebSocket): a small state machine. Pure.

As h11's connection turns events into bytes without I/O, a :class:`Talker`
is given the session so far and one client message, and says what to do:
play some steps at once (:class:`Said`: a ``session.updated``, an error), or
answer a request that needs a scenario (:class:`Ask`: the message read by
the dialect's :class:`~.speaker.Speaker` as a request of its own, so the
scenario and the turn are chosen, and the answer planned, per ask). The
connection's lifecycle (:mod:`emulator.http.connection`) owns the socket.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..protocol.errors import BadRequest
from ..protocol.steps import Step
from ..scenario.asked import Asked
from ..scenario.model import Scenario
from .speaker import Given, Incoming, Speaker

__all__ = ["Ask", "Heard", "Said", "Talker", "choosing_headers"]

S = TypeVar("S")  # the session's state, the dialect's own


@dataclass(frozen=True, slots=True)
class Heard:
    """One message from the client: its text (UTF-8) or bytes."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class Said:
    """Steps to play at once, with no scenario chosen (an acknowledgement, an error)."""

    steps: Sequence[Step] = ()


@dataclass(frozen=True, slots=True)
class Ask:
    """A request that needs an answer: the message as its speaker reads it (``before``:
    what to say first, such as the events of a turn the server detected by itself)."""

    incoming: Incoming
    before: Sequence[Step] = ()


@dataclass(frozen=True, slots=True)
class Opened(Generic[S]):
    """A connection accepted: its first state, and what the server says first."""

    state: S
    greeting: Sequence[Step] = field(default_factory=tuple)


class Talker(ABC, Generic[S]):
    """A session-speaking dialect: one is made per server; its answers come from its
    :attr:`speaker`."""

    #: Answers each :class:`Ask` (its ``read`` takes the message as a request's body).
    speaker: Speaker[Any, Any, Any]

    @abstractmethod
    def accept(self, incoming: Incoming, given: Given) -> Opened[S]:
        """The upgrade request, read (its key, its path): the session's first state; a
        :class:`BadRequest` refuses it before the upgrade, as an HTTP error."""

    @abstractmethod
    def heard(self, state: S, message: Heard, incoming: Incoming) -> tuple[S, Said | Ask]:
        """One client message on the connection ``incoming`` opened: the new state, and
        what to do."""

    def answered(self, state: S, scenario: Scenario, asked: Asked) -> S:
        """An ask was answered under ``scenario`` (its reply for what ``asked`` says): the
        new state (a conversation the session keeps takes the reply's items). By default,
        the state as it was."""
        return state

    def interrupts(self, state: S, message: Heard) -> tuple[S, Sequence[Step]] | None:
        """A client message that came while an answer plays: None to let it wait its
        turn; or the new state and what to play instead, the answer stopped (a cancel,
        the user speaking over it). By default, every message waits."""
        return None

    @abstractmethod
    def refused(self, state: S, error: BadRequest) -> Sequence[Step]:
        """An ask refused (unreadable, no scenario, no turn): what the API says on the
        socket, which stays open."""


def choosing_headers(incoming: Incoming) -> dict[str, str]:
    """The upgrade request's headers that choose a scenario: each ask on the connection is
    chosen by them, as a request is by its own."""
    return {k: v for k, v in incoming.headers.items() if k.lower().startswith("x-emulator-")}
