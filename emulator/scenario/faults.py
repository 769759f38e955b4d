"""THE fault table: every fault kind, declared once. Pure.

A :class:`FaultSpec` says what a kind does, which keys of ``[[faults]]`` it
takes, how a correct client meets it (its traits) and how it is written
(its writer: the steps it adds to a stream). The scenario parser, the
planner, the dumper, the hypothesis strategies, ``--check`` and the
reference in ``scenarios/README.md`` (:func:`reference`, kept equal by a
test) all read this table. Adding a fault kind is one entry here, one
scenario file and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from ..dialects.fakegpt.wire import (
    DEFAULT_GARBAGE,
    DONE,
    StreamContext,
    completion_object,
    error_object,
    num_variants_object,
    ping_data,
    snapshot_object,
)
from ..protocol.sse import SSEFormat
from ..protocol.steps import Drop, Hold, Step, Wait, Write
from .model import Fault

__all__ = ["FAULTS", "FAULT_KINDS", "FaultSpec", "Sent", "reference", "write_fault"]


class Sent(Protocol):
    """The snapshots a stream has sent so far (what ``stale`` and ``repeat`` resend)."""

    def back(self, n: int) -> str:
        """The snapshot sent ``n`` events ago (0: the last one)."""
        ...


Writer = Callable[[Fault, SSEFormat, StreamContext, Sent], Iterator[Step]]


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault kind: what it does, what it takes, how clients meet it, how it is written."""

    kind: str
    doc: str
    keys: tuple[str, ...]  # the Fault fields it takes, besides kind and at
    write: Writer
    skippable: bool = False  # a correct client reads past it; the text is unchanged
    terminal: bool = False  # the reply ends (or fails) where it stands
    once: bool = False  # written once: count does not apply
    cumulative_only: bool = False  # needs cumulative snapshots (not delta_v1)
    resends_text: bool = False  # writes a snapshot of the reply again (its size grows with it)
    required: Mapping[str, str] | None = None  # key -> what it must be, for keys without defaults
    size: int = 700  # about how many bytes one write takes, but for its text and raw bytes
    meets: str = ""  # how a correct client meets it, where the traits do not say


def _malformed_json(
    fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent
) -> Iterator[Step]:
    yield Write(
        fmt.event(fault.text or '{"message": {"id": "' + ctx.message_id + '", "content": ')
    )


def _garbage(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    # Framed as a line of its own, so it cannot glue itself to the next field.
    end = fmt.line_ending.encode()
    yield Write((fault.raw or DEFAULT_GARBAGE) + end + end)


def _ping(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.event(ping_data(ctx), "ping"))


def _comment(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.comment(fault.text or " keep-alive"))


def _foreign(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    obj = snapshot_object(
        ctx,
        fault.text or "This message is not part of the reply.",
        message_id="foreign-" + ctx.message_id,
        role=fault.role,
        message_type=fault.message_type,
    )
    yield Write(fmt.json_event(obj))


def _error(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    text = fault.text or "Something went wrong."
    yield Write(fmt.json_event(error_object(ctx.conversation_id, text)))


def _moderation(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    obj = completion_object(ctx.conversation_id, ctx.message_id, ctx.moderation_id)
    yield Write(fmt.json_event(obj))


def _num_variants(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event(num_variants_object(ctx.conversation_id)))


def _resent(n: int | None) -> Writer:
    """A snapshot sent again: ``n`` events back, or (None) the fault's own text."""

    def write(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
        text = fault.text if n is None else sent.back(n)
        yield Write(fmt.json_event(snapshot_object(ctx, text)))

    return write


def _done(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.event(DONE))


def _drop(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Drop()


def _reset(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Drop("reset")


def _close(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Drop("close")


def _half_open(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    yield Hold(fault.seconds or HALF_OPEN_SECONDS)
    yield Drop("close")


#: How long a half-open connection stays open when the fault gives no seconds.
HALF_OPEN_SECONDS: Final = 3600.0


def _stall(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    if fault.ping_every <= 0:
        yield Wait(fault.seconds, scaled=False)
        return
    left = fault.seconds
    while left > 1e-9:
        step = min(fault.ping_every, left)
        yield Wait(step, scaled=False)
        left -= step
        yield Write(fmt.event(ping_data(ctx), "ping"))


FAULTS: Final[Mapping[str, FaultSpec]] = {
    spec.kind: spec
    for spec in (
        FaultSpec(
            "malformed_json",
            "a data line that is not JSON",
            ("text", "count"),
            _malformed_json,
            skippable=True,
            size=120,
        ),
        FaultSpec(
            "garbage",
            "a line of raw bytes (raw_hex, or invalid UTF-8)",
            ("raw", "count"),
            _garbage,
            skippable=True,
            size=32,
        ),
        FaultSpec(
            "ping", "event: ping with a timestamp", ("count",), _ping, skippable=True, size=48
        ),
        FaultSpec(
            "comment", "a ': …' comment line", ("text", "count"), _comment, skippable=True, size=16
        ),
        FaultSpec(
            "foreign_message",
            "a message that is not the reply (its role or message_type)",
            ("text", "role", "message_type", "count"),
            _foreign,
            skippable=True,
        ),
        FaultSpec(
            "error",
            'an event whose "error" is a string: the client stops with it',
            ("text", "count"),
            _error,
            terminal=True,
        ),
        FaultSpec(
            "moderation",
            "a moderation (completion) event mid-stream",
            ("count",),
            _moderation,
            skippable=True,
        ),
        FaultSpec(
            "num_variants",
            "a num_variants_in_stream event",
            ("count",),
            _num_variants,
            skippable=True,
        ),
        FaultSpec(
            "stale",
            "an earlier snapshot again",
            ("count",),
            _resent(2),
            skippable=True,
            cumulative_only=True,
            resends_text=True,
        ),
        FaultSpec(
            "repeat",
            "the last snapshot again",
            ("count",),
            _resent(0),
            skippable=True,
            cumulative_only=True,
            resends_text=True,
        ),
        FaultSpec(
            "rewrite",
            "a snapshot (text) that does not extend the last one",
            ("text", "count"),
            _resent(None),
            cumulative_only=True,
            required={"text": "the snapshot text it sends instead"},
        ),
        FaultSpec(
            "done", "data: [DONE] here, early", (), _done, terminal=True, once=True, size=16
        ),
        FaultSpec(
            "drop", "the connection is cut here", (), _drop, terminal=True, once=True, size=0
        ),
        FaultSpec(
            "reset",
            "the connection is reset here (an RST): bytes still in flight may be lost",
            (),
            _reset,
            terminal=True,
            once=True,
            size=0,
        ),
        FaultSpec(
            "close",
            "the connection is closed here (a FIN after every byte written), the body unfinished",
            (),
            _close,
            terminal=True,
            once=True,
            size=0,
        ),
        FaultSpec(
            "half_open",
            "sending stops here and the connection stays open, silent, for seconds "
            "(default an hour) or until the client leaves",
            ("seconds",),
            _half_open,
            terminal=True,
            once=True,
            size=0,
            meets="gives up within its idle timeout",
        ),
        FaultSpec(
            "stall",
            "silence (or pings every ping_every) for seconds, never scaled by --speed",
            ("seconds", "ping_every"),
            _stall,
            once=True,
            required={"seconds": "seconds > 0"},
        ),
    )
}
FAULT_KINDS: Final[tuple[str, ...]] = tuple(FAULTS)


def write_fault(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: Sent) -> Iterator[Step]:
    """The steps of one fault (``count`` times unless its kind is written once)."""
    spec = FAULTS[fault.kind]
    what = f"fault {fault.kind} at {fault.at}"
    for _ in range(1 if spec.once else fault.count):
        for step in spec.write(fault, fmt, ctx, sent):
            if isinstance(step, Write):
                yield Write(step.data, what)
            elif isinstance(step, Wait):
                yield Wait(step.seconds, step.scaled, what)
            else:
                yield step


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
            else "fails with an error"
            if spec.kind == "rewrite"
            else "waits, within its timeouts"
        )
        notes = " (cumulative replies only)" if spec.cumulative_only else ""
        rows.append(f"| `{spec.kind}` | {keys} | {spec.doc}{notes} | {meets} |")
    return "\n".join(rows)
