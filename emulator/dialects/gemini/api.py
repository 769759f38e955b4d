"""Google's Gemini API: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent`` (and the same under ``/v1/``), ``GET /v1beta/models``, and
embeddings (``:embedContent``, ``:batchEmbedContents``: :mod:`.embed`).

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
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario import Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Capture, Conversation, Dialect, Plain
from ..google import ERRORS, MESSAGES, call_arguments, check_key, signed_call
from ..google_read import STRICT_RULES, asked_of_gemini, signs
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
from .embed import BATCH, SINGLE, embed_call
from .plan import (
    NAME,
    TITLE,
    finish_reason,
    not_applicable,
    planned_gemini,
    planned_gemini_array,
)
from .shapes import FAULT_SHAPES, array_not_applicable, shapes
from .wire import GeminiContext, chunk_object, models_body

__all__ = ["DIALECT", "GeminiRequest", "GeminiSpeaker"]

_IDS: Final = random.Random()
#: Where the model's methods are served (the API's two versions; the SDK's default is
#: v1): the model and the method follow.
PREFIX: Final = "/v1beta/models/"
PREFIX_V1: Final = "/v1/models/"
#: The headers of the default streamed form: one JSON array.
_ARRAY_HEADERS: Final = {"Content-Type": "application/json; charset=UTF-8"}


class GeminiRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    array: bool  # the default streamed form: one JSON array (no alt=sse)
    prompt_tokens: int
    opening: str = ""  # its conversation's first message (what its signatures are bound to)


class GeminiSpeaker(DeltaSpeaker[GeminiRequest, GeminiContext]):
    holes = ("response_id",)
    failed = MESSAGES[500]

    def called(self, incoming: Incoming) -> tuple[str, str]:
        """The model and the method the path names (a 404 for a method it has not)."""
        rest = incoming.path.removeprefix(PREFIX).removeprefix(PREFIX_V1)
        model, colon, method = rest.rpartition(":")
        if not colon or not model or method not in ("generateContent", "streamGenerateContent"):
            raise BadRequest(404, f"Method not found: {incoming.path}")
        return model, method

    def keyed(self, incoming: Incoming) -> None:
        """Refuse a request without a key this API takes."""
        check_key(incoming)

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, GeminiRequest]:
        model, method = self.called(incoming)
        self.keyed(incoming)
        stream = method == "streamGenerateContent"
        array = stream and incoming.query.get("alt") != "sse"
        body = json_object(incoming, "Invalid JSON payload received")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest(400, "* GenerateContentRequest.contents: contents is not specified")
        model = model.removeprefix("models/")
        signer = given.signer
        asked = asked_of_gemini(body, model, given.strict,
                                lambda opening: signer.conversation(NAME, opening))  # fmt: skip
        prompt = asked.prompt
        if too_long(prompt, given.max_prompt):
            raise BadRequest(400, "The input token count exceeds the maximum number of tokens "
                             "allowed.")  # fmt: skip
        return asked, GeminiRequest(prompt, model, stream, array, asked.tokens, asked.opening)

    def begin(
        self, parsed: GeminiRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> GeminiContext:
        thoughts = len(scenario.reply.reasoning.split())  # a thinking model's, shown or not
        reply, signature = scenario.reply, ""
        first = (reply.tool, planned.text) if reply.tool else next(iter(reply.calls), None)
        if first is not None and signs(parsed.model):  # Gemini 3 signs its first call
            seals = given.signer.conversation(NAME, parsed.opening)
            signature = seals.signature(signed_call(first[0], call_arguments(first[1])))
        return GeminiContext(f"{_IDS.getrandbits(96):024x}", parsed.model, parsed.prompt_tokens,
                             thoughts, min(reply.cached_tokens, parsed.prompt_tokens),
                             signature)  # fmt: skip

    def replay_shapes(self, context: GeminiContext, given: Given) -> Shapes:
        return shapes()

    def whole(
        self, parsed: GeminiRequest, context: GeminiContext, scenario: Scenario, planned: Prepared
    ) -> Any:
        reply = scenario.reply
        return chunk_object(context, planned.text, finish_reason(scenario), len(planned.ends),
                            reply.tool, reasoning="" if reply.redacted else reply.reasoning,
                            calls=reply.calls)  # fmt: skip

    def stream(
        self,
        parsed: GeminiRequest,
        context: GeminiContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        if not parsed.array:
            return Streamed(planned_gemini(scenario, context, planned))
        reason = array_not_applicable(scenario)
        if reason is not None:
            raise BadRequest(400, f"scenario {scenario.name!r} does not apply to Gemini's "
                             f"JSON-array stream (ask with ?alt=sse): {reason}")  # fmt: skip
        return Streamed(planned_gemini_array(scenario, context, planned), _ARRAY_HEADERS)


def answer_models(incoming: Incoming, given: Given) -> Whole:
    check_key(incoming)
    return Whole(models_body())


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/models/",
    routes={
        "/v1beta/models": {"GET": Plain(answer_models)},
        **{
            f"{prefix}{{model}}:{method}": {"POST": embed_call()}
            for prefix in (PREFIX, PREFIX_V1)
            for method in (SINGLE, BATCH)
        },
    },
    prefixes={prefix: {"POST": Conversation(GeminiSpeaker)} for prefix in (PREFIX, PREFIX_V1)},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="Google's Gemini API (streamGenerateContent?alt=sse: GenerateContentResponse "
    "chunks, the last with finishReason; the stream just ends)",
)
