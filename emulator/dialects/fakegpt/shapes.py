"""How the faults whose look is a dialect's own look on the FakeGpt stream. Pure.

Every shaped kind of :data:`~emulator.scenario.faults.FAULTS` that an event
stream of text can have has one here: the FakeGpt stream is where they were
first seen. Its ``ping`` and ``done`` are the ones the other SSE dialects
share (:mod:`emulator.dialects.common`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, SHAPED_KINDS, FaultShapes, Sent, Shapes, ShapeWriter
from ...scenario.model import Fault
from ..common import done, ping
from .wire import (
    StreamContext,
    completion_object,
    error_object,
    malformed_message,
    num_variants_object,
    snapshot_object,
)

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds this stream has not, and why.
MISSING: Final = {
    **NOT_FRAMED,
    "unknown_event": "its messages of a kind the client has not met are the foreign_message, "
    "moderation and num_variants faults",
    "empty_chunk": "its events that carry no reply are the moderation and num_variants faults",
}
#: Every other shaped kind has its look here.
FAULT_SHAPES: Final = FaultShapes(SHAPED_KINDS - MISSING.keys(), MISSING)


def shapes(ctx: StreamContext) -> Shapes:
    """The FakeGpt look of every shaped fault, for one request's stream."""

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.event(fault.text or malformed_message(ctx)))

    def foreign(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        obj = snapshot_object(
            ctx,
            fault.text or "This message is not part of the reply.",
            message_id="foreign-" + ctx.message_id,
            role=fault.role,
            message_type=fault.message_type,
        )
        yield Write(fmt.json_event(obj))

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        text = fault.text or "Something went wrong."
        yield Write(fmt.json_event(error_object(ctx.conversation_id, text)))

    def moderation(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        obj = completion_object(ctx.conversation_id, ctx.message_id, ctx.moderation_id)
        yield Write(fmt.json_event(obj))

    def num_variants(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.json_event(num_variants_object(ctx.conversation_id)))

    def resent(n: int | None) -> ShapeWriter:
        """A snapshot sent again: ``n`` events back, or (None) the fault's own text."""

        def write(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
            text = fault.text if n is None else sent.back(n)
            yield Write(fmt.json_event(snapshot_object(ctx, text)))

        return write

    return {
        "malformed_json": malformed,
        "ping": ping(ctx.timestamp or ctx.create_time),
        "foreign_message": foreign,
        "error": error,
        "moderation": moderation,
        "num_variants": num_variants,
        "stale": resent(2),
        "repeat": resent(0),
        "rewrite": resent(None),
        "done": done,
    }
