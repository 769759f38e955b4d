"""What the endpoints of every dialect share: a JSON body read, the reply prepared for a
scenario, a stream played, and the faults an answer sent whole can carry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import web

from ..dialects.fakegpt.wire import CDN_CHALLENGE_HTML
from ..engine.play import STREAM_HEADERS, end_connection, play
from ..engine.prepare import Prepared, estimated_bytes, prepare
from ..engine.replay import replayed
from ..outcomes import Ending
from ..protocol.steps import Step
from ..scenario import HttpError, Scenario, Transport
from ..scenario.faults import FAULTS, Shapes
from ..scenario.text import CACHE_TEXT_CHARS, reply_text
from .errors import BadRequest, Context

__all__ = [
    "json_object",
    "replayed_answer",
    "reply_for",
    "scripted_answer",
    "streamed",
    "too_long",
    "transport_of",
    "whole_answer_faults",
]


def too_long(prompt: str, limit: int) -> bool:
    """Whether the prompt takes more than ``limit`` bytes in UTF-8 (encoded only if it may)."""
    n = len(prompt)
    if n > limit:
        return True
    if n * 4 <= limit:  # no character takes more than 4 bytes
        return False
    return len(prompt.encode("utf-8", "surrogatepass")) > limit


async def json_object(request: web.BaseRequest, unreadable: str) -> dict[str, Any]:
    """The request's JSON object; else a 400 that starts with ``unreadable``."""
    if request.content_type != "application/json":
        raise BadRequest(400, f"{unreadable}: the Content-Type must be application/json.")
    try:
        body: Any = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(400, f"{unreadable}: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, f"{unreadable}: the body must be a JSON object.")
    return body


async def reply_for(
    ctx: Context, prompt: str, dialect: str, not_applicable: Callable[[Scenario], str | None]
) -> tuple[Scenario, str, Prepared]:
    """The chosen scenario, its reply to ``prompt`` and its cuts, for a dialect
    (a 400 when the scenario means nothing on it, or would stream too much)."""
    scenario = ctx.scenario
    if scenario is None:  # pragma: no cover - the dispatcher always chooses first
        raise RuntimeError("an endpoint answered before its scenario was chosen")
    reason = not_applicable(scenario)
    if reason is not None:
        raise BadRequest(400, f"scenario {scenario.name!r} does not apply to {dialect}: {reason}")
    text = reply_text(scenario.reply, prompt)
    prepared = (
        # Cutting and escaping a long text takes a while: in a worker thread.
        await asyncio.to_thread(prepare, scenario, text)
        if len(text) > CACHE_TEXT_CHARS
        else prepare(scenario, text)
    )
    limit = ctx.config.max_stream_bytes
    if estimated_bytes(scenario, prepared) > limit:
        raise BadRequest(
            400,
            f"scenario {scenario.name!r} would stream more than {limit:,} bytes for this prompt",
        )
    return scenario, text, prepared


def scripted_answer(
    error: HttpError, json_body: Callable[[], bytes], headers: Mapping[str, str] = {}
) -> web.Response:
    """A scenario's HTTP error on any API: the body it asks for (a CDN's HTML page, or
    nothing, whatever the API; else ``json_body()``, the API's own error), with
    ``Retry-After`` when it gives one."""
    headers = dict(headers)
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.body == "html":
        return web.Response(status=error.status, text=CDN_CHALLENGE_HTML,
                            content_type="text/html", headers=headers)  # fmt: skip
    if error.body == "empty":
        return web.Response(status=error.status, body=b"", headers=headers)
    return web.Response(status=error.status, body=json_body(),
                        content_type="application/json", headers=headers)  # fmt: skip


async def replayed_answer(
    request: web.BaseRequest,
    ctx: Context,
    scenario: Scenario,
    shapes: Shapes,
    extra: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """The scenario's recording, byte for byte, with its faults in the look of ``shapes``
    (the recorded API's), its status and headers as recorded."""
    recording = scenario.recording
    if recording is None:  # pragma: no cover - the answers call it only for a recording
        raise RuntimeError(f"scenario {scenario.name!r} has no recording")
    return await streamed(request, ctx, replayed(scenario, shapes), transport_of(scenario),
                          recording.status, dict(recording.headers), extra)  # fmt: skip


def transport_of(scenario: Scenario) -> Transport | None:
    """The network the conversation's answer goes through (None: a plain socket)."""
    return scenario.transport if scenario.transport.applies("conversation") else None


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
        playing = play(request, steps, ctx.config.clock, ctx.config.speed, ctx.call,
                       extra if extra is not None else ctx.cors, transport, status, headers)  # fmt: skip
        if not ctx.config.speed:
            return await playing  # unpaced: it never sleeps, and a task costs a loop turn
        # In a task of its own: each time a paced stream wakes, it resumes the player
        # alone, not the five handler frames that await it (0.4 ms CPU a 5 s stream).
        # Cancelling the handler cancels the task it awaits.
        return await asyncio.ensure_future(playing)
    finally:
        metrics.stream_ended()


async def whole_answer_faults(
    request: web.BaseRequest, ctx: Context, scenario: Scenario, error_message: str
) -> web.StreamResponse | None:
    """For an answer sent whole (no stream), the stream's faults that mean something for
    one body: a stall waits, an error is a 500, a cut (drop, reset, close, half-open)
    cuts the connection (returned: the answer that never goes out). None: answer as
    usual."""
    for fault in scenario.faults:
        spec = FAULTS[fault.kind]
        if spec.waits:
            await ctx.config.clock.sleep(fault.seconds)
        elif spec.fails:
            raise BadRequest(500, fault.text or error_message)
        elif spec.cut is not None:
            if spec.holds:
                await ctx.config.clock.sleep(min(fault.seconds or 3600.0, 3600.0))
            ctx.call.ending = Ending("never_sent", fault=fault.kind)
            # A half-open connection, once given up, is cut as a drop is.
            end_connection(request, "abort" if spec.holds else spec.cut)
            return web.Response(status=200)
    return None
