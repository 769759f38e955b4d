"""``python -m emulator check``: every problem in a folder of scenario files, not just the first. Pure.

Parsing (:mod:`emulator.scenario`) rejects what is malformed: a wrong type,
an unknown key. This module also looks for what is well-formed but cannot
mean what its author wanted: a fault placed past the last event, an
expected error no client raises, an HTTP error on a call that never comes,
keys that contradict each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from .load import load_scenario
from .model import MAX_REPLY_CHARS, Scenario, ScenarioError
from .text import call_events, cut_points, reply_text

__all__ = ["check_folder", "meaning_problems"]

#: An ``on_call`` past this is a call no test makes.
MAX_PLAUSIBLE_CALL: Final = 1000


def check_folder(folder: str | Path) -> tuple[dict[str, Scenario], list[str]]:
    """Every ``*.toml`` in ``folder`` read; the valid ones, and one line per problem found."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, [f"{folder}: is not a folder of scenario files"]
    scenarios: dict[str, Scenario] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            problems.append(str(exc))
            continue
        scenarios[path.stem] = scenario
        problems += [f"{path}: [{key}] {problem}" for key, problem in meaning_problems(scenario)]
    return scenarios, problems


def meaning_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """(key, problem) for each thing in ``scenario`` that cannot do what it says."""
    found: list[tuple[str, str]] = []
    for part in scenario.parts:
        found += part.problems(bool(scenario.faults), scenario.expect.outcome == "reply")
    if scenario.timing.jitter and not scenario.timing.tokens_per_second:
        found.append(("timing.jitter", "does nothing without timing.tokens_per_second"))
    seen: set[tuple[str, int]] = set()
    for i, error in enumerate(scenario.http_errors):
        key = f"http_errors[{i}]"
        if error.on_call > MAX_PLAUSIBLE_CALL:
            found.append((f"{key}.on_call", f"{error.on_call} is past any plausible call count"))
        if (error.endpoint, error.on_call) in seen or (error.endpoint, 0) in seen:
            found.append((key, "never answers: an earlier entry already covers that call"))
        seen.add((error.endpoint, error.on_call))
    reply = scenario.reply
    if reply.echo or not scenario.streams:
        return found  # the events depend on the prompt, or there are none
    base = len(reply.text or "") if not reply.faker_sentences else 0
    if base * reply.repeat > MAX_REPLY_CHARS:
        return found  # refused when parsed
    ends = cut_points(reply_text(reply, ""), reply.cut, reply.cut_size)
    # 0: the empty first message, then one per snapshot, the calls' events, the final
    last = len(ends) + len(call_events(reply)) + 1
    for i, fault in enumerate(scenario.faults):
        if fault.at > last:
            found.append(
                (
                    f"faults[{i}].at",
                    f"{fault.at} is past the last message event ({last}); "
                    "use -1 for after the last one",
                )
            )
    return found
