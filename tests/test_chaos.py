"""Seeded chaos: reproducible from its seed, stated in the journal and the access log,
and each hit replayable alone from the scenario file the journal hands back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from emulator import EmulatorConfig, builtin_scenarios, load_scenario
from emulator.conformance.clients import python_client
from emulator.conformance.judge import judge
from emulator.pytest_plugin import EmulatorFactory
from emulator.scenario.chaos import CHAOS_KINDS, Chaos, derive, parse_chaos
from tests.helpers import answer

DEFAULT = builtin_scenarios()["default"]


def test_the_issue_syntax_parses_and_mistakes_are_named() -> None:
    chaos = parse_chaos("rate=0.1,seed=7,kinds=drop,stall,malformed_json,http_500")
    assert chaos == Chaos(0.1, 7, ("drop", "stall", "malformed_json", "http_500"))
    assert parse_chaos("rate=1,kinds=cut,endpoints=all").endpoints == (
        "loads",
        "login",
        "session",
        "conversation",
    )
    for text, problem in [
        ("seed=1", "needs a rate"),
        ("rate=x", "must be a number"),
        ("rate=0.1,kinds=drop,nope", "unknown chaos kind 'nope'"),
        ("rate=0.1,speed=2", "unknown chaos setting 'speed'"),
        ("rate=1.5", "0 to 1"),
        ("rate=0.1,kinds=http_200", "http_400 to http_599"),
        ("rate=0.1,drop", "has no value"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_chaos(text)


def test_draws_are_reproducible_from_the_seed_and_hit_at_the_rate() -> None:
    chaos = Chaos(0.2, 7, ("drop", "stall", "http_503", "cut", "ping"))

    def run(c: Chaos) -> list[str | None]:
        return [
            (d[1] if (d := derive(DEFAULT, c, k, "conversation")) else None)
            for k in range(1, 5001)
        ]

    first = run(chaos)
    assert run(chaos) == first
    assert run(Chaos(0.2, 8, chaos.kinds)) != first
    hits = [w for w in first if w is not None]
    assert len(hits) / len(first) == pytest.approx(0.2, abs=0.02)
    kinds = Counter(w.split()[0] for w in hits)
    assert set(kinds) == {"drop", "stall", "HTTP", "the", "ping"}  # "the connection cut…"
    assert min(kinds.values()) > len(hits) / 5 * 0.7  # each about as often as the others
    assert derive(DEFAULT, chaos, 1, "loads") is None  # conversation only, by default


def test_a_derived_scenario_states_the_outcome_its_fault_makes() -> None:
    expected = {
        "drop": "incomplete_stream",
        "reset": "incomplete_stream",
        "stall": "idle_timeout",
        "half_open": "idle_timeout",
        "no_headers": "idle_timeout",
        "error": "upstream_error",
        "cut": "incomplete_stream",
        "http_502": "http_status",
    }
    for kind, failure in expected.items():
        derived = derive(DEFAULT, Chaos(1.0, 3, (kind,)), 1, "conversation")
        assert derived is not None
        assert (derived[0].expect.outcome, derived[0].expect.failure) == ("failure", failure)
        assert derived[0].name == "default.chaos-1"
    for kind in ("malformed_json", "ping", "latency", "bandwidth", "slow_close", "stale"):
        derived = derive(DEFAULT, Chaos(1.0, 3, (kind,)), 1, "conversation")
        assert derived is not None and derived[0].expect == DEFAULT.expect
    # A stream fault means nothing on a login call; a cut there is a broken connection.
    assert derive(DEFAULT, Chaos(1.0, 3, ("drop",), ("loads",)), 1, "loads") is None
    cut = derive(DEFAULT, Chaos(1.0, 3, ("cut",), ("loads",)), 1, "loads")
    assert cut is not None and cut[0].expect.failure == "connection"
    assert set(CHAOS_KINDS) >= {"drop", "stall", "malformed_json", "cut", "no_headers"}


async def test_a_chaos_run_is_journaled_logged_judged_and_each_hit_replays_alone(
    emulator_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    chaos = parse_chaos("rate=0.5,seed=7,kinds=drop,stall,malformed_json,http_500,cut")
    emulator = await emulator_factory(EmulatorConfig(speed=0, chaos=chaos))
    client = python_client("emulator.conformance.clients:fakegpt")
    caplog.set_level(logging.INFO, logger="emulator.access")
    verdicts: Counter[str] = Counter()
    started = time.monotonic()
    # bounded: 30 conversations, each within its idle timeout (1 s: room for a busy CI)
    for i in range(30):
        outcome = await client(emulator.url, f"chaos {i}", 1.0)
        call = emulator.calls("/api/conversation").last
        assert call.served is not None
        verdict = judge(call.served, f"chaos {i}", outcome)
        assert verdict.passed, (call.chaos, verdict, outcome)
        verdicts[call.chaos.split()[0] if call.chaos else "untouched"] += 1
    assert time.monotonic() - started < 60
    assert verdicts["untouched"] and sum(verdicts.values()) - verdicts["untouched"] >= 8
    hit = [c for c in emulator.calls("/api/conversation") if c.chaos]
    # A line is logged when its request ends: a stalled one after the next began, the last
    # one maybe after its client has moved on (let it end).
    for _ in range(500):
        logged = [r.getMessage() for r in caplog.records if "chaos=" in r.getMessage()]
        if len(logged) >= len(hit):
            break
        await asyncio.sleep(0.01)
    said = sorted(m.split("chaos=", 1)[1].split(" bytes=", 1)[0] for m in logged)
    assert said == sorted(repr(c.chaos) for c in hit)

    # The same seed and the same order of requests: the same hits.
    again = await emulator_factory(EmulatorConfig(speed=0, chaos=chaos))
    for i in range(30):
        await client(again.url, f"chaos {i}", 1.0)
    assert [c.chaos for c in again.calls("/api/conversation")] == [
        c.chaos for c in emulator.calls("/api/conversation")
    ]

    # Each hit, as the file the journal hands back, replays alone with the same outcome.
    async with aiohttp.ClientSession() as http:
        for call in hit[:4]:
            async with http.get(f"{emulator.url}/_emulator/journal/{call.id}/scenario") as r:
                assert r.status == 200 and r.content_type == "application/toml"
                path = tmp_path / f"{call.served.name}.toml"  # type: ignore[union-attr]
                path.write_bytes(await r.read())
            replayed = load_scenario(path)
            alone = await emulator_factory(EmulatorConfig(speed=0, default=replayed))
            outcome = await client(alone.url, "again", 1.0)
            assert judge(replayed, "again", outcome).passed
            assert replayed.expect == call.served.expect  # type: ignore[union-attr]


async def test_chaos_is_set_per_session_over_the_admin_api(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = await emulator_factory(EmulatorConfig(speed=0))
    admin = f"{emulator.url}/_emulator/chaos"
    a = {"X-Emulator-Session": "a"}
    async with aiohttp.ClientSession() as http:
        status, _, body, _ = await answer(
            http, "PUT", admin, json={"rate": 1, "seed": 3, "kinds": ["http_503"]}, headers=a
        )
        assert status == 200 and body["kinds"] == ["http_503"]
        _, _, body, _ = await answer(http, "GET", admin)
        assert body is None  # the default session has none
        client = python_client("emulator.conformance.clients:fakegpt")
        hit = await client(f"{emulator.url}/_session/a", "x", 1.0)
        assert hit.failure is not None and "503" in hit.failure
        clean = await client(f"{emulator.url}/_session/b", "x", 1.0)
        assert clean.text == "Hello! How can I help you today?"
        status, _, body, _ = await answer(http, "PUT", admin, json={"rate": 2}, headers=a)
        assert status == 400 and "0 to 1" in body["detail"]
        status, _, body, _ = await answer(http, "PUT", admin, json={"rat": 1}, headers=a)
        assert status == 400 and "unknown chaos setting 'rat'" in body["detail"]
        await answer(http, "DELETE", admin, headers=a)
        healed = await client(f"{emulator.url}/_session/a", "x", 1.0)
        assert healed.text == "Hello! How can I help you today?"
