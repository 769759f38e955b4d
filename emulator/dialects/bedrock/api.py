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
import json
import random
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...protocol.thoughts import thinking_enabled
from ...scenario import HttpError, Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Capture, Conversation, Dialect, Errors
from ..speaker import (
    DeltaSpeaker,
    Given,
    Incoming,
    Streamed,
    Whole,
    json_object,
    scripted_answer,
    too_long,
)
from ..strict import refuse
from .capture import decoded_events, read_capture
from .plan import NAME, TITLE, not_applicable, planned_converse, whole_body
from .read import FIRST_USER, STRICT_RULES, asked_of_converse, invalid
from .shapes import FAULT_SHAPES, shapes
from .wire import CONTENT_TYPE, ERROR_TYPES, StreamContext, error_body

__all__ = ["DIALECT", "ConverseRequest", "ConverseSpeaker", "error_headers", "scripted_error"]

_IDS: Final = random.Random()
#: Where the model's operations are served: the model id and the operation follow.
PREFIX: Final = "/model/"
_OPERATIONS: Final = ("converse-stream", "converse")
_MESSAGES: Final = {
    400: "Malformed input request, please reformat your input and try again.",
    403: "You don't have access to the model with the specified model ID.",
    429: "Too many requests, please wait before trying again.",
    500: "The system encountered an unexpected error during processing. Try your request again.",
    503: "Bedrock is unable to process your request.",
}


class ConverseRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    prompt_tokens: int
    thinking: bool = False  # additionalModelRequestFields turns the model's thinking on
    opening: str = ""  # its conversation's first message (what its signatures are bound to)


def error_headers(status: int) -> Mapping[str, str]:
    """The headers of an HTTP error: its type (what botocore raises by name), an id."""
    return {
        "x-amzn-ErrorType": ERROR_TYPES.get(status, "InternalServerException"),
        "x-amzn-RequestId": _request_id(),
    }


def _request_id() -> str:
    raw = f"{_IDS.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def scripted_error(error: HttpError) -> Whole:
    message = error.detail or _MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message), error_headers(error.status))


def error_message(body: bytes) -> str | None:
    """The message of an error body of this API: ``{"message": …}``."""
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None


def _signed(incoming: Incoming) -> None:
    authorization = incoming.headers.get("Authorization", "")
    if not authorization:
        raise BadRequest(403, "Missing Authentication Token",
                         {"x-amzn-ErrorType": "MissingAuthenticationTokenException"})  # fmt: skip
    if not authorization.startswith(("AWS4-HMAC-SHA256 ", "Bearer ")):
        raise BadRequest(403, "The security token included in the request is invalid.",
                         {"x-amzn-ErrorType": "UnrecognizedClientException"})  # fmt: skip


class ConverseSpeaker(DeltaSpeaker[ConverseRequest, StreamContext]):
    failed = _MESSAGES[500]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, ConverseRequest]:
        model, slash, operation = incoming.path.removeprefix(PREFIX).rpartition("/")
        if not slash or not model or operation not in _OPERATIONS:
            raise BadRequest(404, f"Unknown operation: {incoming.method} {incoming.path}",
                             {"x-amzn-ErrorType": "UnknownOperationException"})  # fmt: skip
        _signed(incoming)
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
        return StreamContext(parsed.prompt_tokens, _IDS.randint(180, 900), reasoning, signature,
                             redacted, cached)  # fmt: skip

    def answer_headers(self, context: StreamContext) -> Mapping[str, str]:
        return {"x-amzn-RequestId": _request_id()}

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
    routes={},
    prefixes={PREFIX: {"POST": Conversation(ConverseSpeaker)}},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=Errors(error_body, scripted_error, error_message, error_headers),
    capture=Capture(read_capture, (("Content-Type", CONTENT_TYPE),), decoded_events),
    strict_rules=STRICT_RULES,
    doc="AWS Bedrock Runtime (converse-stream: binary application/vnd.amazon.eventstream "
    "frames, messageStart … messageStop, metadata; converse: one JSON answer)",
)
