"""Client soak: create, stream, close, again and again, including consumers that
stop halfway, tasks cancelled mid-stream and timeouts. Afterwards nothing is
left behind: no tasks, no open descriptors, no unclosed sessions (warnings are
errors here, so an unclosed aiohttp session fails the test by itself).

Full run: FAKEGPT_RELIABILITY=full python -m pytest tests/reliability -s
"""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

from client import FakeGpt, UpstreamTimeoutError
from emulator import Emulator
from tests.helpers import MESSAGES

CYCLES = 2000 if os.environ.get("FAKEGPT_RELIABILITY") == "full" else 120


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def full_read(provider: type[FakeGpt]) -> None:
    assert await provider.create_async("m", MESSAGES) == "Hello! How can I help you today?"


async def stop_halfway(provider: type[FakeGpt]) -> None:
    async with provider.create_async_generator(
        "m", [{"role": "user", "content": "[scenario:long_reply]"}]
    ) as s:
        async for _ in s:
            break


async def cancelled(provider: type[FakeGpt]) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.create_async_generator(
            "m", [{"role": "user", "content": "[scenario:stall_silent]"}]
        ):
            started.set()

    task = asyncio.create_task(consume())
    # Cancelled mid-stream, once the first piece is in (a fixed 10 ms could end it before
    # its request was even sent, on a busy machine: then the server never saw it).
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def timed_out(provider: type[FakeGpt]) -> None:
    with pytest.raises(UpstreamTimeoutError):
        await provider.create_async(
            "m", [{"role": "user", "content": "[scenario:stall_silent]"}], idle_timeout=0.05
        )


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_create_stream_close_cycles_leave_nothing_behind(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    kinds = [full_read, stop_halfway, cancelled, timed_out]
    await full_read(fakegpt)  # log in once; the login's own objects are not a leak
    gc.collect()
    await asyncio.sleep(0.1)
    before = open_fds()
    for i in range(CYCLES):
        await asyncio.wait_for(kinds[i % len(kinds)](fakegpt), 10)
    # Give the emulator thread a moment to see the last clients leave.
    for _ in range(50):
        gc.collect()
        if open_fds() <= before + 2:
            break
        await asyncio.sleep(0.05)
    assert open_fds() <= before + 2
    assert asyncio.all_tasks() == {asyncio.current_task()}
    calls = emulator.calls("/api/conversation").call_count
    assert calls == min(CYCLES + 1, 10_000)
