"""Google's Gemini API: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent`` (and the same under ``/v1/``), ``GET /v1beta/models``.

The same scenarios as the other dialects, in Gemini's shapes: a key is the
``x-goog-api-key`` header or ``?key=`` (any non-empty key; none gets the API's
403 ``PERMISSION_DENIED``), the model is named in the path, a request is
validated as the API does, and every error is ``{"error": {"code", "message",
"status"}}``. Scenarios are chosen as for ``/api/conversation``. A stream is
SSE with ``alt=sse`` (what the SDKs ask for), else the API's default: one JSON
array whose elements are sent as they come (a scenario whose faults are SSE
framing is refused there with a 400 that says why).
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
from ...http.errors import BadRequest, Context
from ...scenario import HttpError
from ...scenario.asked import Asked
from ..dialect import Dialect, Route, json_error_message
from ..strict import is_strict
from .capture import read_capture
from .plan import (
    NAME,
    TITLE,
    finish_reason,
    not_applicable,
    planned_gemini,
    planned_gemini_array,
)
from .read import STRICT_RULES, asked_of_gemini
from .shapes import FAULT_SHAPES, array_not_applicable, shapes
from .wire import GeminiContext, chunk_object, error_body, models_body

__all__ = ["DIALECT", "answer_gemini", "answer_models", "read_gemini", "scripted_error"]

_IDS: Final = random.Random()
#: Where the model's methods are served (the API's two versions; the SDK's default is
#: v1): the model and the method follow.
PREFIX: Final = "/v1beta/models/"
PREFIX_V1: Final = "/v1/models/"
_MESSAGES: Final = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The model is overloaded. Please try again later.",
}


class GeminiRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    array: bool  # the default streamed form: one JSON array (no alt=sse)
    prompt_tokens: int


def scripted_error(error: HttpError) -> web.Response:
    message = error.detail or _MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, lambda: error_body(error.status, message))


def _key(request: web.BaseRequest) -> None:
    if not (request.headers.get("x-goog-api-key") or request.query.get("key")):
        raise BadRequest(
            403,
            "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
        )


async def read_gemini(request: web.BaseRequest, ctx: Context) -> tuple[Asked, GeminiRequest]:
    rest = request.path.removeprefix(PREFIX).removeprefix(PREFIX_V1)
    model, colon, method = rest.rpartition(":")
    if not colon or not model or method not in ("generateContent", "streamGenerateContent"):
        raise BadRequest(404, f"Method not found: {request.path}")
    _key(request)
    stream = method == "streamGenerateContent"
    array = stream and request.query.get("alt") != "sse"
    body = await json_object(request, "Invalid JSON payload received")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest(400, "* GenerateContentRequest.contents: contents is not specified")
    model = model.removeprefix("models/")
    asked = asked_of_gemini(body, model, is_strict(ctx, request.headers))
    prompt = asked.prompt
    if too_long(prompt, ctx.config.max_prompt):
        raise BadRequest(400, "The input token count exceeds the maximum number of tokens "
                         "allowed.")  # fmt: skip
    return asked, GeminiRequest(prompt, model, stream, array, asked.tokens)


async def answer_gemini(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    parsed: GeminiRequest = ctx.parsed
    scenario, text, prepared = await reply_for(ctx, parsed.prompt, TITLE, not_applicable)
    thoughts = len(scenario.reply.reasoning.split())  # a thinking model's, shown or not
    gemini = GeminiContext(f"{_IDS.getrandbits(96):024x}", parsed.model, parsed.prompt_tokens,
                           thoughts, min(scenario.reply.cached_tokens, parsed.prompt_tokens))  # fmt: skip
    if scenario.recording is not None:
        return await replayed_answer(request, ctx, scenario, shapes())
    if not parsed.stream:
        cut = await whole_answer_faults(request, ctx, scenario, _MESSAGES[500])
        if cut is not None:
            return cut
        whole = chunk_object(gemini, text, finish_reason(scenario), len(prepared.ends),
                             scenario.reply.tool, reasoning="" if scenario.reply.redacted else scenario.reply.reasoning,
                             calls=scenario.reply.calls)  # fmt: skip
        return web.json_response(whole)
    if parsed.array:
        reason = array_not_applicable(scenario)
        if reason is not None:
            raise BadRequest(400, f"scenario {scenario.name!r} does not apply to Gemini's "
                             f"JSON-array stream (ask with ?alt=sse): {reason}")  # fmt: skip
        steps = planned_gemini_array(scenario, gemini, prepared)
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        return await streamed(request, ctx, steps, transport_of(scenario), headers=headers,
                              extra=ctx.cors)  # fmt: skip
    steps = planned_gemini(scenario, gemini, prepared)
    return await streamed(request, ctx, steps, transport_of(scenario))


async def answer_models(request: web.BaseRequest, ctx: Context) -> web.Response:
    _key(request)
    return web.Response(body=models_body(), content_type="application/json")


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/models/",
    routes={"/v1beta/models": {"GET": Route(answer_models)}},
    prefixes={
        prefix: {"POST": Route(answer_gemini, "conversation", read_gemini)}
        for prefix in (PREFIX, PREFIX_V1)
    },
    not_applicable=not_applicable,
    shapes=FAULT_SHAPES,
    read_capture=read_capture,
    scripted_error=scripted_error,
    error_body=error_body,
    error_message=json_error_message,
    strict_rules=STRICT_RULES,
    doc="Google's Gemini API (streamGenerateContent?alt=sse: GenerateContentResponse "
    "chunks, the last with finishReason; the stream just ends)",
)
