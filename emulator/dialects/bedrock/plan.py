"""Planning a scenario on Bedrock's ``ConverseStream``. Pure.

The same events as the FakeGpt stream, so a fault's ``at`` means the same:
event 0 is ``messageStart`` (and, for a tool call, ``contentBlockStart``
with its ``toolUse``), then one ``contentBlockDelta`` per piece of the
reply (``text``, or ``toolUse.input``), then ``contentBlockStop``. Faults
past the last event (and at -1) come before ``messageStop`` (with its
``stopReason``) and ``metadata`` (usage, latency), where a reader still
listens. Each event is one binary frame; the body just ends after the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...engine.pieces import escaped_piece, piece_template
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream
from ...protocol.steps import Step, Write
from ...scenario.model import Scenario
from ...scenario.text import CallEvent, call_pieces
from ..common import keyed_api_not_applicable, sse_framing
from .shapes import MISSING, NO_END, shapes
from .wire import (
    StreamContext,
    converse_body,
    event_frame,
    event_headers,
    framed,
    padded,
    payload_json,
    reasoning_deltas,
    usage,
)

__all__ = [
    "NAME",
    "TITLE",
    "not_applicable",
    "planned_converse",
    "stop_reason",
    "tool_id",
    "whole_body",
]

#: Its name in the registry.
NAME: Final = "bedrock"
TITLE: Final = "AWS Bedrock ConverseStream"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING) or sse_framing(
        scenario, "a binary event stream"
    )
    if reason is None and (not scenario.wire.done or scenario.wire.after_done != "close"):
        return NO_END
    return reason


def stop_reason(scenario: Scenario) -> str:
    if scenario.wire.finish_type == "max_tokens":
        return "max_tokens"
    if scenario.wire.finish_type == "content_filter":
        return "content_filtered"
    return "tool_use" if scenario.reply.calls_tool else "end_turn"


def tool_id(scenario: Scenario, call: int = 0) -> str:
    """The ``toolUseId`` of the reply's call ``call`` (from 0)."""
    return f"tooluse_{scenario.name[:16]}" + (f"_{call}" if call else "")


def whole_body(scenario: Scenario, ctx: StreamContext, text: str, pieces: int) -> dict[str, Any]:
    """``Converse``'s whole answer to ``scenario`` (``text``: the reply's own)."""
    reply = scenario.reply
    calls = [(tool_id(scenario), reply.tool, text)] if reply.tool else []
    calls += [(tool_id(scenario, i), c.tool, c.arguments)
              for i, c in enumerate(reply.calls, bool(reply.tool))]  # fmt: skip
    own = text if not reply.tool and reply.own_part(text) else None
    return converse_body(ctx, own, calls, stop_reason(scenario), pieces)


def planned_converse(scenario: Scenario, ctx: StreamContext, prepared: Prepared) -> Iterator[Step]:
    ascii_only = scenario.wire.ensure_ascii

    def event(kind: str, body: dict[str, Any]) -> bytes:
        return event_frame(kind, body, ensure_ascii=ascii_only)

    reply = scenario.reply
    tool = reply.tool
    own = reply.own_part(prepared.text)
    first = ctx.first  # the reply's own block (after the reasoning block, if any)
    block_stop = Write(
        event("contentBlockStop", {"contentBlockIndex": first}), event_label("block stop")
    )

    def opening() -> list[Step]:
        steps: list[Step] = [
            Write(event("messageStart", {"role": "assistant"}), event_label("messageStart"))
        ]
        if ctx.reasoning:
            steps += [Write(event("contentBlockDelta", body), event_label("reasoning delta"))
                      for body in reasoning_deltas(ctx)]  # fmt: skip
            stop = event("contentBlockStop", {"contentBlockIndex": 0})
            steps.append(Write(stop, event_label("reasoning stop")))
        if tool:
            start = {"start": {"toolUse": {"toolUseId": tool_id(scenario), "name": tool}},
                     "contentBlockIndex": first}  # fmt: skip
            steps.append(Write(event("contentBlockStart", start), event_label("block start")))
        return steps

    def delta(text: str) -> bytes:
        inner = {"toolUse": {"input": text}} if tool else {"text": text}
        return payload_json({"contentBlockIndex": first, "delta": inner}, ascii_only)

    template = piece_template(delta, "text")
    headers = event_headers("contentBlockDelta")

    def piece(number: int, text: str) -> Step:
        raw = delta(text) if template is None else template.fill(escaped_piece(prepared, number))
        return Write(framed(headers, padded(raw)), event_label(f"delta {number}"))

    def call(each: CallEvent) -> list[Step]:
        at = first + own + each.call
        if each.kind == "piece":
            body = {"contentBlockIndex": at, "delta": {"toolUse": {"input": each.text}}}
            return [Write(event("contentBlockDelta", body), event_label(f"delta {at}"))]
        if each.kind == "stop":
            body = {"contentBlockIndex": at}
            return [Write(event("contentBlockStop", body), event_label(f"block {at} stop"))]
        use = {"toolUseId": tool_id(scenario, bool(tool) + each.call),
               "name": reply.calls[each.call].tool}  # fmt: skip
        start = {"start": {"toolUse": use}, "contentBlockIndex": at}
        opened = Write(event("contentBlockStart", start), event_label(f"block {at} start"))
        return [block_stop, opened] if own and each.call == 0 else [opened]

    def closing(text: str, pieces: int) -> list[Step]:
        return [block_stop] if own and not reply.calls else []

    def end() -> Iterator[Step]:
        pieces = len(prepared.ends) + call_pieces(reply)  # the text's, and the calls' too
        yield Write(event("messageStop", {"stopReason": stop_reason(scenario)}),
                    end_label("messageStop"))  # fmt: skip
        metadata = {"usage": usage(ctx, pieces), "metrics": {"latencyMs": ctx.latency_ms}}
        yield Write(event("metadata", metadata), event_label("metadata"))

    events: Events = delta_events(scenario, prepared, opening, piece, closing, call)
    return dialect_stream(scenario, events, prepared, shapes, end())
