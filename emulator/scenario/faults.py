"""THE fault table: every fault kind, declared once, as intent. Pure.

A :class:`FaultSpec` says what a kind does, which keys of ``[[faults]]`` it
takes, how a correct client meets it (its traits) and, for a kind that looks
the same on every wire (a cut, a stall, raw bytes, a comment), how it is
written. A kind whose look is a dialect's own (an error event, a malformed
event, a ping, an event sent again, ``[DONE]`` early…) has no writer here:
each dialect's ``shapes.py`` says how it looks on its wire, or why the
dialect has no such thing (then a scenario with it does not apply there).
This is WireMock's split: the fault says what, the server says how.

The scenario parser, the planner, the dumper, the hypothesis strategies,
``python -m emulator check``, the dialects and the reference in ``scenarios/README.md``
(:func:`reference`, kept equal by a test) all read this table. Adding a
fault kind is one entry here, a shape (or a reason) in each dialect, one
scenario file and its tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from ..core.endings import Label
from ..protocol.sse import SSEFormat
from ..protocol.steps import Close, Deaf, Fragment, Message, Ping, Step, Wait, Write
from .fault_spec import FaultSpec
from .model import Fault, Scenario
from .websocket_faults import WEBSOCKET_FAULTS
from .writers import (
    Sent,
    Shapes,
    ShapeWriter,
    comment,
    cutting,
    garbage,
    stall,
)

__all__ = [
    "FAULTS",
    "FAULT_KINDS",
    "NOT_FRAMED",
    "SHAPED_KINDS",
    "FaultShapes",
    "FaultSpec",
    "Sent",
    "ShapeWriter",
    "Shapes",
    "reference",
    "unshaped",
    "write_fault",
]


def _corrupt_frame(
    kind: str, doc: str, meets: str = "fails: the frame is corrupt (never reads its text)"
) -> FaultSpec:
    """A kind that writes one frame of a binary event stream corrupt (a strict reader
    fails there)."""
    return FaultSpec(kind, doc, ("text",), terminal=True, once=True, size=96, meets=meets,
                     framing=True)  # fmt: skip


FAULTS: Final[Mapping[str, FaultSpec]] = {
    spec.kind: spec
    for spec in (
        FaultSpec(
            "malformed_json",
            "a data line that is not JSON",
            ("text", "count"),
            skippable=True,
            size=120,
        ),
        FaultSpec(
            "garbage",
            "a line of raw bytes (raw_hex, or invalid UTF-8)",
            ("raw", "count"),
            garbage,
            skippable=True,
            size=32,
        ),
        FaultSpec("ping", "the API's keep-alive event", ("count",), skippable=True, size=48),
        FaultSpec(
            "comment", "a ': …' comment line", ("text", "count"), comment, skippable=True, size=16
        ),
        FaultSpec(
            "foreign_message",
            "a message that is not the reply (its role or message_type)",
            ("text", "role", "message_type", "count"),
            skippable=True,
        ),
        FaultSpec(
            "error",
            "the API's error event in the stream (cause: internal, overloaded or rate_limited, "
            "each in the API's own words): the client stops with it",
            ("text", "cause", "count"),
            terminal=True,
            fails=True,
        ),
        FaultSpec(
            "moderation", "a moderation (completion) event mid-stream", ("count",), skippable=True
        ),
        FaultSpec("num_variants", "a num_variants_in_stream event", ("count",), skippable=True),
        FaultSpec(
            "stale",
            "an earlier snapshot (or event) again",
            ("count",),
            skippable=True,
            cumulative_only=True,
            resends_text=True,
        ),
        FaultSpec(
            "repeat",
            "the last snapshot (or event) again",
            ("count",),
            skippable=True,
            cumulative_only=True,
            resends_text=True,
        ),
        FaultSpec(
            "rewrite",
            "a snapshot (text) that does not extend the last one",
            ("text", "count"),
            cumulative_only=True,
            required={"text": "the snapshot text it sends instead"},
            meets="fails with an error",
        ),
        FaultSpec("done", "data: [DONE] here, early", (), terminal=True, once=True, size=16),
        FaultSpec(
            "drop",
            "the connection is cut here",
            (),
            cutting("abort"),
            terminal=True,
            once=True,
            size=0,
            cut="abort",
        ),
        FaultSpec(
            "reset",
            "the connection is reset here (an RST): bytes still in flight may be lost",
            (),
            cutting("reset"),
            terminal=True,
            once=True,
            size=0,
            cut="reset",
        ),
        FaultSpec(
            "close",
            "the connection is closed here (a FIN after every byte written), the body unfinished",
            (),
            cutting("close"),
            terminal=True,
            once=True,
            size=0,
            cut="close",
        ),
        *WEBSOCKET_FAULTS,
        FaultSpec(
            "half_open",
            "sending stops here and the connection stays open, silent, for seconds "
            "(default an hour) or until the client leaves",
            ("seconds",),
            cutting("close", holds=True),
            terminal=True,
            once=True,
            size=0,
            meets="gives up within its idle timeout",
            cut="close",
            holds=True,
        ),
        FaultSpec(
            "unknown_event",
            "an event of a type the client has not met (APIs add types; a client skips them)",
            ("count",),
            skippable=True,
            size=96,
        ),
        FaultSpec(
            "empty_chunk",
            "a chunk that carries nothing of the reply: no candidates (Gemini), no choices "
            "(Chat Completions), only usage and ids",
            ("count",),
            skippable=True,
            size=200,
        ),
        _corrupt_frame(
            "bad_prelude_crc",
            "a frame (a delta with text, by default ' [corrupt]') whose prelude CRC is wrong",
        ),
        _corrupt_frame(
            "bad_message_crc",
            "a frame (a delta with text, by default ' [corrupt]') whose message CRC is wrong",
        ),
        _corrupt_frame(
            "length_lie",
            "a frame whose total length says 16 bytes more than it holds (its prelude CRC "
            "agrees with the lie, so the next frame's bytes are read into it)",
            "fails: the frame is corrupt (its message CRC cannot hold)",
        ),
        FaultSpec(
            "truncated_frame",
            "the first half of a frame, then the body ends cleanly: no more frames",
            (),
            terminal=True,
            once=True,
            size=48,
            meets="fails: the stream ended mid-frame, before its end",
            ends=True,
            framing=True,
        ),
        FaultSpec(
            "stall",
            "silence (or the API's keep-alive every ping_every) for seconds, never scaled by "
            "--speed",
            ("seconds", "ping_every"),
            stall,
            once=True,
            required={"seconds": "seconds > 0"},
            waits=True,
        ),
    )
}
FAULT_KINDS: Final[tuple[str, ...]] = tuple(FAULTS)
#: The kinds whose look is each dialect's own (a shape, or a reason it has none).
SHAPED_KINDS: Final[frozenset[str]] = frozenset(k for k, s in FAULTS.items() if s.write is None)
#: Why a stream that is not binary frames (SSE, a JSON array) has none of the framing kinds.
NOT_FRAMED: Final[Mapping[str, str]] = {
    kind: "its stream is not binary event-stream frames" for kind, s in FAULTS.items() if s.framing
}


def write_fault(fault: Fault, fmt: SSEFormat, sent: Sent, shapes: Shapes) -> Iterator[Step]:
    """The steps of one fault (``count`` times unless its kind is written once), in the
    look of the dialect whose ``shapes`` are given, each labelled with the fault."""
    spec = FAULTS[fault.kind]
    if spec.write is not None:
        write = spec.write

        def once() -> Iterator[Step]:
            return write(fault, fmt, shapes)
    else:
        shape = shapes.get(fault.kind)
        if shape is None:  # not_applicable refuses such a scenario first
            raise ValueError(f"this dialect has no {fault.kind!r} fault")

        def once() -> Iterator[Step]:
            return shape(fault, fmt, sent)

    what = Label("fault", fault.kind, fault.at)
    for _ in range(1 if spec.once else fault.count):
        for step in once():
            if isinstance(step, Write):
                yield Write(step.data, what)
            elif isinstance(step, Wait):
                yield Wait(step.seconds, step.scaled, what)
            elif isinstance(step, (Message, Fragment, Ping, Close, Deaf)):
                yield dataclasses.replace(step, what=what)
            else:
                yield step


@dataclass(frozen=True, slots=True)
class FaultShapes:
    """What a dialect says of the shaped kinds: those it writes in its own look, and
    those it has not, each with why (a scenario with one does not apply to it).
    Together they are every shaped kind, once."""

    kinds: frozenset[str]
    missing: Mapping[str, str]

    def check(self, dialect: str) -> None:
        """A ``ValueError`` naming ``dialect`` and the kinds it says nothing (or twice) of."""
        silent = sorted(SHAPED_KINDS - self.kinds - set(self.missing))
        twice = sorted(self.kinds & set(self.missing))
        unknown = sorted((self.kinds | set(self.missing)) - SHAPED_KINDS)
        if silent or twice or unknown:
            raise ValueError(
                f"dialect {dialect!r}: fault shapes "
                + "; ".join(
                    f"{what}: {', '.join(kinds)}"
                    for what, kinds in (
                        ("neither shaped nor missing", silent),
                        ("both shaped and missing", twice),
                        ("not shaped kinds", unknown),
                    )
                    if kinds
                )
            )


def unshaped(scenario: Scenario, missing: Mapping[str, str]) -> str | None:
    """Why ``scenario`` does not apply to a dialect without the shapes in ``missing``
    (kind -> why it has none): its first such fault; None: it has none."""
    for fault in scenario.faults:
        reason = missing.get(fault.kind)
        if reason is not None:
            return f"its {fault.kind} fault: {reason}"
        if fault.ping_every > 0 and "ping" in missing:  # a stall's keep-alives are pings
            return f"its {fault.kind} fault's keep-alives: {missing['ping']}"
    return None


def reference() -> str:
    """The table of fault kinds for ``scenarios/README.md``, generated from :data:`FAULTS`."""
    rows = ["| kind | keys | what it does | a correct client |", "|---|---|---|---|"]
    for spec in FAULTS.values():
        keys = ", ".join("raw_hex" if k == "raw" else k for k in spec.keys) or "-"
        meets = spec.meets or (
            "reads past it, the text unchanged"
            if spec.skippable
            else "stops there (the text so far, or an error)"
            if spec.terminal
            else "waits, within its timeouts"
        )
        notes = " (cumulative replies only)" if spec.cumulative_only else ""
        rows.append(f"| `{spec.kind}` | {keys} | {spec.doc}{notes} | {meets} |")
    return "\n".join(rows)
