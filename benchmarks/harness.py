"""Side-by-side timing: variants run interleaved (A B A B …) after a warm-up, in one process.

These machines are noisy, so nothing here is an absolute time to compare
across runs: every result is a ratio against a baseline measured in the same
loop of the same run.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

Variant = Callable[[], Awaitable[object]]


@dataclass
class Result:
    """One benchmark: each variant's timings, and ratios against the baseline (the first)."""

    name: str
    goal: str
    timings: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)  # results that are not timings

    @property
    def baseline(self) -> str:
        return next(iter(self.timings))

    def median(self, variant: str) -> float:
        return statistics.median(self.timings[variant])

    def ratio(self, variant: str) -> float:
        """Median time of ``variant`` over the baseline's (lower is faster)."""
        base = self.median(self.baseline)
        return self.median(variant) / base if base > 0 else float("nan")

    def rows(self) -> list[tuple[str, float, float, float, float]]:
        return [
            (v, self.median(v), min(t), max(t), self.ratio(v)) for v, t in self.timings.items()
        ]


async def compare(
    name: str,
    goal: str,
    variants: dict[str, Variant],
    *,
    repeats: int,
    warmup: int = 1,
    budget: float = 60.0,
) -> Result:
    """Time each variant ``repeats`` times, interleaved; stops early past ``budget`` seconds."""
    result = Result(name, goal, {v: [] for v in variants})
    for _ in range(warmup):
        for run in variants.values():
            await run()
    deadline = time.monotonic() + budget
    for i in range(repeats):
        # Alternate the order too, so neither variant always runs after the other.
        order = list(variants.items()) if i % 2 == 0 else list(reversed(variants.items()))
        for label, run in order:
            gc.collect()
            started = time.perf_counter()
            await run()
            result.timings[label].append(time.perf_counter() - started)
        if time.monotonic() > deadline and i >= 2:
            result.notes.append(f"stopped after {i + 1} repeats (time budget)")
            break
    return result


def run_sync(func: Callable[[], object]) -> Variant:
    """Wrap a synchronous callable as a variant."""

    async def variant() -> object:
        return func()

    return variant


def sleep0() -> Awaitable[None]:
    return asyncio.sleep(0)


@asynccontextmanager
async def serving_app(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port, its base URL (a baseline server's)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
