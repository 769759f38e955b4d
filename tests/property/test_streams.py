"""Fuzzing whole streams: any generated scenario, served by the real emulator, read by the real client.

Property: the client yields exactly the scenario's text, or raises the error the
scenario states — never other text, never a hang. A failing example is written
out as a scenario file (see ``FUZZ_FAILURES``) so it can be kept in
``scenarios/`` as a permanent regression test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from client import FakeGpt, FakeGptError
from emulator import Emulator, Expect, Fault, Reply, Scenario, Wire, load_scenario
from emulator.scenario import FAILURES
from emulator.scenario.dump import scenario_to_toml
from emulator.scenario.text import reply_text
from emulator.strategies import scenarios
from tests.helpers import PROMPT, assert_failure, collect

FUZZ_FAILURES = Path(os.environ.get("FAKEGPT_FUZZ_FAILURES", ".hypothesis/fakegpt-failures"))

NASTY = Scenario(
    name="fuzz",
    description="CR endings, a BOM and one-byte writes over astral and combining text.",
    reply=Reply(text="e\u0301👋🏽\r\n\u2028\x85漢", cut="byte", cut_size=1),
    wire=Wire(line_ending="\r", bom=True, chunk_size=1, split_pause=0.0, ensure_ascii=False),
    faults=(Fault("stale", at=3), Fault("garbage", at=2, raw=b"\xed\xa0\x80\xc3")),
)


def save_failure(scenario: Scenario) -> Path:
    text = scenario_to_toml(scenario)
    FUZZ_FAILURES.mkdir(parents=True, exist_ok=True)
    path = FUZZ_FAILURES / f"fuzz_{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def outcome(provider: type[FakeGpt], scenario: Scenario) -> None:
    expect = scenario.expect
    if expect.outcome == "failure":
        with pytest.raises(FakeGptError) as caught:
            await collect(provider, idle_timeout=5)
        assert_failure(expect, caught.value)
        return
    deltas = await collect(provider, idle_timeout=5)
    wanted = reply_text(scenario.reply, PROMPT) if expect.outcome == "reply" else expect.text
    assert "".join(deltas) == wanted
    assert "" not in deltas


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
@example(scenario=NASTY)
@example(
    scenario=replace(
        NASTY, wire=Wire(multiline_data=True, data_prefix="data:", chunk_size=3, split_pause=0.0)
    )
)
@example(
    scenario=replace(
        NASTY, faults=(Fault("done", at=4),), expect=Expect(outcome="text", text="e\u0301👋")
    )
)
def test_any_generated_stream_reads_exactly(
    scenario: Scenario, emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    emulator.use(scenario)
    try:
        asyncio.run(outcome(fakegpt, scenario))
    except BaseException:
        note(f"scenario file written to {save_failure(scenario)}")
        raise


@given(scenario=scenarios())
def test_a_scenario_survives_the_trip_through_a_file(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("dump") / "fuzz.toml"
    path.write_text(scenario_to_toml(scenario), encoding="utf-8")
    loaded = load_scenario(path)
    assert replace(loaded, source=scenario.source) == scenario


def test_a_failure_is_written_as_a_loadable_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.FUZZ_FAILURES", tmp_path)
    path = save_failure(NASTY)
    assert path.parent == tmp_path
    assert replace(load_scenario(path), source=NASTY.source, name=NASTY.name) == NASTY


@given(st.data())
def test_generated_expectations_name_known_failure_kinds(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    if scenario.expect.outcome == "failure":
        assert scenario.expect.failure in FAILURES
