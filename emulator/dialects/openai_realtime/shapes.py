"""How the faults whose look is a dialect's own look on a Realtime WebSocket. Pure.

An error is the API's ``error`` event and a failed ``response.done``; a malformed event is
a text message that is not JSON; a ping is the WebSocket's own (a client answers it with
a pong); an unknown event is a type no client has met.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...core.endings import end_label, event_label
from ...protocol.sse import SSEFormat
from ...protocol.steps import Message, Ping, Step
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED
from ..openai import OPENAI_CODES
from .wire import RealtimeContext, error_event, event, response_object, said

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "done": "there is no [DONE] on a Realtime WebSocket (response.done ends a response)",
    "empty_chunk": "every event carries a type and a body of its own",
}

_FAILED: Final = "The server had an error while processing your request. Sorry about that!"


def shapes(ctx: RealtimeContext) -> Shapes:
    """The Realtime look of the faults it has, for one response."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        message = fault.text or _FAILED
        code = OPENAI_CODES[fault.cause]
        yield said(error_event(message, code, kind="server_error"), event_label("error"))
        failed = {"type": "failed", "error": {"type": "server_error", "code": code,
                                              "message": message}}  # fmt: skip
        done = response_object(ctx, "failed", details=failed)
        yield said(event("response.done", response=done), end_label("response.done (failed)"))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        text = fault.text or '{"type": "response.output_text.delta", "delta": "tr'
        yield Message(text.encode("utf-8", "surrogatepass"), what=event_label("malformed"))

    def unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        note = fault.text or "an event type this client has not met"
        yield said(event("response.future_event", note=note))

    def ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Ping(b"")

    return {"error": error, "malformed_json": malformed, "unknown_event": unknown, "ping": ping}


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "unknown_event", "ping"}), MISSING
)
