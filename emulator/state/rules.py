"""Choosing by prompt: ``[scenario:NAME]`` markers, and prompt rules (regular
expressions matched against a prompt, each naming a scenario).

Matched with the ``regex`` package, which can stop a match after a time
limit (``re`` cannot): a catastrophic pattern costs its author a 400, not
everyone else a stalled loop. Thread-safe; bounded by ``Limits``.
"""

from __future__ import annotations

import re
import threading
from typing import Final

import regex

from ..scenario import ANSWER, Scenario, ScenarioError
from ..scenario.parts import call_path, endpoints
from .config import Limits
from .journal import LimitError

__all__ = ["SCENARIO_MARKER", "RuleTimeoutError", "Rules", "login_effects", "reachable_by_prompt"]

#: A prompt containing ``[scenario:NAME]`` picks scenario NAME (for clients
#: that cannot add headers, such as the original provider).
SCENARIO_MARKER: Final = re.compile(r"\[scenario:([A-Za-z0-9_.\-]+)\]")


class RuleTimeoutError(ValueError):
    """A prompt rule took longer than its time limit on a prompt (and was stopped)."""

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern = pattern
        super().__init__(
            f"prompt rule {pattern[:80]!r} took longer than {seconds * 1000:.0f} ms on this "
            "prompt and was stopped; simplify the pattern (nested repetition backtracks)"
        )


class Rules:
    """The prompt rules of one session, tried in the order they were added."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._rules: list[tuple[regex.Pattern[str], Scenario]] = []

    @staticmethod
    def compile(pattern: str, limits: Limits) -> regex.Pattern[str]:
        if len(pattern) > limits.rule_chars:
            raise LimitError(f"a rule's pattern is at most {limits.rule_chars} characters")
        try:
            return regex.compile(pattern, regex.VERSION0)
        except regex.error as exc:
            raise ScenarioError(
                "<request>", "pattern", f"is not a valid regular expression: {exc}"
            ) from exc

    def add(self, compiled: regex.Pattern[str], scenario: Scenario) -> None:
        with self._lock:
            if len(self._rules) >= self.limits.rules:
                raise LimitError(f"at most {self.limits.rules} prompt rules can be set")
            self._rules.append((compiled, scenario))

    def listing(self) -> list[tuple[str, str]]:
        """(pattern, scenario name) of each rule, in the order they are tried."""
        with self._lock:
            return [(pattern.pattern, scenario.name) for pattern, scenario in self._rules]

    def remove(self, pattern: str | None = None) -> int:
        """Remove the rules with this pattern (None: all of them); how many went."""
        with self._lock:
            before = len(self._rules)
            if not before:
                return 0
            self._rules = [
                r for r in self._rules if pattern is not None and r[0].pattern != pattern
            ]
            return before - len(self._rules)

    def match(self, prompt: str) -> tuple[str, Scenario] | None:
        """The first rule matching ``prompt``: (its pattern, its scenario).

        Each runs with ``limits.rule_seconds``, outside the lock
        (:class:`RuleTimeoutError` when one takes longer).
        """
        with self._lock:
            rules = list(self._rules)
        seconds = self.limits.rule_seconds
        for pattern, scenario in rules:
            try:
                if pattern.search(prompt, timeout=seconds):
                    return pattern.pattern, scenario
            except TimeoutError:
                raise RuleTimeoutError(pattern.pattern, seconds) from None
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)


def login_effects(scenario: Scenario) -> list[str]:
    """What ``scenario`` does to the calls before the answer (FakeGpt's loads, login and
    session), in words."""
    effects = [
        f"HTTP {e.status} on {call_path(e.endpoint)}"
        for e in scenario.http_errors
        if e.endpoint != ANSWER
    ]
    for part in scenario.parts:
        effects += part.effects()
    transport = scenario.transport
    if transport.shapes:  # on the calls listed (none listed: on every call)
        calls = transport.endpoints or endpoints()
        effects += [f"network faults on {call_path(c)}" for c in calls if c != ANSWER]
    return effects


def reachable_by_prompt(scenario: Scenario, chosen_by: str) -> Scenario:
    """``scenario``, unless what it does happens where a prompt cannot reach.

    A prompt is seen only by ``/api/conversation``, after the login calls:
    a scenario acting on those would be logged as applied and do nothing.
    """
    effects = login_effects(scenario)
    if effects:
        raise ScenarioError(
            "<request>",
            "scenario",
            f"{chosen_by} chose {scenario.name!r}, which acts on the login calls "
            f"({', '.join(effects)}) that come before the prompt is seen; choose it with the "
            "X-Emulator-Scenario header, the admin API or the queue instead",
        )
    return scenario
