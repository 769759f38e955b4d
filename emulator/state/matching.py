"""Choosing by what a request says: among the scenarios with a ``[match]``, and the turn
of a scripted conversation (``[[turns]]``).

The most specific match wins (the most conditions met). Ties a request could
meet are refused when the scenarios are loaded (:func:`check_pool`); a tie
only a request reveals (two regular expressions, two substrings both there)
is refused for that request, naming both. A request no turn of its scenario
matches gets the nearest turns and why each failed (:class:`NoTurnError`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ..scenario import Scenario
from ..scenario.asked import Asked, Message
from ..scenario.match import Match, Miss, RegexTimeout, misses
from ..scenario.turns import check_ties

__all__ = [
    "Near",
    "NoTurnError",
    "NthCounts",
    "TieError",
    "check_pool",
    "chosen_by_match",
    "closing_turn",
    "nearest_text",
    "opening_turn",
    "turn_of",
]

_T = TypeVar("_T")
#: How many of the nearest candidates a diagnosis names.
NEAREST: Final = 3
#: How many sequences (``nth``) a session counts requests for.
MOST_SEQUENCES: Final = 1024


@dataclass(frozen=True, slots=True)
class Near:
    """A candidate a request did not match, and the conditions it failed."""

    name: str
    misses: tuple[Miss, ...]

    def __str__(self) -> str:
        return f"{self.name} ({'; '.join(map(str, self.misses))})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "misses": [m.to_dict() for m in self.misses]}


class TieError(ValueError):
    """A request meets two matches equally (a tie the load-time check could not prove)."""

    def __init__(self, first: str, second: str, match: Match) -> None:
        self.names = (first, second)
        super().__init__(
            f"this request meets {first} and {second} equally ({match.specificity} "
            "condition(s) each); add a condition to the one that should win"
        )


class NoTurnError(LookupError):
    """No turn of a scenario matches the request: the nearest turns, and why."""

    def __init__(self, scenario: Scenario, near: tuple[Near, ...], asked: Asked) -> None:
        self.scenario = scenario
        self.near = near
        super().__init__(
            f"no turn of scenario {scenario.name!r} matches this request (turn {asked.turn}, "
            f"last message {_last(asked)}); nearest: {nearest_text(near)}"
        )


def nearest_text(near: Iterable[Near]) -> str:
    return "; ".join(f"{n}" for n in near) or "none"


def _last(asked: Asked) -> str:
    last = asked.last
    if last is None:
        return "none"
    if last.role == "tool":
        return f"a result for {last.tool or last.call_id or '?'!r}"
    return f"from the {last.role}"


def best(
    candidates: Sequence[tuple[str, Match, _T]],
    asked: Asked,
    timeout: float,
    seen: Callable[[Match], int] = lambda match: 0,
) -> tuple[tuple[str, _T] | None, tuple[Near, ...]]:
    """The most specific candidate ``asked`` matches (None: none does), and the nearest
    of those it does not (fewest conditions failed first); ``seen``: how many earlier
    requests a match's sequence (for ``nth``) answered."""
    winner: tuple[str, Match, _T] | None = None
    tie: str | None = None
    near: list[tuple[int, int, Near]] = []
    for name, match, value in candidates:
        failed = misses(match, asked, timeout, seen(match) if match.nth is not None else 0)
        if failed:
            near.append((len(failed), -match.specificity, Near(name, tuple(failed))))
        elif winner is None or match.specificity > winner[1].specificity:
            winner, tie = (name, match, value), None
        elif match.specificity == winner[1].specificity:
            tie = name
    if winner is not None and tie is not None:
        raise TieError(winner[0], tie, winner[1])
    near.sort(key=lambda n: n[:2])
    nearest = tuple(n for _, _, n in near[:NEAREST])
    return (None if winner is None else (winner[0], winner[2])), nearest


def chosen_by_match(
    pool: Sequence[Scenario], asked: Asked, timeout: float
) -> tuple[Scenario | None, tuple[Near, ...]]:
    """The scenario of ``pool`` (each with a match) that ``asked`` matches best."""
    candidates = [(f"scenario {s.name!r}", s.match, s) for s in pool if s.match is not None]
    found, near = best(candidates, asked, timeout)
    return (None if found is None else found[1]), near


def turn_of(
    scenario: Scenario, asked: Asked, timeout: float, counts: NthCounts | None = None
) -> tuple[Scenario, int]:
    """The turn of ``scenario`` that answers ``asked`` and its number (from 1); the
    scenario itself and 0 when it has no turns. :class:`NoTurnError` when none matches.
    ``counts``: how many requests of the session each sequence of turns (the same
    conditions, each turn its own ``nth``) answered so far (None: none); a request one of
    them answers is counted."""
    if not scenario.turns:
        return scenario, 0
    candidates = [(f"turn {i}", t.match, i) for i, t in enumerate(scenario.turns, 1)]
    if counts is None:
        found, near = best(candidates, asked, timeout)
    else:
        found, near = best(candidates, asked, timeout,
                           lambda m: counts.seen(scenario.name, m))  # fmt: skip
    if found is None:
        raise NoTurnError(scenario, near, asked)
    chosen = scenario.turns[found[1] - 1]
    if counts is not None and chosen.match.nth is not None:
        counts.count(scenario.name, chosen.match)
    return chosen.scenario, found[1]


def _unsequenced(match: Match) -> Match:
    return dataclasses.replace(match, nth=None)


class NthCounts:
    """How many requests of a session each sequence of turns answered (turns whose
    matches are the same but for ``nth``), by scenario: at most :data:`MOST_SEQUENCES`
    sequences, the oldest forgotten first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def seen(self, scenario: str, match: Match) -> int:
        with self._lock:
            return self._counts.get((scenario, repr(_unsequenced(match))), 0)

    def count(self, scenario: str, match: Match) -> None:
        """One more request answered by the sequence ``match`` (a turn's) is one of."""
        key = (scenario, repr(_unsequenced(match)))
        with self._lock:
            self._counts[key] = self._counts.pop(key, 0) + 1
            while len(self._counts) > MOST_SEQUENCES:
                del self._counts[next(iter(self._counts))]

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


def opening_turn(scenario: Scenario, prompt: str) -> Scenario:
    """What a conversation's first request (one user message, ``prompt``) gets of
    ``scenario``: the turn that answers it (the scenario itself without turns, or when
    no turn answers a first request). What the conformance kit judges a client by."""
    try:
        return turn_of(scenario, Asked((Message("user", prompt),)), 0.1)[0]
    except (NoTurnError, TieError, RegexTimeout):
        return scenario


def closing_turn(scenario: Scenario) -> Scenario:
    """Where a scripted conversation ends: its last turn (the scenario itself without
    turns). What the conformance kit judges a client that runs the loop by."""
    return scenario.turns[-1].scenario if scenario.turns else scenario


def check_pool(scenarios: Iterable[Scenario]) -> None:
    """Refuse scenarios with matches a request could meet equally (naming both)."""
    check_ties(
        ((f"scenario {s.name!r} ({s.source})", s.match, s.source)
         for s in scenarios if s.match is not None),
        "match",
    )  # fmt: skip
