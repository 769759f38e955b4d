"""Load: many concurrent clients of ours against one emulator process, mixing every fault.

Nothing lost: every reply that completes is exact, every failure is the error
its scenario states, none outlives its timeout; and the emulator's RSS and
open file descriptors come back to their first-round level after every round.

CI runs it small. The full run (1,000 clients, ten rounds):

    FAKEGPT_RELIABILITY=full python -m pytest tests/reliability -s
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from client import FakeGpt
from emulator import Scenario, builtin_scenarios
from emulator.conformance.clients import failure_kind
from emulator.dialects.registry import DIALECTS
from emulator.scenario.text import reply_text
from emulator.state.store import login_effects
from tests.helpers import serving

not_applicable = DIALECTS["fakegpt"].not_applicable

FULL = os.environ.get("FAKEGPT_RELIABILITY") == "full"
CLIENTS = 1000 if FULL else 150
ROUNDS = 10 if FULL else 3
REPORT = Path(os.environ.get("FAKEGPT_RELIABILITY_REPORT", ".hypothesis/reliability.json"))


def conversation_scenarios() -> list[Scenario]:
    """Scenarios a prompt can select: their faults are all on /api/conversation."""
    return [
        s
        for s in builtin_scenarios().values()
        if not login_effects(s)
        and not_applicable(s) is None  # served on the FakeGpt stream
        and s.name not in ("long_line", "paced_50_tps", "http_401_always")  # see below
        and not s.rate_limit.tokens  # its answer depends on what the session spent before
    ]


# Left out of the mix, each for a stated reason: long_line moves 2.5 MB per
# request (covered by the e2e suite); paced_50_tps paces in real time (the
# emulator runs at --speed 0 here, which would make it a plain reply);
# http_401_always invalidates the shared token for every concurrent client,
# so the others' outcomes would depend on timing (the e2e suite covers it).


def proc_figures(pid: int) -> tuple[float, int]:
    """(RSS MiB, open file descriptors) of a process."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def one_call(scenario: Scenario, index: int) -> tuple[str, float | None]:
    """Run one client; return (outcome kind, seconds to first delta)."""
    prompt = f"[scenario:{scenario.name}] client {index}"
    expect = scenario.expect
    started = time.perf_counter()
    first: float | None = None
    deltas: list[str] = []
    try:
        stream = FakeGpt.create_async_generator(
            "m",
            [{"role": "user", "content": prompt}],
            idle_timeout=expect.idle_timeout,
            timeout=30,
        )
        async with stream:
            async for delta in stream:
                if first is None:
                    first = time.perf_counter() - started
                deltas.append(delta)
    except Exception as exc:
        if expect.outcome != "failure" or failure_kind(exc) != expect.failure:
            return f"WRONG ERROR {type(exc).__name__}: {exc} (scenario {scenario.name})", first
        return type(exc).__name__, first
    text = "".join(deltas)
    wanted = reply_text(scenario.reply, prompt) if expect.outcome == "reply" else expect.text
    if expect.outcome == "failure" or text != wanted:
        return f"WRONG TEXT for {scenario.name}", first
    return "exact reply", first


async def run_round(
    url: str, mix: list[Scenario], round_no: int
) -> tuple[Counter[str], list[float], float]:
    FakeGpt.url = url
    calls = [
        asyncio.wait_for(
            one_call(mix[(i + round_no) % len(mix)], i),
            mix[(i + round_no) % len(mix)].expect.idle_timeout + 30,
        )
        for i in range(CLIENTS)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - started
    kinds: Counter[str] = Counter()
    firsts: list[float] = []
    for result in results:
        if isinstance(result, BaseException):
            kinds[f"HUNG or crashed: {type(result).__name__}"] += 1
            continue
        kind, first = result
        kinds[kind] += 1
        if first is not None:
            firsts.append(first)
    return kinds, firsts, elapsed


@pytest.mark.xdist_group("load")
@pytest.mark.slow
@pytest.mark.timeout(1800 if FULL else 240)
def test_load_with_every_fault_loses_nothing_and_leaks_nothing() -> None:
    mix = conversation_scenarios()
    assert len(mix) >= 25
    FakeGpt.reset()
    rounds = []
    try:
        with serving(
            "--speed", "0", "--log-level", "WARNING", "--no-capture", "--journal-size", "100"
        ) as (proc, url):
            start = proc_figures(proc.pid)
            # A warm-up round, not measured: it fills the journal (bounded,
            # --journal-size 100, below one round) and the allocator's pools.
            asyncio.run(run_round(url, mix, ROUNDS))
            for r in range(ROUNDS):
                kinds, firsts, elapsed = asyncio.run(run_round(url, mix, r))
                rss, fds = proc_figures(proc.pid)
                rounds.append(
                    {
                        "round": r + 1,
                        "clients": CLIENTS,
                        "seconds": round(elapsed, 2),
                        "outcomes": dict(kinds),
                        "p50_first_delta_ms": round(1000 * statistics.median(firsts), 1),
                        "p99_first_delta_ms": round(
                            1000 * statistics.quantiles(firsts, n=100)[98], 1
                        ),
                        "rss_mib": round(rss, 1),
                        "open_fds": fds,
                    }
                )
    finally:
        FakeGpt.reset()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        json.dumps(
            {"start": {"rss_mib": start[0], "open_fds": start[1]}, "rounds": rounds}, indent=1
        )
    )
    for r in rounds:
        wrong = {k: v for k, v in r["outcomes"].items() if k.startswith(("WRONG", "HUNG"))}
        assert wrong == {}, f"round {r['round']}: {wrong}"
        assert sum(r["outcomes"].values()) == CLIENTS
    first, last = rounds[0], rounds[-1]
    # No leak: after the last round, RSS and descriptors are back within 10%
    # of the first round's (a few descriptors of slack for the listening socket
    # and the event loop's own).
    assert last["rss_mib"] <= first["rss_mib"] * 1.10
    assert last["open_fds"] <= first["open_fds"] * 1.10 + 3
