"""Token budgets per session: what a scenario's ``[rate_limit]`` counts across requests.

Each budget is a fixed window (the APIs' per-minute limits): it starts with the first
request that spends from it and is whole again ``window`` seconds later. Bounded: at
most :data:`MAX_BUDGETS` budgets a session (the oldest forgotten first). Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from ..scenario import Budget, RateLimit

__all__ = ["MAX_BUDGETS", "Budget", "TokenBudgets"]

MAX_BUDGETS: Final = 256


class TokenBudgets:
    """The budgets of one session, by name (a scenario's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: OrderedDict[str, tuple[float, int]] = OrderedDict()  # name -> (start, used)

    def left(self, name: str, limit: RateLimit, now: float) -> Budget:
        with self._lock:
            start, used = self._current(name, limit, now)
        return Budget(limit.tokens, max(limit.tokens - used, 0), start + limit.window - now)

    def spend(self, name: str, limit: RateLimit, tokens: int, now: float) -> Budget:
        with self._lock:
            start, used = self._current(name, limit, now)
            used += tokens
            self._spent[name] = (start, used)
            self._spent.move_to_end(name)
            while len(self._spent) > MAX_BUDGETS:
                self._spent.popitem(last=False)
        return Budget(limit.tokens, max(limit.tokens - used, 0), start + limit.window - now)

    def _current(self, name: str, limit: RateLimit, now: float) -> tuple[float, int]:
        start, used = self._spent.get(name, (now, 0))
        if now - start >= limit.window:
            start, used = now, 0
        return start, used

    def clear(self) -> None:
        with self._lock:
            self._spent.clear()
