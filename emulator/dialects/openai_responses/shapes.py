"""How the faults whose look is a dialect's own look on a Responses stream. Pure.

Events here carry a ``sequence_number``, so an event sent again (``stale``,
``repeat``) is the same bytes, number and all: a reader can tell it apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, Protocol

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes, ShapeWriter
from ...scenario.model import Fault
from ..common import DELTA_MISSING, NO_DONE, ping
from ..openai import OPENAI_CODES
from .wire import ResponseContext, response_object

__all__ = ["FAULT_SHAPES", "MISSING", "Numbered", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **NOT_FRAMED,
    "done": NO_DONE,
    "empty_chunk": "every event carries a type and a body of its own",
}


class Numbered(Protocol):
    """The stream's numbered events: the next one, and those already sent."""

    def event(self, fmt: SSEFormat, kind: str, **fields: Any) -> bytes: ...

    def back(self, n: int) -> bytes: ...


def shapes(ctx: ResponseContext, numbers: Numbered, now: float) -> Shapes:
    """The Responses look of the faults it has, for one request's stream."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        message = fault.text or "The server had an error while processing your request."
        code = OPENAI_CODES[fault.cause]
        failed = response_object(ctx, "failed", [], None,
                                 error={"code": code, "message": message})  # fmt: skip
        yield Write(numbers.event(fmt, "response.failed", response=failed))
        yield Write(numbers.event(fmt, "error", code=code, message=message, param=None))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        data = fault.text or '{"type": "response.output_text.delta", "sequence_number": '
        yield Write(fmt.event(data, "response.output_text.delta"))

    def again(n: int) -> ShapeWriter:
        # An event again, byte for byte: its sequence_number already seen (the last
        # one for repeat, one from two events back, out of order, for stale).
        def write(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
            data = numbers.back(n)
            if data:
                yield Write(data)

        return write

    def unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(numbers.event(fmt, "response.future_event",
                                  note="an event type this client has not met"))  # fmt: skip

    return {
        "error": error,
        "malformed_json": malformed,
        "stale": again(2),
        "repeat": again(0),
        "ping": ping(now),
        "unknown_event": unknown,
    }


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "stale", "repeat", "ping", "unknown_event"}), MISSING
)
