"""Planning a scenario on OpenAI's Chat Completions stream. Pure.

The same events as the FakeGpt stream, so a fault's ``at`` and a
scenario's expected outcome mean the same on both: event 0 carries the role
and no content, then one chunk per piece of the reply, then the chunk with
``finish_reason`` (and the usage chunk). Faults are written as on the
FakeGpt stream but for those with a shape of their own here (``shapes.py``:
an ``error`` event, a malformed chunk); :func:`not_applicable` names the
scenarios that mean nothing on this dialect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...engine.pieces import escaped_piece, piece_template
from ...engine.prepare import Prepared, whole
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.sse import DONE, SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.model import Scenario
from ...scenario.text import CallEvent
from ..common import keyed_api_not_applicable
from .shapes import MISSING, shapes
from .wire import (
    PLAIN,
    ChatContext,
    chunk_object,
    empty_chunk_object,
    filter_results,
    tool_call,
    usage_chunk_object,
    usage_so_far,
)

__all__ = ["NAME", "TITLE", "finish_reason", "not_applicable", "planned_chat"]

#: Its name in the registry.
NAME: Final = "openai-chat"
TITLE: Final = "OpenAI Chat Completions"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies). A reply's
    reasoning is not shown: Chat Completions streams none (OpenAI's reasoning models keep
    it to themselves)."""
    return keyed_api_not_applicable(scenario, NAME, MISSING, refusal=True, azure=True)


def finish_reason(scenario: Scenario) -> str:
    if scenario.wire.finish_type == "max_tokens":
        return "length"
    if scenario.wire.finish_type == "content_filter":
        return "content_filter"
    return "tool_calls" if scenario.reply.calls_tool else "stop"


def planned_chat(
    scenario: Scenario, ctx: ChatContext, prepared: Prepared, now: float
) -> Iterator[Step]:
    """The Chat Completions stream of ``scenario`` for one request, faults included."""
    fmt = format_of(scenario)
    if ctx.quirks.whole_calls and scenario.reply.tool:
        prepared = whole(prepared)
    ends = scenario.wire.done and ctx.quirks.done
    done = [Write(fmt.event(DONE), end_label("[DONE]"))] if ends else []
    events = _events(scenario, ctx, fmt, prepared)
    return dialect_stream(scenario, events, prepared, lambda: shapes(ctx, now), done)


def _events(scenario: Scenario, ctx: ChatContext, fmt: SSEFormat, prepared: Prepared) -> Events:
    reply = scenario.reply
    tool = reply.tool
    first = 1 if tool else 0  # the index of the first of the further calls
    said = "refusal" if reply.refusal else "content"  # where the reply's words go
    azure = scenario.wire.azure_filters

    quirks = ctx.quirks

    def chunk(
        delta: dict[str, Any], finish: str | None = None, pieces: int = 0, first: bool = False
    ) -> bytes:
        made = chunk_object(ctx, delta, finish)
        if quirks is not PLAIN:
            made.update(quirks.fields)
            made.update(quirks.first if first else ())
            made.update(quirks.final if finish is not None else ())
        if ctx.every_usage:
            made["usage"] = usage_so_far(ctx, pieces)
        if azure:  # every choice with its filter results, as Azure OpenAI sends them
            filtered = finish == "content_filter"
            made["choices"][0]["content_filter_results"] = filter_results(filtered=filtered)
        return fmt.json_event(made)

    def opening() -> list[Step]:
        delta: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        if tool and quirks.whole_calls:  # the call comes whole, as its one piece
            delta = {**delta, "content": None}
        elif tool:  # the call's id, type and name; its arguments follow piece by piece
            delta = {
                **delta,
                "content": None,
                "tool_calls": [tool_call(ctx, tool, "", first=True)],
            }
        elif reply.calls and not prepared.text:  # calls, and no text before them
            delta = {**delta, "content": None}
        elif reply.refusal:  # the words come as a refusal, not as content
            delta = {**delta, "content": None, "refusal": ""}
        prompt = Write(fmt.json_event(empty_chunk_object()), event_label("prompt filter results"))
        notice = [Write(fmt.comment(quirks.comment), event_label("comment"))] * bool(
            quirks.comment
        )
        return [
            *notice,
            *[prompt] * azure,
            Write(chunk(delta, first=True), event_label("chunk 0 (role)")),
        ]

    def call(event: CallEvent) -> list[Step]:
        index = first + event.call
        if event.kind == "stop":
            return []  # a call's end is not said: the next one's start, or the finish
        named = reply.calls[event.call].tool if event.kind == "start" else None
        if quirks.whole_calls:  # the call whole as it starts; its pieces say nothing more
            if event.kind != "start":
                return []
            whole_call = tool_call(ctx, named, reply.calls[event.call].arguments, first=True,
                                   index=index)  # fmt: skip
            return [Write(chunk({"tool_calls": [whole_call]}), event_label(f"call {index}"))]
        part = tool_call(ctx, named, event.text, first=event.kind == "start", index=index)
        return [Write(chunk({"tool_calls": [part]}), event_label(f"call {index} {event.kind}"))]

    def event(text: str, number: int = 0) -> bytes:
        if tool:
            call = tool_call(ctx, tool if quirks.whole_calls else None, text,
                             first=quirks.whole_calls)  # fmt: skip
            return chunk({"tool_calls": [call]}, pieces=number)
        return chunk({said: text}, pieces=number)

    # Every chunk's usage differs: no template for them.
    template = None if ctx.every_usage else piece_template(event, "text")

    def piece(number: int, text: str) -> Step:
        if template is None:
            return Write(event(text, number), event_label(f"chunk {number}"))
        return Write(
            template.fill(escaped_piece(prepared, number)), event_label(f"chunk {number}")
        )

    def closing(text: str, pieces: int) -> list[Step]:
        final = chunk({}, finish_reason(scenario), pieces)
        last: list[Step] = [Write(final, event_label("final chunk"))]
        if ctx.include_usage or quirks.usage:
            usage = usage_chunk_object(ctx, pieces)
            last.append(Write(fmt.json_event(usage), event_label("usage chunk")))
        return last

    return delta_events(scenario, prepared, opening, piece, closing, call)
