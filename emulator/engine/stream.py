"""What every dialect's stream shares: its events with the scenario's faults, pacing,
what comes after the end, and framing (a BOM, splits). Pure.

Lazily, so a long reply is never held in memory at once; only the player
(:mod:`emulator.engine.play`) sleeps or writes. Events are numbered as faults
count them: 0 opens the reply, then one per piece, then the closing one. Each
dialect's own events live in its folder (:mod:`emulator.dialects`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import lru_cache
from typing import Final

from ..core.endings import Label
from ..protocol.sse import SSEFormat
from ..protocol.steps import Drop, Fragment, Hold, Message, Reframe, Step, Wait, Write
from ..scenario.faults import FAULTS, Shapes, write_fault
from ..scenario.model import Fault, Scenario
from ..scenario.text import CallEvent, call_events, call_pieces
from .prepare import Prepared

__all__ = [
    "COALESCE_BYTES",
    "Snapshots",
    "after_done",
    "delta_events",
    "dialect_stream",
    "faults_by_event",
    "format_of",
    "frame",
    "pauses",
    "with_faults",
]

#: The player merges consecutive writes up to this size (and so does the planner).
COALESCE_BYTES: Final = 256 * 1024
_SPLIT_PAUSE: Final = Label("pause", "split pause")


def format_of(scenario: Scenario) -> SSEFormat:
    wire = scenario.wire
    return _format(wire.line_ending, wire.data_prefix, wire.multiline_data, wire.ensure_ascii)


@lru_cache(maxsize=16)
def _format(
    line_ending: str, data_prefix: str, multiline_data: bool, ensure_ascii: bool
) -> SSEFormat:
    return SSEFormat(line_ending, data_prefix, multiline_data, ensure_ascii)


class Snapshots:
    """The snapshots sent so far, as end offsets into the text (strings made on demand)."""

    __slots__ = ("ends", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [0]

    def back(self, n: int) -> str:
        """The snapshot sent ``n`` events ago (0: the last one)."""
        return self.text[: self.ends[max(0, len(self.ends) - 1 - n)]]


#: Events as (first index, snapshot ends covered, steps). The steps may be lazy: they
#: are made once the faults before the event are written (so numbers stay in order).
Events = Iterator[tuple[int, list[int], Iterable[Step]]]


def with_faults(
    events: Events,
    faults: dict[int, list[Fault]],
    fmt: SSEFormat,
    sent: Snapshots,
    shapes: Shapes,
    *,
    error_ends: bool = False,
) -> Generator[Step, None, bool]:
    """The events' steps with each fault before its event (those past the last
    event, and at -1, after it), in the look of ``shapes``; True when a fault dropped
    the connection, ends the body (a truncated frame) or, ``error_ends``, was an error
    the API reports in the stream (its stream ends there: nothing more is sent)."""

    def written(fault: Fault) -> Generator[Step, None, bool]:
        """The fault's steps; True when the stream ends with it."""
        for step in write_fault(fault, fmt, sent, shapes):
            yield step
            if isinstance(step, Drop):
                return True
        spec = FAULTS[fault.kind]
        return spec.ends or (error_ends and spec.fails)

    for index, covered, steps in events:
        for fault in faults.pop(index, ()):
            if (yield from written(fault)):
                return True
        yield from steps
        sent.ends.extend(covered)
    leftover = [f for at in sorted(faults) if at != -1 for f in faults[at]]
    for fault in leftover + faults.get(-1, []):
        if (yield from written(fault)):
            return True
    return False


def delta_events(
    scenario: Scenario,
    prepared: Prepared,
    opening: Callable[[], list[Step]],
    piece: Callable[[int, str], Step | list[Step]],
    closing: Callable[[str, int], list[Step]],
    call: Callable[[CallEvent], list[Step]] | None = None,
) -> Events:
    """A delta dialect's events, numbered as faults count them on the FakeGpt stream:
    0 the ``opening`` (after the first-event wait), then ``piece(number, text)`` for each
    piece of the reply (paced; a step, or a few: a Realtime piece is its transcript and
    its audio), then ``call(event)`` for each event of the reply's
    further calls (:func:`~emulator.scenario.text.call_events`; their pieces paced too),
    then ``closing(text, pieces)``. Each part is built when it is sent, after the faults
    before it, so events numbered in order (sequence numbers) stay in order."""

    def first() -> Iterator[Step]:
        if scenario.timing.first_event > 0:
            yield Wait(scenario.timing.first_event)
        yield from opening()

    def paced(pause: float, number: int, piece_text: str) -> Iterator[Step]:
        if pause > 0 and number > 1:
            yield Wait(pause)
        made = piece(number, piece_text)
        if isinstance(made, list):
            yield from made
        else:
            yield made

    def last() -> Iterator[Step]:  # the pieces counted: the text's and the calls'
        yield from closing(text, len(ends) + call_pieces(scenario.reply))

    def further(pause: float, event: CallEvent) -> Iterator[Step]:
        if pause > 0:
            yield Wait(pause)
        yield from call(event) if call is not None else ()

    yield 0, [0], first()
    text, ends = prepared.text, prepared.ends
    events = call_events(scenario.reply) if scenario.reply.calls else []
    waits = pauses(scenario, len(ends) + len(events))
    start = 0
    for i, end in enumerate(ends):
        yield i + 1, [end], paced(next(waits), i + 1, text[start:end])
        start = end
    for i, event in enumerate(events, len(ends) + 1):
        pause = next(waits) if event.kind == "piece" and i > 1 else 0.0
        yield i, [], further(pause, event)
    yield len(ends) + len(events) + 1, [len(text)], last()


def dialect_stream(
    scenario: Scenario,
    events: Events,
    prepared: Prepared,
    shapes: Callable[[], Shapes],
    closing: Iterable[Step] = (),
) -> Iterator[Step]:
    """A delta dialect's stream: its events with the scenario's faults (in the look of
    ``shapes()``, made only when there are faults), then ``closing`` and what the
    scenario does after the end; framed. An error fault ends the stream there, as
    these APIs end it after an error."""

    def steps() -> Iterator[Step]:
        fmt = format_of(scenario)
        faults = faults_by_event(scenario)
        if not faults:
            for _, _, each in events:
                yield from each
        elif (yield from with_faults(events, faults, fmt, Snapshots(prepared.text), shapes(),
                                     error_ends=True)):  # fmt: skip
            return
        yield from closing
        yield from after_done(scenario)

    return frame(scenario, steps())


def faults_by_event(scenario: Scenario) -> dict[int, list[Fault]]:
    faults: dict[int, list[Fault]] = {}
    for fault in scenario.faults:
        faults.setdefault(fault.at, []).append(fault)
    return faults


def after_done(scenario: Scenario) -> Iterator[Step]:
    if scenario.wire.after_done == "keep_open":
        yield Hold(scenario.wire.keep_open_seconds)


def pauses(scenario: Scenario, count: int) -> Iterator[float]:
    timing = scenario.timing
    if timing.tokens_per_second <= 0:
        yield from (0.0 for _ in range(count))
        return
    base = scenario.reply.cut_size / timing.tokens_per_second
    rng = random.Random(timing.seed)
    for _ in range(count):
        yield base * (1.0 + timing.jitter * rng.uniform(-1.0, 1.0))


def frame(scenario: Scenario, steps: Iterator[Step]) -> Iterator[Step]:
    """Add the BOM and split writes where the scenario says (a WebSocket's messages: into
    fragments).

    Merging small writes is the player's job: it knows the speed factor, so
    it knows which scaled waits are zero. An unscaled wait (a fault's) always
    separates writes, even a zero one between split pieces. With nothing to add or
    split, the steps are returned as they are (no generator in between).
    """
    wire = scenario.wire
    reframes = any(FAULTS[f.kind].reframes for f in scenario.faults)
    if not wire.bom and not (wire.chunk_size > 0 or wire.split_at) and not reframes:
        return steps
    return _framed(scenario, steps)


def _framed(scenario: Scenario, steps: Iterator[Step]) -> Iterator[Step]:
    wire = scenario.wire
    bom = wire.bom
    splitting = wire.chunk_size > 0 or bool(wire.split_at)
    offset = 0
    swapped = False  # a Reframe met: each message in the other kind of frame
    for step in steps:
        if isinstance(step, Reframe):
            swapped = True
            continue
        if isinstance(step, Message) and swapped:
            step = Message(step.data, not step.binary, step.what.noted(" (frame swapped)"))
        if isinstance(step, Message) and splitting:
            # On a WebSocket, a split message goes as fragments (RFC 6455, 5.4): the first
            # says text or binary, continuations follow, the last ends it.
            pieces = list(_split(step.data, offset, wire.chunk_size, wire.split_at))
            for i, piece in enumerate(pieces):
                if i:
                    yield Wait(wire.split_pause, scaled=False, what=_SPLIT_PAUSE)
                yield Fragment(piece, first=i == 0, final=i == len(pieces) - 1,
                               binary=step.binary, what=step.what.noted(" (fragment)"))  # fmt: skip
            offset += len(step.data)
            continue
        if not isinstance(step, Write):
            yield step
            continue
        data = step.data
        if bom:
            data = b"\xef\xbb\xbf" + data
            bom = False
        if not splitting:
            yield Write(data, step.what) if data is not step.data else step
            continue
        for i, piece in enumerate(_split(data, offset, wire.chunk_size, wire.split_at)):
            if i:
                yield Wait(wire.split_pause, scaled=False, what=_SPLIT_PAUSE)
            yield Write(piece, step.what.noted(" (split)"))
        offset += len(data)


def _split(
    data: bytes, offset: int, chunk_size: int, split_at: tuple[int, ...]
) -> Iterator[bytes]:
    """Cut ``data`` (which starts at stream ``offset``) at the stream offsets asked for."""
    end = offset + len(data)
    cuts = {at - offset for at in split_at if offset < at < end}
    if chunk_size:
        first = (offset // chunk_size + 1) * chunk_size
        cuts.update(range(first - offset, len(data), chunk_size))
    start = 0
    for cut in sorted(cuts):
        yield data[start:cut]
        start = cut
    yield data[start:]
