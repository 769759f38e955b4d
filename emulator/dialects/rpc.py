"""A dialect whose calls are JSON-RPC messages over HTTP (MCP's Streamable HTTP): a small
state machine. Pure.

Given the session a request names (None: it names none) and the message it carries, an
:class:`RpcServer` says what to answer: a message sent whole (:class:`Replied`, or none:
202 Accepted), or a result a scenario plays (:class:`Played`: a tool's, as an event stream
with the scenario's faults). The HTTP lifecycle (:mod:`emulator.http.exchange`) owns the
requests, the session store, the event ids and resumption.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..protocol.jsonrpc import RequestId, RpcMessage
from ..protocol.sse import SSEFormat
from ..protocol.steps import Step
from ..scenario.asked import Asked
from ..scenario.model import Scenario

__all__ = ["Played", "Replied", "RpcServer", "Streamed"]

S = TypeVar("S")  # a session's state, the dialect's own


@dataclass(frozen=True, slots=True)
class Replied:
    """An answer sent whole: a JSON-RPC message (None: no body, 202 Accepted)."""

    message: Mapping[str, Any] | None
    status: int = 200
    #: Notifications for the session's own stream (the client's GET), sent after it.
    notices: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Played:
    """A request whose answer a scenario plays: its id, its method and its params (the
    server makes the response it ends with once the scenario is chosen)."""

    id: RequestId
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: What the server's session says of it, in the server's own terms (a log level).
    session: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Streamed:
    """A played answer as an event stream: its steps, and the events it means to send
    (event id, the event's bytes), kept for a client that resumes after a drop, once
    ``ready_after`` seconds have passed (a slow tool's result is not there sooner)."""

    steps: Iterator[Step]
    events: Sequence[tuple[str, bytes]] = field(default_factory=tuple)
    ready_after: float = 0.0


class RpcServer(ABC, Generic[S]):
    """A JSON-RPC dialect, one per server."""

    #: The protocol versions it speaks, newest first.
    versions: tuple[str, ...]

    @abstractmethod
    def handle(
        self, session: S | None, message: RpcMessage, scenario: Scenario | None
    ) -> tuple[S | None, Replied | Played]:
        """One message (a request: under the ``scenario`` chosen for it): the session (a
        new one when the message opens one; None when it ends, such as one that expired),
        and what to answer."""

    def asked(self, message: RpcMessage) -> Asked | None:
        """What a request asks of a scripted conversation, where it asks one (MCP's
        ``reply`` tool, its prompt): the scenario's turn is chosen by it. None: the
        scenario is chosen as it is named."""
        return None

    def heard(self, session: S | None, request: RequestId) -> Mapping[str, Any] | None:
        """The client's answer (its ``result`` or ``error``) to the request the server made
        with id ``request`` in ``session`` (None: none yet). By default, none ever."""
        return None

    def cancelled(self, session: S | None, request: RequestId) -> bool:
        """Whether the client has cancelled ``request`` in ``session`` (its answer, while it
        plays, stops there). By default, nothing is ever cancelled."""
        return False

    @abstractmethod
    def session_id(self, session: S) -> str:
        """The id the client names the session by."""

    @abstractmethod
    def play(
        self,
        scenario: Scenario,
        played: Played,
        stream: int,
        fmt: SSEFormat,
        *,
        resumable: bool = True,
        heard: Callable[[RequestId], Mapping[str, Any] | None] = lambda _: None,
    ) -> Streamed | Replied:
        """``played`` as the ``stream``-th event stream of its session, under ``scenario``
        (or as one JSON body, where the scenario says so); not ``resumable``: its events
        without ids, on a stream that carries every answer (MCP's legacy transport).
        ``heard``: the client's answer to a request the server made (by its id), once it
        has come (None: not yet)."""
