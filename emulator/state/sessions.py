"""Sessions: isolated views of one emulator, so parallel users do not interfere.

A request names its session with the ``X-Emulator-Session`` header or by
its URL (``/_session/ID/api/conversation``, for clients that can only
change their base URL); one without either is in the default session.
:class:`Sessions` keeps them: created on first use, bounded in number, and
dropped after an idle time (or on request). Thread-safe.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

__all__ = ["SESSION_HEADER", "SESSION_ID", "SESSION_PREFIX", "Sessions", "split_session_path"]

#: Request header that names the session of a request (upstream and admin alike).
SESSION_HEADER: Final = "X-Emulator-Session"
#: URL prefix that names the session: ``/_session/ID/`` then the usual path.
SESSION_PREFIX: Final = "/_session/"
#: What a session id may be: it travels in URLs and headers unescaped.
SESSION_ID: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

T = TypeVar("T")


def check_session_id(value: str) -> str:
    """``value`` if it is a valid session id, else a ``ValueError`` that says what one is."""
    if not SESSION_ID.fullmatch(value):
        raise ValueError(
            f"a session id is 1 to 64 letters, digits, '_', '-' or '.', got {value[:80]!r}"
        )
    return value


def split_session_path(raw_path: str) -> tuple[str | None, str]:
    """``(session id, the rest of the raw path)`` for a ``/_session/ID/...`` path.

    ``(None, raw_path)`` for any other path. The rest keeps its query string
    and starts with ``/``. A bad id raises ``ValueError``.
    """
    if not raw_path.startswith(SESSION_PREFIX):
        return None, raw_path
    tail = raw_path[len(SESSION_PREFIX) :]
    cut = min((i for i in (tail.find("/"), tail.find("?")) if i >= 0), default=len(tail))
    session, rest = tail[:cut], tail[cut:]
    if not rest.startswith("/"):
        rest = "/" + rest
    return check_session_id(session), rest


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    created: float
    used: float


class Sessions(Generic[T]):
    """The named sessions of one server (the default session is not among them).

    At most ``limit`` at once; one unused for ``idle`` seconds is dropped the
    next time a session is created or listed. When all ``limit`` are in use, a new
    one takes the place of the one used least recently (its owner's next request
    starts it afresh): whoever opens many sessions cannot lock the others out.
    """

    def __init__(
        self,
        limit: int,
        idle: float,
        make: Callable[[str], T],
        on_drop: Callable[[T], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.idle = idle
        self._make = make
        self._on_drop = on_drop
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        #: How many sessions made room for a newer one (least recently used first).
        self.evicted = 0

    def get(self, session: str) -> T:
        """The session ``session``, made on first use; marks it used now."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(session)
            if entry is not None:
                entry.used = now
                self._entries.move_to_end(session)
                return entry.value
        dropped = self.expire()
        with self._lock:
            entry = self._entries.get(session)
            if entry is None:
                while self._entries and len(self._entries) >= self.limit:
                    _, evicted = self._entries.popitem(last=False)  # the least recently used
                    dropped.append(evicted.value)
                    self.evicted += 1
                entry = self._entries[session] = _Entry(self._make(session), now, now)
            entry.used = now
        for value in dropped:
            self._on_drop(value)
        return entry.value

    def find(self, session: str) -> T | None:
        """The session ``session`` if it exists (not made, not marked used)."""
        with self._lock:
            entry = self._entries.get(session)
            return entry.value if entry is not None else None

    def drop(self, session: str) -> bool:
        """Forget ``session`` (and let the owner clear what it kept); False if unknown."""
        with self._lock:
            entry = self._entries.pop(session, None)
        if entry is None:
            return False
        self._on_drop(entry.value)
        return True

    def expire(self) -> list[T]:
        """Take out the sessions idle for longer than ``idle``; the caller drops them."""
        cutoff = self._clock() - self.idle
        with self._lock:
            old = [key for key, entry in self._entries.items() if entry.used < cutoff]
            return [self._entries.pop(key).value for key in old]

    def listing(self) -> list[tuple[str, T, float, float]]:
        """``(id, session, seconds since made, seconds idle)`` for each, oldest use first."""
        for value in self.expire():
            self._on_drop(value)
        now = self._clock()
        with self._lock:
            return [(k, e.value, now - e.created, now - e.used) for k, e in self._entries.items()]

    def clear(self) -> None:
        with self._lock:
            values = [e.value for e in self._entries.values()]
            self._entries.clear()
        for value in values:
            self._on_drop(value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
