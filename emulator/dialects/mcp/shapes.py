"""How the faults whose look is a dialect's own look on an MCP answer's event stream. Pure.

An error is a JSON-RPC error response to the request (-32603), which ends the answer; a
malformed event is ``event: message`` whose data is not JSON; a ping is an event of
another name (a client reads only ``message`` events); an unknown event is a notification
of a method no client knows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Final

from ...core.endings import event_label
from ...protocol.jsonrpc import INTERNAL_ERROR, RequestId, error_response, notification
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED, ping

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds MCP has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "done": "there is no [DONE] in MCP (the response ends a request's stream)",
    "empty_chunk": "every event carries one JSON-RPC message",
}
_FAILED: Final = "Internal error"


def shapes(request: RequestId) -> Shapes:
    """The MCP look of the faults it has, on the answer to ``request``."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        failed = error_response(request, INTERNAL_ERROR, fault.text or _FAILED)
        yield Write(fmt.event(fmt.dumps(failed), "message"), event_label("error"))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        text = fault.text or '{"jsonrpc": "2.0", "id": ' + f"{request!r}".replace("'", '"')
        yield Write(fmt.event(text, "message"), event_label("malformed"))

    def unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        future = notification("notifications/emulator/future", {"note": "a method no client "
                                                                "knows"})  # fmt: skip
        yield Write(fmt.event(fmt.dumps(future), "message"), event_label("unknown"))

    return {"error": error, "malformed_json": malformed, "unknown_event": unknown,
            "ping": ping(time.time())}  # fmt: skip


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "unknown_event", "ping"}), MISSING
)
