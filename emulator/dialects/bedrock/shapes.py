"""How the faults whose look is a dialect's own look on a ConverseStream. Pure.

An error mid-stream is the API's exception frame (``:message-type:
exception``, ``modelStreamErrorException``; the stream ends there); a
malformed event is a ``contentBlockDelta`` frame whose payload is not JSON
(its framing sound); an unknown event a frame of an ``:event-type`` no SDK
has heard of. The framing faults are frames written wrong: a delta whose
prelude or message CRC does not hold, whose total length lies, or half a
frame and then the end of the body. There is no keep-alive event and no
``[DONE]``, and the events are not numbered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import FaultShapes, Sent, Shapes, ShapeWriter
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED
from .wire import Breaks, event_frame, event_headers, exception_frame, framed

__all__ = ["CORRUPT_TEXT", "FAULT_SHAPES", "MISSING", "NO_END", "shapes"]

#: Why a scenario that ends with (or sends) ``[DONE]`` means nothing here.
NO_END: Final = "there is no [DONE] in this API (messageStop ends a message)"
#: What a corrupt frame carries by default: text a client that reads past it shows.
CORRUPT_TEXT: Final = " [corrupt]"
#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    "done": NO_END,
    "ping": "ConverseStream has no keep-alive event",
    "empty_chunk": "every event carries a type and a body of its own",
}


#: The exception frame's type, by the fault's cause.
_EXCEPTIONS: Final = {
    "": "modelStreamErrorException",
    "internal": "internalServerException",
    "overloaded": "serviceUnavailableException",
    "rate_limited": "throttlingException",
}


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    message = fault.text or "An error occurred while streaming the response. Retry your request."
    yield Write(exception_frame(_EXCEPTIONS[fault.cause], message))


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    payload = (fault.text or '{"contentBlockIndex":0,"delta":{"text":').encode()
    yield Write(framed(event_headers("contentBlockDelta"), payload))


def _unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(event_frame("futureEvent", {"note": "an event type this client has not met"}))


def _broken(breaks: Breaks) -> ShapeWriter:
    """A text delta whose framing is broken as ``breaks`` say."""

    def write(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        body = {"contentBlockIndex": 0, "delta": {"text": fault.text or CORRUPT_TEXT}}
        yield Write(event_frame("contentBlockDelta", body, breaks=breaks))

    return write


def _truncated(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    whole = event_frame("contentBlockDelta", {"contentBlockIndex": 0,
                                              "delta": {"text": CORRUPT_TEXT}})  # fmt: skip
    yield Write(whole[: len(whole) // 2])


#: The ConverseStream look of the faults it has (the same for every request).
SHAPES: Final[Shapes] = {
    "error": _error,
    "malformed_json": _malformed,
    "unknown_event": _unknown,
    "bad_prelude_crc": _broken(Breaks(prelude_crc=1)),
    "bad_message_crc": _broken(Breaks(message_crc=1)),
    "length_lie": _broken(Breaks(length_lie=16)),
    "truncated_frame": _truncated,
}


def shapes() -> Shapes:
    return SHAPES


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(frozenset(SHAPES), MISSING)
