"""How the faults whose look is a dialect's own look on a Gemini Live WebSocket. Pure.

The API reports an error by closing the socket with a code and a reason (1011: internal;
a JSON error message is not part of its protocol, and google-genai's reader cannot read
one); a malformed message is a frame that is not JSON; a ping is the WebSocket's own; an
unknown message has a top-level key no client has met.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...core.endings import Label, event_label
from ...protocol.sse import SSEFormat
from ...protocol.steps import Close, Message, Ping, Step
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED
from ..google import MESSAGES
from .wire import said

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "done": "there is no [DONE] on a Live WebSocket (turnComplete ends a turn)",
    "empty_chunk": "every message carries a key of its own",
}
#: The close code of the API's internal error.
INTERNAL: Final = 1011


def shapes() -> Shapes:
    """The Live look of the faults it has."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Close(INTERNAL, fault.text or MESSAGES[500], Label("end", "close 1011 (error)"))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        text = fault.text or '{"serverContent": {"modelTurn": {"parts": [{"text": "tr'
        yield Message(text.encode("utf-8", "surrogatepass"), binary=True,
                      what=event_label("malformed"))  # fmt: skip

    def unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        note = fault.text or "a message this client has not met"
        yield said({"futureMessage": {"note": note}})

    def ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Ping(b"")

    return {"error": error, "malformed_json": malformed, "unknown_event": unknown, "ping": ping}


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "unknown_event", "ping"}), MISSING
)
