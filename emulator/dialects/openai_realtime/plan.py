"""A Realtime response as the API plays it: ``response.created``, each output item added,
its text (or its audio with the transcript) or a call's arguments as deltas, each item
done, ``response.done`` with the output and usage. Pure.

Numbered as faults count events, as every dialect's: 0 opens the response, one per piece
of the reply (text, or a call's arguments), the further calls' events, the closing one.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...engine.pieces import escaped_piece, piece_template
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream
from ...protocol.audio import speech
from ...protocol.steps import Message, Step
from ...scenario.model import Reply, Scenario
from ...scenario.text import CallEvent
from ..common import session_not_applicable
from .shapes import MISSING, shapes
from .wire import (
    RealtimeContext,
    call_item,
    event,
    fresh_id,
    item_ids,
    message_item,
    response_object,
    said,
    said_bytes,
)

__all__ = ["NAME", "TITLE", "not_applicable", "output_items", "planned_realtime"]

NAME: Final = "openai-realtime"
TITLE: Final = "OpenAI Realtime"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    return session_not_applicable(scenario, NAME, TITLE, MISSING)


def output_items(reply: Reply, text: str, ctx: RealtimeContext) -> list[dict[str, Any]]:
    """The response's output items, done: the reply's own (a message, or its call), then
    one function_call per further call (no audio bytes, as the API lists them)."""
    items: list[dict[str, Any]] = []
    if reply.own_part(text):
        item_id, call_id = item_ids(ctx.response_id, 0)
        items.append(call_item(item_id, call_id, reply.tool, text, "completed") if reply.tool
                     else message_item(item_id, text, ctx.audio, "completed"))  # fmt: skip
    for call in reply.calls:
        item_id, call_id = item_ids(ctx.response_id, len(items))
        items.append(call_item(item_id, call_id, call.tool, call.arguments, "completed"))
    return items


def planned_realtime(
    scenario: Scenario, ctx: RealtimeContext, prepared: Prepared
) -> Iterator[Step]:
    """The response's events, one message each, with the scenario's faults."""
    done = response_done(scenario, ctx, prepared)
    steps = dialect_stream(scenario, _events(scenario, ctx, prepared), prepared,
                           lambda: shapes(ctx), (done,))  # fmt: skip
    if ctx.transcribe_item:
        return itertools.chain(transcription(scenario.reply.heard, ctx.transcribe_item), steps)
    return steps


def transcription(heard: str, item_id: str) -> list[Step]:
    """The input transcription of a spoken user item: its words as deltas, then the whole
    transcript with the transcription model's usage (in tokens: a word each, and the
    audio's)."""
    words = re.findall(r"\S+\s*", heard)
    steps: list[Step] = [
        said(event("conversation.item.input_audio_transcription.delta", item_id=item_id,
                   content_index=0, delta=word))
        for word in words
    ]  # fmt: skip
    audio = max(1, len(heard) // 4)
    usage = {"type": "tokens", "input_tokens": audio, "output_tokens": len(words),
             "total_tokens": audio + len(words),
             "input_token_details": {"text_tokens": 0, "audio_tokens": audio}}  # fmt: skip
    steps.append(said(event("conversation.item.input_audio_transcription.completed",
                            item_id=item_id, content_index=0, transcript=heard, usage=usage),
                      event_label("transcription")))  # fmt: skip
    return steps


def response_done(scenario: Scenario, ctx: RealtimeContext, prepared: Prepared) -> Message:
    output = output_items(scenario.reply, prepared.text, ctx)
    tokens = len(prepared.ends) + len(scenario.reply.calls)
    done = response_object(ctx, "completed", output, tokens)
    return said(event("response.done", response=done), end_label("response.done"))


def _events(scenario: Scenario, ctx: RealtimeContext, prepared: Prepared) -> Events:
    reply = scenario.reply
    text = prepared.text
    own = reply.own_part(text)
    item_id, call_id = item_ids(ctx.response_id, 0)
    where: Mapping[str, Any] = {"response_id": ctx.response_id, "item_id": item_id,
                                "output_index": 0}  # fmt: skip
    spoken = {**where, "content_index": 0}

    def added(index: int, item: Mapping[str, Any]) -> list[Step]:
        previous = None if index == 0 else item_ids(ctx.response_id, index - 1)[0]
        return [
            said(event("conversation.item.added", previous_item_id=previous, item=item)),
            said(event("response.output_item.added", response_id=ctx.response_id,
                       output_index=index, item=item)),
        ]  # fmt: skip

    def finished(index: int, item: Mapping[str, Any]) -> list[Step]:
        return [
            said(event("conversation.item.done", item=item)),
            said(event("response.output_item.done", response_id=ctx.response_id,
                       output_index=index, item=item)),
        ]  # fmt: skip

    def opening() -> list[Step]:
        begun: list[Step] = [
            said(event("response.created", response=response_object(ctx, "in_progress")))
        ]
        if not own:
            return begun
        if reply.tool:
            return [*begun, *added(0, call_item(item_id, call_id, reply.tool, "", "in_progress"))]
        part = {"type": "audio", "transcript": ""} if ctx.audio else {"type": "text", "text": ""}
        return [
            *begun,
            *added(0, message_item(item_id, "", ctx.audio, "in_progress")),
            said(event("response.content_part.added", **spoken, part=part)),
        ]

    # A text delta is built from its template (its event id and its text, escaped with
    # the whole reply's), not dumped: one is made for every piece.
    template = None
    if not reply.tool and not ctx.audio and not scenario.wire.ensure_ascii:
        template = piece_template(
            lambda eid, delta: said_bytes({**event("response.output_text.delta", **spoken,
                                                   delta=delta), "event_id": eid}),
            "text", "text")  # fmt: skip

    def piece(number: int, text: str) -> list[Step]:
        label = event_label(f"delta {number}")
        if template is not None:
            eid = fresh_id("event").encode()
            return [Message(template.fill(eid, escaped_piece(prepared, number)), what=label)]
        if reply.tool:
            return [said(event("response.function_call_arguments.delta", **where,
                               call_id=call_id, delta=text), label)]  # fmt: skip
        if not ctx.audio:
            return [said(event("response.output_text.delta", **spoken, delta=text), label)]
        pcm = base64.b64encode(speech(text)).decode("ascii")
        return [
            said(event("response.output_audio_transcript.delta", **spoken, delta=text), label),
            said(event("response.output_audio.delta", **spoken, delta=pcm), label),
        ]  # fmt: skip

    def own_done(text: str) -> list[Step]:
        if reply.tool:
            item = call_item(item_id, call_id, reply.tool, text, "completed")
            return [
                said(event("response.function_call_arguments.done", **where, call_id=call_id,
                           name=reply.tool, arguments=text)),
                *finished(0, item),
            ]  # fmt: skip
        if ctx.audio:
            ended = [said(event("response.output_audio.done", **spoken)),
                     said(event("response.output_audio_transcript.done", **spoken,
                                transcript=text))]  # fmt: skip
            part = {"type": "audio", "transcript": text}
        else:
            ended = [said(event("response.output_text.done", **spoken, text=text))]
            part = {"type": "text", "text": text}
        return [
            *ended,
            said(event("response.content_part.done", **spoken, part=part)),
            *finished(0, message_item(item_id, text, ctx.audio, "completed")),
        ]

    def call(each: CallEvent) -> list[Step]:
        index = int(own) + each.call
        named = reply.calls[each.call]
        call_item_id, further_call = item_ids(ctx.response_id, index)
        if each.kind == "start":
            begun = own_done(text) if own and each.call == 0 else []
            return [*begun, *added(index, call_item(call_item_id, further_call, named.tool, "",
                                                    "in_progress"))]  # fmt: skip
        if each.kind == "piece":
            return [said(event("response.function_call_arguments.delta",
                               response_id=ctx.response_id, item_id=call_item_id,
                               output_index=index, call_id=further_call, delta=each.text))]  # fmt: skip
        item = call_item(call_item_id, further_call, named.tool, named.arguments, "completed")
        return [
            said(event("response.function_call_arguments.done", response_id=ctx.response_id,
                       item_id=call_item_id, output_index=index, call_id=further_call,
                       name=named.tool, arguments=named.arguments)),
            *finished(index, item),
        ]  # fmt: skip

    def closing(text: str, pieces: int) -> list[Step]:
        return own_done(text) if own and not reply.calls else []

    return delta_events(scenario, prepared, opening, piece, closing, call)
