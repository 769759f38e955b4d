"""Cohere's v2 API: ``POST /v2/chat`` (typed SSE events with ``"stream": true``, else one
response) and ``POST /v2/embed``.

The same scenarios as the other dialects, in Cohere's shapes: a key is
``Authorization: Bearer …`` (any non-empty one; none gets the API's 401), a request
is validated as the API does, and every error is ``{"id", "message"}``. Scenarios are
chosen as for ``/api/conversation``.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario import ANSWER, Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Called, Capture, Conversation, Dialect, plain_errors
from ..embeddings import embeddings_of, float32_base64, token_count
from ..speaker import (
    DeltaSpeaker,
    Given,
    Incoming,
    Streamed,
    Whole,
    json_object,
    too_long,
)
from .capture import read_capture
from .plan import NAME, TITLE, finish_reason, not_applicable, planned_cohere
from .read import asked_of_chat
from .shapes import FAULT_SHAPES, shapes
from .wire import EMBED_DIMENSIONS, CohereContext, error_body, response_object

__all__ = ["DIALECT", "CohereRequest", "CohereSpeaker"]

_UNREADABLE: Final = "invalid request: the body is not valid JSON"
MESSAGES: Final = {
    401: "invalid api token",
    429: "You are using a Trial key, which is limited to 20 API calls / minute. You can "
    "continue to use the Trial key for free or upgrade to a Production key with higher "
    "rate limits at 'https://dashboard.cohere.com/api-keys'.",
    500: "internal server error, this has been reported to our developers",
    503: "the service is overloaded, please try again later",
}


def check_key(incoming: Incoming) -> None:
    scheme, _, key = incoming.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise BadRequest(401, "no api key supplied")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "invalid request: model must be a non-empty string")
    return model


class CohereRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    prompt_tokens: int


class CohereSpeaker(DeltaSpeaker[CohereRequest, CohereContext]):
    holes = ("id",)
    failed = MESSAGES[500]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, CohereRequest]:
        check_key(incoming)
        body = json_object(incoming, _UNREADABLE)
        model = _model(body)
        asked = asked_of_chat(body, model)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest(400, "invalid request: stream must be a boolean")
        if too_long(asked.prompt, given.max_prompt):
            raise BadRequest(400, "invalid request: too many tokens: the total number of "
                             "tokens in the prompt exceeds the model's limit")  # fmt: skip
        return asked, CohereRequest(asked.prompt, model, stream, asked.tokens)

    def begin(
        self, parsed: CohereRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> CohereContext:
        return CohereContext(str(uuid.uuid4()), parsed.prompt_tokens)

    def replay_shapes(self, context: CohereContext, given: Given) -> Shapes:
        return shapes(context)

    def whole(
        self, parsed: CohereRequest, context: CohereContext, scenario: Scenario, planned: Prepared
    ) -> Any:
        reply = scenario.reply
        calls = reply.every_call(planned.text)
        thinking = "" if reply.redacted else reply.reasoning
        return response_object(context, "" if reply.tool else planned.text,
                               finish_reason(scenario), len(planned.ends), calls,
                               thinking)  # fmt: skip

    def stream(
        self,
        parsed: CohereRequest,
        context: CohereContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_cohere(scenario, context, planned))


ERRORS: Final = plain_errors(error_body, MESSAGES, "message")

_EMBED_TYPES: Final = ("float", "base64", "int8", "uint8", "binary", "ubinary")


class EmbedRequest(NamedTuple):
    model: str
    texts: tuple[str, ...]
    dimensions: int
    types: tuple[str, ...]
    tokens: int


def _read_embed(incoming: Incoming, given: Given) -> EmbedRequest:
    check_key(incoming)
    body = json_object(incoming, _UNREADABLE)
    model = _model(body)
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequest(400, "invalid request: texts must be a non-empty list of strings")
    if len(texts) > 96:
        raise BadRequest(400, "invalid request: texts cannot have more than 96 elements")
    if not isinstance(body.get("input_type"), str):
        raise BadRequest(400, "invalid request: input_type is required for embed models v3 "
                         "and higher")  # fmt: skip
    types = body.get("embedding_types", ["float"])
    if not isinstance(types, list) or not types or any(t not in ("float", "base64")
                                                        for t in types):  # fmt: skip
        raise BadRequest(400, "invalid request: embedding_types must be 'float' or 'base64' "
                         "(this emulator makes no quantized vectors)")  # fmt: skip
    whole = EMBED_DIMENSIONS.get(model, 1024)
    asked = body.get("output_dimension", whole)
    if asked not in (256, 512, 1024, 1536, whole) or asked > whole:
        raise BadRequest(400, f"invalid request: output_dimension must be one of 256, 512, "
                         f"1024, 1536 and at most {whole} for {model}")  # fmt: skip
    if too_long("".join(texts), given.max_prompt):
        raise BadRequest(400, "invalid request: too many tokens")
    tokens = sum(token_count(t) for t in texts)
    return EmbedRequest(model, tuple(texts), asked, tuple(types), tokens)


async def _answer_embed(request: EmbedRequest, scenario: Scenario, given: Given) -> Whole:
    def vectors_of() -> list[list[float]]:
        return embeddings_of(request.texts, request.dimensions, scripted=scenario.reply.vector)

    vectors = await given.costly(vectors_of)
    made: dict[str, Any] = {}
    if "float" in request.types:
        made["float"] = vectors
    if "base64" in request.types:
        made["base64"] = [float32_base64(v) for v in vectors]
    return Whole.json({
        "id": str(uuid.uuid4()),
        "embeddings": made,
        "texts": list(request.texts),
        "meta": {"api_version": {"version": "2"},
                 "billed_units": {"input_tokens": request.tokens}},
        "response_type": "embeddings_by_type",
    })  # fmt: skip


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v2/chat",
    routes={
        "/v2/chat": {"POST": Conversation(CohereSpeaker)},
        "/v2/embed": {"POST": Called(ANSWER, _read_embed, _answer_embed)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    doc="Cohere's v2 Chat (stream: true: typed events, message-start, content-delta, "
    "tool-call-*, message-end with its finish_reason; no [DONE])",
)
