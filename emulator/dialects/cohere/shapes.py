"""How the faults whose look is a dialect's own look on a Cohere v2 chat stream. Pure.

An error mid-stream is the ``message-end`` Cohere ends a failed generation with
(``finish_reason: "ERROR"``, its error said); a malformed event a ``content-delta``
whose JSON is cut; an unknown event one of a type no client has met. Cohere's stream
has no keep-alive, no ``[DONE]``, no empty event, and its events are not numbered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, NO_DONE, UNNUMBERED
from .wire import CohereContext, message_end

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "done": NO_DONE.replace("message_stop", "message-end"),
    "ping": "Cohere's stream has no keep-alive event",
    "empty_chunk": "every event carries a type and a body of its own",
}

#: An event of a type no client has met.
UNKNOWN_EVENT: Final = {"type": "future-event", "note": "an event type this client has not met"}


def shapes(ctx: CohereContext) -> Shapes:
    """The Cohere look of the faults it has, for one request's stream."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        said = fault.text or "internal server error, this has been reported to our developers"
        yield Write(fmt.json_event(message_end(ctx, "ERROR", 0, said), "message-end"))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        data = fault.text or '{"type":"content-delta","index":0,"delta":{"message":{"cont'
        yield Write(fmt.event(data, "content-delta"))

    def unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.json_event(UNKNOWN_EVENT, UNKNOWN_EVENT["type"]))

    return {"error": error, "malformed_json": malformed, "unknown_event": unknown}


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(frozenset({"error", "malformed_json", "unknown_event"}),
                                  MISSING)  # fmt: skip
