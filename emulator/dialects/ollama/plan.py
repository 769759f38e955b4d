"""Planning a scenario on Ollama's NDJSON stream (``/api/chat``, ``/api/generate``). Pure.

The same events as the FakeGpt stream, so a fault's ``at`` means the same: event 0
opens the reply (a line of the model's thinking, when it has any; else nothing but the
first-event wait), then one line per piece of the reply (a tool call: the calls whole,
in one line, as Ollama sends them), then, after any faults past the last event, the
``"done": true`` line with ``done_reason`` and the timings: the stream's end, as a
reader knows it. A scenario without ``[DONE]`` (``[wire] done = false``) ends without
that line: the body just stops, which a correct client takes for a stream cut short.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from typing import Final

from ...core.endings import end_label, event_label
from ...engine.prepare import Prepared, whole
from ...engine.stream import Events, delta_events, dialect_stream
from ...protocol.steps import Step, Write
from ...scenario.faults import unshaped
from ...scenario.model import Expect, Scenario
from ...scenario.text import CallEvent
from ..common import keyed_api_not_applicable
from .shapes import MISSING, shapes
from .wire import OllamaContext, final_object, line, piece_object

__all__ = ["NAME", "TITLE", "done_reason", "expects", "not_applicable", "planned_ollama"]

NAME: Final = "ollama"
TITLE: Final = "Ollama"
_FORM: Final = "an NDJSON stream"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING) or unshaped(scenario, {
        "comment": f"a comment line is SSE framing, which {_FORM} has not",
    })  # fmt: skip
    if reason is not None:
        return reason
    wire, reply = scenario.wire, scenario.reply
    if wire.bom or wire.data_prefix != "data: " or wire.multiline_data:
        return f"its wire quirks are SSE framing, which {_FORM} has not"
    if wire.line_ending == "\r":
        return f"its lines end in a bare CR, which {_FORM} has not (\\n, or \\r\\n)"
    if wire.finish_type == "content_filter":
        return "its reply ends at a content filter, which Ollama has not"
    if reply.interleave:
        return "its calls' arguments interleave, and Ollama sends each call whole"
    return None


def expects(scenario: Scenario) -> Expect | None:
    """A stream that ends without its ``"done": true`` line was cut short: a correct
    client fails it (where the scenario says the reply came whole)."""
    if scenario.wire.done or scenario.expect.outcome == "failure":
        return None
    return dataclasses.replace(scenario.expect, outcome="failure", failure="incomplete_stream")


#: Ollama's done_reason, by how the scenario's reply ends.
def done_reason(scenario: Scenario) -> str:
    return "length" if scenario.wire.finish_type == "max_tokens" else "stop"


def planned_ollama(scenario: Scenario, ctx: OllamaContext, prepared: Prepared) -> Iterator[Step]:
    """The NDJSON stream of ``scenario`` for one request, faults included."""
    wire = scenario.wire
    encoded = partial(line, ending=wire.line_ending, ensure_ascii=wire.ensure_ascii)
    reply = scenario.reply
    if reply.tool:  # a call is sent whole: one piece
        prepared = whole(prepared)

    def opening() -> list[Step]:
        if not reply.reasoning or reply.redacted:
            return []
        thought = piece_object(ctx, thinking=reply.reasoning)
        return [Write(encoded(thought), event_label("thinking"))]

    def piece(number: int, text: str) -> Step:
        if reply.tool:
            made = piece_object(ctx, calls=reply.every_call(prepared.text))
        else:
            made = piece_object(ctx, text)
        return Write(encoded(made), event_label(f"line {number}"))

    def call(event: CallEvent) -> list[Step]:
        if reply.tool or event.kind != "start" or event.call != 0:
            return []  # the calls go whole, in one line, as the first starts
        calls = piece_object(ctx, calls=list(reply.calls))
        return [Write(encoded(calls), event_label("calls"))]

    def closing(text: str, pieces: int) -> list[Step]:
        return []  # the done line follows the faults past the last event

    def end() -> Iterator[Step]:
        if wire.done:
            last = final_object(ctx, done_reason(scenario), len(prepared.ends))
            yield Write(encoded(last), end_label("done"))

    events: Events = delta_events(scenario, prepared, opening, piece, closing, call)
    return dialect_stream(scenario, events, prepared, lambda: shapes(ctx, encoded), end())
