"""What the emulator answered, as it went out: each write, when, what it carried, how it ended
(and on a WebSocket, each message the client sent, in order with the answers).

The player (:mod:`emulator.engine.play`) records into a :class:`Transcript`
as it writes. Bounded: the bytes of the first and the last ``keep_bytes``
of a stream are kept (and at most ``keep_writes`` writes at each end); what
lies between is counted and said, not kept. With ``capture`` off only the
metadata is kept (for load tests).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Final

from ..core.endings import COMPLETED, Ending, Label
from ..protocol.steps import BINARY_FRAME, MORE_FRAMES
from ..scenario.model import Chunk, ChunkMessage, Recording
from ..scenario.model import Ending as RecordedEnding
from ..scenario.recording import FRAMING_HEADERS

__all__ = ["Sent", "Transcript"]

#: How each way a stream ended is replayed (anything else: held open, as the
#: client that left saw it).
_ENDINGS: Final[dict[str, RecordedEnding]] = {
    "completed": "complete",
    "dropped": "drop",
    "reset": "reset",
    "closed": "close",
    "cut": "close",
    "short_length": "close",
}
#: Response headers a recording leaves to the server replaying it.
_NOT_REPLAYED: Final = FRAMING_HEADERS | {"date", "server"}


@dataclass(slots=True)
class Sent:
    """One write (or wait) of a stream."""

    offset: int  # where its bytes start in the body
    ms: float  # since the request arrived (monotonic)
    size: int
    what: Label  # the step that produced it (str(): "messages 1-9", "fault drop at 3")
    data: bytes | None  # None: not captured
    frame: int = 0  # a WebSocket message's (TEXT_FRAME, BINARY_FRAME, MORE_FRAMES); 0: bytes

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "offset": self.offset,
            "ms": round(self.ms, 3),
            "size": self.size,
            "what": str(self.what),
            # A message the client sent (a WebSocket's); everything else went to it.
            "direction": "in" if self.what.kind == "received" else "out",
        }
        if self.frame:
            found["message"] = "binary" if self.frame & BINARY_FRAME else "text"
        if self.data is not None:
            # Invalid UTF-8 stays visible as \xNN; control characters are the UI's to show.
            found["text"] = self.data.decode("utf-8", "backslashreplace")
        return found


#: A kept write: Sent's fields in order.
_Entry = tuple[int, float, int, Label, bytes | None, int]


@dataclass(slots=True)
class Transcript:
    """The answer to one request: status, headers, the writes, the ending."""

    keep_bytes: int = 32 * 1024
    keep_writes: int = 1000
    capture: bool = True
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # The writes kept at each end, as Sent's fields: a tuple costs less to make
    # than a Sent, and most are never read (writes makes the Sents).
    head: list[_Entry] = field(default_factory=list)
    tail: deque[_Entry] = field(default_factory=deque)
    omitted_writes: int = 0
    omitted_bytes: int = 0
    ending: Ending | None = None
    #: Writes (and waits) of each fault kind, counted even where bytes are left out.
    faults: dict[str, int] = field(default_factory=dict)
    _head_bytes: int = 0
    _tail_bytes: int = 0

    def wrote(self, offset: int, ms: float, data: bytes, what: Label, frame: int = 0) -> None:
        """Note one write (called by the player as it writes: kept lean); ``frame``: the
        WebSocket message it is (0: bytes)."""
        if what.kind == "fault":
            self.faults[what.name] = self.faults.get(what.name, 0) + 1
        size = len(data)
        keep = self.keep_bytes
        # One write's bytes are kept up to keep_bytes (its size says the rest).
        kept = (data if size <= keep else data[:keep]) if self.capture else None
        self._add((offset, ms, size, what, kept, frame))

    def _add(self, entry: _Entry) -> None:
        """Keep ``entry`` at the head while it has room, else at the tail (its oldest
        dropped, counted, past its bounds)."""
        size, keep = entry[2], self.keep_bytes
        if self._head_bytes < keep and len(self.head) < self.keep_writes:
            self._head_bytes += size
            self.head.append(entry)
            return
        tail = self.tail
        tail.append(entry)
        tail_bytes = self._tail_bytes + size
        limit = self.keep_writes
        while len(tail) > 1 and (len(tail) > limit or tail_bytes > keep):
            gone = tail.popleft()[2]
            tail_bytes -= gone
            self.omitted_writes += 1
            self.omitted_bytes += gone
        self._tail_bytes = tail_bytes

    def wrote_all(
        self, offset: int, ms: float, writes: Sequence[bytes], whats: Sequence[Label]
    ) -> None:
        """Note writes that go out together (a fast stream's events, coalesced): as
        :meth:`wrote` each would, but those the tail would only drop again are counted,
        not made (at speed 0, most of a long stream's)."""
        if len(writes) == 1:  # the usual at the end of a stream: one write, kept as it is
            self.wrote(offset, ms, writes[0], whats[0])
            return
        faults = self.faults
        for what in whats:
            if what.kind == "fault":
                faults[what.name] = faults.get(what.name, 0) + 1

        def head(k: int, start: int, n: int) -> bytes:
            data = writes[k]
            return data if len(data) <= n else data[:n]

        self._noted(offset, ms, list(accumulate(map(len, writes))), whats, head)

    def wrote_run(
        self, offset: int, ms: float, data: bytes, ends: Sequence[int], whats: Sequence[Label]
    ) -> None:
        """Note a run of writes planned before (no fault's among them): as
        :meth:`wrote_all` would, from their joined bytes, where each ends in them (only
        the kept ones are cut out)."""
        self._noted(offset, ms, ends, whats, lambda k, start, n: data[start : start + n])

    def _noted(
        self,
        offset: int,
        ms: float,
        ends: Sequence[int],
        whats: Sequence[Label],
        head: Callable[[int, int, int], bytes],
    ) -> None:
        """Writes that go out together, by where each ends (from ``offset``), as the
        writes one at a time would be kept: how many each end keeps is found by
        bisection, and only the kept ones are made (``head(k, start, n)``: the first
        ``n`` bytes of write ``k``, which starts at ``start``). Faults are counted by the
        caller."""
        n = len(ends)
        keep, limit = self.keep_bytes, self.keep_writes
        i, room = 0, limit - len(self.head)
        if n and self._head_bytes < keep and room > 0:
            i = min(n, room, bisect_left(ends, keep - self._head_bytes) + 1)
            self.head.extend(self._entries(offset, ms, ends, whats, head, 0, i))
            self._head_bytes += ends[i - 1]
        if i == n:
            return
        # The last ones, as many as the tail keeps (one at least); those between are
        # counted, not kept, and so is what the tail held before.
        first = bisect_left(ends, ends[-1] - keep) + 1 if ends[-1] > keep else 0
        j = min(max(i, first, n - limit), n - 1)
        if j == i:  # no write between: the tail takes them as it would one by one
            for entry in self._entries(offset, ms, ends, whats, head, i, n):
                self._add(entry)
            return
        start = ends[i - 1] if i else 0
        self.omitted_writes += j - i + len(self.tail)
        self.omitted_bytes += ends[j - 1] - start + self._tail_bytes
        self.tail = deque(self._entries(offset, ms, ends, whats, head, j, n))
        self._tail_bytes = ends[-1] - ends[j - 1]

    def _entries(
        self,
        offset: int,
        ms: float,
        ends: Sequence[int],
        whats: Sequence[Label],
        head: Callable[[int, int, int], bytes],
        i: int,
        j: int,
    ) -> list[_Entry]:
        """Writes ``i`` to ``j`` as kept entries (their bytes up to keep_bytes)."""
        keep, capture = self.keep_bytes, self.capture
        starts = [ends[i - 1] if i else 0, *ends[i : j - 1]]
        return [
            (offset + a, ms, b - a, whats[k],
             head(k, a, min(b - a, keep)) if capture else None, 0)
            for k, a, b in zip(range(i, j), starts, ends[i:j], strict=True)
        ]  # fmt: skip

    def waited(self, offset: int, ms: float, seconds: float, what: Label) -> None:
        """Note a wait the stream made (a stall: no bytes for ``seconds``)."""
        self.wrote(offset, ms, b"", what.noted(f": {seconds:g} s"))

    def recording(self) -> Recording | None:
        """The answer as a recording to replay byte for byte (None: some bytes were left out);
        a WebSocket session's as its messages both ways."""
        if self.omitted_writes or any(w.data is None or len(w.data) != w.size
                                      for w in self.writes):  # fmt: skip
            return None
        if self.status == 101:
            return self._session()
        writes = [w for w in self.writes if w.what.kind != "received"]
        # A whole answer (not a stream) has no ending of its own: it was sent whole.
        ending = self.ending or COMPLETED
        return Recording(
            chunks=tuple(Chunk(w.ms / 1000, w.data) for w in writes if w.data),
            status=self.status or 200,
            headers=tuple(
                (k, v) for k, v in self.headers.items() if k.lower() not in _NOT_REPLAYED
            ),
            ending=_ENDINGS.get(ending.kind, "hold"),
        )

    def _session(self) -> Recording:
        """A WebSocket session: each message the server sent whole (a fragmented one joined),
        and each the client sent (``heard``), in order; pings and closes are the
        socket's, left out (its ending says how it closed)."""
        chunks: list[Chunk] = []
        pieces: list[bytes] = []
        for w in self.writes:
            data = w.data or b""
            if w.what.kind == "received":
                chunks.append(Chunk(w.ms / 1000, data, "heard"))
            elif w.frame:
                pieces.append(data)
                if not w.frame & MORE_FRAMES:
                    kind: ChunkMessage = "binary" if w.frame & BINARY_FRAME else "text"
                    chunks.append(Chunk(w.ms / 1000, b"".join(pieces), kind))
                    pieces = []
        ending = self.ending or COMPLETED
        return Recording(chunks=tuple(chunks), status=101, headers=(),
                         ending=_ENDINGS.get(ending.kind, "hold"))  # fmt: skip

    def kept_bytes(self, overhead: int) -> int:
        """The bytes of the writes kept, counting ``overhead`` more for each."""
        return (
            sum(len(e[4] or b"") for e in self.head)
            + sum(len(e[4] or b"") for e in self.tail)
            + overhead * (len(self.head) + len(self.tail))
        )

    @property
    def writes(self) -> list[Sent]:
        """The writes kept, in order (those between head and tail are left out)."""
        return [Sent(*entry) for entry in (*self.head, *self.tail)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers,
            "writes": [w.to_dict() for w in self.writes],
            "omitted": {"writes": self.omitted_writes, "bytes": self.omitted_bytes},
            "ending": None if self.ending is None else str(self.ending),
            "faults": self.faults,
        }
