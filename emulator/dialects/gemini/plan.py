"""Planning a scenario on Gemini's ``streamGenerateContent?alt=sse`` stream. Pure.

The same events as the FakeGpt stream, so a fault's ``at`` means the same:
event 0 opens the reply (Gemini sends nothing for it but the first-event
wait), then one ``GenerateContentResponse`` per piece of the reply, each with
the usage so far (a tool call: one whole ``functionCall``), then, after any
faults past the last event, one with ``finishReason`` (``STOP``,
``MAX_TOKENS``, ``SAFETY``). The stream ends with the body: there is no
``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...engine.pieces import PieceTemplate, escaped_piece, piece_template
from ...engine.prepare import Prepared, whole
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.steps import Step, Write
from ...scenario.model import Scenario
from ...scenario.text import CallEvent
from ..common import keyed_api_not_applicable
from .shapes import MISSING, NO_END, JsonArray, array_shapes, shapes
from .wire import GeminiContext, chunk_object

__all__ = [
    "NAME",
    "TITLE",
    "finish_reason",
    "not_applicable",
    "planned_gemini",
    "planned_gemini_array",
]

#: Its name in the registry.
NAME: Final = "gemini"
TITLE: Final = "Google Gemini"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING)
    if reason is None and (not scenario.wire.done or scenario.wire.after_done != "close"):
        return NO_END
    if reason is None and scenario.reply.interleave:
        return "its calls' arguments interleave, and Gemini sends each call whole"
    return reason


#: Gemini's finishReason, by how the scenario's reply ends.
_FINISH: Final = {"stop": "STOP", "max_tokens": "MAX_TOKENS", "content_filter": "SAFETY"}


def finish_reason(scenario: Scenario) -> str:
    return _FINISH[scenario.wire.finish_type]


def planned_gemini(scenario: Scenario, ctx: GeminiContext, prepared: Prepared) -> Iterator[Step]:
    """The ``alt=sse`` form: each chunk an event."""
    fmt = format_of(scenario)
    if scenario.reply.tool:
        prepared = whole(prepared)
        events = _events(scenario, ctx, prepared, fmt.json_event, None)
    else:
        events = _events(scenario, ctx, prepared, fmt.json_event, _template(fmt.json_event, ctx))
    return dialect_stream(scenario, events, prepared, shapes,
                          _final(scenario, ctx, prepared, fmt.json_event))  # fmt: skip


def planned_gemini_array(
    scenario: Scenario, ctx: GeminiContext, prepared: Prepared
) -> Iterator[Step]:
    """The default streamed form: the same chunks as elements of one JSON array, sent as
    they come; a stream cut early leaves the array open."""
    array = JsonArray(scenario.wire.ensure_ascii)

    if scenario.reply.tool:
        prepared = whole(prepared)

    def end() -> Iterator[Step]:
        yield from _final(scenario, ctx, prepared, array.element)
        yield Write(array.close(), end_label("]"))

    events = _events(scenario, ctx, prepared, array.element, None)
    return dialect_stream(scenario, events, prepared, lambda: array_shapes(array), end())


def _template(
    encoded: Callable[[dict[str, Any]], bytes], ctx: GeminiContext
) -> PieceTemplate | None:
    """A piece's chunk with holes: its text, its count of pieces, the total token count."""

    def build(text: str, pieces: str, total: str) -> bytes:
        chunk = chunk_object(ctx, text, None, 0)
        chunk["usageMetadata"] |= {"candidatesTokenCount": pieces, "totalTokenCount": total}
        return encoded(chunk)

    return piece_template(build, "text", "value", "value")


def _events(
    scenario: Scenario,
    ctx: GeminiContext,
    prepared: Prepared,
    encoded: Callable[[dict[str, Any]], bytes],
    template: PieceTemplate | None,
) -> Events:
    """The chunks, each ``encoded`` as its form frames it (a piece's from ``template``,
    where there is one)."""

    def opening() -> list[Step]:
        if not scenario.reply.reasoning or scenario.reply.redacted:
            return []  # no thought summary to show
        thought = chunk_object(ctx, scenario.reply.reasoning, None, 0, thought=True)
        return [Write(encoded(thought), event_label("thought"))]

    before = ctx.prompt_tokens + ctx.thoughts  # the tokens counted before the reply's

    def piece(number: int, text: str) -> Step:
        if template is None:
            data = encoded(chunk_object(ctx, text, None, number, scenario.reply.tool))
        else:
            data = template.fill(escaped_piece(prepared, number), b"%d" % number,
                                 b"%d" % (before + number))  # fmt: skip
        return Write(data, event_label(f"chunk {number}"))

    def call(event: CallEvent) -> list[Step]:
        """The further calls, all whole in one chunk as the first starts (as Gemini sends
        parallel calls); their other events have nothing to send."""
        if event.kind != "start" or event.call != 0:
            return []
        calls = chunk_object(
            ctx,
            "",
            None,
            len(prepared.ends),
            calls=scenario.reply.calls,
            first_call=not scenario.reply.tool,
        )
        return [Write(encoded(calls), event_label("calls"))]

    def closing(text: str, pieces: int) -> list[Step]:
        return []  # the final chunk follows the faults past the last event (_final)

    return delta_events(scenario, prepared, opening, piece, closing, call)


def _final(
    scenario: Scenario,
    ctx: GeminiContext,
    prepared: Prepared,
    encoded: Callable[[dict[str, Any]], bytes],
) -> Iterator[Step]:
    """The chunk with ``finishReason``: the stream's end, as a reader knows it (faults past
    the last event, and at -1, come before it, where a reader still listens)."""
    last = chunk_object(ctx, "", finish_reason(scenario), len(prepared.ends))
    yield Write(encoded(last), end_label("final chunk"))
