"""Planning a scenario on OpenAI's Responses stream. Pure.

The same events as the FakeGpt stream: event 0 is ``response.created``,
``response.in_progress``, the output item and its content part added; then
one ``response.output_text.delta`` per piece; then the text, part and item
done and ``response.completed`` (``response.incomplete`` for
``finish_type = "max_tokens"``). An ``error`` fault is ``response.failed``
followed by an ``error`` event; there is no ``[DONE]``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...engine.pieces import PieceTemplate, escaped_piece, piece_template
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.model import Scenario
from ...scenario.text import CallEvent
from ..common import NO_DONE, keyed_api_not_applicable
from .shapes import MISSING, shapes
from .wire import (
    ResponseContext,
    event_object,
    function_call_item,
    message_item,
    reasoning_events,
    reasoning_item,
    refusal_part,
    response_object,
    text_part,
)

__all__ = ["NAME", "TITLE", "Numbered", "not_applicable", "planned_responses", "whole_response"]

#: Its name in the registry.
NAME: Final = "openai-responses"
TITLE: Final = "OpenAI Responses"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies). As on Anthropic's,
    but a snapshot resent is an event resent here: its ``sequence_number`` tells it apart."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING, refusal=True)
    if reason is None and not scenario.wire.done:
        return NO_DONE
    return reason


class Numbered:
    """The stream's ``sequence_number``s, shared by the events and the faults, and the
    last few events sent (what ``stale`` and ``repeat`` send again, numbers and all)."""

    __slots__ = ("count", "sent")

    def __init__(self) -> None:
        self.count = itertools.count()
        self.sent: deque[bytes] = deque(maxlen=3)

    def event(self, fmt: SSEFormat, kind: str, **fields: Any) -> bytes:
        data = fmt.json_event(event_object(kind, next(self.count), **fields), kind)
        self.sent.append(data)
        return data

    def filled(self, template: PieceTemplate, text: bytes | memoryview) -> bytes:
        """The next event from ``template`` (holes: its number, its text)."""
        data = template.fill(str(next(self.count)).encode(), text)
        self.sent.append(data)
        return data

    def back(self, n: int) -> bytes:
        """The event sent ``n`` events ago (0: the last one); before any, nothing."""
        return self.sent[max(0, len(self.sent) - 1 - n)] if self.sent else b""


def planned_responses(
    scenario: Scenario, ctx: ResponseContext, prepared: Prepared, now: float
) -> Iterator[Step]:
    numbers = Numbered()
    fmt = format_of(scenario)
    events = _events(scenario, ctx, fmt, prepared, numbers)

    def terminal() -> Iterator[Step]:
        # response.completed stands where FakeGpt's [DONE] does: faults past the last
        # event (and at -1) come before it, where a reader still listens.
        done = whole_response(scenario, ctx, prepared.text, len(prepared.ends))
        kind = f"response.{done['status']}"
        yield Write(_ev(fmt, kind, numbers, response=done), end_label(kind))

    return dialect_stream(
        scenario, events, prepared, lambda: shapes(ctx, numbers, now), terminal()
    )


#: Why a response is incomplete, by how the scenario's reply ends (none: it is complete).
_INCOMPLETE: Final = {"max_tokens": "max_output_tokens", "content_filter": "content_filter"}


def whole_response(scenario: Scenario, ctx: ResponseContext, text: str, pieces: int) -> Any:
    """The answer to a request without ``stream``: the item of the reply's text (or its
    call), then one per further call."""
    incomplete = _INCOMPLETE.get(scenario.wire.finish_type)
    status = "completed" if incomplete is None else "incomplete"
    reply = scenario.reply
    tool = reply.tool
    item = (
        function_call_item(ctx, tool, text, status)
        if tool
        else message_item(ctx, text, status, refusal=reply.refusal)
    )
    items = [reasoning_item(ctx)] if ctx.reasoning else []
    items += [item] if reply.own_part(text) else []
    items += [function_call_item(ctx, c.tool, c.arguments, status, i)
              for i, c in enumerate(reply.calls, bool(tool))]  # fmt: skip
    return response_object(ctx, status, items, pieces, incomplete=incomplete)


def _ev(fmt: SSEFormat, kind: str, numbers: Numbered, **fields: Any) -> bytes:
    return numbers.event(fmt, kind, **fields)


def _pieces(
    fmt: SSEFormat,
    numbers: Numbered,
    prepared: Prepared,
    kind: str,
    where: Mapping[str, Any],
    **extra: Any,
) -> Callable[[int, str], Step]:
    """The delta event of each piece (``kind``, its ``delta`` the piece's text)."""
    template = piece_template(
        lambda number, text: fmt.json_event(
            event_object(kind, number, **where, delta=text, **extra), kind
        ),
        "value",
        "text",
    )

    def piece(number: int, text: str) -> Step:
        if template is None:
            data = _ev(fmt, kind, numbers, **where, delta=text, **extra)
        else:
            data = numbers.filled(template, escaped_piece(prepared, number))
        return Write(data, event_label(f"delta {number}"))

    return piece


def _begun(ctx: ResponseContext, fmt: SSEFormat, numbers: Numbered) -> list[Step]:
    """Every stream's first two events: the response created, and in progress; then the
    reasoning item's, if the model reasons."""
    started = response_object(ctx, "in_progress", [])
    reasoning = [Write(_ev(fmt, kind, numbers, **fields), event_label(f"reasoning {kind}"))
                 for kind, fields in (reasoning_events(ctx) if ctx.reasoning else ())]  # fmt: skip
    return [
        Write(
            _ev(fmt, "response.created", numbers, response=started),
            event_label("response.created"),
        ),
        Write(
            _ev(fmt, "response.in_progress", numbers, response=started), event_label("in progress")
        ),
        *reasoning,
    ]


def _events(
    scenario: Scenario,
    ctx: ResponseContext,
    fmt: SSEFormat,
    prepared: Prepared,
    numbers: Numbered,
) -> Events:
    tool = scenario.reply.tool
    if tool:
        return _tool_events(scenario, ctx, fmt, prepared, numbers)
    where = {"item_id": ctx.item_id, "output_index": ctx.first, "content_index": 0}
    own = scenario.reply.own_part(prepared.text)
    refused = scenario.reply.refusal  # the words are a refusal part's, not output text
    part = refusal_part if refused else text_part
    kind = "response.refusal" if refused else "response.output_text"
    extra: dict[str, Any] = {} if refused else {"logprobs": []}

    def opening() -> list[Step]:
        return [
            *_begun(ctx, fmt, numbers),
            *[Write(_ev(fmt, "response.output_item.added", numbers, output_index=ctx.first,
                        item=message_item(ctx, None, "in_progress")), event_label("item added")),
              Write(_ev(fmt, "response.content_part.added", numbers, **where,
                        part=part("")), event_label("part added"))] * own,
        ]  # fmt: skip

    piece = _pieces(fmt, numbers, prepared, f"{kind}.delta", where, **extra)

    def done(text: str, pieces: int) -> list[Step]:
        item = whole_response(scenario, ctx, text, pieces)["output"][ctx.first]
        said = {"refusal": text} if refused else {"text": text}
        return [
            Write(_ev(fmt, f"{kind}.done", numbers, **where, **said, **extra),
                  event_label("text done")),
            Write(_ev(fmt, "response.content_part.done", numbers, **where,
                      part=part(text)), event_label("part done")),
            Write(_ev(fmt, "response.output_item.done", numbers, output_index=ctx.first, item=item),
                  event_label("item done")),
        ]  # fmt: skip

    return _with_calls(scenario, ctx, fmt, prepared, numbers, (opening, piece, done, own))


#: The parts of the events of a reply's own item: its opening, each piece's event, its end
#: (given the text and the pieces), and whether it has one at all.
_Own = tuple[
    Callable[[], list[Step]], Callable[[int, str], Step], Callable[[str, int], list[Step]], bool
]


def _with_calls(
    scenario: Scenario,
    ctx: ResponseContext,
    fmt: SSEFormat,
    prepared: Prepared,
    numbers: Numbered,
    own: _Own,
) -> Events:
    """The events of the reply's own item, then one ``function_call`` item per further
    call (its item is done before the first of them starts)."""
    opening, piece, done, has_own = own
    reply = scenario.reply
    first = bool(reply.tool)  # the call number of the first further one
    at = ctx.first + has_own  # its output index

    def call(event: CallEvent) -> list[Step]:
        index, number = at + event.call, first + event.call
        named = reply.calls[event.call].tool
        if event.kind == "piece":
            data = _ev(fmt, "response.function_call_arguments.delta", numbers, output_index=index,
                       item_id=function_call_item(ctx, named, "", "", number)["id"],
                       delta=event.text)  # fmt: skip
            return [Write(data, event_label(f"item {index} delta"))]
        if event.kind == "start":
            item = function_call_item(ctx, named, "", "in_progress", number)
            added = Write(_ev(fmt, "response.output_item.added", numbers, output_index=index,
                              item=item), event_label(f"item {index} added"))  # fmt: skip
            ends = done(prepared.text, len(prepared.ends)) if has_own and event.call == 0 else []
            return [*ends, added]
        whole = whole_response(scenario, ctx, prepared.text, 0)["output"][index]
        return [
            Write(_ev(fmt, "response.function_call_arguments.done", numbers, output_index=index,
                      item_id=whole["id"], name=named, arguments=whole["arguments"]),
                  event_label(f"item {index} arguments done")),
            Write(_ev(fmt, "response.output_item.done", numbers, output_index=index, item=whole),
                  event_label(f"item {index} done")),
        ]  # fmt: skip

    def closing(text: str, pieces: int) -> list[Step]:
        return done(text, pieces) if has_own and not reply.calls else []

    return delta_events(scenario, prepared, opening, piece, closing, call)


def _tool_events(
    scenario: Scenario,
    ctx: ResponseContext,
    fmt: SSEFormat,
    prepared: Prepared,
    numbers: Numbered,
) -> Events:
    """The events of a reply that calls a tool: a ``function_call`` item whose arguments
    come as ``response.function_call_arguments.delta`` events."""
    tool = scenario.reply.tool
    started = function_call_item(ctx, tool, "", "in_progress")
    where = {"item_id": started["id"], "output_index": ctx.first}

    def opening() -> list[Step]:
        return [
            *_begun(ctx, fmt, numbers),
            Write(_ev(fmt, "response.output_item.added", numbers, output_index=ctx.first,
                      item=started), event_label("item added")),
        ]  # fmt: skip

    piece = _pieces(fmt, numbers, prepared, "response.function_call_arguments.delta", where)

    def done(text: str, pieces: int) -> list[Step]:
        item = whole_response(scenario, ctx, text, pieces)["output"][ctx.first]
        return [
            Write(_ev(fmt, "response.function_call_arguments.done", numbers, **where,
                      name=tool, arguments=text), event_label("arguments done")),
            Write(_ev(fmt, "response.output_item.done", numbers, output_index=ctx.first, item=item),
                  event_label("item done")),
        ]  # fmt: skip

    return _with_calls(scenario, ctx, fmt, prepared, numbers, (opening, piece, done, True))
