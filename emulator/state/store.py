"""What a running emulator remembers: scenarios, selection, call counts, the journal.

Thread-safe: the pytest plugin runs the server in a thread of its own and the
test changes the scenario or reads the journal from the test's thread.

Two ways in, kept apart: Python callers (:meth:`EmulatorState.resolve`) may
give a scenario as a name, a file path, a dict or a value; what arrives over
HTTP (:meth:`EmulatorState.named`: the scenario header, a prompt marker, the
admin API) may only *name* a known scenario, so no request can make the
emulator read a file. Every store that requests can grow has a cap in count
(and in bytes where entries vary in size): :class:`~emulator.state.config.Limits`.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from ..scenario import Endpoint, Scenario, ScenarioError, load_scenario, scenario_from_dict
from ..scenario.asked import Asked, Message
from ..scenario.chaos import Chaos, derive
from .config import LIMITS, Limits
from .journal import Call, CallList, Journal, LimitError
from .matching import Near, NthCounts, check_pool, chosen_by_match
from .metrics import Metrics
from .ratelimits import TokenBudgets
from .records import SessionRecords
from .rpc_sessions import RpcSessions
from .rules import SCENARIO_MARKER, Rules, RuleTimeoutError, login_effects, reachable_by_prompt
from .sessions import Sessions, check_session_id

__all__ = [
    "SCENARIO_HEADER",
    "SCENARIO_MARKER",
    "SCENARIO_NAME",
    "Call",
    "CallList",
    "Choice",
    "EmulatorState",
    "LimitError",
    "RuleTimeoutError",
    "ScenarioRef",
    "login_effects",
]

#: Request header that picks the scenario for one request.
SCENARIO_HEADER: Final = "X-Emulator-Scenario"
#: A name that a marker can carry (and a scenario registered over HTTP must have).
SCENARIO_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

ScenarioRef = str | Path | Scenario | Mapping[str, Any]


class Choice(NamedTuple):
    """The scenario for one request, why (for the journal), and the matches it came
    nearest to when matching chose nothing (for the journal and the inspector)."""

    scenario: Scenario
    why: str
    near: tuple[Near, ...] = ()


class EmulatorState(SessionRecords):
    """One session's view of a server: its scenario selection, call counters and journal.

    The object a server starts with is the default session's (requests that
    name no session); :meth:`session` gives a named session's, sharing the
    server's scenarios, journal (each call tagged with its session), metrics
    and limits, and nothing else.
    """

    def __init__(
        self,
        scenarios: Mapping[str, Scenario],
        default: ScenarioRef,
        *,
        limits: Limits = LIMITS,
        chaos: Chaos | None = None,
        _server: _Server | None = None,
        _id: str | None = None,
    ) -> None:
        if _server is None:
            _server = _Server(dict(scenarios), limits, self, chaos)
        self._server = _server
        #: The session's id (None: the default session).
        self.id = _id
        self.limits = _server.limits
        self._lock = _server.lock
        self._problems, self._unmatched = _server.problems, _server.unmatched
        self.scenarios: dict[str, Scenario] = _server.scenarios
        self._registered: dict[str, Scenario] = {}
        self.default = self.resolve(default)
        self._active: Scenario | None = None
        #: Queued scenarios, each with whether it served a call yet.
        self._queue: deque[_Queued] = deque()
        self._rules = Rules(self.limits)
        self._counters: dict[tuple[str, str], int] = {}
        #: What this session spent of each scenario's token budget ([rate_limit]).
        self.budgets = TokenBudgets()
        #: How many requests met each sequence of turns (``nth``).
        self.sequences = NthCounts()
        #: The sessions of the JSON-RPC dialects (MCP), and their kept events.
        self.rpc = RpcSessions()
        self._chaos = _server.chaos
        self._chaos_count = 0
        #: Every session's calls, each tagged with its session (see :attr:`requests`).
        self.journal = _server.journal
        #: What this server did since it started (not reset by reset()).
        self.metrics = _server.metrics

    # -- sessions ------------------------------------------------------------

    def session(self, session: str | None) -> EmulatorState:
        """The state of session ``session`` (made on first use; None: the default session).

        Raises ``ValueError`` for an id that is not a valid session id, and
        :class:`LimitError` when ``Limits.sessions`` are open already.
        """
        if session is None:
            return self._server.root
        return self._server.sessions.get(check_session_id(session))

    def drop_session(self, session: str) -> bool:
        """Forget a named session: its selection, its calls and its problems."""
        return self._server.sessions.drop(session)

    def sessions(self) -> list[dict[str, Any]]:
        """The named sessions, oldest use first: id, age, idle time, what they chose."""
        return [
            {
                "id": sid,
                "age": round(age, 3),
                "idle": round(idle, 3),
                "active": state.active.name,
                "queued": len(state.queued),
                "rules": len(state.rules),
                "requests": len(state.requests),
            }
            for sid, state, age, idle in self._server.sessions.listing()
        ]

    def _make_session(self, session: str) -> EmulatorState:
        return EmulatorState(
            self.scenarios, self.default, limits=self.limits, _server=self._server, _id=session
        )

    def _forget(self) -> None:
        """Back to nothing chosen, and nothing journaled or noted for this session."""
        with self._lock:
            self._active = None
            self._queue.clear()
            self._rules.remove()
            self._server.registered -= len(self._registered)
            self._registered.clear()
            self._counters.clear()
            self.budgets.clear()
            self.sequences.clear()
            self._chaos = self._server.chaos
            self._chaos_count = 0
            server = self._server
            for notes in (server.problems, server.unmatched):
                if notes:
                    kept = [n for n in notes if n[0] != self.id]
                    notes.clear()
                    notes.extend(kept)
        self.journal.clear(self.id)

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
            if scenario.match is not None:
                others = [s for s in self._registered.values() if s.name != name]
                check_pool([*self._server.matching, *others, scenario])
            if name not in self._registered:
                if self._server.registered >= self.limits.registered:
                    raise LimitError(
                        f"at most {self.limits.registered} scenarios can be registered "
                        "(in all sessions); reset the emulator or use a folder of scenario files"
                    )
                self._server.registered += 1
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
        compiled = Rules.compile(pattern, self.limits)
        self._rules.add(compiled, self.resolve(ref))

    @property
    def rules(self) -> list[tuple[str, str]]:
        """The prompt rules, in the order they are tried: (pattern, scenario name)."""
        return self._rules.listing()

    def remove_rules(self, pattern: str | None = None) -> int:
        """Remove the rules with this pattern (None: all of them); how many went."""
        return self._rules.remove(pattern)

    def select(self, endpoint: Endpoint, header: str | None, prompt: str | None) -> Scenario:
        """The scenario for one request (see :meth:`choose`)."""
        return self.choose(endpoint, header, prompt).scenario

    def choose(self, endpoint: Endpoint, header: str | None, asked: Asked | str | None) -> Choice:
        """The scenario for one request, and why it was chosen (for the journal).

        Order: the ``X-Emulator-Scenario`` header, a ``[scenario:NAME]`` marker
        in the prompt, the first matching prompt rule, the scenarios with a
        ``[match]`` (the most specific the request meets), the queue (consumed
        by ``/api/conversation``, only looked at by the other endpoints), the
        scenario set with :meth:`use`, the server's default. Header and marker
        only name known scenarios; each rule and regular expression runs with a
        time limit, outside the lock (:class:`RuleTimeoutError` when one takes
        too long). ``asked``: what the request says (a prompt alone: a user
        message; None: the request carries no conversation).
        """
        if header:
            return Choice(self.named(header), "the X-Emulator-Scenario header")
        if isinstance(asked, str):
            asked = Asked((Message("user", asked),))
        near: tuple[Near, ...] = ()
        if asked is not None:
            prompt = asked.prompt
            marker = SCENARIO_MARKER.search(prompt)
            if marker:
                chosen = "a [scenario:] marker"
                return Choice(reachable_by_prompt(self.named(marker.group(1)), chosen), chosen)
            matched = self._rules.match(prompt)
            if matched is not None:
                chosen = f"the rule {matched[0][:40]!r}"
                return Choice(reachable_by_prompt(matched[1], chosen), chosen)
            pool = self.matching
            if pool:
                found, near = chosen_by_match(pool, asked, self.limits.rule_seconds)
                if found is not None:
                    assert found.match is not None
                    return Choice(found, f"its match ({found.match.describe()[:120]})")
        with self._lock:
            if self._queue:
                # The conversation takes the head; the login calls before it
                # only look at it (it serves them too, so it counts as used).
                if endpoint == "conversation":
                    return Choice(self._queue.popleft().scenario, "the queue", near)
                head = self._queue[0]
                head.served = True
                return Choice(head.scenario, "the queue (its head, not taken)", near)
            if self._active is not None:
                return Choice(self._active, "the active scenario", near)
            return Choice(self.default, "the default", near)

    @property
    def matching(self) -> list[Scenario]:
        """The scenarios a request can be matched to: the server's, then this session's."""
        with self._lock:
            registered = [s for s in self._registered.values() if s.match is not None]
            return [*self._server.matching, *registered] if registered else self._server.matching

    def next_call(self, scenario: Scenario, endpoint: Endpoint) -> int:
        """Count a call to ``endpoint`` under ``scenario``; returns 1 for the first."""
        key = (scenario.name, endpoint)
        with self._lock:
            self._counters[key] = n = self._counters.get(key, 0) + 1
        return n

    # -- seeded chaos ----------------------------------------------------------

    @property
    def chaos(self) -> Chaos | None:
        """This session's chaos (the server's, unless set for the session)."""
        with self._lock:
            return self._chaos

    def set_chaos(self, chaos: Chaos | None) -> None:
        """Chaos from now on (None: none); the count of requests starts again."""
        with self._lock:
            self._chaos = chaos
            self._chaos_count = 0

    def draw_chaos(self, scenario: Scenario, endpoint: Endpoint) -> tuple[Scenario, str] | None:
        """What chaos does to this request: the scenario it gets and what was done, or None."""
        with self._lock:
            chaos = self._chaos
            if chaos is None or endpoint not in chaos.endpoints:
                return None
            self._chaos_count += 1
            k = self._chaos_count
        return derive(scenario, chaos, k, endpoint)

    def reset(self) -> None:
        """Back to the default scenario: no queue, rules or registered scenarios;
        counters, journal and problems empty. For the default session, the
        whole server: every named session is dropped too."""
        if self.id is None:
            self._server.sessions.clear()
        self._forget()


class _Server:
    """What every session of one server shares: scenarios, journal, metrics, notes."""

    def __init__(
        self,
        scenarios: dict[str, Scenario],
        limits: Limits,
        root: EmulatorState,
        chaos: Chaos | None,
    ) -> None:
        self.lock = threading.RLock()
        check_pool(scenarios.values())
        #: The scenarios with a [match] (every session's requests are matched to them).
        self.matching = [s for s in scenarios.values() if s.match is not None]
        #: The chaos every session starts with (--chaos).
        self.chaos = chaos
        self.scenarios = scenarios
        self.limits = limits
        self.root = root
        self.journal = Journal(limits)
        self.metrics = Metrics()
        #: (session, text): exceptions raised inside handlers (bugs, or hostile
        #: input not handled), and requests that matched no route; the newest
        #: ``limits.problems`` of each.
        self.problems: deque[tuple[str | None, str]] = deque(maxlen=limits.problems)
        self.unmatched: deque[tuple[str | None, str]] = deque(maxlen=limits.problems)
        #: Scenarios registered over the admin API, in all sessions.
        self.registered = 0
        self.sessions: Sessions[EmulatorState] = Sessions(
            limits.sessions,
            limits.session_idle,
            root._make_session,
            EmulatorState._forget,
        )


@dataclass(slots=True)
class _Queued:
    scenario: Scenario
    served: bool = False
