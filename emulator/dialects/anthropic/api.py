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
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...protocol.thoughts import thinking_enabled
from ...scenario import HttpError, Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import BudgetShape, Capture, Conversation, Dialect, Errors, json_error_message
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
from .capture import read_capture
from .plan import NAME, TITLE, not_applicable, planned_messages, stop_reason
from .read import MAX_TOKENS, STRICT_RULES, asked_of_messages
from .shapes import FAULT_SHAPES, shapes
from .wire import (
    MessageContext,
    error_body,
    message_object,
    token_headers,
    token_limit_message,
)

__all__ = ["DIALECT", "ERRORS", "MessagesRequest", "MessagesSpeaker", "scripted_error"]

_IDS: Final = random.Random()


class MessagesRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    input_tokens: int
    thinking: bool  # the request turns extended thinking on
    opening: str = ""  # its conversation's first message (what its signatures are bound to)


_MESSAGES: Final = {
    401: "invalid x-api-key",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}


def scripted_error(error: HttpError) -> Whole:
    headers = {"request-id": _request_id()}
    if error.status == 429:
        headers["anthropic-ratelimit-requests-remaining"] = "0"
    message = error.detail or _MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message), headers)


def _request_id() -> str:
    return f"req_{_IDS.getrandbits(96):024x}"


class MessagesSpeaker(DeltaSpeaker[MessagesRequest, MessageContext]):
    holes = ("id",)
    failed = _MESSAGES[500]
    #: Whether a request must say its body is JSON (Bedrock's InvokeModel: any body).
    typed = True

    def keyed(self, incoming: Incoming) -> None:
        """Refuse a request without a key (or an ``anthropic-version``) this API takes."""
        headers = incoming.headers
        key = headers.get("x-api-key")
        scheme, _, bearer = headers.get("Authorization", "").partition(" ")
        if key is None and scheme.lower() == "bearer":
            key = bearer.strip()  # what newer SDKs send
        if key is None:
            raise BadRequest(401, "x-api-key header is required")
        if not key.startswith("sk-ant-"):
            raise BadRequest(401, "invalid x-api-key")
        if not headers.get("anthropic-version"):
            raise BadRequest(400, "anthropic-version: header is required")

    def model_of(self, incoming: Incoming, body: dict[str, Any]) -> str:
        """The model the request asks for (Anthropic's API: the body's ``model``)."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest(400, "model: Field required")
        return model

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, MessagesRequest]:
        self.keyed(incoming)
        body = json_object(incoming, "The request body is not valid JSON", typed=self.typed)
        model = self.model_of(incoming, body)
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise refuse(MAX_TOKENS)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest(400, "messages: at least one message is required")
        signer = given.signer
        asked = asked_of_messages(body, model, given.strict,
                                  lambda opening: signer.conversation(NAME, opening))  # fmt: skip
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest(400, "stream: Input should be a valid boolean")
        prompt = asked.prompt
        if too_long(prompt, given.max_prompt):
            raise BadRequest(400, "prompt is too long")
        return asked, MessagesRequest(prompt, model, stream, asked.tokens, thinking_enabled(body),
                                      asked.opening)  # fmt: skip

    def begin(
        self, parsed: MessagesRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> MessageContext:
        seals = given.signer.conversation(NAME, parsed.opening)
        # With thinking on, a thinking block always comes first, as a thinking model's does
        # (its text empty where the scenario gives no reasoning, as with display "omitted").
        thinking = scenario.reply.reasoning if parsed.thinking else ""
        signature = seals.signature(thinking) if parsed.thinking else ""
        redacted = seals.sealed(thinking) if thinking and scenario.reply.redacted else ""
        return MessageContext(f"msg_{_IDS.getrandbits(120):030x}", parsed.model,
                              parsed.input_tokens, thinking, signature, redacted,
                              min(scenario.reply.cached_tokens, parsed.input_tokens))  # fmt: skip

    def answer_headers(self, context: MessageContext) -> Mapping[str, str]:
        return {"request-id": _request_id()}

    def replay_shapes(self, context: MessageContext, given: Given) -> Shapes:
        return shapes()

    def whole(
        self,
        parsed: MessagesRequest,
        context: MessageContext,
        scenario: Scenario,
        planned: Prepared,
    ) -> Any:
        reply = scenario.reply
        return message_object(context, planned.text, stop_reason(scenario), len(planned.ends),
                              reply.tool, reply.calls)  # fmt: skip

    def stream(
        self,
        parsed: MessagesRequest,
        context: MessageContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_messages(scenario, context, planned))


def _reset_at(seconds: float) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


BUDGET: Final = BudgetShape(
    lambda b: token_headers(b.limit, b.remaining, _reset_at(b.reset)),
    lambda b, asked, model: token_limit_message(b.limit),
)

ERRORS: Final = Errors(error_body, scripted_error, json_error_message, budget=BUDGET,
                       overloaded=529)  # fmt: skip

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/messages",
    routes={"/v1/messages": {"POST": Conversation(MessagesSpeaker)}},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="Anthropic's Messages API (``stream: true``: message_start … message_stop events)",
)
