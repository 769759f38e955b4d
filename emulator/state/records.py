"""What a session of a server keeps of its requests: its calls in the server's journal
(each tagged with the session), and the problems and unmatched requests noted for it."""

from __future__ import annotations

import threading
from collections import deque

from .journal import Call, CallList, Journal

__all__ = ["SessionRecords"]


class SessionRecords:
    """The journal side of :class:`~emulator.state.store.EmulatorState` (a mixin: the state
    sets these attributes)."""

    #: The session's id (None: the default session).
    id: str | None
    journal: Journal
    _lock: threading.RLock
    #: (session, text) of every session, the newest ``limits.problems`` of each kind.
    _problems: deque[tuple[str | None, str]]
    _unmatched: deque[tuple[str | None, str]]

    def record(self, call: Call) -> None:
        call.session = self.id
        self.journal.record(call)

    def keep_body(self, call: Call, body: bytes, *, redact: bool = False) -> None:
        self.journal.keep_body(call, body, redact=redact)

    @property
    def journal_bytes(self) -> int:
        return self.journal.bytes

    @property
    def requests(self) -> CallList:
        """This session's calls, oldest first."""
        return self.journal.calls(session=self.id)

    def calls(self, path: str | None = None, method: str | None = None) -> CallList:
        return self.journal.calls(path, method, self.id)

    @property
    def problems(self) -> list[str]:
        """Exceptions raised inside this session's handlers (the server keeps the
        newest ``limits.problems`` of all sessions)."""
        with self._lock:
            return [text for session, text in self._problems if session == self.id]

    @property
    def unmatched(self) -> list[str]:
        """This session's requests that matched no route."""
        with self._lock:
            return [text for session, text in self._unmatched if session == self.id]

    def add_problem(self, text: str) -> None:
        with self._lock:
            self._problems.append((self.id, text[:2000]))

    def add_unmatched(self, text: str) -> None:
        with self._lock:
            self._unmatched.append((self.id, text[:2000]))
