"""OpenAI's Chat Completions: ``POST /v1/chat/completions``, ``GET /v1/models``,
``POST /v1/embeddings`` and the legacy ``POST /v1/completions`` (:mod:`.completions`).

The same scenarios as the FakeGpt endpoints, in OpenAI's shapes: a key is
``Authorization: Bearer sk-…`` (any such key is accepted; a missing or
malformed one gets the API's 401), a request is validated as the API does
(a 400 names the ``param``), and every error is ``{"error": {…}}``.
Scenarios are chosen as for ``/api/conversation`` (header, ``[scenario:]``
in the last user message, rules, queue, active, default).
"""

from __future__ import annotations

import random
from typing import Any, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest, json_kind
from ...scenario import Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Capture, Conversation, Dialect, Plain
from ..openai import ERRORS, MESSAGES, STREAM_TYPE, UNREADABLE, check_key
from ..openai_embeddings import embeddings_call, model_in_body
from ..speaker import DeltaSpeaker, Given, Incoming, Streamed, Whole, json_object, too_long
from ..strict import refuse
from .capture import read_capture
from .completions import CompletionsSpeaker
from .plan import NAME, TITLE, finish_reason, not_applicable, planned_chat
from .read import STRICT_RULES, asked_of_chat
from .shapes import FAULT_SHAPES, shapes
from .wire import ChatContext, completion_object, models_body

__all__ = ["DIALECT", "ChatRequest", "ChatSpeaker"]

_IDS: Final = random.Random()


class ChatRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    include_usage: bool
    prompt_tokens: int
    #: ``stream_options.continuous_usage_stats`` (vLLM's): the usage on every chunk.
    continuous_usage: bool = False


class ChatSpeaker(DeltaSpeaker[ChatRequest, ChatContext]):
    holes = ("id", "created")
    failed = MESSAGES[500]

    def keyed(self, incoming: Incoming) -> None:
        """Refuse a request without a key this API takes (a 401)."""
        check_key(incoming)

    def model_of(self, incoming: Incoming, body: dict[str, Any]) -> str:
        """The model the request asks for (OpenAI: the body's ``model``)."""
        return model_in_body(incoming, body)

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, ChatRequest]:
        self.keyed(incoming)
        body = json_object(incoming, UNREADABLE)
        model = self.model_of(incoming, body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest(400, "'messages' must be a non-empty array of messages.")
        asked = asked_of_chat(body, model, given.strict)
        stream = body.get("stream", False)
        options = body.get("stream_options")
        if not isinstance(stream, bool):
            raise refuse(STREAM_TYPE, kind=json_kind(stream))
        if options is not None and (not isinstance(options, dict) or not stream):
            raise BadRequest(400, "'stream_options' is only allowed when 'stream' is true.")
        include_usage = bool(options and options.get("include_usage"))
        prompt = asked.prompt
        if too_long(prompt, given.max_prompt):
            raise BadRequest(400, "This model's maximum context length was exceeded.")
        continuous = bool(options and options.get("continuous_usage_stats"))
        return asked, ChatRequest(prompt, model, stream, include_usage, asked.tokens, continuous)

    def begin(
        self, parsed: ChatRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> ChatContext:
        return ChatContext(
            id=f"chatcmpl-{_IDS.getrandbits(120):030x}",
            created=int(given.clock.wall()),
            model=parsed.model,
            include_usage=parsed.include_usage,
            prompt_tokens=parsed.prompt_tokens,
            reasoning_tokens=len(scenario.reply.reasoning.split()),
            cached_tokens=min(scenario.reply.cached_tokens, parsed.prompt_tokens),
        )

    def replay_shapes(self, context: ChatContext, given: Given) -> Shapes:
        return shapes(context, given.clock.wall())

    def whole(
        self, parsed: ChatRequest, context: ChatContext, scenario: Scenario, planned: Prepared
    ) -> Any:
        reply = scenario.reply
        return completion_object(context, planned.text, finish_reason(scenario),
                                 len(planned.ends), reply.tool, reply.calls,
                                 refusal=reply.refusal,
                                 azure=scenario.wire.azure_filters)  # fmt: skip

    def stream(
        self,
        parsed: ChatRequest,
        context: ChatContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_chat(scenario, context, planned, given.clock.wall()))


def answer_models(incoming: Incoming, given: Given) -> Whole:
    check_key(incoming)
    return Whole(models_body())


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/v1/chat/completions",
    routes={
        "/v1/chat/completions": {"POST": Conversation(ChatSpeaker)},
        "/v1/models": {"GET": Plain(answer_models)},
        "/v1/embeddings": {"POST": embeddings_call(check_key, model_in_body, UNREADABLE)},
        "/v1/completions": {"POST": Conversation(CompletionsSpeaker)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="OpenAI's Chat Completions (``stream: true``: chat.completion.chunk deltas, then [DONE])",
)
