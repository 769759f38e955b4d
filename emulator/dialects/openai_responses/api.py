"""OpenAI's Responses API: ``POST /v1/responses``.

The same scenarios as the other dialects, as ``response.*`` events with
``sequence_number``s; a key, the errors and the token budget are OpenAI's, as
on Chat Completions (:mod:`emulator.dialects.openai`).
"""

from __future__ import annotations

import random
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest, json_kind
from ...scenario import Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Capture, Conversation, Dialect
from ..openai import ERRORS, MESSAGES, STREAM_TYPE, UNREADABLE, check_key
from ..speaker import DeltaSpeaker, Given, Incoming, Streamed, json_object, too_long
from ..strict import refuse
from .capture import read_capture
from .plan import NAME, TITLE, Numbered, not_applicable, planned_responses, whole_response
from .read import STRICT_RULES, asked_of_responses, reasoned_tail
from .shapes import FAULT_SHAPES, shapes
from .wire import ResponseContext

__all__ = ["DIALECT", "ResponsesRequest", "ResponsesSpeaker"]

_IDS: Final = random.Random()


class ResponsesRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    input_tokens: int
    summary: bool = False  # reasoning.summary asked for the reasoning's summary
    encrypted: bool = False  # include asked for reasoning.encrypted_content


class ResponsesSpeaker(DeltaSpeaker[ResponsesRequest, ResponseContext]):
    holes = ("id", "item_id", "created_at")
    failed = MESSAGES[500]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, ResponsesRequest]:
        """The Responses API's request: ``input`` (a string, or items), ``model``, ``stream``."""
        check_key(incoming)
        body = json_object(incoming, UNREADABLE)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest(400, "Missing required parameter: 'model'.")
        signer = given.signer
        seals = signer.conversation(NAME, "")  # this API's, in any of its conversations
        asked = asked_of_responses(body, model, given.strict, seals.unsealed, signer.mark)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise refuse(STREAM_TYPE, kind=json_kind(stream))
        prompt = asked.prompt
        if too_long(prompt, given.max_prompt):
            raise BadRequest(400, "Your input exceeds the context window of this model.")
        reasoning, include = body.get("reasoning"), body.get("include")
        summary = isinstance(reasoning, dict) and reasoning.get("summary") not in (None, "none")
        encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include
        return asked, ResponsesRequest(prompt, model, stream, asked.tokens, summary, encrypted)

    def begin(
        self, parsed: ResponsesRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> ResponseContext:
        reasoning = scenario.reply.reasoning  # a reasoning model's: its item is always there
        signer = given.signer
        # Its items' ids say they came with reasoning, to hold a client to sending it back.
        tail = reasoned_tail(signer.mark) if reasoning else f"{_IDS.getrandbits(120):030x}"
        return ResponseContext(
            id=f"resp_{_IDS.getrandbits(120):030x}",
            item_id="msg_" + tail,
            created_at=int(given.clock.wall()),
            model=parsed.model,
            input_tokens=parsed.input_tokens,
            reasoning=reasoning,
            summary=parsed.summary and not scenario.reply.redacted,
            encrypted=(
                signer.conversation(NAME, "").sealed(reasoning)
                if reasoning and parsed.encrypted
                else ""
            ),
            cached_tokens=min(scenario.reply.cached_tokens, parsed.input_tokens),
        )

    def replay_shapes(self, context: ResponseContext, given: Given) -> Shapes:
        # A recording's events are numbered already: a fault resends none of them.
        return shapes(context, Numbered(), given.clock.wall())

    def whole(
        self,
        parsed: ResponsesRequest,
        context: ResponseContext,
        scenario: Scenario,
        planned: Prepared,
    ) -> Any:
        return whole_response(scenario, context, planned.text, len(planned.ends))

    def stream(
        self,
        parsed: ResponsesRequest,
        context: ResponseContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_responses(scenario, context, planned, given.clock.wall()))


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/responses",
    routes={"/v1/responses": {"POST": Conversation(ResponsesSpeaker)}},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="OpenAI's Responses API (``stream: true``: numbered response.* events)",
)
