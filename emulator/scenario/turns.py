"""A scenario's ``[[turns]]``: a scripted conversation, one table a request. Pure.

Each turn is the scenario's own tables with the turn's laid over them (a
turn's ``[turns.reply]`` replaces the scenario's ``[reply]`` whole), and a
``[turns.match]`` saying which request it answers; a turn without one answers
its place in the conversation (the first turn, turn 1; and so on). Two turns
a request could meet equally are refused here, when the file is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from .match import Match, match_from_table, provable_tie
from .model import ScenarioError
from .table import Table

__all__ = ["MAX_TURNS", "TURN_KEYS", "check_ties", "turn_tables"]

#: At most this many turns in a scenario.
MAX_TURNS: Final = 100
#: What a turn may set, laid over the scenario's own tables of the same names.
TURN_KEYS: Final = (
    "description",
    "reply",
    "timing",
    "wire",
    "faults",
    "http_errors",
    "transport",
    "recording",
    "expect",
)


def turn_tables(top: Table) -> list[tuple[Table, Match, dict[str, Any]]]:
    """Each turn of ``top``'s ``[[turns]]``: its table, its match, and the scenario's
    data with the turn's laid over it (to read as a scenario of its own)."""
    base = {k: v for k, v in top.data.items() if k not in ("turns", "match", "name")}
    turns = []
    for i, t in enumerate(top.tables("turns", limit=MAX_TURNS)):
        match = match_from_table(t.table("match")) if "match" in t.data else Match(turn=i + 1)
        for key in t.data:
            if key != "match" and key not in TURN_KEYS:
                raise t.error(key, f"a turn sets only {', '.join(('match', *TURN_KEYS))}")
            t.used.add(key)
        data = {**base, **{k: v for k, v in t.data.items() if k != "match"}}
        if "recording" in t.data:
            data.pop("reply", None)
        if "reply" in t.data:
            data.pop("recording", None)
        if "description" not in t.data:
            data["description"] = f"{top.data.get('description', '')} (turn {i + 1})".strip()
        turns.append((t, match, data))
    if "turns" in top.data and not turns:
        raise top.error("turns", "is empty: give at least one [[turns]] table")
    return turns


def check_ties(named: Iterable[tuple[str, Match, str]], key: str) -> None:
    """Refuse two matches (each with a name, ``turns[1]`` or a scenario's, and the file it
    is in) that a request could meet equally; the error names the later one's file and
    key (``key`` with ``{name}`` filled in), both names and the fields they test."""
    seen: list[tuple[str, Match]] = []
    for name, match, source in named:
        for other, earlier in seen:
            fields = provable_tie(earlier, match)
            if fields is not None:
                raise ScenarioError(
                    source,
                    key.format(name=name),
                    f"{name} ties with {other}: both test {match.specificity} condition(s) "
                    f"({fields}) and a request can meet both ({earlier.describe()}; "
                    f"{match.describe()}); add a condition to the one that should win, or "
                    "change a value so no request meets both",
                )
        seen.append((name, match))
