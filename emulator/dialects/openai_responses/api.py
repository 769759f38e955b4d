"""OpenAI's Responses API: ``POST /v1/responses``.

The same scenarios as the other dialects, as ``response.*`` events with
``sequence_number``s; a key, the errors and the models list are Chat
Completions' (:mod:`emulator.dialects.openai_chat.api`).
"""

from __future__ import annotations

import random
from typing import Final, NamedTuple

from aiohttp import web

from ...http.dialect import (
    json_object,
    replayed_answer,
    reply_for,
    streamed,
    too_long,
    transport_of,
    whole_answer_faults,
)
from ...http.errors import BadRequest, Context, json_kind
from ...scenario.asked import Asked
from ..dialect import Dialect, Route, json_error_message
from ..openai_chat.api import BUDGET, MESSAGES, UNREADABLE, check_key, scripted_error
from ..openai_chat.read import STREAM_TYPE
from ..openai_chat.wire import error_body
from ..strict import is_strict, refuse
from .capture import read_capture
from .plan import NAME, TITLE, Numbered, not_applicable, planned_responses, whole_response
from .read import STRICT_RULES, asked_of_responses, reasoned_tail
from .shapes import FAULT_SHAPES, shapes
from .wire import ResponseContext

__all__ = ["DIALECT", "answer_responses", "read_responses"]

_IDS: Final = random.Random()


class ResponsesRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    input_tokens: int
    summary: bool = False  # reasoning.summary asked for the reasoning's summary
    encrypted: bool = False  # include asked for reasoning.encrypted_content


async def read_responses(request: web.BaseRequest, ctx: Context) -> tuple[Asked, ResponsesRequest]:
    """The Responses API's request: ``input`` (a string, or items), ``model``, ``stream``."""
    check_key(request)
    body = await json_object(request, UNREADABLE)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "Missing required parameter: 'model'.")
    signer = ctx.signer
    asked = asked_of_responses(body, model, is_strict(ctx, request.headers), signer.unsealed,
                               signer.mark)  # fmt: skip
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise refuse(STREAM_TYPE, kind=json_kind(stream))
    prompt = asked.prompt
    if too_long(prompt, ctx.config.max_prompt):
        raise BadRequest(400, "Your input exceeds the context window of this model.")
    reasoning, include = body.get("reasoning"), body.get("include")
    summary = isinstance(reasoning, dict) and reasoning.get("summary") not in (None, "none")
    encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include
    return asked, ResponsesRequest(prompt, model, stream, asked.tokens, summary, encrypted)


async def answer_responses(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    parsed: ResponsesRequest = ctx.parsed
    scenario, text, prepared = await reply_for(ctx, parsed.prompt, TITLE, not_applicable)
    reasoning = scenario.reply.reasoning  # a reasoning model's: its item is always there
    # Its items' ids say they came with reasoning, to hold a client to sending it back.
    tail = reasoned_tail(ctx.signer.mark) if reasoning else f"{_IDS.getrandbits(120):030x}"
    response = ResponseContext(
        id=f"resp_{_IDS.getrandbits(120):030x}",
        item_id="msg_" + tail,
        created_at=int(ctx.config.clock.wall()),
        model=parsed.model,
        input_tokens=parsed.input_tokens,
        reasoning=reasoning,
        summary=parsed.summary and not scenario.reply.redacted,
        encrypted=ctx.signer.sealed(reasoning) if reasoning and parsed.encrypted else "",
        cached_tokens=min(scenario.reply.cached_tokens, parsed.input_tokens),
    )
    if scenario.recording is not None:
        # A recording's events are numbered already: a fault resends none of them.
        faults = shapes(response, Numbered(), ctx.config.clock.wall())
        return await replayed_answer(request, ctx, scenario, faults)
    if not parsed.stream:
        cut = await whole_answer_faults(request, ctx, scenario, MESSAGES[500])
        if cut is not None:
            return cut
        return web.json_response(whole_response(scenario, response, text, len(prepared.ends)))
    steps = planned_responses(scenario, response, prepared, ctx.config.clock.wall())
    return await streamed(request, ctx, steps, transport_of(scenario))


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/responses",
    routes={"/v1/responses": {"POST": Route(answer_responses, "conversation", read_responses)}},
    not_applicable=not_applicable,
    shapes=FAULT_SHAPES,
    read_capture=read_capture,
    scripted_error=scripted_error,
    error_body=error_body,
    error_message=json_error_message,
    strict_rules=STRICT_RULES,
    budget=BUDGET,
    doc="OpenAI's Responses API (``stream: true``: numbered response.* events)",
)
