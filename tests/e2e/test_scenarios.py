"""Every shipped scenario, served by the real emulator over loopback to the real client.

Table-driven from ``scenarios/*.toml``: each file states the outcome a correct
client reaches, the exact text or a failure of a client-neutral kind, and this
test holds the client to it through the one table that maps its errors to
those kinds (``emulator.conformance.clients.CLIENT_FAILURE_KINDS``).
"""

from __future__ import annotations

import time

import pytest

from client import FakeGpt, FakeGptError
from emulator import Emulator, builtin_scenarios
from emulator.dialects.registry import DIALECTS
from emulator.scenario.text import reply_text
from tests.helpers import PROMPT, assert_failure, collect

not_applicable = DIALECTS["fakegpt"].not_applicable

#: The shipped scenarios that mean something on the FakeGpt stream (not a tool call).
SCENARIOS = {n: s for n, s in builtin_scenarios().items() if not_applicable(s) is None}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_outcome(name: str, emulator: Emulator, fakegpt: type[FakeGpt]) -> None:
    scenario = SCENARIOS[name]
    emulator.use(name)
    expect = scenario.expect
    started = time.monotonic()
    if expect.outcome == "failure":
        with pytest.raises(FakeGptError) as caught:
            await collect(fakegpt, idle_timeout=expect.idle_timeout)
        assert_failure(expect, caught.value)
    else:
        deltas = await collect(fakegpt, idle_timeout=expect.idle_timeout)
        wanted = reply_text(scenario.reply, PROMPT) if expect.outcome == "reply" else expect.text
        assert "".join(deltas) == wanted
        assert "" not in deltas
    # No scenario may hold the client past its own idle timeout by much
    # (keep_open_after_done holds the socket 30 s; stalls last 20 s).
    assert time.monotonic() - started < expect.idle_timeout + 5


def test_at_least_twenty_scenarios_each_described() -> None:
    assert len(SCENARIOS) >= 20
    for scenario in SCENARIOS.values():
        assert scenario.description and "\n" not in scenario.description
