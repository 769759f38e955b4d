"""A stream planned once and sent again with its holes filled. Pure.

A scenario's stream on a dialect is the same bytes for every request that asks
the same thing, but for a few values each request makes anew: its id, its
timestamp. Planning it event by event costs about 2 µs an event (the events'
generators, each event's template, its :class:`~emulator.protocol.steps.Write`,
the player's loop), where a bare handler only copies bytes. So when a request asks
what an earlier one asked, its stream is planned with a marker where each such
value goes (a *hole*), checked against a plan with other markers, and kept as
the bytes around the holes: each later request costs a join of those bytes and its
own values, played as one :class:`~emulator.protocol.steps.Run`.

Only a stream of writes and the pauses the speed scales is kept (a fault, a split,
a hold: each is planned every time); at a speed that paces it, it is played as its
writes, each after its pause, and at speed 0 as one run. A value
that is not plain ASCII (or is too short to be told from the text) is never a hole:
that request is planned as usual. So is one whose values do not fill in as they
are (an id a call's id is cut from).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, Final, NamedTuple

from ..core.endings import Label
from ..protocol.steps import Paced, Run, Step, Wait, Write

__all__ = ["FLATS", "FLAT_BUDGET", "FLAT_COUNT", "FLAT_MAX_BYTES", "MISSING", "Flat", "Flats",
           "Hole", "Kept", "holes_of", "made"]  # fmt: skip

#: The flats kept (per process): at most this many, and this many bytes in all.
FLAT_COUNT: Final = 256
FLAT_BUDGET: Final = 64 * 1024 * 1024
#: A stream larger than this is planned every time (filling one in is a copy of it,
#: made on the event loop).
FLAT_MAX_BYTES: Final = 4 * 1024 * 1024
#: How many keys seen once are remembered (a key gets its flat the second time it is
#: asked for: most requests of a test suite are asked once).
SEEN_COUNT: Final = 4096

#: A string hole's value: written as it is in JSON (nothing to escape).
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.:-]{8,64}")

#: A hole: its two markers (of its value's kind and length), and its value's bytes.
Hole = tuple[Any, Any, bytes]
#: What is kept for a key: its flat, and what its maker keeps beside it (the answer's
#: headers); None: that stream cannot be a flat.
Kept = tuple["Flat", Any] | None


class Flat(NamedTuple):
    """A stream's bytes around its holes, and its writes (where each ends, what each is)."""

    #: The bytes between the holes and (a marker for now) each hole's, in order.
    slots: tuple[bytes, ...]
    #: Where each hole's value goes in ``slots``, as slices: (start, stop, step, hole).
    strides: tuple[tuple[int, int, int, int], ...]
    ends: tuple[int, ...]  # where each write ends in the filled bytes
    whats: tuple[Label, ...]
    #: The pause before each write, as the speed scales it (empty: it never pauses).
    pauses: tuple[float, ...]
    size: int  # about the bytes it holds

    @property
    def paced(self) -> bool:
        return bool(self.pauses)

    def paced_run(self, values: Sequence[bytes]) -> Paced:
        """The stream with ``values`` in its holes, paced as planned: each write, after
        its pause."""
        return Paced(self._writes(self.run(values).data))

    def _writes(self, data: bytes) -> Iterator[Write | Wait]:
        start = 0
        for end, what, pause in zip(self.ends, self.whats, self.pauses, strict=True):
            if pause > 0:
                yield Wait(pause)
            yield Write(data[start:end], what)
            start = end

    def run(self, values: Sequence[bytes]) -> Run:
        """The stream with ``values`` in its holes: a copy of the slots, each hole's value
        set by slice (a hole in every event is one stride), and a join."""
        if not self.strides:
            return Run(self.slots[0], self.ends, self.whats)
        out = list(self.slots)
        for start, stop, step, hole in self.strides:
            out[start:stop:step] = [values[hole]] * len(range(start, stop, step))
        return Run(b"".join(out), self.ends, self.whats)


def _strides(order: Sequence[int]) -> tuple[tuple[int, int, int, int], ...]:
    """Where each hole of ``order`` (the hole of each gap, in turn) goes in the slots
    (parts and holes interleaved), as runs of equal steps."""
    found: list[tuple[int, int, int, int]] = []
    for hole in sorted(set(order)):
        at = [2 * i + 1 for i, h in enumerate(order) if h == hole]
        i = 0
        while i < len(at):
            step = at[i + 1] - at[i] if i + 1 < len(at) else 1
            j = i + 1
            while j < len(at) and at[j] - at[j - 1] == step:
                j += 1
            found.append((at[i], at[j - 1] + 1, step, hole))
            i = j
    return tuple(found)


def holes_of(values: Sequence[Any]) -> list[Hole] | None:
    """Each value as a hole; None when one cannot be (not plain ASCII of 8 to 64
    characters, nor an integer of 3 digits or more)."""
    found: list[Hole] = []
    for i, value in enumerate(values):
        if isinstance(value, str) and _PLAIN.fullmatch(value):
            n = len(value)
            found.append(((f"Qz{i}J" * n)[:n], (f"Wx{i}K" * n)[:n], value.encode()))
        elif type(value) is int and value >= 100:
            n = len(str(value))
            found.append((int((f"8{i}6" * n)[:n]), int((f"5{i}3" * n)[:n]), b"%d" % value))
        else:
            return None
    return found


def made(plan: Callable[[Sequence[Any]], Iterable[Step]], holes: Sequence[Hole]) -> Flat | None:
    """The flat of ``plan`` (a stream, given its holes' values), or None: it is not a
    stream of writes, is too large, or its holes do not fill in as they are."""
    first = _flattened(plan([a for a, _, _ in holes]))
    if first is None:
        return None
    body, ends, whats, pauses = first
    cut = _cut(body, [str(a).encode() for a, _, _ in holes])
    if cut is None:
        return None
    parts, order = cut
    slots: list[bytes] = [parts[0]]
    for part in parts[1:]:
        slots += (b"", part)
    size = len(body) + 16 * len(ends) + 8 * len(slots)
    flat = Flat(tuple(slots), _strides(order), ends, whats, pauses, size)
    second = _flattened(plan([b for _, b, _ in holes]))
    if second is None or second[1:] != first[1:]:
        return None
    return flat if flat.run([str(b).encode() for _, b, _ in holes]).data == second[0] else None


def _flattened(
    steps: Iterable[Step],
) -> tuple[bytes, tuple[int, ...], tuple[Label, ...], tuple[float, ...]] | None:
    """The writes of ``steps`` joined, where each ends, what each is, and the pause
    before each (none: no pause at all); None when a step is not a write or a pause the
    speed scales before a write (or is a fault's)."""
    data: list[bytes] = []
    ends: list[int] = []
    whats: list[Label] = []
    pauses: list[float] = []
    at, pause = 0, 0.0
    for step in steps:
        if isinstance(step, Write) and step.what.kind != "fault":
            data.append(step.data)
            at += len(step.data)
            ends.append(at)
            whats.append(step.what)
            pauses.append(pause)
            pause = 0.0
            if at > FLAT_MAX_BYTES:
                return None
        elif isinstance(step, Wait) and step.scaled:
            pause += step.seconds
        else:
            return None
    if pause > 0:
        return None  # a pause after the last write
    paced = tuple(pauses) if any(p > 0 for p in pauses) else ()
    return b"".join(data), tuple(ends), tuple(whats), paced


def _cut(
    body: bytes, markers: Sequence[bytes]
) -> tuple[tuple[bytes, ...], tuple[int, ...]] | None:
    """``body`` cut around every marker, and which marker each gap was (None: two
    overlap)."""
    found: list[tuple[int, int]] = []
    for i, marker in enumerate(markers):
        at = body.find(marker)
        while at >= 0:
            found.append((at, i))
            at = body.find(marker, at + len(marker))
    found.sort()
    parts: list[bytes] = []
    order: list[int] = []
    start = 0
    for at, i in found:
        if at < start:
            return None
        parts.append(body[start:at])
        order.append(i)
        start = at + len(markers[i])
    parts.append(body[start:])
    return tuple(parts), tuple(order)


#: A key's flat not yet made (the key was never seen, or seen once).
MISSING: Final = object()


class Flats:
    """The flats made (or None: that stream cannot be one), least recently used first
    out, bounded in count and bytes; the keys seen once, bounded in count."""

    def __init__(self, count: int = FLAT_COUNT, budget: int = FLAT_BUDGET) -> None:
        self.count = count
        self.budget = budget
        self._kept: OrderedDict[Hashable, Kept] = OrderedDict()
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # a flat may be made in a worker thread
        self.reused = 0  # streams filled in from a flat kept before

    def get(self, key: Hashable) -> Kept | object:
        """What is kept for ``key``, or :data:`MISSING`."""
        with self._lock:
            kept = self._kept.get(key, MISSING)
            if kept is not MISSING:
                self._kept.move_to_end(key)
            return kept

    def seen(self, key: Hashable) -> bool:
        """Whether ``key`` was asked for before (it is noted if not)."""
        with self._lock:
            if key in self._seen:
                return True
            self._seen[key] = None
            if len(self._seen) > SEEN_COUNT:
                self._seen.popitem(last=False)
            return False

    def keep(self, key: Hashable, kept: Kept) -> None:
        with self._lock:
            self._seen.pop(key, None)
            if key in self._kept:
                return
            self._kept[key] = kept
            self._bytes += 0 if kept is None else kept[0].size
            while len(self._kept) > self.count or self._bytes > self.budget:
                _, gone = self._kept.popitem(last=False)
                self._bytes -= 0 if gone is None else gone[0].size

    def used(self) -> None:
        """Note a stream filled in from a flat."""
        self.reused += 1

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._seen.clear()
            self._bytes = 0


#: The process's flats (every server in it shares them: a key names its speaker).
FLATS: Final = Flats()
