"""OpenAI's legacy Completions: ``POST /v1/completions`` (``gpt-3.5-turbo-instruct``, and
the OpenAI-compatible servers people run, which all still serve it).

A request gives a ``prompt`` (a string, or a list of one); a stream is
``text_completion`` objects, each with one choice's ``text``, then one with
``finish_reason``, an optional usage chunk (``stream_options.include_usage``), and
``data: [DONE]``; whole, one ``text_completion``. The faults look as on Chat
Completions. A reply that is a tool call, a refusal or reasoning means nothing here
(the API has none): such a scenario is refused with a 400 that says why.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from ...core.endings import end_label, event_label
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.errors import BadRequest, json_kind
from ...protocol.sse import DONE
from ...protocol.steps import Step, Write
from ...scenario import Scenario
from ...scenario.asked import Asked, Message
from ...scenario.faults import Shapes
from ..openai import STREAM_TYPE, UNREADABLE, check_key
from ..openai_embeddings import model_in_body
from ..speaker import DeltaSpeaker, Given, Incoming, Streamed, json_object, too_long
from ..strict import refuse
from .plan import finish_reason
from .shapes import shapes
from .wire import ChatContext, usage_chunk_object

__all__ = ["CompletionsSpeaker"]

_IDS: Final = random.Random()


class CompletionsRequest(NamedTuple):
    prompt: str
    model: str
    stream: bool
    include_usage: bool
    prompt_tokens: int


def _prompt(given: Any) -> str:
    if isinstance(given, list) and len(given) == 1:
        given = given[0]
    if not isinstance(given, str):
        raise BadRequest(400, "Invalid type for 'prompt': this emulator takes a string (or "
                         "a list of one).")  # fmt: skip
    return given


def text_completion(ctx: ChatContext, text: str, finish: str | None) -> dict[str, Any]:
    return {
        "id": ctx.id,
        "object": "text_completion",
        "created": ctx.created,
        "model": ctx.model,
        "system_fingerprint": "fp_emulator",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
    }


def _why_not(scenario: Scenario) -> str | None:
    reply = scenario.reply
    if reply.calls_tool:
        return "its reply is a tool call, which the Completions API has not"
    if reply.refusal:
        return "its reply is a refusal, which the Completions API has no field for"
    if scenario.wire.azure_filters:
        return "its stream is Azure OpenAI's Chat Completions"
    return None


class CompletionsSpeaker(DeltaSpeaker[CompletionsRequest, ChatContext]):
    holes = ("id", "created")
    failed = "The server had an error while processing your request. Sorry about that!"

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, CompletionsRequest]:
        check_key(incoming)
        body = json_object(incoming, UNREADABLE)
        model = model_in_body(incoming, body)
        if "prompt" not in body:
            raise BadRequest(400, "Missing required parameter: 'prompt'.")
        prompt = _prompt(body["prompt"])
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise refuse(STREAM_TYPE, kind=json_kind(stream))
        options = body.get("stream_options")
        if options is not None and (not isinstance(options, dict) or not stream):
            raise BadRequest(400, "'stream_options' is only allowed when 'stream' is true.")
        if too_long(prompt, given.max_prompt):
            raise BadRequest(400, "This model's maximum context length was exceeded.")
        asked = Asked((Message("user", prompt),), model, "", (), body)
        usage = bool(options and options.get("include_usage"))
        return asked, CompletionsRequest(prompt, model, stream, usage, asked.tokens)

    def begin(
        self, parsed: CompletionsRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> ChatContext:
        reason = _why_not(scenario)
        if reason is not None:
            raise BadRequest(400, f"scenario {scenario.name!r} does not apply to the "
                             f"Completions API: {reason}")  # fmt: skip
        return ChatContext(f"cmpl-{_IDS.getrandbits(120):030x}", int(given.clock.wall()),
                           parsed.model, parsed.include_usage, parsed.prompt_tokens)  # fmt: skip

    def replay_shapes(self, context: ChatContext, given: Given) -> Shapes:
        return shapes(context, given.clock.wall())

    def whole(
        self,
        parsed: CompletionsRequest,
        context: ChatContext,
        scenario: Scenario,
        planned: Prepared,
    ) -> Any:
        found = text_completion(context, planned.text, finish_reason(scenario))
        pieces = len(planned.ends)
        found["usage"] = {"prompt_tokens": context.prompt_tokens, "completion_tokens": pieces,
                          "total_tokens": context.prompt_tokens + pieces}  # fmt: skip
        return found

    def stream(
        self,
        parsed: CompletionsRequest,
        context: ChatContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(_planned(scenario, context, planned, given.clock.wall()))


def _planned(
    scenario: Scenario, ctx: ChatContext, prepared: Prepared, now: float
) -> Iterator[Step]:
    """The Completions stream: event 0 is the first piece's wait only (no role chunk),
    then a chunk per piece, the finish, the usage, ``[DONE]``."""
    fmt = format_of(scenario)
    done = [Write(fmt.event(DONE), end_label("[DONE]"))] if scenario.wire.done else []

    def chunk(text: str, finish: str | None = None) -> bytes:
        return fmt.json_event(text_completion(ctx, text, finish))

    def closing(text: str, pieces: int) -> list[Step]:
        last: list[Step] = [Write(chunk("", finish_reason(scenario)), event_label("final"))]
        if ctx.include_usage:
            usage = usage_chunk_object(ctx, pieces)
            usage["object"] = "text_completion"
            last.append(Write(fmt.json_event(usage), event_label("usage chunk")))
        return last

    events: Events = delta_events(
        scenario,
        prepared,
        list,
        lambda number, text: Write(chunk(text), event_label(f"chunk {number}")),
        closing,
    )
    return dialect_stream(scenario, events, prepared, lambda: shapes(ctx, now), done)
