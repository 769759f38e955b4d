"""How the faults whose look is a dialect's own look on a Messages stream. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, NO_DONE, UNNUMBERED
from .wire import error_object

__all__ = ["FAULT_SHAPES", "MISSING", "UNKNOWN_EVENT", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "done": NO_DONE,
    "empty_chunk": "every event carries a type and a body of its own",
}


#: The error event's type, by the fault's cause.
_TYPES: Final = {
    "": "overloaded_error",
    "internal": "api_error",
    "overloaded": "overloaded_error",
    "rate_limited": "rate_limit_error",
}


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    kind = _TYPES[fault.cause]
    yield Write(fmt.json_event(error_object(529, fault.text or "Overloaded", kind), "error"))


def _ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event({"type": "ping"}, "ping"))


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    data = fault.text or '{"type": "content_block_delta", "index": 0, "delta": {"type": '
    yield Write(fmt.event(data, "content_block_delta"))


def _unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    # "We may occasionally add new event types, and your code should handle unknown
    # event types gracefully" (the Messages streaming docs).
    yield Write(fmt.json_event(UNKNOWN_EVENT, UNKNOWN_EVENT["type"]))


#: An event of a type no client has met.
UNKNOWN_EVENT: Final = {"type": "future_event", "note": "an event type this client has not met"}
#: The Messages look of the faults it has (the same for every request).
SHAPES: Final[Shapes] = {
    "error": _error,
    "ping": _ping,
    "malformed_json": _malformed,
    "unknown_event": _unknown,
}


def shapes() -> Shapes:
    return SHAPES


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(frozenset(SHAPES), MISSING)
