"""The sessions of a JSON-RPC dialect (MCP's ``Mcp-Session-Id``), and the events each kept
for a client that resumes a stream after a drop: capped in count and bytes.

A session is the dialect's own state; each of its event streams is numbered, and its
events kept (the newest :data:`KEPT_STREAMS` streams, at most :data:`KEPT_BYTES` a
session) until a client resumes it, once, with ``Last-Event-ID``. Past
:data:`MAX_SESSIONS`, the session used longest ago is forgotten (its client gets a 404,
and must initialize again, as the protocol says).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["KEPT_BYTES", "KEPT_STREAMS", "MAX_SESSIONS", "WAITING", "RpcSessions"]

MAX_SESSIONS: Final = 1_000
KEPT_STREAMS: Final = 32
KEPT_BYTES: Final = 4 * 1024 * 1024
#: Notifications that may wait for (or on) a session's own stream.
WAITING: Final = 64


@dataclass(slots=True)
class _Session:
    state: Any
    #: The stream that carries every answer of the session (MCP's legacy transport), if
    #: it has one: what the lifecycle puts answers on.
    channel: Any = None
    streams: int = 0
    #: Each kept stream's events, and when they are all there (the clock's time).
    kept: OrderedDict[int, tuple[Sequence[tuple[str, bytes]], float]] = field(
        default_factory=OrderedDict
    )
    kept_bytes: int = 0
    #: The session's own stream (the client's GET), while it is open: what its
    #: notifications go on; and what waits for it to open (the newest few).
    listener: asyncio.Queue[Mapping[str, Any]] | None = None
    waiting: deque[Mapping[str, Any]] = field(default_factory=lambda: deque(maxlen=WAITING))


class RpcSessions:
    """Every open session of one emulator session, by id."""

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def opened(self, id: str, state: Any, channel: Any = None) -> None:
        self._sessions[id] = _Session(state, channel)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def state(self, id: str) -> Any | None:
        """The session's state (None: no such session); it becomes the newest used."""
        session = self._sessions.get(id)
        if session is None:
            return None
        self._sessions.move_to_end(id)
        return session.state

    def channel(self, id: str) -> Any:
        """The session's channel (None: no such session, or it has none)."""
        session = self._sessions.get(id)
        return None if session is None else session.channel

    def update(self, id: str, state: Any) -> None:
        session = self._sessions.get(id)
        if session is not None:
            session.state = state

    def listen(self, id: str) -> asyncio.Queue[Mapping[str, Any]] | None:
        """The session's own stream opens (a GET): its queue of notifications, what waited
        for it first (None: no such session). A second GET replaces the first."""
        session = self._sessions.get(id)
        if session is None:
            return None
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(WAITING)
        while session.waiting:
            queue.put_nowait(session.waiting.popleft())
        session.listener = queue
        return queue

    def unlisten(self, id: str, queue: asyncio.Queue[Mapping[str, Any]]) -> None:
        session = self._sessions.get(id)
        if session is not None and session.listener is queue:
            session.listener = None

    def notify(self, id: str, notice: Mapping[str, Any]) -> None:
        """A notification for the session's own stream: sent there if it is open, else kept
        (the newest :data:`WAITING`) until it opens."""
        session = self._sessions.get(id)
        if session is None:
            return
        if session.listener is not None and not session.listener.full():
            session.listener.put_nowait(notice)
        else:
            session.waiting.append(notice)

    def ended(self, id: str) -> bool:
        """Forget the session; whether it was open."""
        return self._sessions.pop(id, None) is not None

    def next_stream(self, id: str) -> int:
        session = self._sessions[id]
        session.streams += 1
        return session.streams

    def keep(
        self, id: str, stream: int, events: Sequence[tuple[str, bytes]], ready_at: float = 0.0
    ) -> None:
        """Keep a stream's events (id, bytes), all there at ``ready_at``, for a client that
        resumes it."""
        session = self._sessions.get(id)
        size = sum(len(data) for _, data in events)
        if session is None or size > KEPT_BYTES:
            return
        session.kept[stream] = (tuple(events), ready_at)
        session.kept_bytes += size
        while len(session.kept) > KEPT_STREAMS or session.kept_bytes > KEPT_BYTES:
            _, (gone, _) = session.kept.popitem(last=False)
            session.kept_bytes -= sum(len(data) for _, data in gone)

    def resumed(
        self, id: str, last_event: str, stream_of: int
    ) -> tuple[list[bytes], float] | None:
        """The events of stream ``stream_of`` after the one called ``last_event``, and when
        they are there (None: that stream is not kept, or has no such event); the stream
        is forgotten then, so it is replayed once."""
        session = self._sessions.get(id)
        kept = None if session is None else session.kept.pop(stream_of, None)
        if session is None or kept is None:
            return None
        events, ready_at = kept
        session.kept_bytes -= sum(len(data) for _, data in events)
        ids = [event_id for event_id, _ in events]
        if last_event not in ids:
            return None
        return [data for _, data in events[ids.index(last_event) + 1 :]], ready_at
