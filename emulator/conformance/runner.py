"""Running a client against scenarios: each on an emulator of its own, with a deadline.

A case is one scenario and a prompt. :meth:`Case.run` serves the scenario
on a fresh emulator (a free loopback port, pacing at ``speed``), calls the
client with a hard deadline (a client that does not answer is ``hung``,
never a hang of the run), judges what it did, and adds behaviour notes from
what the emulator saw: its journal and the response transcripts.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ..dialects.dialect import Dialect
from ..dialects.registry import dialect_named
from ..scenario import Scenario
from ..scenario.builtin import builtin_scenarios
from ..scenario.faults import FAULTS
from ..server import Emulator, serve
from ..state.config import EmulatorConfig, Tls
from ..state.journal import Call
from ..state.matching import closing_turn, opening_turn
from .clients import Client
from .judge import Outcome, Verdict, judge

__all__ = ["DEFAULT_SPEED", "Case", "Result", "cases", "run_all"]

#: Pacing at a twentieth of real time: meaningful, and short. Fault waits
#: (stalls) keep their real time, as they test the client's timeouts.
DEFAULT_SPEED: Final = 0.05
#: Past its idle timeout, how long a client gets before it is called hung.
DEADLINE_MARGIN: Final = 10.0
#: The host name clients are handed: it resolves to the loopback address the emulator
#: listens on (IPv4-only and dual-stack machines alike).
DEFAULT_HOST: Final = "localhost"
PROMPT: Final = "Tell me something."


@dataclass(frozen=True, slots=True)
class Result:
    case: Case
    outcome: Outcome
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Case:
    """One scenario and the prompt it is served to (``str(case)`` is its name, for test ids)."""

    name: str
    scenario: Scenario
    prompt: str = PROMPT
    dialect: str = "fakegpt"  # the API the client speaks (a key of DIALECTS)
    #: The client runs a tool loop (it answers each call and asks again until the model
    #: answers): a scripted conversation is judged by its last turn, not its first.
    loop: bool = False

    @property
    def served(self) -> Scenario:
        """What the client is judged by: the turn a first request gets, or (``loop``) the
        turn the conversation ends with."""
        judged_by = dialect_named(self.dialect).judged_by
        if self.loop:
            return judged_by(closing_turn(self.scenario))
        return judged_by(opening_turn(self.scenario, self.prompt))

    @property
    def deadline(self) -> float:
        """The seconds of idle time the client may spend before it is hung (each turn's,
        for a loop), without the margin."""
        if self.loop and self.scenario.turns:
            return sum(t.scenario.expect.idle_timeout for t in self.scenario.turns)
        return self.served.expect.idle_timeout

    def __str__(self) -> str:
        return self.name

    async def run(
        self,
        client: Client,
        *,
        speed: float = DEFAULT_SPEED,
        margin: float = DEADLINE_MARGIN,
        host: str = DEFAULT_HOST,
    ) -> Verdict:
        """Serve this case to ``client`` on its own emulator; the verdict, with notes.

        The client is called hung ``margin`` seconds past the scenario's idle timeout.
        ``host``: the host name in the URL the client is handed (a real upstream has
        one, and cookie jars drop cookies from IP hosts).
        """
        return (await self.result(client, speed=speed, margin=margin, host=host)).verdict

    async def result(
        self,
        client: Client,
        *,
        speed: float = DEFAULT_SPEED,
        margin: float = DEADLINE_MARGIN,
        host: str = DEFAULT_HOST,
        tls: Tls | None = None,
    ) -> Result:
        served = self.served
        expect = served.expect
        config = EmulatorConfig(
            speed=speed, scenarios={self.name: self.scenario}, default=self.name, tls=tls
        )
        deadline = self.deadline + margin
        async with serve(config, url_host=host) as emulator:
            started = time.monotonic()
            try:
                outcome = await asyncio.wait_for(
                    client(emulator.url, self.prompt, expect.idle_timeout), deadline
                )
            except TimeoutError:
                outcome = Outcome(hung=True, seconds=time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - the adapter itself broke
                outcome = Outcome(crashed=f"{type(exc).__name__}: {exc}")
            await _settled(emulator)
            notes = behaviour(served, outcome, emulator, self.dialect)
            if self.loop and self.scenario.turns:
                notes.append(_turns_note(emulator, self.dialect, len(self.scenario.turns)))
        verdict = judge(served, self.prompt, outcome)
        detail = verdict.detail
        if verdict.kind == "hung" and not getattr(client, "takes_timeout", True):
            detail += (
                "; the client was not handed the idle timeout: it takes no `timeout` parameter"
            )
        return Result(self, outcome, Verdict(verdict.kind, detail, tuple(notes)))


def skipped(
    dialect: str, scenarios: dict[str, Scenario] | None = None, *, loop: bool = False
) -> list[tuple[str, str]]:
    """The scenarios that do not apply to ``dialect`` (or, ``loop``, to a client that runs
    tool loops), each with why."""
    known = scenarios if scenarios is not None else builtin_scenarios()
    why = dialect_named(dialect).not_applicable  # a scripted conversation's: each turn's

    def reason(scenario: Scenario) -> str | None:
        if loop and not scenario.turns and scenario.reply.calls_tool:
            return LONE_CALL
        return why(scenario)

    return [(name, said) for name in sorted(known) if (said := reason(known[name]))]


#: Why a reply that calls a tool, with no turn after it, means nothing to a loop.
LONE_CALL: Final = (
    "its reply is a tool call and no turn follows: a loop would answer it and be called again"
)


def matches(name: str, selection: str | None) -> bool:
    """Whether a scenario's ``name`` is chosen by ``selection`` (a glob or a part of names;
    None chooses all)."""
    return selection is None or fnmatch.fnmatch(name, selection) or selection in name


def cases(
    selection: str | Iterable[str] | None = None,
    *,
    scenarios: dict[str, Scenario] | None = None,
    dialect: str = "fakegpt",
    loop: bool = False,
) -> list[Case]:
    """The shipped scenarios (or ``scenarios``) as cases, by name; ``selection`` filters them.

    ``selection``: a glob (``"http_*"``) or substring, or names. Scenarios that
    do not apply to ``dialect`` are left out (:func:`skipped` says why). ``loop``: the
    client runs tool loops (a scripted conversation is judged by its last turn).
    """
    known = scenarios if scenarios is not None else builtin_scenarios()
    gone = {name for name, _ in skipped(dialect, known, loop=loop)}
    known = {n: s for n, s in known.items() if n not in gone}
    if selection is None:
        names = sorted(known)
    elif isinstance(selection, str):
        names = [n for n in sorted(known) if matches(n, selection)]
    else:
        names = [n for n in selection if n in known]
    return [Case(name, known[name], dialect=dialect, loop=loop) for name in names]


async def run_all(
    chosen: list[Case],
    client: Client,
    *,
    jobs: int = 1,
    speed: float = DEFAULT_SPEED,
    progress: bool = False,
    host: str = DEFAULT_HOST,
    tls: Tls | None = None,
) -> list[Result]:
    """Every case, ``jobs`` at a time (each on its own emulator), in the order given;
    ``tls``: each serves HTTPS and WSS with it (a client that dials only ``wss://``)."""
    gate = asyncio.Semaphore(max(1, jobs))
    done = 0

    async def one(case: Case) -> Result:
        nonlocal done
        async with gate:
            result = await case.result(client, speed=speed, host=host, tls=tls)
        done += 1
        if progress:
            print(f"\r{done}/{len(chosen)} {case.name:<40}", end="", flush=True)
        return result

    results = await asyncio.gather(*(one(c) for c in chosen))
    if progress:
        print("\r" + " " * 60 + "\r", end="", flush=True)
    return list(results)


def _turns_note(emulator: Emulator, dialect: str, turns: int) -> str:
    """Which turns of a scripted conversation the client's requests got, in order."""
    speaks = dialect_named(dialect)
    got = [c.turn for c in emulator.calls(method="POST") if speaks.answers(c.path)]
    said = " → ".join(str(t) if t else "refused" for t in got) or "none"
    ended = "reached its last turn" if turns in got else f"never reached turn {turns}"
    return f"turns served: {said} ({ended})"


async def _settled(emulator: Emulator) -> None:
    """Let the emulator finish its journal entries (the client may leave a moment sooner)."""
    for _ in range(100):
        if all(c.duration is not None for c in emulator.requests):
            return
        await asyncio.sleep(0.01)


def behaviour(
    scenario: Scenario, outcome: Outcome, emulator: Emulator, dialect: str = "fakegpt"
) -> list[str]:
    """What the emulator saw the client do, beyond its outcome."""
    notes: list[str] = []
    speaks = dialect_named(dialect)
    conversations = [c for c in emulator.calls(method="POST") if speaks.answers(c.path)]
    logins = emulator.calls("/auth/login").call_count
    statuses = [c.status for c in conversations]
    if 401 in statuses and speaks.serves("login"):  # an API key has no login to renew
        after = statuses[statuses.index(401) + 1 :]
        if logins > 2:
            notes.append(f"logged in {logins} times after a 401: a loop?")
        elif after and logins == 2:
            notes.append("logged in again once after a 401 token_expired")
        else:
            notes.append("did not log in again after a 401 token_expired")
    for i, call in enumerate(conversations):
        retry = call.transcript.headers.get("Retry-After") if call.transcript else None
        if call.status == 429 and retry is not None:
            soon = [c for c in conversations[i + 1 :] if c.started - call.started < float(retry)]
            if soon:
                notes.append(
                    f"retried a 429 {len(soon)} time(s) before its Retry-After ({retry} s)"
                )
    for call in conversations:
        notes += _stream_notes(scenario, call)
        if call.status in (400, 401, 415) and call.detail and "token" not in call.detail:
            notes.append(f"sent a request the upstream refuses: {call.detail[:80]}")
    said = _detail(scenario, conversations[-1] if conversations else None, speaks)
    if said and outcome.failure is not None and said not in outcome.failure:
        notes.append(f"the failure does not carry the upstream's detail {said!r}")
    return notes


def _detail(scenario: Scenario, last: Call | None, speaks: Dialect) -> str:
    """What the upstream said that a failure should carry: the scenario's expected message;
    on an API whose errors carry a message of their own, for an HTTP status, that message
    (what the last answer's body says), unless the body is not the API's (a CDN's page)."""
    expect = scenario.expect
    read = speaks.errors.message
    if expect.failure != "http_status" or last is None:
        return expect.message
    transcript = last.transcript
    body = b"".join(w.data or b"" for w in transcript.writes) if transcript is not None else b""
    message = read(body)
    return expect.message if message is None else message


def _stream_notes(scenario: Scenario, call: Call) -> list[str]:
    transcript, gone_ms = call.transcript, call.ended_ms
    ending = call.ending
    if transcript is None or gone_ms is None or ending is None or ending.kind != "client_gone":
        return []
    writes = transcript.writes
    notes = []
    done = [w for w in writes if w.what.kind == "end"]
    if scenario.wire.after_done == "keep_open" and done:
        said = done[-1].what.name
        notes.append(f"closed the connection {gone_ms - done[-1].ms:.0f} ms after {said}")
    stalls = [w for w in writes if w.size == 0 and w.what.kind == "fault" and _silent(w.what.name)]
    if stalls:
        into = (gone_ms - stalls[0].ms) / 1000
        idle = scenario.expect.idle_timeout
        verdict = "within" if into <= idle + 5 else "past"
        notes.append(f"gave up {into:.1f} s into a silent stall ({verdict} its idle timeout)")
    return notes


def _silent(kind: str) -> bool:
    """Whether the fault ``kind`` is a silence a client should give up on in time."""
    spec = FAULTS.get(kind)
    return spec is not None and spec.waits
