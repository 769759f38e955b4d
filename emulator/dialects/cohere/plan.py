"""Planning a scenario on Cohere's v2 chat stream. Pure.

The same events as the FakeGpt stream: event 0 is ``message-start`` (with the model's
thinking, shown, where it has some) and the reply's ``content-start``, then one
``content-delta`` per piece (a tool call: ``tool-call-delta``), then ``content-end``
(``tool-call-end``) and ``message-end``, which stands where ``[DONE]`` would: faults
past the last event come before it. There is no ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ...core.endings import end_label, event_label
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.steps import Step, Write
from ...scenario.model import Scenario
from ...scenario.text import CallEvent
from ..common import NO_DONE, keyed_api_not_applicable
from .shapes import MISSING, shapes
from .wire import (
    CohereContext,
    content_delta,
    content_start,
    message_end,
    message_start,
    tool_call_delta,
    tool_call_start,
)

__all__ = ["NAME", "TITLE", "finish_reason", "not_applicable", "planned_cohere"]

NAME: Final = "cohere"
TITLE: Final = "Cohere Chat v2"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING)
    if reason is None and not scenario.wire.done:
        return NO_DONE.replace("message_stop", "message-end")
    if reason is None and scenario.reply.interleave:
        return "its calls' arguments interleave, which Cohere's calls, one after another, never do"
    if reason is None and scenario.wire.finish_type == "content_filter":
        return "its reply ends at a content filter, which Cohere's finish reasons do not say"
    return reason


def finish_reason(scenario: Scenario) -> str:
    if scenario.wire.finish_type == "max_tokens":
        return "MAX_TOKENS"
    return "TOOL_CALL" if scenario.reply.calls_tool else "COMPLETE"


def planned_cohere(scenario: Scenario, ctx: CohereContext, prepared: Prepared) -> Iterator[Step]:
    fmt = format_of(scenario)
    reply = scenario.reply
    thinks = bool(reply.reasoning) and not reply.redacted
    text_at = int(thinks)  # the reply's content index
    tool = reply.tool
    own = reply.own_part(prepared.text)

    def write(obj: dict[str, object], label: str) -> Step:
        return Write(fmt.json_event(obj, str(obj["type"])), event_label(label))

    def opening() -> list[Step]:
        steps = [write(message_start(ctx), "message-start")]
        if thinks:
            steps += [write(content_start(0, thinking=True), "thinking start"),
                      write(content_delta(0, reply.reasoning, thinking=True), "thinking"),
                      write({"type": "content-end", "index": 0}, "thinking end")]  # fmt: skip
        if tool:
            steps.append(write(tool_call_start(ctx, 0, tool), "tool-call-start 0"))
        elif own:
            steps.append(write(content_start(text_at), "content-start"))
        return steps

    def piece(number: int, text: str) -> Step:
        made = tool_call_delta(0, text) if tool else content_delta(text_at, text)
        return write(made, f"delta {number}")

    def call(event: CallEvent) -> list[Step]:
        index = bool(tool) + event.call
        if event.kind == "start":
            ends = closed() if event.call == 0 else []
            started = tool_call_start(ctx, index, reply.calls[event.call].tool)
            return [*ends, write(started, f"tool-call-start {index}")]
        if event.kind == "piece":
            return [write(tool_call_delta(index, event.text), f"tool-call-delta {index}")]
        return [write({"type": "tool-call-end", "index": index}, f"tool-call-end {index}")]

    def closed() -> list[Step]:
        """The end of the reply's own part: its tool call, or its text."""
        if tool:
            return [write({"type": "tool-call-end", "index": 0}, "tool-call-end 0")]
        if own:
            return [write({"type": "content-end", "index": text_at}, "content-end")]
        return []

    def closing(text: str, pieces: int) -> list[Step]:
        return [] if reply.calls else closed()

    events: Events = delta_events(scenario, prepared, opening, piece, closing, call)
    end = message_end(ctx, finish_reason(scenario), len(prepared.ends))
    last = [Write(fmt.json_event(end, "message-end"), end_label("message-end"))]
    return dialect_stream(scenario, events, prepared, lambda: shapes(ctx), last)
