"""The FakeGpt conversation stream: cumulative snapshots (or delta_encoding v1), the
moderation event and ``[DONE]``, planned step by step. Pure.

Lazily, so a long cumulative reply (O(n²) bytes) is never held in memory at
once. Events are numbered as faults count them: 0 carries "", then one per
snapshot, then the final message. What every dialect shares (faults, pacing,
framing) is :mod:`emulator.engine.stream`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Final

from ...core.endings import Label, end_label, event_label
from ...engine.prepare import Prepared
from ...engine.stream import (
    COALESCE_BYTES,
    Snapshots,
    after_done,
    faults_by_event,
    format_of,
    frame,
    pauses,
    with_faults,
)
from ...protocol.sse import DONE, SSEFormat
from ...protocol.steps import Step, Wait, Write
from ...scenario.model import Scenario
from .part import FakeGptPart
from .shapes import shapes
from .templates import EnvelopeTemplate, encoded_values
from .wire import (
    StreamContext,
    completion_object,
    snapshot_object,
    stream_complete_object,
    v1_add_object,
    v1_append_object,
    v1_finish_object,
)

__all__ = ["planned"]


def planned(scenario: Scenario, ctx: StreamContext, prepared: Prepared) -> Iterator[Step]:
    """The stream planned step by step (what a template is built from)."""
    return frame(scenario, _stream(scenario, ctx, format_of(scenario), prepared))


def _stream(
    scenario: Scenario, ctx: StreamContext, fmt: SSEFormat, prepared: Prepared
) -> Iterator[Step]:
    wire, own = scenario.wire, scenario.part(FakeGptPart)
    text = prepared.text
    if own.body == "done_only":
        yield Write(fmt.event(DONE), _DONE)
        yield from after_done(scenario)
        return
    faults = faults_by_event(scenario)
    events = (
        _cumulative_events(scenario, ctx, fmt, prepared, frozenset(faults))
        if own.cumulative
        else _v1_events(scenario, ctx, fmt, prepared)
    )
    if not faults:  # the usual case: the events alone, no bookkeeping for faults
        for _, _, steps in events:
            yield from steps
    else:
        sent = Snapshots(text)  # how far each sent snapshot reached, for stale/repeat
        if (yield from with_faults(events, faults, fmt, sent, shapes(ctx))):
            return
    if own.moderation:
        moderation = completion_object(ctx.conversation_id, ctx.message_id, ctx.moderation_id)
        yield Write(fmt.json_event(moderation), _MODERATION)
    if wire.done:
        yield Write(fmt.event(DONE), _DONE)
    yield from after_done(scenario)


_FINAL: Final = event_label("final message")
_DONE: Final = end_label("[DONE]")
_MODERATION: Final = event_label("moderation")


def _messages(first: int, covered: list[int]) -> Label:
    """What a write of message events carries: one, or a run of them."""
    last = first + len(covered) - 1
    return event_label(f"message {first}" if last == first else f"messages {first}-{last}")


def _cumulative_events(
    scenario: Scenario,
    ctx: StreamContext,
    fmt: SSEFormat,
    prepared: Prepared,
    breaks: frozenset[int],
) -> Iterator[tuple[int, list[int], list[Step]]]:
    """Message events as (first index, snapshot ends covered, steps).

    Events are numbered as faults count them: 0 carries "", then one per
    snapshot, then the final one. Consecutive events with no pause and no
    fault between them (``breaks``) come as one write, up to COALESCE_BYTES.
    """
    text, ends = prepared.text, prepared.ends
    values = encoded_values(fmt, ctx)
    progress = _envelope(fmt, "in_progress", None).fill(values)
    final = _envelope(fmt, "finished_successfully", scenario.wire.finish_type).fill(values)
    first: list[Step] = []
    if scenario.timing.first_event > 0:
        first.append(Wait(scenario.timing.first_event))
    yield 0, [0], [*first, Write(progress.render(b""), event_label("message 0 (empty)"))]
    # Each snapshot is a prefix of the whole escaped text (JSON escapes
    # character by character), rendered from a view: one copy per event.
    escaped, offsets = prepared.escaped, prepared.offsets
    view = memoryview(escaped)
    head, tail = progress.head, progress.tail
    overhead = len(head) + len(tail)
    if scenario.timing.tokens_per_second <= 0:
        # No pacing: batches split only at faults and at COALESCE_BYTES, built
        # with one comprehension each (the per-event loop below costs ~1 µs
        # an event, a fifth of a 2000-token reply's time).
        yield from _unpaced_batches(ends, breaks, offsets, head, view, tail)
        yield len(ends) + 1, [len(text)], [Write(final.render(escaped), _FINAL)]
        return
    waits = pauses(scenario, len(ends))
    parts: list[bytes | memoryview] = []
    covered: list[int] = []
    lead: list[Step] = []
    start = size = offset = 0
    for i, end in enumerate(ends):
        index = i + 1
        pause = next(waits)
        paused = pause > 0 and i > 0
        if covered and (paused or index in breaks or size >= COALESCE_BYTES):
            yield start, covered, [*lead, Write(b"".join(parts), _messages(start, covered))]
            parts, covered, lead, size = [], [], [], 0
        if not covered:
            start = index
            if paused:
                lead = [Wait(pause)]
        offset = offsets[i]
        parts += (head, view[:offset], tail)
        covered.append(end)
        size += offset + overhead
    if covered:
        yield start, covered, [*lead, Write(b"".join(parts), _messages(start, covered))]
    yield len(ends) + 1, [len(text)], [Write(final.render(escaped), _FINAL)]


@lru_cache(maxsize=64)
def _envelope(fmt: SSEFormat, status: str, finish_type: str | None) -> EnvelopeTemplate:
    """The reply's message event for this framing and status, encoded once."""
    return EnvelopeTemplate.build(fmt, status=status, finish_type=finish_type)


def _unpaced_batches(
    ends: list[int],
    breaks: frozenset[int],
    offsets: list[int],
    head: bytes,
    view: memoryview,
    tail: bytes,
) -> Iterator[tuple[int, list[int], list[Step]]]:
    overhead = len(head) + len(tail)
    n = len(ends)
    i = 0
    while i < n:
        j, size = i + 1, offsets[i] + overhead
        while j < n and (j + 1) not in breaks and size < COALESCE_BYTES:
            size += offsets[j] + overhead
            j += 1
        data = b"".join([part for off in offsets[i:j] for part in (head, view[:off], tail)])
        yield i + 1, ends[i:j], [Write(data, _messages(i + 1, ends[i:j]))]
        i = j


def _v1_events(
    scenario: Scenario, ctx: StreamContext, fmt: SSEFormat, prepared: Prepared
) -> Iterator[tuple[int, list[int], list[Step]]]:
    """The 2024 delta_encoding v1 stream: an "add", then appends, then a patch."""
    first: list[Step] = [
        Write(fmt.event('"v1"', "delta_encoding"), event_label("delta_encoding v1"))
    ]
    if scenario.timing.first_event > 0:
        first.append(Wait(scenario.timing.first_event))
    add = v1_add_object(snapshot_object(ctx, ""))
    first.append(Write(fmt.json_event(add, "delta"), event_label("message 0 (add)")))
    yield 0, [0], first
    start = 0
    text, ends = prepared.text, prepared.ends
    waits = pauses(scenario, len(ends))
    for i, end in enumerate(ends):
        piece = text[start:end]
        start = end
        pause = next(waits)
        steps: list[Step] = [Wait(pause)] if pause > 0 and i > 0 else []
        append = fmt.json_event(v1_append_object(piece, first=i == 0), "delta")
        steps.append(Write(append, event_label(f"message {i + 1} (append)")))
        yield i + 1, [end], steps
    yield (
        len(ends) + 1,
        [len(text)],
        [
            Write(fmt.json_event(v1_finish_object(scenario.wire.finish_type), "delta"), _FINAL),
            Write(
                fmt.json_event(stream_complete_object(ctx.conversation_id)),
                event_label("stream complete"),
            ),
        ],
    )
