"""Ollama's API: ``POST /api/chat`` and ``/api/generate`` (NDJSON streams, or one object
with ``"stream": false``), ``GET /api/tags``, ``POST /api/show``, ``POST /api/embed`` (and
the older ``/api/embeddings``), ``GET /api/version``.

The same scenarios as the other dialects, in Ollama's shapes: no key is needed (one
sent, as Ollama's cloud takes it, is ignored), any model name is served, a stream is
on unless the body says ``"stream": false``, and every error is ``{"error": "…"}``.
Scenarios are chosen as for ``/api/conversation``.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario import ANSWER, Scenario
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ..dialect import Called, Capture, Conversation, Dialect, Plain, plain_errors
from ..embeddings import embeddings_of, token_count
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
from .plan import NAME, TITLE, done_reason, expects, not_applicable, planned_ollama
from .read import asked_of_chat, asked_of_generate, model_of
from .shapes import FAULT_SHAPES, shapes
from .wire import (
    EMBEDDING_DIMENSIONS,
    OllamaContext,
    created_at,
    error_body,
    final_object,
    line,
    show_body,
    tags_body,
    tool_calls,
)

__all__ = ["DIALECT", "OllamaRequest", "OllamaSpeaker"]

#: The version ``/api/version`` says.
VERSION: Final = "0.13.0"
_UNREADABLE: Final = "invalid character in the request body"
_NDJSON: Final = {"Content-Type": "application/x-ndjson"}
MESSAGES: Final = {
    429: "too many requests, please try again later",
    500: "an error was encountered while running the model",
    503: "server busy, please try again. maximum pending requests exceeded",
}


class OllamaRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    prompt_tokens: int


class OllamaSpeaker(DeltaSpeaker[OllamaRequest, OllamaContext]):
    """``/api/chat``'s answers (``kind`` "generate": ``/api/generate``'s)."""

    holes = ("created_at",)

    failed = MESSAGES[500]
    kind: Literal["chat", "generate"] = "chat"

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, OllamaRequest]:
        body = json_object(incoming, _UNREADABLE)
        model = model_of(body)
        if self.kind == "chat":
            asked = asked_of_chat(body, model)
        else:
            asked = asked_of_generate(body, model)
        stream = body.get("stream", True)
        if not isinstance(stream, bool):
            raise BadRequest(400, "json: cannot unmarshal into Go struct field "
                             f"{self.kind.title()}Request.stream of type bool")  # fmt: skip
        if too_long(asked.prompt, given.max_prompt):
            raise BadRequest(400, "the input length exceeds the context length")
        return asked, OllamaRequest(asked.prompt, model, stream, asked.tokens)

    def begin(
        self, parsed: OllamaRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> OllamaContext:
        return OllamaContext(parsed.model, created_at(given.clock.wall()), parsed.prompt_tokens,
                             self.kind, scenario.wire.ensure_ascii)  # fmt: skip

    def replay_shapes(self, context: OllamaContext, given: Given) -> Shapes:
        return shapes(context, line)

    def whole(
        self, parsed: OllamaRequest, context: OllamaContext, scenario: Scenario, planned: Prepared
    ) -> Any:
        reply = scenario.reply
        calls = reply.every_call(planned.text)
        text = "" if reply.tool else planned.text
        thinking = "" if reply.redacted else reply.reasoning
        said: dict[str, Any]
        if self.kind == "generate":
            said = {"response": text, **({"thinking": thinking} if thinking else {})}
        else:
            said = {"role": "assistant", "content": text}
            if thinking:
                said["thinking"] = thinking
            if calls:
                said["tool_calls"] = tool_calls(calls)
        return final_object(context, done_reason(scenario), len(planned.ends), said)

    def stream(
        self,
        parsed: OllamaRequest,
        context: OllamaContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_ollama(scenario, context, planned), _NDJSON)


class GenerateSpeaker(OllamaSpeaker):
    kind = "generate"


ERRORS: Final = plain_errors(error_body, MESSAGES, "error")


class EmbedRequest(NamedTuple):
    model: str
    inputs: tuple[str, ...]
    dimensions: int
    tokens: int
    legacy: bool  # /api/embeddings: one prompt, one vector, not normalized


def _read_embed(incoming: Incoming, given: Given) -> EmbedRequest:
    body = json_object(incoming, _UNREADABLE)
    model = model_of(body)
    legacy = incoming.path.endswith("/api/embeddings")
    given_input = body.get("prompt") if legacy else body.get("input")
    inputs = [given_input] if isinstance(given_input, str) else given_input
    if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
        raise BadRequest(400, "invalid input type")
    if not inputs or (legacy and not inputs[0]):
        raise BadRequest(400, "input is required")
    if too_long("".join(inputs), given.max_prompt):
        raise BadRequest(400, "the input length exceeds the context length")
    whole = EMBEDDING_DIMENSIONS.get(model.partition(":")[0], 768)
    asked = body.get("dimensions", whole)
    if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= whole:
        raise BadRequest(400, f"dimensions must be between 1 and {whole}")
    tokens = sum(token_count(t) for t in inputs)
    return EmbedRequest(model, tuple(inputs), asked, tokens, legacy)


async def _answer_embed(request: EmbedRequest, scenario: Scenario, given: Given) -> Whole:
    def made() -> list[list[float]]:
        return embeddings_of(request.inputs, request.dimensions, unit=not request.legacy,
                             scripted=scenario.reply.vector)  # fmt: skip

    vectors = await given.costly(made)
    if request.legacy:
        return Whole.json({"embedding": vectors[0]})
    return Whole.json({"model": request.model, "embeddings": vectors,
                       "total_duration": 14_143_917 + 1_000_000 * request.tokens,
                       "load_duration": 1_019_500, "prompt_eval_count": request.tokens})  # fmt: skip


def answer_tags(incoming: Incoming, given: Given) -> Whole:
    return Whole(tags_body())


def answer_show(incoming: Incoming, given: Given) -> Whole:
    return Whole(show_body(model_of(json_object(incoming, _UNREADABLE))))


def answer_version(incoming: Incoming, given: Given) -> Whole:
    return Whole.json({"version": VERSION})


_EMBED: Final = Called(ANSWER, _read_embed, _answer_embed)

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/api/chat",
    routes={
        "/api/chat": {"POST": Conversation(OllamaSpeaker)},
        "/api/generate": {"POST": Conversation(GenerateSpeaker)},
        "/api/tags": {"GET": Plain(answer_tags)},
        "/api/show": {"POST": Plain(answer_show)},
        "/api/version": {"GET": Plain(answer_version)},
        "/api/embed": {"POST": _EMBED},
        "/api/embeddings": {"POST": _EMBED},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture, tuple(_NDJSON.items())),
    expects=expects,
    doc="Ollama (/api/chat and /api/generate: NDJSON lines, the last with done: true, "
    "done_reason and its timings)",
)
