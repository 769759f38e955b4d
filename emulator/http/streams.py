"""An answer played as a stream, counted in the metrics while it plays: what every
lifecycle that streams shares (a conversation's answer, an MCP tool's)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

from aiohttp import web

from ..dialects.speaker import STREAM_HEADERS
from ..engine.play import play
from ..protocol.steps import Step
from ..scenario import Transport
from .context import Context

__all__ = ["streamed"]


async def streamed(
    request: web.BaseRequest,
    ctx: Context,
    steps: Iterator[Step],
    transport: Transport | None,
    status: int = 200,
    headers: Mapping[str, str] = STREAM_HEADERS,
    extra: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Play ``steps`` as the answer, counted in the metrics as a stream in flight."""
    metrics = ctx.state.metrics
    metrics.stream_started()
    try:
        playing = play(request, steps, ctx.config.clock, ctx.config.speed, ctx.call, extra,
                       transport, status, headers,
                       reader_seconds=ctx.config.limits.reader_seconds)  # fmt: skip
        if not ctx.config.speed:
            return await playing  # unpaced: it never sleeps, and a task costs a loop turn
        # In a task of its own: each time a paced stream wakes, it resumes the player
        # alone, not the five handler frames that await it (0.4 ms CPU a 5 s stream).
        # Cancelling the handler cancels the task it awaits.
        return await asyncio.ensure_future(playing)
    finally:
        metrics.stream_ended()
