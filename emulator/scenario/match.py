"""Choosing by what a request says: a scenario's (or a turn's) ``[match]``. Pure.

A :class:`Match` is a set of conditions on an :class:`~.asked.Asked` (the last
user message, the last tool result, the turn, the model, the tools, the system
prompt, a path into the JSON body). :func:`misses` says which conditions a
request fails, each as a :class:`Miss` (the field, what was expected, what the
request had): none is a match, and the fewest is the nearest. More conditions
win; two matches with as many are a tie, and :func:`provable_tie` finds, when
they are loaded, the ties a request could meet (a coin toss nobody asked for).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Final

import regex

from .asked import Asked
from .table import Table

__all__ = [
    "MATCH_FIELDS",
    "Match",
    "Miss",
    "RegexTimeout",
    "match_from_table",
    "misses",
    "provable_tie",
]


@dataclass(frozen=True, slots=True)
class Match:
    """Conditions a request must meet (None: not tested). See ``scenarios/README.md``."""

    #: The last user message is exactly this.
    user: str | None = None
    #: The last user message contains this.
    user_contains: str | None = None
    #: The last user message matches this regular expression (searched, with a time limit).
    user_regex: str | None = None
    #: The last message is a tool's result, for this tool ("*": any tool).
    tool_result: str | None = None
    #: The last message is the result of the call with this id.
    tool_call_id: str | None = None
    #: The request asks for this turn of its conversation (1: no answer of the model yet).
    turn: int | None = None
    #: ... for this turn or a later one.
    turn_from: int | None = None
    #: The request names this model.
    model: str | None = None
    #: The request offers a tool of this name.
    tool: str | None = None
    #: The request offers tools (true) or none (false).
    tools: bool | None = None
    #: The system prompt contains this.
    system_contains: str | None = None
    #: The request is the Nth (from 1) of its session that this sequence answers (the
    #: turns whose other conditions are the same): scripted answers, in order, to the
    #: same question (in ``[turns.match]`` only).
    nth: int | None = None
    #: (path, value): the JSON body has this value at this path (``$.metadata.user``).
    paths: tuple[tuple[str, Any], ...] = ()

    @property
    def specificity(self) -> int:
        """How many conditions it has (each path one): the more, the more specific."""
        return sum(f != "path" for f in self.tested) + len(self.paths)

    @property
    def tested(self) -> tuple[str, ...]:
        """The fields it tests, in their order."""
        return tuple(
            f
            for f in MATCH_FIELDS
            if (bool(self.paths) if f == "path" else getattr(self, f) is not None)
        )

    def describe(self) -> str:
        """Its conditions as a reader writes them: ``user_contains = 'weather', turn = 2``."""
        parts = [f"{f} = {_shown(getattr(self, f))}" for f in self.tested if f != "path"]
        parts += [f"path {p} = {_shown(v)}" for p, v in self.paths]
        return ", ".join(parts) or "anything"


#: Every field a match can test, in the order they are listed and tried.
MATCH_FIELDS: Final = (*(f.name for f in fields(Match) if f.name != "paths"), "path")


@dataclass(frozen=True, slots=True)
class Miss:
    """A condition a request failed: the field, what it expected, what the request had."""

    field: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected}, got {self.actual}"

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


class RegexTimeout(ValueError):
    """A match's regular expression took longer than its time limit on a message."""


def misses(match: Match, asked: Asked, timeout: float = 0.1, seen: int = 0) -> list[Miss]:
    """The conditions of ``match`` that ``asked`` fails (none: it matches); ``seen``: how
    many earlier requests of the session its sequence answered (for ``nth``)."""
    found: list[Miss] = []
    if match.nth is not None and seen + 1 != match.nth:
        found.append(Miss("nth", f"request {match.nth}", f"request {seen + 1}"))
    user = asked.last_user
    if match.user is not None and user != match.user:
        found.append(Miss("user", _shown(match.user), _shown(user)))
    if match.user_contains is not None and (user is None or match.user_contains not in user):
        found.append(Miss("user_contains", _shown(match.user_contains), _shown(user)))
    if match.user_regex is not None and not _searched(match.user_regex, user, timeout):
        found.append(Miss("user_regex", f"/{match.user_regex}/", _shown(user)))
    last = asked.last
    result = last if last is not None and last.role == "tool" else None
    if match.tool_result is not None and (
        result is None or match.tool_result not in ("*", result.tool)
    ):
        got = "no tool result" if result is None else f"a result for {result.tool or '?'!r}"
        found.append(Miss("tool_result", f"a result for {_shown(match.tool_result)}", got))
    if match.tool_call_id is not None and (result is None or result.call_id != match.tool_call_id):
        got = "no tool result" if result is None else _shown(result.call_id)
        found.append(Miss("tool_call_id", _shown(match.tool_call_id), got))
    turn = asked.turn
    if match.turn is not None and turn != match.turn:
        found.append(Miss("turn", str(match.turn), str(turn)))
    if match.turn_from is not None and turn < match.turn_from:
        found.append(Miss("turn_from", f"{match.turn_from} or later", str(turn)))
    if match.model is not None and asked.model != match.model:
        found.append(Miss("model", _shown(match.model), _shown(asked.model)))
    if match.tool is not None and match.tool not in asked.tools:
        found.append(Miss("tool", f"the tool {_shown(match.tool)} offered", _offered(asked)))
    if match.tools is not None and bool(asked.tools) != match.tools:
        found.append(Miss("tools", "tools" if match.tools else "no tools", _offered(asked)))
    if match.system_contains is not None and match.system_contains not in asked.system:
        found.append(Miss("system_contains", _shown(match.system_contains), _shown(asked.system)))
    for path, value in match.paths:
        there = _at(asked.body, _steps(path))
        if there is _ABSENT or not _same(there, value):
            got = "nothing there" if there is _ABSENT else _shown(there)
            found.append(Miss(f"path {path}", _shown(value), got))
    return found


def _searched(pattern: str, text: str | None, timeout: float) -> bool:
    if text is None:
        return False
    try:
        return _compiled(pattern).search(text, timeout=timeout) is not None
    except TimeoutError:
        raise RegexTimeout(
            f"user_regex {pattern[:80]!r} took longer than {timeout * 1000:.0f} ms on this "
            "message and was stopped; simplify the pattern (nested repetition backtracks)"
        ) from None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.VERSION0)


def _offered(asked: Asked) -> str:
    return "no tools" if not asked.tools else "tools " + ", ".join(map(repr, asked.tools[:8]))


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[:80]
    return repr(value[:77] + "..." if len(value) > 80 else value)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (1 == 1.0, but True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


# -- paths -------------------------------------------------------------------------

_ABSENT: Final = object()
_STEP: Final = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")


def _steps(path: str) -> tuple[str | int, ...]:
    return _parsed_path(path) or ()


@lru_cache(maxsize=256)
def _parsed_path(path: str) -> tuple[str | int, ...] | None:
    """``$.a.b[0]["c d"]`` as its steps (None: not such a path)."""
    rest = path[1:] if path.startswith("$") else "." + path
    steps: list[str | int] = []
    while rest:
        step = _STEP.match(rest)
        if step is None:
            return None
        key, index, quoted = step.groups()
        steps.append(int(index) if index is not None else key if key is not None else quoted)
        rest = rest[step.end() :]
    return tuple(steps) if steps else None


def _at(body: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(body, dict) and isinstance(step, str):
            if step not in body:
                return _ABSENT
            body = body[step]
        elif isinstance(body, list) and isinstance(step, int):
            if step >= len(body):
                return _ABSENT
            body = body[step]
        else:
            return _ABSENT
    return body


# -- reading ------------------------------------------------------------------------


def match_from_table(t: Table) -> Match:
    """A ``[match]`` table, each key checked (a bad regex or path names its key)."""
    user_regex = t.optional_str("user_regex")
    if user_regex is not None:
        try:
            _compiled(user_regex)
        except regex.error as exc:
            raise t.error("user_regex", f"is not a valid regular expression: {exc}") from None
    paths = t.table("path")
    for path in paths.data:
        if _parsed_path(path) is None:
            raise paths.error(
                repr(path), "is not a path such as '$.metadata.user' or '$.messages[0].role'"
            )
        paths.used.add(path)
    match = Match(
        user=t.optional_str("user"),
        user_contains=_nonempty(t, "user_contains"),
        user_regex=user_regex,
        tool_result=_nonempty(t, "tool_result"),
        tool_call_id=_nonempty(t, "tool_call_id"),
        turn=t.optional_int("turn", minimum=1),
        turn_from=t.optional_int("turn_from", minimum=1),
        model=_nonempty(t, "model"),
        tool=_nonempty(t, "tool"),
        tools=t.optional_bool("tools"),
        system_contains=_nonempty(t, "system_contains"),
        nth=t.optional_int("nth", minimum=1),
        paths=tuple(sorted(paths.data.items())),
    )
    t.finish()
    if match.turn is not None and match.turn_from is not None:
        raise t.error("turn_from", "give 'turn' (exactly) or 'turn_from' (and later), not both")
    if match.tools is False and match.tool is not None:
        raise t.error("tools", "a request with no tools cannot offer the tool 'tool' names")
    if not match.tested:
        raise t.error("", "is empty: give at least one condition (or leave [match] out)")
    return match


def _nonempty(t: Table, key: str) -> str | None:
    value = t.optional_str(key)
    if value == "":
        raise t.error(key, "must not be empty (leave it out to test nothing)")
    return value


# -- ties ---------------------------------------------------------------------------


def provable_tie(a: Match, b: Match) -> str | None:
    """When ``a`` and ``b`` are as specific and some request meets both: the fields they
    test, in words (None: no tie, or none this check can prove, such as two regular
    expressions, which a request reveals when it meets both)."""
    if a.specificity != b.specificity:
        return None
    for check in _FAMILIES:
        if not check(a, b):
            return None
    both = sorted(set(a.tested) | set(b.tested), key=MATCH_FIELDS.index)
    return ", ".join(both)


def _nth_family(a: Match, b: Match) -> bool:
    """Two matches for different requests of a sequence are never met by one request."""
    return a.nth is None or b.nth is None or a.nth == b.nth


def _user_family(a: Match, b: Match) -> bool:
    exact = {m.user for m in (a, b) if m.user is not None}
    contains = [m.user_contains for m in (a, b) if m.user_contains is not None]
    patterns = {m.user_regex for m in (a, b) if m.user_regex is not None}
    if len(exact) > 1:
        return False
    if exact:
        witness = next(iter(exact))
    elif contains:
        witness = max(contains, key=len)
    else:
        return len(patterns) <= 1  # two patterns: not provable here
    if not all(c in witness for c in contains):
        return False
    try:
        return all(_compiled(p).search(witness, timeout=0.05) for p in patterns)
    except TimeoutError:
        return False


def _turn_family(a: Match, b: Match) -> bool:
    exact = {m.turn for m in (a, b) if m.turn is not None}
    starts = [m.turn_from for m in (a, b) if m.turn_from is not None]
    if len(exact) > 1:
        return False
    return not exact or all(next(iter(exact)) >= s for s in starts)


def _result_family(a: Match, b: Match) -> bool:
    """A tool result comes after a call: a request asking for turn 1 carries none."""
    for x, y in ((a, b), (b, a)):
        if (x.tool_result is not None or x.tool_call_id is not None) and y.turn == 1:
            return False
    return True


def _equal_if_both(name: str, wildcard: str | None = None) -> Any:
    def check(a: Match, b: Match) -> bool:
        x, y = getattr(a, name), getattr(b, name)
        return x is None or y is None or x == y or (wildcard is not None and wildcard in (x, y))

    return check


def _tools_family(a: Match, b: Match) -> bool:
    offers = any(m.tool is not None for m in (a, b))
    return not (offers and any(m.tools is False for m in (a, b))) and _equal_if_both("tools")(a, b)


def _system_family(a: Match, b: Match) -> bool:
    x, y = a.system_contains, b.system_contains
    return x is None or y is None or x in y or y in x


def _paths_family(a: Match, b: Match) -> bool:
    ours = dict(a.paths)
    return all(p not in ours or _same(ours[p], v) for p, v in b.paths)


_FAMILIES: Final = (
    _nth_family,
    _user_family,
    _turn_family,
    _result_family,
    _equal_if_both("tool_result", "*"),
    _equal_if_both("tool_call_id"),
    _equal_if_both("model"),
    _tools_family,
    _system_family,
    _paths_family,
)
