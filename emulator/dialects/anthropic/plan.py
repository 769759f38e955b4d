"""Planning a scenario on Anthropic's Messages stream. Pure.

The same events as the FakeGpt stream: event 0 is ``message_start`` and
``content_block_start``, then one ``content_block_delta`` per piece of the
reply, then ``content_block_stop``, ``message_delta`` and ``message_stop``.
A ``ping`` fault is the API's own ``event: ping``; an ``error`` fault its
``event: error`` (``overloaded_error``); a malformed line a
``content_block_delta`` whose JSON is cut. There is no ``[DONE]`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from ...core.endings import end_label, event_label
from ...engine.pieces import escaped_piece, piece_template
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import Shapes
from ...scenario.model import Scenario
from ...scenario.text import CallEvent
from ..common import NO_DONE, keyed_api_not_applicable
from .shapes import MISSING, shapes
from .wire import (
    MessageContext,
    block_delta,
    block_start,
    block_stop,
    message_delta,
    message_start,
    thinking_events,
    tool_use,
)

__all__ = ["NAME", "TITLE", "not_applicable", "planned_messages", "stop_reason"]

#: Its name in the registry.
NAME: Final = "anthropic"
TITLE: Final = "Anthropic Messages"
_STOP: Final = end_label("message_stop")


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING)
    if reason is None and not scenario.wire.done:
        return NO_DONE
    if reason is None and scenario.reply.interleave:
        return INTERLEAVED
    return reason


#: Why interleaved calls mean nothing here.
INTERLEAVED: Final = (
    "its calls' arguments interleave, which a stream of content blocks, one at a time, never does"
)


def stop_reason(scenario: Scenario) -> str:
    if scenario.wire.finish_type == "max_tokens":
        return "max_tokens"
    if scenario.wire.finish_type == "content_filter":
        return "refusal"
    return "tool_use" if scenario.reply.calls_tool else "end_turn"


def planned_messages(
    scenario: Scenario,
    ctx: MessageContext,
    prepared: Prepared,
    fmt: SSEFormat | None = None,
    looks: Callable[[], Shapes] = shapes,
) -> Iterator[Step]:
    """The Messages stream of ``scenario`` for one request, faults included: each event
    written by ``fmt`` (None: as SSE, framed as the scenario says; Bedrock's: a binary
    frame), each fault in ``looks``' shape."""
    fmt = fmt or format_of(scenario)
    events = _events(scenario, ctx, fmt, prepared)
    # message_stop stands where FakeGpt's [DONE] does: faults past the last event
    # (and at -1) come before it, where a reader still listens.
    stop = [Write(fmt.json_event({"type": "message_stop"}, "message_stop"), _STOP)]
    return dialect_stream(scenario, events, prepared, looks, stop)


def _events(scenario: Scenario, ctx: MessageContext, fmt: SSEFormat, prepared: Prepared) -> Events:
    reply = scenario.reply
    tool = reply.tool
    index = ctx.text_index
    own = reply.own_part(prepared.text)  # a block of the reply's own text
    after = index + own  # the further calls' first block

    def block_ends(at: int) -> Write:
        return Write(
            fmt.json_event(block_stop(at), "content_block_stop"), event_label("block stop")
        )

    def opening() -> list[Step]:
        thinking = [
            Write(fmt.json_event(data, name), event_label(f"thinking {name}"))
            for name, data in (thinking_events(ctx) if ctx.thinks else ())
        ]
        start = block_start(ctx, tool)
        return [
            Write(
                fmt.json_event(message_start(ctx), "message_start"), event_label("message_start")
            ),
            *thinking,
            *[Write(fmt.json_event(start, "content_block_start"), event_label("block start"))]
            * own,
        ]

    def call(event: CallEvent) -> list[Step]:
        at = after + event.call
        if event.kind == "stop":
            return [block_ends(at)]
        if event.kind == "piece":
            data = block_delta(event.text, tool=True, index=at)
            return [Write(fmt.json_event(data, "content_block_delta"), event_label(f"delta {at}"))]
        block = tool_use(ctx, reply.calls[event.call].tool, {}, bool(tool) + event.call)
        start = {"type": "content_block_start", "index": at, "content_block": block}
        opened = Write(fmt.json_event(start, "content_block_start"), event_label(f"block {at}"))
        return [block_ends(index), opened] if own and event.call == 0 else [opened]

    def event(text: str) -> bytes:
        return fmt.json_event(block_delta(text, bool(tool), index), "content_block_delta")

    template = piece_template(event, "text")

    def piece(number: int, text: str) -> Step:
        data = event(text) if template is None else template.fill(escaped_piece(prepared, number))
        return Write(data, event_label(f"delta {number}"))

    def closing(text: str, pieces: int) -> list[Step]:
        delta = message_delta(stop_reason(scenario), pieces)
        ends = [block_ends(index)] if own and not reply.calls else []
        return [*ends, Write(fmt.json_event(delta, "message_delta"), event_label("message delta"))]

    return delta_events(scenario, prepared, opening, piece, closing, call)
