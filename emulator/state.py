"""What a running emulator remembers: scenarios, selection, call counts, the journal.

Thread-safe: the pytest plugin runs the server in a thread of its own and the
test changes the scenario or reads the journal from the test's thread.

Two ways in, kept apart: Python callers (:meth:`EmulatorState.resolve`) may
give a scenario as a name, a file path, a dict or a value; what arrives over
HTTP (:meth:`EmulatorState.named`: the scenario header, a prompt marker, the
admin API) may only *name* a known scenario, so no request can make the
emulator read a file. Every store that requests can grow has a cap in count
(and in bytes where entries vary in size): :class:`~emulator.config.Limits`.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import regex

from .config import LIMITS, Limits
from .journal import Call, CallList, Journal, LimitError
from .metrics import Metrics
from .scenario import Endpoint, Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = [
    "SCENARIO_HEADER",
    "SCENARIO_MARKER",
    "SCENARIO_NAME",
    "Call",
    "CallList",
    "EmulatorState",
    "LimitError",
    "RuleTimeoutError",
    "ScenarioRef",
    "login_effects",
]

#: Request header that picks the scenario for one request.
SCENARIO_HEADER: Final = "X-Emulator-Scenario"
#: A prompt containing ``[scenario:NAME]`` picks scenario NAME (for clients
#: that cannot add headers, such as the original provider).
SCENARIO_MARKER: Final = re.compile(r"\[scenario:([A-Za-z0-9_.\-]+)\]")
#: A name that a marker can carry (and a scenario registered over HTTP must have).
SCENARIO_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

ScenarioRef = str | Path | Scenario | Mapping[str, Any]


class RuleTimeoutError(ValueError):
    """A prompt rule took longer than its time limit on a prompt (and was stopped)."""

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern = pattern
        super().__init__(
            f"prompt rule {pattern[:80]!r} took longer than {seconds * 1000:.0f} ms on this "
            "prompt and was stopped; simplify the pattern (nested repetition backtracks)"
        )


class EmulatorState:
    """Scenario selection, per-scenario call counters and the request journal."""

    def __init__(
        self,
        scenarios: Mapping[str, Scenario],
        default: ScenarioRef,
        *,
        limits: Limits = LIMITS,
    ) -> None:
        self.limits = limits
        self._lock = threading.RLock()
        self.scenarios: dict[str, Scenario] = dict(scenarios)
        self._registered: dict[str, Scenario] = {}
        self.default = self.resolve(default)
        self._active: Scenario | None = None
        #: Queued scenarios, each with whether it served a call yet.
        self._queue: deque[_Queued] = deque()
        self._rules: list[tuple[regex.Pattern[str], Scenario]] = []
        self._counters: dict[tuple[str, str], int] = {}
        self.journal = Journal(limits)
        #: What this server did since it started (not reset by reset()).
        self.metrics = Metrics()
        #: Exceptions raised inside handlers (bugs, or hostile input not handled);
        #: the newest ``limits.problems`` of them.
        self.problems: deque[str] = deque(maxlen=limits.problems)
        #: Requests that matched no route (the newest ``limits.problems``).
        self.unmatched: deque[str] = deque(maxlen=limits.problems)

    # -- choosing ------------------------------------------------------------

    def resolve(self, ref: ScenarioRef) -> Scenario:
        """A scenario from a name, a file path, a dict, or a scenario itself (Python callers)."""
        if isinstance(ref, Scenario):
            return ref
        if isinstance(ref, Mapping):
            return scenario_from_dict(ref, source="<dict>")
        if isinstance(ref, Path) or (isinstance(ref, str) and ref.endswith(".toml")):
            return load_scenario(ref)
        return self.named(ref)

    def named(self, name: str) -> Scenario:
        """The known scenario called ``name``: all that a request may choose.

        Never a file: a path, existing or not, is answered as any unknown name.
        """
        with self._lock:
            found = self._registered.get(name) or self.scenarios.get(name)
            known = sorted({*self.scenarios, *self._registered}) if found is None else ()
        if found is None:
            raise ScenarioError(
                "<request>",
                "scenario",
                f"no scenario named {name[:80]!r} (known: {', '.join(known) or 'none'})",
            )
        return found

    def register(self, name: str, data: Mapping[str, Any]) -> Scenario:
        """Make a scenario given as a table (over the admin API) known by ``name``."""
        scenario = scenario_from_dict(data, name=name, source=f"<registered {name[:80]}>")
        with self._lock:
            if name not in self._registered and len(self._registered) >= self.limits.registered:
                raise LimitError(
                    f"at most {self.limits.registered} scenarios can be registered; "
                    "reset the emulator or use a folder of scenario files"
                )
            self._registered[name] = scenario
        return scenario

    @property
    def known(self) -> dict[str, Scenario]:
        """Every scenario a request may name: the loaded ones, then those registered."""
        with self._lock:
            return {**self.scenarios, **self._registered}

    @property
    def active(self) -> Scenario:
        with self._lock:
            return self._active or self.default

    def use(self, ref: ScenarioRef) -> Scenario:
        scenario = self.resolve(ref)
        with self._lock:
            self._active = scenario
        return scenario

    def enqueue(self, refs: Iterable[ScenarioRef]) -> list[Scenario]:
        scenarios = [self.resolve(r) for r in refs]
        with self._lock:
            if len(self._queue) + len(scenarios) > self.limits.queue:
                raise LimitError(
                    f"the queue holds at most {self.limits.queue} scenarios "
                    f"({len(self._queue)} queued, {len(scenarios)} more asked for)"
                )
            self._queue.extend(_Queued(s) for s in scenarios)
        return scenarios

    @property
    def queued(self) -> list[Scenario]:
        with self._lock:
            return [q.scenario for q in self._queue]

    @property
    def unused(self) -> list[Scenario]:
        """Queued scenarios that have not served any call yet."""
        with self._lock:
            return [q.scenario for q in self._queue if not q.served]

    def add_rule(self, pattern: str, ref: ScenarioRef) -> None:
        if len(pattern) > self.limits.rule_chars:
            raise LimitError(f"a rule's pattern is at most {self.limits.rule_chars} characters")
        try:
            compiled = regex.compile(pattern, regex.VERSION0)
        except regex.error as exc:
            raise ScenarioError(
                "<request>", "pattern", f"is not a valid regular expression: {exc}"
            ) from exc
        scenario = self.resolve(ref)
        with self._lock:
            if len(self._rules) >= self.limits.rules:
                raise LimitError(f"at most {self.limits.rules} prompt rules can be set")
            self._rules.append((compiled, scenario))

    @property
    def rules(self) -> list[tuple[str, str]]:
        """The prompt rules, in the order they are tried: (pattern, scenario name)."""
        with self._lock:
            return [(pattern.pattern, scenario.name) for pattern, scenario in self._rules]

    def remove_rules(self, pattern: str | None = None) -> int:
        """Remove the rules with this pattern (None: all of them); how many went."""
        with self._lock:
            before = len(self._rules)
            self._rules = [
                r for r in self._rules if pattern is not None and r[0].pattern != pattern
            ]
            return before - len(self._rules)

    def select(self, endpoint: Endpoint, header: str | None, prompt: str | None) -> Scenario:
        """The scenario for one request (see :meth:`choose`)."""
        return self.choose(endpoint, header, prompt)[0]

    def choose(
        self, endpoint: Endpoint, header: str | None, prompt: str | None
    ) -> tuple[Scenario, str]:
        """The scenario for one request, and why it was chosen (for the journal).

        Order: the ``X-Emulator-Scenario`` header, a ``[scenario:NAME]`` marker
        in the prompt, the first matching prompt rule, the queue (consumed by
        ``/api/conversation``, only looked at by the other endpoints), the
        scenario set with :meth:`use`, the server's default. Header and marker
        only name known scenarios; each rule runs with a time limit, outside
        the lock (:class:`RuleTimeoutError` when one takes too long).
        """
        if header:
            return self.named(header), "the X-Emulator-Scenario header"
        if prompt is not None:
            marker = SCENARIO_MARKER.search(prompt)
            if marker:
                chosen = "a [scenario:] marker"
                return _reachable_by_prompt(self.named(marker.group(1)), chosen), chosen
            with self._lock:
                rules = list(self._rules)
            seconds = self.limits.rule_seconds
            for pattern, scenario in rules:
                try:
                    if pattern.search(prompt, timeout=seconds):
                        chosen = f"the rule {pattern.pattern[:40]!r}"
                        return _reachable_by_prompt(scenario, chosen), chosen
                except TimeoutError:
                    raise RuleTimeoutError(pattern.pattern, seconds) from None
        with self._lock:
            if self._queue:
                # The conversation takes the head; the login calls before it
                # only look at it (it serves them too, so it counts as used).
                if endpoint == "conversation":
                    return self._queue.popleft().scenario, "the queue"
                head = self._queue[0]
                head.served = True
                return head.scenario, "the queue (its head, not taken)"
            if self._active is not None:
                return self._active, "the active scenario"
            return self.default, "the default"

    def next_call(self, scenario: Scenario, endpoint: Endpoint) -> int:
        """Count a call to ``endpoint`` under ``scenario``; returns 1 for the first."""
        key = (scenario.name, endpoint)
        with self._lock:
            self._counters[key] = n = self._counters.get(key, 0) + 1
        return n

    def reset(self) -> None:
        """Back to the default scenario: no queue, rules or registered scenarios;
        counters and journal empty."""
        with self._lock:
            self._active = None
            self._queue.clear()
            self._rules.clear()
            self._registered.clear()
            self._counters.clear()
            self.journal.clear()
            self.problems.clear()
            self.unmatched.clear()

    # -- the journal ---------------------------------------------------------

    # -- the journal (kept by a Journal) -------------------------------------

    def record(self, call: Call) -> None:
        self.journal.record(call)

    def keep_body(self, call: Call, body: bytes) -> None:
        self.journal.keep_body(call, body)

    @property
    def journal_bytes(self) -> int:
        return self.journal.bytes

    @property
    def requests(self) -> CallList:
        return self.journal.requests

    def calls(self, path: str | None = None, method: str | None = None) -> CallList:
        return self.journal.calls(path, method)

    def add_problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text[:2000])

    def add_unmatched(self, text: str) -> None:
        with self._lock:
            self.unmatched.append(text[:2000])


def login_effects(scenario: Scenario) -> list[str]:
    """What ``scenario`` does to the login calls (loads, login, session), in words."""
    effects = [
        f"HTTP {e.status} on /{'api/' if e.endpoint != 'login' else 'auth/'}"
        f"{'auth/session' if e.endpoint == 'session' else e.endpoint}"
        for e in scenario.http_errors
        if e.endpoint != "conversation"
    ]
    if scenario.accounts is not None:
        effects.append(f"{scenario.accounts} accounts on /api/loads")
    if not scenario.login_cookie:
        effects.append("no login cookie")
    return effects


def _reachable_by_prompt(scenario: Scenario, chosen_by: str) -> Scenario:
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


@dataclass(slots=True)
class _Queued:
    scenario: Scenario
    served: bool = False
