"""The clock seam: every pause, stall and timestamp of an answer goes through the server's
clock; on a virtual one, scripted time costs no wall time and is noted exactly."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest

from emulator import EmulatorConfig
from emulator.core.clock import REAL_CLOCK, VirtualClock
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import conversation, login

API_KEY = {"Authorization": "Bearer sk-test"}


async def test_sleepers_on_a_virtual_clock_wake_in_deadline_order_at_their_deadlines() -> None:
    clock = VirtualClock(start=5.0, epoch=1_000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.time()))

    await asyncio.gather(sleeper("hour", 3600), sleeper("second", 1), sleeper("minute", 60))
    assert woke == [("second", 6.0), ("minute", 65.0), ("hour", 3605.0)]
    assert clock.wall() == 1_000.0 + 3600.0
    clock.advance(10)
    assert clock.time() == 3615.0


async def test_the_real_clock_is_the_loops_time() -> None:
    loop = asyncio.get_running_loop()
    before = loop.time()
    await REAL_CLOCK.sleep(0.01)
    assert before + 0.01 <= REAL_CLOCK.time() <= loop.time()


@pytest.mark.timeout(15)  # the scripted stall alone is 20 s
async def test_a_20_s_stall_on_a_virtual_clock_is_noted_at_20_s(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = VirtualClock()
    emulator = await emulator_factory(EmulatorConfig(speed=1, clock=clock, default="stall_silent"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
        began = clock.time()
        async with http.post(
            f"{emulator.url}/api/conversation",
            json=conversation("hi"),
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            body = await r.read()
    assert body.endswith(b"data: [DONE]\n\n")
    call = emulator.calls("/api/conversation").last
    writes = call.transcript.writes  # type: ignore[union-attr]
    stall = next(i for i, w in enumerate(writes) if w.what.kind == "fault")
    assert str(writes[stall].what) == "fault stall at 3: 20 s"
    # The next write comes 20 s (of the clock) after the stall began, exactly.
    assert writes[stall + 1].ms - writes[stall].ms == pytest.approx(20_000, abs=1)
    assert clock.time() - began >= 20 and call.duration is not None and call.duration >= 20


async def test_pacing_and_timestamps_follow_the_virtual_clock(
    emulator_factory: EmulatorFactory,
) -> None:
    clock = VirtualClock(epoch=1_234_567_890.0)
    emulator = await emulator_factory(EmulatorConfig(speed=1, clock=clock, default="paced_50_tps"))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}/v1/chat/completions", json=body, headers=API_KEY) as r,
    ):
        text = await r.text()
    assert '"created": 1234567890' in text  # the event's timestamp is the clock's
    call = emulator.calls("/v1/chat/completions").last
    chunks = [w for w in call.transcript.writes if w.what.name.startswith("chunk ")]  # type: ignore[union-attr]
    # The first event 200 ms after the request; then a token every 20 ms, 10 % jitter.
    assert chunks[0].ms == pytest.approx(200, abs=1)
    gaps = [b.ms - a.ms for a, b in itertools.pairwise(chunks[1:])]
    assert len(gaps) > 20 and all(18 - 1e-6 <= g <= 22 + 1e-6 for g in gaps), gaps
    assert len({round(g, 6) for g in gaps}) > 1  # jittered, as the scenario says
