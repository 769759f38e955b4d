"""AWS Bedrock Runtime: ``POST /model/{modelId}/converse-stream`` and ``/converse``.

The same scenarios as the other dialects, in Bedrock's shapes: a request is
signed (``Authorization: AWS4-HMAC-SHA256 …`` from any access key, or a
Bedrock API key as ``Bearer …``; the signature is not checked, but none gets
the API's 403 ``MissingAuthenticationTokenException``), the model is named
in the path, a request is validated as the API does, and every error is
``{"message": …}`` with its type in ``x-amzn-ErrorType``. A stream is
``application/vnd.amazon.eventstream``: binary frames (:mod:`.wire`).
Scenarios are chosen as for ``/api/conversation``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...protocol.thoughts import thinking_enabled
from ...scenario import Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..aws import ERRORS, MESSAGES, check_signed, request_id
from ..dialect import Capture, Conversation, Dialect
from ..speaker import (
    DeltaSpeaker,
    Given,
    Incoming,
    Streamed,
    json_object,
    too_long,
)
from ..strict import refuse
from .capture import decoded_events, read_capture
from .plan import NAME, TITLE, not_applicable, planned_converse, whole_body
from .read import FIRST_USER, STRICT_RULES, asked_of_converse, invalid
from .shapes import FAULT_SHAPES, shapes
from .titan import ROUTE as TITAN_ROUTE
from .titan import TITAN
from .wire import CONTENT_TYPE, StreamContext

__all__ = ["DIALECT", "ConverseRequest", "ConverseSpeaker"]

#: The least and most a reply's ``metrics.latencyMs`` says.
_LATENCY_MS: Final = (180, 900)
#: Where the model's operations are served: the model id and the operation follow.
PREFIX: Final = "/model/"
_OPERATIONS: Final = ("converse-stream", "converse")


class ConverseRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    prompt_tokens: int
    thinking: bool = False  # additionalModelRequestFields turns the model's thinking on
    opening: str = ""  # its conversation's first message (what its signatures are bound to)


class ConverseSpeaker(DeltaSpeaker[ConverseRequest, StreamContext]):
    holes = ()  # nothing in its stream is made anew for each request (ids are headers)
    failed = MESSAGES[500]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, ConverseRequest]:
        model, slash, operation = incoming.path.removeprefix(PREFIX).rpartition("/")
        if not slash or not model or operation not in _OPERATIONS:
            raise BadRequest(404, f"Unknown operation: {incoming.method} {incoming.path}",
                             {"x-amzn-ErrorType": "UnknownOperationException"})  # fmt: skip
        check_signed(incoming)
        body = json_object(incoming, "Malformed input request")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise refuse(FIRST_USER)
        signer = given.signer
        asked = asked_of_converse(body, model, given.strict,
                                  lambda opening: signer.conversation(NAME, opening))  # fmt: skip
        prompt = asked.prompt
        if too_long(prompt, given.max_prompt):
            raise invalid("Input is too long for requested model.")
        stream = operation == "converse-stream"
        extra = body.get("additionalModelRequestFields")
        thinking = isinstance(extra, dict) and thinking_enabled(extra)
        return asked, ConverseRequest(prompt, model, stream, asked.tokens, thinking, asked.opening)

    def begin(
        self, parsed: ConverseRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> StreamContext:
        seals = given.signer.conversation(NAME, parsed.opening)
        reasoning = scenario.reply.reasoning if parsed.thinking else ""
        signature = seals.signature(reasoning) if reasoning else ""
        redacted = ""
        if reasoning and scenario.reply.redacted:  # a blob: base64 of the sealed bytes
            redacted = base64.b64encode(seals.sealed(reasoning).encode()).decode()
        cached = min(scenario.reply.cached_tokens, parsed.prompt_tokens)
        # The model's latency: a first token's wait and a little for each piece after it.
        latency = min(_LATENCY_MS[1], _LATENCY_MS[0] + 2 * len(planned.ends))
        return StreamContext(parsed.prompt_tokens, latency, reasoning, signature, redacted,
                             cached)  # fmt: skip

    def answer_headers(self, context: StreamContext) -> Mapping[str, str]:
        return {"x-amzn-RequestId": request_id()}

    def replay_shapes(self, context: StreamContext, given: Given) -> Shapes:
        return shapes()

    def whole(
        self,
        parsed: ConverseRequest,
        context: StreamContext,
        scenario: Scenario,
        planned: Prepared,
    ) -> Any:
        return whole_body(scenario, context, planned.text, len(planned.ends))

    def stream(
        self,
        parsed: ConverseRequest,
        context: StreamContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_converse(scenario, context, planned), _STREAM_HEADERS)


_STREAM_HEADERS: Final = {"Content-Type": CONTENT_TYPE}

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=PREFIX,
    routes={TITAN: {"POST": TITAN_ROUTE}},
    prefixes={PREFIX: {"POST": Conversation(ConverseSpeaker)}},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture, (("Content-Type", CONTENT_TYPE),), decoded_events),
    strict_rules=STRICT_RULES,
    doc="AWS Bedrock Runtime (converse-stream: binary application/vnd.amazon.eventstream "
    "frames, messageStart … messageStop, metadata; converse: one JSON answer)",
)
