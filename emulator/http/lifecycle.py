"""THE request lifecycle of a dialect's route, written once.

For every request to an API the emulator speaks: read it into the dialect's
typed request (the dialect's reader, given an :class:`~emulator.dialects.speaker.Incoming`
and a :class:`~emulator.dialects.speaker.Given`), choose the scenario and
the turn, draw chaos, inject the scenario's HTTP error or spend its token
budget, have the dialect answer (a :class:`~emulator.dialects.speaker.Whole`
body or a :class:`~emulator.dialects.speaker.Streamed` plan), and send or
play it through the scenario's network. Every error is answered in the
dialect's own shape. The journal entry (``ctx.call``) notes each step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..core.endings import Ending
from ..dialects.dialect import Called, Plain, Rpc
from ..dialects.speaker import Given, Incoming, Speaker, Whole
from ..engine.play import deliver, end_connection
from ..protocol.errors import BadRequest
from ..scenario import ANSWER, HttpError, Scenario, Transport
from ..scenario.asked import Asked
from ..scenario.faults import FAULTS
from .asking import applicable, choose, given_for, sent
from .budget import spent
from .connection import converse
from .context import Context, preflight
from .exchange import exchange
from .legacy_sse import listened, posted
from .routes import Admin, RouteTable, Served
from .streams import streamed

__all__ = ["dispatch", "sent"]


async def dispatch(
    request: web.BaseRequest, ctx: Context, routes: RouteTable, body: bytes
) -> web.StreamResponse:
    """Answer ``request`` (its ``body`` read whole) by the route it asks for."""
    if ctx.cors and request.method == "OPTIONS":  # cors is only ever set on upstream paths
        return preflight(ctx.cors)
    entry, params = routes.route_of(request)
    if isinstance(entry, Admin):
        return await entry.handler(request, ctx)
    ctx.call.dialect = entry.dialect.name
    # A refusal (a BadRequest) is answered in the dialect's shape by the handler
    # (emulator.http.app), as every error on its routes is.
    if entry.talker is not None:
        return await converse(request, ctx, entry, entry.talker, body)
    if entry.server is not None:
        transport = entry.route.transport if isinstance(entry.route, Rpc) else None
        if transport == "sse_stream":
            return await listened(request, ctx, entry, entry.server)
        if transport == "sse_messages":
            return await posted(request, ctx, entry, entry.server, body)
        return await exchange(request, ctx, entry, entry.server, body)
    return await _answered(request, ctx, entry, body, params)


async def _answered(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    body: bytes,
    params: Mapping[str, str],
) -> web.StreamResponse:
    route = served.route
    given = given_for(request, ctx)
    incoming = Incoming(request.method, request.path, request.query, request.headers, body,
                        params)  # fmt: skip
    if isinstance(route, Plain):
        return sent(route.answer(incoming, given))
    speaker = served.speaker
    asked: Asked | None = None
    parsed: Any
    if isinstance(route, Called):
        parsed = route.read(incoming, given)
    elif speaker is not None:
        asked, parsed = speaker.read(incoming, given)
    else:  # pragma: no cover - the route table makes a speaker for every conversation
        raise RuntimeError(f"no speaker for {request.path}")
    endpoint = route.endpoint
    scenario = choose(request, ctx, endpoint, asked)
    n = ctx.call.number = ctx.state.next_call(scenario, endpoint)
    drawn = ctx.state.draw_chaos(scenario, endpoint)
    if drawn is not None:
        scenario, ctx.call.chaos = drawn
    ctx.call.served = scenario
    given = given._replace(number=n)
    errors = served.dialect.errors
    scripted = scenario.http_error(endpoint, n)
    budget: Mapping[str, str] = {}
    if scenario.rate_limit.tokens and endpoint == "conversation":
        refused, budget = spent(ctx, errors, scenario, asked)
        if refused is not None:
            return sent(refused)
    response: web.StreamResponse
    if scripted is not None:
        response = sent(errors.scripted(scripted))
    elif isinstance(route, Called):
        response = await _called(request, ctx, route, parsed, scenario, given)
    elif speaker is not None:
        response = await _conversation(request, ctx, served, speaker, parsed, scenario, given,
                                       budget)  # fmt: skip
    if budget and not response.prepared:
        response.headers.update(budget)
    transport = scenario.transport
    if isinstance(response, web.Response) and transport.applies(endpoint):
        # A whole answer (JSON, an error) through the scenario's network; a
        # stream went through it as it was played.
        return await deliver(request, response, transport, ctx.call, ctx.config.clock)
    return response


async def _called(
    request: web.BaseRequest,
    ctx: Context,
    route: Called[Any],
    parsed: Any,
    scenario: Scenario,
    given: Given,
) -> web.StreamResponse:
    """A call's answer, sent whole; on the API's answers (its embeddings), the stream's
    faults that mean something for one body act on it first."""
    if route.endpoint == ANSWER:
        cut = await _whole_answer_faults(request, ctx, scenario, "The server had an error.")
        if cut is not None:
            return cut
    answer = route.answer(parsed, scenario, given)
    return sent(answer if isinstance(answer, Whole) else await answer)


async def _conversation(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    speaker: Speaker[Any, Any, Any],
    parsed: Any,
    scenario: Scenario,
    given: Given,
    budget: Mapping[str, str],
) -> web.StreamResponse:
    """The dialect's answer to a conversation request under ``scenario``."""
    dialect = served.dialect
    limit = ctx.config.limits.streams
    if ctx.state.metrics.in_flight >= limit:
        # Past the cap, the API's own overloaded error: a client retries it later.
        ctx.call.detail = f"refused: {limit:,} answers in flight (limits.streams)"
        errors = dialect.errors
        return sent(errors.scripted(HttpError("conversation", errors.overloaded, retry_after=1)))
    applicable(dialect, scenario)
    answer = await speaker.answer(parsed, scenario, given)
    if isinstance(answer, Whole):
        cut = await _whole_answer_faults(request, ctx, scenario, speaker.failed)
        return cut if cut is not None else sent(answer)
    extra = {**answer.extra, **ctx.cors, **budget}
    return await streamed(request, ctx, answer.steps, _transport_of(scenario), answer.status,
                           answer.headers, extra)  # fmt: skip


def _transport_of(scenario: Scenario) -> Transport | None:
    """The network the conversation's answer goes through (None: a plain socket)."""
    return scenario.transport if scenario.transport.applies("conversation") else None


async def _whole_answer_faults(
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
