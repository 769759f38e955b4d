"""Planning the replay of a recording: its chunks, its pauses, and faults on top. Pure.

A recording is replayed byte for byte and write for write. Faults count the
recording's own events (each ends at a blank line) and are written before
event ``at``, splitting a chunk there if the event starts inside it; a
terminal fault ends the replay where it stands. The wire's ``chunk_size``
and ``split_at`` split the writes further.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Final

from ..core.endings import Label
from ..protocol.steps import Drop, Hold, Step, Wait, Write
from ..scenario.faults import Shapes, write_fault
from ..scenario.model import Fault, Recording, Scenario
from .stream import format_of, frame

__all__ = ["event_starts", "replayed"]

_TERMINATOR: Final = re.compile(rb"\r\n|\r|\n")
#: How long a recording that ended open ("hold") keeps the connection.
HOLD_SECONDS: Final = 3600.0
_PAUSE: Final = Label("pause", "recorded pause")
_STALL: Final = Label("pause", "recorded stall")


def event_starts(body: bytes) -> list[int]:
    """Where each event of an SSE body starts (0, then after each blank line)."""
    starts = [0]
    line_start = 0
    for m in _TERMINATOR.finditer(body):
        if m.start() == line_start:  # an empty line ends an event
            starts.append(m.end())
        line_start = m.end()
    return starts


class _NoSnapshots:
    def back(self, n: int) -> str:  # pragma: no cover - refused when the scenario loads
        raise ValueError("a recording has no snapshots to resend")


def replayed(scenario: Scenario, shapes: Shapes) -> Iterator[Step]:
    """The steps that replay ``scenario.recording`` (with its faults, in the look of
    ``shapes``: the recorded API's) for one request."""
    recording = scenario.recording
    if recording is None:
        raise ValueError(f"scenario {scenario.name!r} has no recording")
    # The recording carries its own BOM, if it had one.
    wire = dataclasses.replace(scenario.wire, bom=False)
    return frame(dataclasses.replace(scenario, wire=wire), _steps(scenario, recording, shapes))


def _steps(scenario: Scenario, recording: Recording, shapes: Shapes) -> Iterator[Step]:
    fmt = format_of(scenario)
    sent = _NoSnapshots()
    at_offset: dict[int, list[Fault]] = {}
    size = recording.size
    if scenario.faults:
        starts = event_starts(b"".join(c.data for c in recording.chunks))
        for fault in scenario.faults:
            offset = starts[fault.at] if 0 <= fault.at < len(starts) - 1 else size
            at_offset.setdefault(offset, []).append(fault)
    offset = 0
    last = 0.0
    for number, chunk in enumerate(recording.chunks):
        gap = chunk.at - last
        last = chunk.at
        if gap > 0:
            scaled = gap < recording.real_time_over
            yield Wait(gap, scaled=scaled, what=_PAUSE if scaled else _STALL)
        data = chunk.data
        end = offset + len(data)
        cuts = sorted(o for o in at_offset if offset <= o < end)
        start = 0
        for cut in cuts:
            if cut - offset > start:
                yield Write(
                    data[start : cut - offset], Label("recorded", f"recorded chunk {number}")
                )
                start = cut - offset
            for fault in at_offset.pop(cut):
                for step in write_fault(fault, fmt, sent, shapes):
                    yield step
                    if isinstance(step, Drop):
                        return
        if start < len(data):
            yield Write(data[start:], Label("recorded", f"recorded chunk {number}"))
        offset = end
    for fault in (f for o in sorted(at_offset) for f in at_offset[o]):
        for step in write_fault(fault, fmt, sent, shapes):
            yield step
            if isinstance(step, Drop):
                return
    if recording.ending == "hold":
        yield Hold(HOLD_SECONDS)
        yield Drop("close")
    elif recording.ending != "complete":
        yield Drop("abort" if recording.ending == "drop" else recording.ending)
