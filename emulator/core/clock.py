"""Time, injected: every sleep and timestamp of a served answer goes through a :class:`Clock`.

:class:`RealClock` (the default) is the event loop's own time and the wall
clock. :class:`VirtualClock` moves only when something sleeps on it: a
scripted 20 s stall takes no wall time, and the times the emulator notes (a
transcript's, an ending's, an event's timestamp) are those of the script,
exactly. It suits tests of the emulator's own timing and clients that take
the same clock; a client that times out on real time sees no stall on it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Final, Protocol

__all__ = ["REAL_CLOCK", "Clock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    """Where a server's answers take their time from."""

    def time(self) -> float:
        """Seconds on a monotonic clock (a deadline's and a duration's measure)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (the timestamps that go into events)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return ``seconds`` from now (at once for zero or less, after a loop turn)."""
        ...


class RealClock:
    """The running event loop's time, the wall clock and ``asyncio.sleep``."""

    def time(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


#: The clock of every server that is given none.
REAL_CLOCK: Final = RealClock()


class VirtualClock:
    """Time that passes only as fast as it is slept on.

    A sleeper waits a loop turn, and once its deadline is the earliest of all
    those asleep on this clock, the clock jumps to it and it wakes: sleepers
    wake in deadline order, and the time each sees is its deadline. Real I/O
    keeps its real pace meanwhile (a loop turn each).
    """

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self._now = start
        self._epoch = epoch - start
        self._asleep: list[tuple[float, int]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + self._now

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (as if that much time passed idle)."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        entry = (self._now + max(0.0, seconds), next(self._order))
        heapq.heappush(self._asleep, entry)
        try:
            while True:
                await asyncio.sleep(0)
                if self._asleep[0] == entry:
                    self._now = max(self._now, entry[0])
                    return
        finally:
            self._asleep.remove(entry)
            heapq.heapify(self._asleep)
