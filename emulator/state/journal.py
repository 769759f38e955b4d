"""The journal: every request a server received and what it answered, bounded.

Kept by count and by bytes (each body cut to ``Limits.body_bytes``); the
oldest calls go first. Thread-safe: tests read it from their own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from multidict import CIMultiDict, CIMultiDictProxy

from ..core.endings import Ending
from ..scenario import Scenario
from .config import Limits
from .secrets import redacted_body
from .transcript import Transcript

__all__ = [
    "ALL_SESSIONS",
    "OMITTED_HEADER",
    "Call",
    "CallList",
    "Journal",
    "LimitError",
    "bounded_head",
]

#: Stands for every session where a session id is asked for (no id can be "*").
ALL_SESSIONS = "*"


@dataclass
class Call:
    """One request the emulator received, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # as received: case-insensitive for a served request
    body: bytes  # its first Limits.body_bytes; body_size says how long it was
    body_size: int = 0
    started: float = field(default_factory=time.time)
    arrived: float = 0.0  # the loop clock at arrival; transcript times count from it
    scenario: str | None = None
    chosen_by: str | None = None  # why that scenario: "the X-Emulator-Scenario header", …
    status: int | None = None
    bytes_sent: int = 0
    duration: float | None = None
    detail: str | None = None  # the error detail answered, if any
    number: int = 0  # which call of this endpoint under its scenario (1: the first)
    id: int = 0  # its place in the journal: stable, increasing
    ending: Ending | None = None  # how a stream ended (str(): "client gone at 812 B …")
    ended_ms: float | None = None  # when a stream that did not complete stopped
    session: str | None = None  # the session it was made in (None: the default session)
    dialect: str | None = None  # the dialect whose route answered it (None: the emulator's own)
    chaos: str | None = None  # what seeded chaos did to it, if anything
    #: The protocol session it belongs to (MCP's Mcp-Session-Id), when its API has them.
    rpc_session: str | None = None
    turn: int = 0  # the turn of its scenario's [[turns]] that answered (0: it has none)
    #: The matches it came nearest to, when matching chose nothing (or no turn matched):
    #: each {"name", "misses": [{"field", "expected", "actual"}]}.
    near: list[dict[str, Any]] = field(default_factory=list)
    served: Scenario | None = field(default=None, repr=False, compare=False)  # what it got
    transcript: Transcript | None = None  # what was answered, write by write
    journaled: bool = field(default=False, repr=False, compare=False)  # in the journal now
    counted: int = field(default=0, repr=False, compare=False)  # bytes the journal counts for it

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self, body_limit: int = 65536) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body[:body_limit].decode("utf-8", "replace"),
            "body_size": self.body_size,
            "started": self.started,
            "scenario": self.scenario,
            "chosen_by": self.chosen_by,
            "status": self.status,
            "bytes_sent": self.bytes_sent,
            "duration": self.duration,
            "detail": self.detail,
            "number": self.number,
            "id": self.id,
            "ending": None if self.ending is None else str(self.ending),
            "ending_kind": None if self.ending is None else self.ending.kind,
            "ending_fault": None if self.ending is None else self.ending.fault,
            "ended_ms": self.ended_ms,
            "session": self.session,
            "dialect": self.dialect,
            "chaos": self.chaos,
            "rpc_session": self.rpc_session,
            "turn": self.turn,
            "near": self.near,
        }


def bounded_head(headers: Mapping[str, str], limit: int) -> Mapping[str, str]:
    """A request's headers as the journal keeps them: the first ones up to ``limit`` bytes
    (the same mapping when all fit), then a note of what was left out."""
    size = header_size(headers)
    if size <= limit:
        return headers
    items = list(headers.items())
    kept: CIMultiDict[str] = CIMultiDict()
    used = left = 0
    for name, value in items:
        if used + len(name) + len(value) <= limit:
            kept.add(name, value)
            used += len(name) + len(value)
        else:
            left += 1
    kept.add(OMITTED_HEADER, f"{left} headers ({size - used:,} bytes) past the first "
             f"{limit:,} bytes")  # fmt: skip
    return CIMultiDictProxy(kept)


#: The note a journal entry's headers carry for those a large request head left out.
OMITTED_HEADER: Final = "X-Emulator-Omitted"


class CallList(list[Call]):
    """A list of calls with respx-style helpers."""

    @property
    def last(self) -> Call:
        if not self:
            raise LookupError("no calls were recorded")
        return self[-1]

    @property
    def call_count(self) -> int:
        return len(self)

    @property
    def called(self) -> bool:
        return bool(self)


class Journal:
    """The calls a server keeps, newest last, within its limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._journal: deque[Call] = deque()
        self._journal_bytes = 0
        self._ids = itertools.count(1)
        self._feeds: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Call]]] = []

    def record(self, call: Call) -> None:
        """Add ``call`` to the journal (its body comes later: :meth:`keep_body`)."""
        with self._lock:
            call.id = next(self._ids)
            self._journal.append(call)
            call.journaled = True
            self._grow(call, header_size(call.headers) + len(call.path))

    def settle(self, call: Call) -> None:
        """Count what ``call``'s transcript keeps, now that it is answered; tell the feeds."""
        transcript = call.transcript
        if transcript is None:
            return
        with self._lock:
            if call.journaled:
                self._grow(call, transcript.kept_bytes(64))
            feeds = list(self._feeds)
        for loop, queue in feeds:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_offer, queue, call)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[Call]:
        """A queue of the calls answered from now on (a live feed), fed in ``loop``."""
        queue: asyncio.Queue[Call] = asyncio.Queue(maxsize=_FEED_QUEUE)
        with self._lock:
            if len(self._feeds) >= _FEEDS:
                raise LimitError(f"at most {_FEEDS} journal feeds can be open at once")
            self._feeds.append((loop, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Call]) -> None:
        with self._lock:
            self._feeds = [(lp, q) for lp, q in self._feeds if q is not queue]

    def since(self, call_id: int) -> CallList:
        """The calls after ``call_id``, oldest first."""
        with self._lock:
            return CallList(c for c in self._journal if c.id > call_id)

    def get(self, call_id: int) -> Call | None:
        """The call with this id, if the journal still has it."""
        with self._lock:
            for call in reversed(self._journal):
                if call.id == call_id:
                    return call
        return None

    def keep_body(self, call: Call, body: bytes, *, redact: bool = False) -> None:
        """Store the start of ``body`` with ``call`` (at most ``limits.body_bytes``; with
        ``redact``, a marker in place of each credential field)."""
        kept = body[: self.limits.body_bytes] if len(body) > self.limits.body_bytes else body
        if redact:
            kept = redacted_body(kept)
        call.body_size = len(body)
        with self._lock:
            call.body = kept
            if call.journaled:  # not evicted (or reset) while its body was read
                self._grow(call, len(kept))

    def _grow(self, call: Call, size: int) -> None:
        # The oldest calls go until both caps hold again (the newest call
        # always stays: its body was already cut to limits.body_bytes).
        call.counted += size
        self._journal_bytes += size
        journal, limits = self._journal, self.limits
        while len(journal) > 1 and (
            len(journal) > limits.journal_calls or self._journal_bytes > limits.journal_bytes
        ):
            old = journal.popleft()
            old.journaled = False
            self._journal_bytes -= old.counted

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._journal_bytes

    @property
    def requests(self) -> CallList:
        with self._lock:
            return CallList(self._journal)

    def calls(
        self,
        path: str | None = None,
        method: str | None = None,
        session: str | None = ALL_SESSIONS,
    ) -> CallList:
        """The calls to ``path`` with ``method`` in ``session`` (each: None for any)."""
        every = session == ALL_SESSIONS
        with self._lock:
            return CallList(
                c
                for c in self._journal
                if (path is None or c.path == path)
                and (method is None or c.method == method.upper())
                and (every or c.session == session)
            )

    def clear(self, session: str | None = ALL_SESSIONS) -> None:
        """Forget every call, or (``session``) the calls of one session."""
        with self._lock:
            if session == ALL_SESSIONS or all(c.session == session for c in self._journal):
                gone, kept = list(self._journal), deque[Call]()
            else:
                gone = [c for c in self._journal if c.session == session]
                kept = deque(c for c in self._journal if c.session != session)
            for call in gone:
                call.journaled = False
                self._journal_bytes -= call.counted
            self._journal = kept


def header_size(headers: Mapping[str, str]) -> int:
    """About how many bytes a request's headers take."""
    return sum(map(len, headers.keys())) + sum(map(len, headers.values()))


#: Live journal feeds open at once, and the calls one may fall behind by.
_FEEDS = 16
_FEED_QUEUE = 1000


class LimitError(ValueError):
    """A store is full: the request would grow it past its cap."""


def _offer(queue: asyncio.Queue[Call], call: Call) -> None:
    # A reader that falls this far behind misses calls; the journal still has them.
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(call)
