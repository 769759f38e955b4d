"""How the faults whose look is a dialect's own look on a Chat Completions stream. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..fakegpt.shapes import done, ping
from .wire import ChatContext, empty_chunk_object, error_object

__all__ = [
    "DELTA_MISSING",
    "FAULT_SHAPES",
    "MISSING",
    "OPENAI_CODES",
    "UNNUMBERED",
    "shapes",
]

#: OpenAI's error code, by an error fault's cause (none: its usual server_error).
OPENAI_CODES: Final[Mapping[str, str]] = {
    "": "server_error",
    "internal": "server_error",
    "overloaded": "server_is_overloaded",
    "rate_limited": "rate_limit_exceeded",
}
#: What a stream of deltas has not, whatever the API: the FakeGpt events and snapshots.
DELTA_MISSING: Final[Mapping[str, str]] = {
    "foreign_message": "chunks carry no message of another author",
    "moderation": "there is no moderation event",
    "num_variants": "there is no num_variants event",
    "rewrite": "deltas cannot rewrite what was sent",
}
#: What a stream of deltas that are not numbered has not.
UNNUMBERED: Final[Mapping[str, str]] = {
    "stale": "a delta sent again cannot be told from a new one: the events are not numbered",
    "repeat": "a delta sent again cannot be told from a new one: the events are not numbered",
}
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
