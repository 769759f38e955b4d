"""Fixtures written for another mock, imported as one scenario: each fixture a turn.

``python -m emulator import FILE`` recognizes, by content, aimock's fixture JSON,
mock-llm's YAML config, llmposter's YAML fixtures and VidaiMock's provider YAML (with
its template) or a template alone (:mod:`.fixture_formats` reads each). Every fixture
becomes a ``[[turns]]`` entry: its conditions a ``[turns.match]``, its answer a
``[turns.reply]`` (text, tool calls, reasoning) or a ``[[turns.http_errors]]``, its
pacing and cuts ``[turns.timing]``, ``[turns.reply]`` and ``[[turns.faults]]``. What has
no equivalent is named, fixture and key, in :attr:`Imported.dropped`: never silently
left out.

The other mocks answer with the first fixture that fits (mock-llm: the last); here the
most specific turn wins. So a fixture that another, answered before it, always answers
first is dropped (and named); where a request could fit two, the one answered first
gets one condition more that every request meets (``turn_from = 1``), so it wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..scenario import Scenario, ScenarioError, scenario_from_dict
from ..scenario.dump import toml_value
from ..scenario.match import Match, provable_tie
from ..scenario.turns import MAX_TURNS

__all__ = [
    "ANYTHING",
    "CHAT_PATH",
    "Fixture",
    "Imported",
    "calls_reply",
    "chat_answer",
    "error_tables",
    "fixture_scenario",
    "paced",
    "scenario_toml",
]

#: Conditions every request meets: what a catch-all fixture matches on.
ANYTHING: Final[Mapping[str, Any]] = {"turn_from": 1}


@dataclass
class Fixture:
    """One fixture of another mock, as a turn: where it is in its file (``label``), its
    ``[turns.match]`` and the turn's other tables; ``dropped``, what it says that has no
    equivalent here."""

    label: str
    match: dict[str, Any]
    tables: dict[str, Any]
    dropped: list[str] = field(default_factory=list)

    def drop(self, key: str, why: str) -> None:
        self.dropped.append(f"{self.label}: {key}: {why}")


@dataclass
class Imported:
    """A file of another mock's fixtures, as a scenario: which mock wrote it, the scenario
    (its table too, to write as TOML), and what was left out, each with why."""

    tool: str
    scenario: Scenario
    table: dict[str, Any]
    dropped: list[str]


def calls_reply(calls: list[Any], fixture: Fixture, key: str) -> dict[str, Any]:
    """A reply of tool calls (each ``name`` and ``arguments``, an object or JSON text)."""
    made = []
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            fixture.drop(f"{key}[{i}]", "a call without a name")
            continue
        arguments = call.get("arguments", {})
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        made.append((call["name"], text))
        if "id" in call:
            fixture.drop(f"{key}[{i}].id", "a call's id is made by each API, not scripted")
    if not made:
        return {}
    first, *rest = made
    reply: dict[str, Any] = {"tool": first[0], "text": first[1]}
    if rest:
        reply["calls"] = [{"tool": t, "arguments": a} for t, a in rest]
    return reply


def error_tables(fixture: Fixture, status: Any, message: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"endpoint": "conversation", "status": 500}
    if isinstance(status, int) and 400 <= status <= 599:
        error["status"] = status
    elif status is not None:
        fixture.drop("status", f"{status!r} is not an HTTP error status: 500 served")
    if isinstance(message, str) and message:
        error["detail"] = message
    return {"http_errors": [error]}


#: The path whose answers the other mocks' fixtures give (the others' are left out).
CHAT_PATH: Final = "/v1/chat/completions"


def paced(fixture: Fixture, size: Any, interval_ms: Any) -> None:
    """A fixture's chunking and pace, as another mock says them: ``size`` characters a
    chunk (a tool call is not cut so), ``interval_ms`` between two."""
    reply = fixture.tables.get("reply")
    if isinstance(size, int) and size > 0 and reply is not None and "tool" not in reply:
        reply.update(cut="char", cut_size=size)
    if isinstance(interval_ms, (int, float)) and interval_ms > 0:
        fixture.tables["timing"] = {"tokens_per_second": round(1000 / interval_ms, 3)}


def chat_answer(body: Any, fixture: Fixture, key: str) -> None:
    """A Chat Completions body's answer as the fixture's reply: ``choices[0].message``'s
    content or tool calls (each ``function``), and a ``length`` finish."""
    choices = body.get("choices") if isinstance(body, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    message = message if isinstance(message, dict) else {}
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        made = [c.get("function", {}) for c in calls if isinstance(c, dict)]
        fixture.tables["reply"] = calls_reply(made, fixture, f"{key}.tool_calls")
    elif isinstance(message.get("content"), str):
        fixture.tables["reply"] = {"text": message["content"]}
    else:
        fixture.drop(key, "has no choices[0].message content or tool calls")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        fixture.tables["wire"] = {"finish_type": "max_tokens"}


def fixture_scenario(
    tool: str, fixtures: list[Fixture], source: str, name: str, *, last_wins: bool = False
) -> Imported:
    """The scenario that answers as ``fixtures`` do (``last_wins``: the later of two that
    fit answers, as mock-llm's rules do); a :class:`ScenarioError` naming the file when
    none can be imported."""
    dropped = [d for f in fixtures for d in f.dropped]
    kept = [f for f in fixtures if f.tables]  # a fixture with no answer is named in dropped
    if len(kept) > MAX_TURNS:
        dropped += [f"{f.label}: more than {MAX_TURNS} fixtures in one file: left out"
                    for f in kept[MAX_TURNS:]]  # fmt: skip
        kept = kept[:MAX_TURNS]
    served: list[Fixture] = []
    for f in reversed(kept) if last_wins else kept:  # the one answered first, first
        first = next((g for g in served if _implies(f.match, g.match)), None)
        if first is not None:
            dropped.append(f"{f.label}: never answered: {first.label} answers every request "
                           f"it fits first, as {tool} does")  # fmt: skip
            continue
        served.append(f)
    dropped += _untied(served, tool)
    if not served:
        raise ScenarioError(source, "", f"has no {tool} fixture that can be imported: "
                            + ("; ".join(dropped) or "none found"))  # fmt: skip
    ordered = [f for f in kept if any(f is g for g in served)]
    table: dict[str, Any] = {
        "description": f"Imported from {tool}'s fixtures in {source}: {_count(ordered, 'fixture')}"
        ", each a turn chosen by what its request says.",
        "turns": [{"description": f.label, "match": f.match, **f.tables} for f in ordered],
    }
    scenario = scenario_from_dict(table, name=name, source=source)
    return Imported(tool, scenario, table, dropped)


def scenario_toml(table: Mapping[str, Any]) -> str:
    """The scenario ``table`` as a TOML file (what :func:`fixture_scenario` makes: top
    keys, then each turn's own tables)."""
    lines = [f"{key} = {toml_value(value)}" for key, value in table.items() if key != "turns"]
    for turn in table.get("turns", []):
        lines += ["", "[[turns]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in turn.items() if not _nested(v)]
        for key, value in turn.items():
            if isinstance(value, dict):
                lines += ["", f"[turns.{key}]", *_table_lines(value)]
            elif _nested(value):
                for each in value:
                    lines += ["", f"[[turns.{key}]]", *_table_lines(each)]
    return "\n".join(lines) + "\n"


def _nested(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


def _table_lines(table: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {toml_value(value)}" for key, value in table.items()]


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _untied(served: list[Fixture], tool: str) -> list[str]:
    """Break the ties a request could meet between ``served`` (first answered first) as
    the other mock breaks them: the one answered first gets one condition more that
    every request meets (``turn_from = 1``); a tie that remains drops the later one."""
    dropped: list[str] = []
    i = 0
    while i < len(served):
        later = served[i]
        for first in served[:i]:
            if provable_tie(_match_of(first.match), _match_of(later.match)) is None:
                continue
            if not {"turn", "turn_from"} & set(first.match):
                first.match = {**first.match, **ANYTHING}
                i = -1  # its ties with the others again, from the start
                break
            served.pop(i)
            dropped.append(f"{later.label}: left out: a request can fit both it and "
                           f"{first.label}, which {tool} answers first, and no condition "
                           "tells them apart here: give it one the other lacks")  # fmt: skip
            i -= 1
            break
        i += 1
    return dropped


def _implies(later: Mapping[str, Any], first: Mapping[str, Any]) -> bool:
    """Whether every request that meets ``later``'s conditions meets ``first``'s (so
    ``first``, answered first, always answers it)."""
    for key, value in first.items():
        if key == "turn_from":
            if value > max(later.get("turn_from", 1), later.get("turn", 1)):
                return False
        elif key == "user_contains":
            text = later.get("user", later.get("user_contains"))
            if not isinstance(text, str) or value not in text:
                return False
        elif key == "path":
            if any(later.get("path", {}).get(p, _UNSET) != v for p, v in value.items()):
                return False
        elif later.get(key, _UNSET) != value:
            return False
    return True


_UNSET: Final = object()


def _match_of(conditions: Mapping[str, Any]) -> Match:
    """The :class:`Match` a ``[turns.match]`` table says (its ``path`` table as paths)."""
    given = {k: v for k, v in conditions.items() if k != "path"}
    return Match(**given, paths=tuple(sorted(conditions.get("path", {}).items())))
