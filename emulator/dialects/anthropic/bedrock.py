"""Claude on AWS Bedrock: Anthropic's Messages body on ``InvokeModel`` and
``InvokeModelWithResponseStream``.

``POST /model/{model}/invoke-with-response-stream`` streams Anthropic's own events, each
one's JSON base64 in the ``bytes`` of a ``chunk`` frame of AWS's binary event stream
(:class:`~emulator.protocol.eventstream.ChunkFrames`); ``/model/{model}/invoke`` answers
Anthropic's message whole. The model is the path's; the body names its
``anthropic_version`` (``bedrock-2023-05-31``); a request is signed (SigV4, any access
key) or carries a Bedrock API key. An error mid-stream is an exception frame
(``modelStreamErrorException``), and every binary-framing fault of ConverseStream applies
to the chunk frames. HTTP errors are Bedrock's. The same scenarios as Anthropic's Messages
where a binary stream can carry them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any, Final

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...protocol.eventstream import (
    CONTENT_TYPE,
    SOUND,
    Breaks,
    ChunkFrames,
    FrameError,
    chunk_payload,
    event_headers,
    exception_frame,
    framed,
    frames,
)
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario import Scenario
from ...scenario.asked import Asked
from ...scenario.faults import FaultShapes, Sent, Shapes, ShapeWriter
from ...scenario.model import Fault
from ...scenario.outcomes import Reading
from ..aws import ERRORS, check_signed
from ..common import NO_DONE, keyed_api_not_applicable, sse_framing
from ..dialect import Capture, Conversation, Dialect
from ..speaker import Given, Incoming, Streamed
from .api import MessagesRequest, MessagesSpeaker
from .capture import read_capture as read_sse_capture
from .plan import INTERLEAVED, planned_messages
from .read import STRICT_RULES
from .shapes import FAULT_SHAPES as SSE_SHAPES
from .shapes import UNKNOWN_EVENT
from .wire import MessageContext

__all__ = ["DIALECT", "BedrockMessagesSpeaker"]

NAME: Final = "anthropic-bedrock"
TITLE: Final = "Claude on Bedrock"
MODEL: Final = "/model/{model}"
_STREAM: Final = "/invoke-with-response-stream"
#: What a corrupt frame carries by default: text a client that reads past it shows.
CORRUPT_TEXT: Final = " [corrupt]"
_FRAMING: Final = ("bad_prelude_crc", "bad_message_crc", "length_lie", "truncated_frame")
_FORMAT: Final = ChunkFrames()


def _chunk(event: dict[str, Any], breaks: Breaks = SOUND) -> bytes:
    return framed(event_headers("chunk"), chunk_payload(json.dumps(event)), breaks)


def _corrupt(fault: Fault) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": fault.text or CORRUPT_TEXT}}  # fmt: skip


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(exception_frame("modelStreamErrorException", fault.text or "An error occurred "
                                "while streaming the response. Retry your request."))  # fmt: skip


def _ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(_chunk({"type": "ping"}))


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    text = fault.text or '{"type": "content_block_delta", "index": 0, "delta": {"type": '
    yield Write(_FORMAT.event(text))


def _unknown(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(_chunk(UNKNOWN_EVENT))


def _broken(breaks: Breaks) -> ShapeWriter:
    def write(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(_chunk(_corrupt(fault), breaks))

    return write


def _truncated(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    whole = _chunk(_corrupt(fault))
    yield Write(whole[: len(whole) // 2])


#: The look of the faults it has: Anthropic's events in chunk frames, frames written wrong.
SHAPES: Final[Shapes] = {
    "error": _error,
    "ping": _ping,
    "malformed_json": _malformed,
    "unknown_event": _unknown,
    "bad_prelude_crc": _broken(Breaks(prelude_crc=1)),
    "bad_message_crc": _broken(Breaks(message_crc=1)),
    "length_lie": _broken(Breaks(length_lie=16)),
    "truncated_frame": _truncated,
}
FAULT_SHAPES: Final = FaultShapes(
    frozenset(SHAPES), {k: v for k, v in SSE_SHAPES.missing.items() if k not in _FRAMING}
)


def not_applicable(scenario: Scenario) -> str | None:
    """Anthropic's reasons (but the framing faults, which chunk frames have), and SSE
    framing, which a binary event stream has not."""
    reason = sse_framing(scenario, "a binary event stream") or keyed_api_not_applicable(
        scenario, NAME, FAULT_SHAPES.missing
    )
    if reason is None and not scenario.wire.done:
        return NO_DONE
    if reason is None and scenario.reply.interleave:
        return INTERLEAVED
    return reason


class BedrockMessagesSpeaker(MessagesSpeaker):
    """Anthropic's Messages as Bedrock's InvokeModel serves them: the model in the path, a
    stream by the path (not the body), in chunk frames."""

    typed = False

    def keyed(self, incoming: Incoming) -> None:
        check_signed(incoming)

    def model_of(self, incoming: Incoming, body: dict[str, Any]) -> str:
        if not isinstance(body.get("anthropic_version"), str):
            raise BadRequest(400, "Malformed input request: #: required key "
                             "[anthropic_version] not found, please reformat your input and "
                             "try again.")  # fmt: skip
        return incoming.params["model"]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, MessagesRequest]:
        asked, request = super().read(incoming, given)
        return asked, request._replace(stream=incoming.path.endswith(_STREAM))

    def stream(
        self,
        parsed: MessagesRequest,
        context: MessageContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        steps = planned_messages(scenario, context, planned, _FORMAT, lambda: SHAPES)
        return Streamed(steps, {"Content-Type": CONTENT_TYPE})

    def replay_shapes(self, context: MessageContext, given: Given) -> Shapes:
        return SHAPES


def read_capture(body: bytes) -> Reading:
    """What a correct client makes of captured chunk frames: Anthropic's events, read as
    Anthropic's stream is; an exception frame's error; the corrupt frame that stops it."""
    events: list[str] = []
    try:
        for each in frames(body):
            if each.headers.get(":message-type") == "exception":
                said = json.loads(each.payload or b"{}").get("message", "")
                read = read_sse_capture("".join(events).encode())
                return Reading(read.text, failure="upstream_error", message=str(said))
            try:
                raw = base64.b64decode(json.loads(each.payload)["bytes"]).decode()
            except (ValueError, KeyError, TypeError, binascii.Error):
                continue
            events.append(f"data: {raw}\n\n")
    except FrameError as exc:
        read = read_sse_capture("".join(events).encode())
        return Reading(read.text, failure="corrupt_stream", message=str(exc))
    return read_sse_capture("".join(events).encode())


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=MODEL + _STREAM,
    routes={
        MODEL + _STREAM: {"POST": Conversation(BedrockMessagesSpeaker)},
        MODEL + "/invoke": {"POST": Conversation(BedrockMessagesSpeaker)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture, (("Content-Type", CONTENT_TYPE),)),
    strict_rules=STRICT_RULES,
    doc="Claude on AWS Bedrock (invoke-with-response-stream: Anthropic's events, base64, in "
    "binary chunk frames; invoke: Anthropic's message whole)",
)
