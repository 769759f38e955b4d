"""How the faults whose look is a dialect's own look on a Chat Completions stream. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED, done, ping
from ..openai import OPENAI_CODES, error_object
from .wire import ChatContext, empty_chunk_object

__all__ = [
    "FAULT_SHAPES",
    "MISSING",
    "shapes",
]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "unknown_event": "its chunks carry no event type",
}


def shapes(ctx: ChatContext, now: float) -> Shapes:
    """The Chat Completions look of the faults it has, for one request's stream."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        text = fault.text or "The server had an error while processing your request."
        found = error_object(500, text)
        if fault.cause:
            found["error"]["code"] = OPENAI_CODES[fault.cause]
        yield Write(fmt.json_event(found))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        data = fault.text or '{"id": "' + ctx.id + '", "object": "chat.completion.chunk", '
        yield Write(fmt.event(data))

    def empty(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.json_event(empty_chunk_object()))

    return {
        "error": error,
        "malformed_json": malformed,
        "ping": ping(now),
        "done": done,
        "empty_chunk": empty,
    }


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "ping", "done", "empty_chunk"}), MISSING
)
