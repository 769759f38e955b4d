"""What a running emulator remembers: scenarios, selection, call counts, the journal.

Thread-safe: the pytest plugin runs the server in a thread of its own and the
test changes the scenario or reads the journal from the test's thread.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .scenario import Endpoint, Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = [
    "SCENARIO_HEADER",
    "SCENARIO_MARKER",
    "Call",
    "CallList",
    "EmulatorState",
    "ScenarioRef",
]

#: Request header that picks the scenario for one request.
SCENARIO_HEADER: Final = "X-Emulator-Scenario"
#: A prompt containing ``[scenario:NAME]`` picks scenario NAME (for clients
#: that cannot add headers, such as the original provider).
SCENARIO_MARKER: Final = re.compile(r"\[scenario:([A-Za-z0-9_.\-]+)\]")

ScenarioRef = str | Path | Scenario | Mapping[str, Any]


@dataclass
class Call:
    """One request the emulator received, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # as received: case-insensitive for a served request
    body: bytes
    started: float = field(default_factory=time.time)
    scenario: str | None = None
    status: int | None = None
    bytes_sent: int = 0
    duration: float | None = None
    detail: str | None = None  # the error detail answered, if any
    number: int = 0  # which call of this endpoint under its scenario (1: the first)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self, body_limit: int = 65536) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body[:body_limit].decode("utf-8", "replace"),
            "body_size": len(self.body),
            "started": self.started,
            "scenario": self.scenario,
            "status": self.status,
            "bytes_sent": self.bytes_sent,
            "duration": self.duration,
            "detail": self.detail,
            "number": self.number,
        }


class CallList(list[Call]):
    """A list of calls with respx-style helpers."""

    @property
    def last(self) -> Call:
        if not self:
            raise LookupError("no calls were recorded")
        return self[-1]

    @property
    def call_count(self) -> int:
        return len(self)

    @property
    def called(self) -> bool:
        return bool(self)


class EmulatorState:
    """Scenario selection, per-scenario call counters and the request journal."""

    def __init__(
        self,
        scenarios: Mapping[str, Scenario],
        default: ScenarioRef,
        *,
        journal_size: int = 10_000,
    ) -> None:
        self._lock = threading.RLock()
        self.scenarios: dict[str, Scenario] = dict(scenarios)
        self.default = self.resolve(default)
        self._active: Scenario | None = None
        self._queue: deque[Scenario] = deque()
        self._rules: list[tuple[re.Pattern[str], Scenario]] = []
        self._counters: dict[tuple[str, str], int] = {}
        self._journal: deque[Call] = deque(maxlen=journal_size)
        #: Exceptions raised inside handlers (bugs, or hostile input not handled).
        self.problems: list[str] = []
        #: Requests that matched no route.
        self.unmatched: list[str] = []

    # -- choosing ------------------------------------------------------------

    def resolve(self, ref: ScenarioRef) -> Scenario:
        """A scenario from a name, a file path, a dict, or a scenario itself."""
        if isinstance(ref, Scenario):
            return ref
        if isinstance(ref, Mapping):
            return scenario_from_dict(ref, source="<dict>")
        if isinstance(ref, Path) or (isinstance(ref, str) and ref.endswith(".toml")):
            return load_scenario(ref)
        with self._lock:
            found = self.scenarios.get(ref)
        if found is None:
            known = ", ".join(sorted(self.scenarios)) or "none"
            raise ScenarioError(
                "<request>", "scenario", f"no scenario named {ref!r} (known: {known})"
            )
        return found

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
            self._queue.extend(scenarios)
        return scenarios

    @property
    def queued(self) -> list[Scenario]:
        with self._lock:
            return list(self._queue)

    def add_rule(self, pattern: str, ref: ScenarioRef) -> None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ScenarioError(
                "<request>", "pattern", f"is not a valid regular expression: {exc}"
            ) from exc
        scenario = self.resolve(ref)
        with self._lock:
            self._rules.append((compiled, scenario))

    def select(self, endpoint: Endpoint, header: str | None, prompt: str | None) -> Scenario:
        """The scenario for one request.

        Order: the ``X-Emulator-Scenario`` header, a ``[scenario:NAME]`` marker
        in the prompt, the first matching prompt rule, the queue (consumed by
        ``/api/conversation``, only looked at by the other endpoints), the
        scenario set with :meth:`use`, the server's default.
        """
        if header:
            return self.resolve(header)
        if prompt is not None:
            marker = SCENARIO_MARKER.search(prompt)
            if marker:
                return self.resolve(marker.group(1))
        with self._lock:
            if prompt is not None:
                for pattern, scenario in self._rules:
                    if pattern.search(prompt):
                        return scenario
            if self._queue:
                return self._queue.popleft() if endpoint == "conversation" else self._queue[0]
            return self._active or self.default

    def next_call(self, scenario: Scenario, endpoint: Endpoint) -> int:
        """Count a call to ``endpoint`` under ``scenario``; returns 1 for the first."""
        key = (scenario.name, endpoint)
        with self._lock:
            self._counters[key] = n = self._counters.get(key, 0) + 1
        return n

    def reset(self) -> None:
        """Back to the default scenario, no queue or rules, counters and journal empty."""
        with self._lock:
            self._active = None
            self._queue.clear()
            self._rules.clear()
            self._counters.clear()
            self._journal.clear()
            self.problems.clear()
            self.unmatched.clear()

    # -- the journal ---------------------------------------------------------

    def record(self, call: Call) -> None:
        with self._lock:
            self._journal.append(call)

    @property
    def requests(self) -> CallList:
        with self._lock:
            return CallList(self._journal)

    def calls(self, path: str | None = None, method: str | None = None) -> CallList:
        with self._lock:
            return CallList(
                c
                for c in self._journal
                if (path is None or c.path == path)
                and (method is None or c.method == method.upper())
            )

    def add_problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def add_unmatched(self, text: str) -> None:
        with self._lock:
            self.unmatched.append(text)
