"""Anthropic's Messages API: ``POST /v1/messages``.

The same scenarios as the FakeGpt endpoints, in Anthropic's shapes: a key is
``x-api-key: sk-ant-…`` or ``Authorization: Bearer sk-ant-…`` (any such key;
a missing or malformed one gets the API's 401 ``authentication_error``), ``anthropic-version`` is required, a
request is validated as the API does, and every error is ``{"type":
"error", "error": {"type", "message"}}``. Scenarios are chosen as for
``/api/conversation``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
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
from ...http.errors import BadRequest, Context
from ...scenario import HttpError
from ...scenario.asked import Asked
from ..dialect import BudgetShape, Dialect, Route, json_error_message
from ..strict import is_strict, refuse
from .capture import read_capture
from .plan import NAME, TITLE, not_applicable, planned_messages, stop_reason
from .read import MAX_TOKENS, STRICT_RULES, asked_of_messages, thinking_enabled
from .shapes import FAULT_SHAPES, shapes
from .wire import (
    MessageContext,
    error_body,
    message_object,
    token_headers,
    token_limit_message,
)

__all__ = [
    "DIALECT",
    "answer_messages",
    "read_messages",
    "scripted_error",
]

_IDS: Final = random.Random()


class MessagesRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    input_tokens: int
    thinking: bool  # the request turns extended thinking on


_MESSAGES: Final = {
    401: "invalid x-api-key",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}


def scripted_error(error: HttpError) -> web.Response:
    headers = {"request-id": _request_id()}
    if error.status == 429:
        headers["anthropic-ratelimit-requests-remaining"] = "0"
    message = error.detail or _MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, lambda: error_body(error.status, message), headers)


def _request_id() -> str:
    return f"req_{_IDS.getrandbits(96):024x}"


async def read_messages(request: web.BaseRequest, ctx: Context) -> tuple[Asked, MessagesRequest]:
    key = request.headers.get("x-api-key")
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if key is None and scheme.lower() == "bearer":
        key = bearer.strip()  # what newer SDKs send
    if key is None:
        raise BadRequest(401, "x-api-key header is required")
    if not key.startswith("sk-ant-"):
        raise BadRequest(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        raise BadRequest(400, "anthropic-version: header is required")
    body = await json_object(request, "The request body is not valid JSON")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise refuse(MAX_TOKENS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "messages: at least one message is required")
    strict = is_strict(ctx, request.headers)
    signer = ctx.signer
    asked = asked_of_messages(body, model, strict, signer.thinking_signature, signer.unsealed)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest(400, "stream: Input should be a valid boolean")
    prompt = asked.prompt
    if too_long(prompt, ctx.config.max_prompt):
        raise BadRequest(400, "prompt is too long")
    return asked, MessagesRequest(prompt, model, stream, asked.tokens, thinking_enabled(body))


async def answer_messages(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    parsed: MessagesRequest = ctx.parsed
    scenario, text, prepared = await reply_for(ctx, parsed.prompt, TITLE, not_applicable)
    # With thinking on, a thinking block always comes first, as a thinking model's does (its
    # text empty where the scenario gives no reasoning, as with display "omitted").
    thinking = scenario.reply.reasoning if parsed.thinking else ""
    signature = ctx.signer.thinking_signature(thinking) if parsed.thinking else ""
    redacted = ctx.signer.sealed(thinking) if thinking and scenario.reply.redacted else ""
    message = MessageContext(f"msg_{_IDS.getrandbits(120):030x}", parsed.model,
                             parsed.input_tokens, thinking, signature, redacted,
                             min(scenario.reply.cached_tokens, parsed.input_tokens))  # fmt: skip
    headers = {"request-id": _request_id(), **ctx.cors}
    if scenario.recording is not None:
        return await replayed_answer(request, ctx, scenario, shapes(), headers)
    if not parsed.stream:
        cut = await whole_answer_faults(request, ctx, scenario, _MESSAGES[500])
        if cut is not None:
            return cut
        reply = scenario.reply
        body = message_object(message, text, stop_reason(scenario), len(prepared.ends),
                              reply.tool, reply.calls)  # fmt: skip
        return web.json_response(body, headers=headers)
    steps = planned_messages(scenario, message, prepared)
    return await streamed(request, ctx, steps, transport_of(scenario), extra=headers)


def _reset_at(seconds: float) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


BUDGET: Final = BudgetShape(
    lambda b: token_headers(b.limit, b.remaining, _reset_at(b.reset)),
    lambda b, asked, model: token_limit_message(b.limit),
)

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/messages",
    routes={"/v1/messages": {"POST": Route(answer_messages, "conversation", read_messages)}},
    not_applicable=not_applicable,
    shapes=FAULT_SHAPES,
    read_capture=read_capture,
    scripted_error=scripted_error,
    error_body=error_body,
    error_message=json_error_message,
    strict_rules=STRICT_RULES,
    budget=BUDGET,
    doc="Anthropic's Messages API (``stream: true``: message_start … message_stop events)",
)
