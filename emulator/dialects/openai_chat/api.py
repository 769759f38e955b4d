"""OpenAI's Chat Completions: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The same scenarios as the FakeGpt endpoints, in OpenAI's shapes: a key is
``Authorization: Bearer sk-…`` (any such key is accepted; a missing or
malformed one gets the API's 401), a request is validated as the API does
(a 400 names the ``param``), and every error is ``{"error": {…}}``.
Scenarios are chosen as for ``/api/conversation`` (header, ``[scenario:]``
in the last user message, rules, queue, active, default).
"""

from __future__ import annotations

import random
from typing import Final, NamedTuple

from aiohttp import web

from ...http.dialect import (
    json_object,
    replayed_answer,
    reply_for,
    scripted_answer,
    streamed,
    too_long,
    transport_of,
    whole_answer_faults,
)
from ...http.errors import BadRequest, Context, json_kind
from ...scenario import HttpError
from ...scenario.asked import Asked
from ..dialect import BudgetShape, Dialect, Route, json_error_message
from ..strict import is_strict, refuse
from .capture import read_capture
from .plan import NAME, TITLE, finish_reason, not_applicable, planned_chat
from .read import ROLES, STREAM_TYPE, STRICT_RULES, asked_of_chat, content_text
from .shapes import FAULT_SHAPES, shapes
from .wire import (
    ChatContext,
    completion_object,
    error_body,
    models_body,
    token_headers,
    token_limit_message,
)

__all__ = [
    "BUDGET",
    "DIALECT",
    "MESSAGES",
    "ROLES",
    "UNREADABLE",
    "answer_chat",
    "answer_models",
    "check_key",
    "content_text",
    "read_chat",
    "scripted_error",
]

_IDS: Final = random.Random()
UNREADABLE: Final = "We could not parse the JSON body of your request"


class ChatRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    include_usage: bool
    prompt_tokens: int


def scripted_error(error: HttpError) -> web.Response:
    """A scenario's HTTP error in the API's shape (with Retry-After, as the API sends it)."""
    limits = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0"}
    message = error.detail or MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, lambda: error_body(error.status, message),
                           limits if error.status == 429 else {})  # fmt: skip


MESSAGES: Final = {
    401: "Incorrect API key provided.",
    403: "Country, region, or territory not supported.",
    413: "Request too large for this model. Please reduce the length of the messages.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


def check_key(request: web.BaseRequest) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise BadRequest(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if scheme.lower() != "bearer" or not key.strip().startswith("sk-"):
        raise BadRequest(401, f"Incorrect API key provided: {key.strip()[:8]}***.")


async def read_chat(request: web.BaseRequest, ctx: Context) -> tuple[Asked, ChatRequest]:
    check_key(request)
    body = await json_object(request, UNREADABLE)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "'messages' must be a non-empty array of messages.")
    asked = asked_of_chat(body, model, is_strict(ctx, request.headers))
    stream = body.get("stream", False)
    options = body.get("stream_options")
    if not isinstance(stream, bool):
        raise refuse(STREAM_TYPE, kind=json_kind(stream))
    if options is not None and (not isinstance(options, dict) or not stream):
        raise BadRequest(400, "'stream_options' is only allowed when 'stream' is true.")
    include_usage = bool(options and options.get("include_usage"))
    prompt = asked.prompt
    if too_long(prompt, ctx.config.max_prompt):
        raise BadRequest(400, "This model's maximum context length was exceeded.")
    return asked, ChatRequest(prompt, model, stream, include_usage, asked.tokens)


async def answer_chat(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    parsed: ChatRequest = ctx.parsed
    scenario, text, prepared = await reply_for(ctx, parsed.prompt, TITLE, not_applicable)
    chat = ChatContext(
        id=f"chatcmpl-{_IDS.getrandbits(120):030x}",
        created=int(ctx.config.clock.wall()),
        model=parsed.model,
        include_usage=parsed.include_usage,
        prompt_tokens=parsed.prompt_tokens,
        reasoning_tokens=len(scenario.reply.reasoning.split()),
        cached_tokens=min(scenario.reply.cached_tokens, parsed.prompt_tokens),
    )
    if scenario.recording is not None:
        return await replayed_answer(request, ctx, scenario, shapes(chat, ctx.config.clock.wall()))
    if not parsed.stream:
        cut = await whole_answer_faults(request, ctx, scenario, MESSAGES[500])
        if cut is not None:
            return cut
        reply = scenario.reply
        body = completion_object(chat, text, finish_reason(scenario), len(prepared.ends),
                                 reply.tool, reply.calls,
                                 refusal=reply.refusal,
                                 azure=scenario.wire.azure_filters)  # fmt: skip
        return web.json_response(body)
    steps = planned_chat(scenario, chat, prepared, ctx.config.clock.wall())
    return await streamed(request, ctx, steps, transport_of(scenario))


async def answer_models(request: web.BaseRequest, ctx: Context) -> web.Response:
    check_key(request)
    return web.Response(body=models_body(), content_type="application/json")


#: A token budget in OpenAI's headers and words (the Responses API's too).
BUDGET: Final = BudgetShape(
    lambda b: token_headers(b.limit, b.remaining, b.reset),
    lambda b, asked, model: token_limit_message(b.limit, b.remaining, b.reset, asked, model),
)

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/chat/completions",
    routes={
        "/v1/chat/completions": {"POST": Route(answer_chat, "conversation", read_chat)},
        "/v1/models": {"GET": Route(answer_models)},
    },
    not_applicable=not_applicable,
    shapes=FAULT_SHAPES,
    read_capture=read_capture,
    scripted_error=scripted_error,
    error_body=error_body,
    error_message=json_error_message,
    strict_rules=STRICT_RULES,
    budget=BUDGET,
    doc="OpenAI's Chat Completions (``stream: true``: chat.completion.chunk deltas, then [DONE])",
)
