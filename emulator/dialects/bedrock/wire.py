"""AWS Bedrock ConverseStream's wire: the binary event-stream framing (``application/
vnd.amazon.eventstream``), the events it carries, and the API's error bodies. Pure.

A frame (an AWS event-stream *message*) is a prelude (its total length, its
headers' length, both 4-byte big-endian, and the CRC32 of those 8 bytes),
its headers (each: a 1-byte name length, the name, a 1-byte value type, 7
for a string, a 2-byte length and the value), its payload (JSON here) and
the CRC32 of everything before it. ``:message-type`` is ``event`` (with
``:event-type``) or ``exception`` (with ``:exception-type``). The emulator
writes the framing itself, so it can also write it wrong.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, Final, NamedTuple

from ...protocol.thoughts import thought_pieces

__all__ = [
    "CONTENT_TYPE",
    "ERROR_TYPES",
    "SOUND",
    "Breaks",
    "Frame",
    "FrameError",
    "StreamContext",
    "converse_body",
    "error_body",
    "event_frame",
    "event_headers",
    "exception_frame",
    "frame",
    "framed",
    "frames",
    "padded",
    "payload_json",
    "reasoning_block",
    "reasoning_deltas",
]

#: The stream's media type.
CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
_PRELUDE: Final = 12
_STRING: Final = 7
#: The ``x-amzn-ErrorType`` of an HTTP error, by status (what botocore raises by name).
ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "ServiceUnavailableException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}


class StreamContext(NamedTuple):
    """What one request contributes to its answer."""

    prompt_tokens: int
    latency_ms: int
    #: The model's reasoning, a reasoningContent block first ("": none, or the request did
    #: not turn thinking on), and its signature.
    reasoning: str = ""
    signature: str = ""
    #: The reasoning redacted: its sealed bytes, base64 ("": not redacted).
    redacted: str = ""
    #: Of the input's tokens, those read from the prompt cache (not in ``inputTokens``).
    cached: int = 0

    @property
    def first(self) -> int:
        """The index of the reply's first block (after the reasoning block, if any)."""
        return 1 if self.reasoning else 0


def reasoning_block(ctx: StreamContext) -> dict[str, Any]:
    """The whole reasoning block, as ``Converse`` answers it (and a client sends back)."""
    if ctx.redacted:
        return {"reasoningContent": {"redactedContent": ctx.redacted}}
    return {"reasoningContent": {"reasoningText": {"text": ctx.reasoning,
                                                   "signature": ctx.signature}}}  # fmt: skip


def reasoning_deltas(ctx: StreamContext) -> list[dict[str, Any]]:
    """The reasoning block as it streams (block 0): its text a few words a delta, then its
    signature (redacted: its sealed bytes, whole); each a ``contentBlockDelta``'s body."""
    if ctx.redacted:
        return [{"contentBlockIndex": 0,
                 "delta": {"reasoningContent": {"redactedContent": ctx.redacted}}}]  # fmt: skip
    said = [{"reasoningContent": {"text": p}} for p in thought_pieces(ctx.reasoning)]
    said.append({"reasoningContent": {"signature": ctx.signature}})
    return [{"contentBlockIndex": 0, "delta": delta} for delta in said]


def _headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


class Breaks(NamedTuple):
    """How a frame is written wrong (all zero: it is not)."""

    #: XORed into the prelude CRC.
    prelude_crc: int = 0
    #: XORed into the message CRC.
    message_crc: int = 0
    #: Bytes the total length says beyond what the frame holds (the prelude CRC agrees).
    length_lie: int = 0


SOUND: Final = Breaks()


def frame(headers: Mapping[str, str], payload: bytes, breaks: Breaks = SOUND) -> bytes:
    """One message of the event stream, written wrong as ``breaks`` say."""
    return framed(_headers(headers), payload, breaks)


def framed(head: bytes, payload: bytes, breaks: Breaks = SOUND) -> bytes:
    """One message of the event stream from its encoded headers, written wrong as ``breaks``
    say."""
    total = _PRELUDE + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total + breaks.length_lie, len(head))
    prelude += struct.pack(">I", (zlib.crc32(prelude) ^ breaks.prelude_crc) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack(">I", (zlib.crc32(body) ^ breaks.message_crc) & 0xFFFFFFFF)


_PAD: Final = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def padded(raw: bytes) -> bytes:
    """A JSON object's bytes with the ``p`` field Bedrock adds to each event (its length
    hides the text's: the object's length rounded up to a multiple of 24, plus 1 to 24)."""
    return raw[:-1] + b',"p":"' + _PAD[: 24 - len(raw) % 24] + b'"}'


def payload_json(body: Mapping[str, Any], ensure_ascii: bool = False) -> bytes:
    """An event's body as its payload's JSON (before :func:`padded`)."""
    return json.dumps(body, ensure_ascii=ensure_ascii, separators=(",", ":")).encode()


@lru_cache(maxsize=32)
def event_headers(event: str) -> bytes:
    """The encoded headers of an ``event`` frame of type ``event``."""
    return _headers({":event-type": event, ":content-type": "application/json",
                     ":message-type": "event"})  # fmt: skip


def event_frame(
    event: str, body: Mapping[str, Any], *, ensure_ascii: bool = False, breaks: Breaks = SOUND
) -> bytes:
    """An ``event`` frame: ``:event-type`` ``event``, ``body`` as its JSON payload (with
    the API's ``p`` padding)."""
    return framed(event_headers(event), padded(payload_json(body, ensure_ascii)), breaks)


def exception_frame(kind: str, message: str) -> bytes:
    """An ``exception`` frame, as the API sends an error mid-stream (``kind`` such as
    ``modelStreamErrorException``, ``throttlingException``, ``internalServerException``)."""
    headers = {":exception-type": kind, ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return frame(headers, json.dumps({"message": message}).encode())


class Frame(NamedTuple):
    """One frame read back: its headers and payload, where it starts and how long it is."""

    headers: dict[str, str]
    payload: bytes
    at: int = 0
    size: int = 0


class FrameError(ValueError):
    """A frame that cannot be read: a CRC or a length that does not hold."""


def frames(body: bytes) -> Iterator[Frame]:
    """The frames of ``body``, checked as a strict reader checks them; a
    :class:`FrameError` at the first corrupt one. A frame cut short at the end is left
    unread (the caller sees fewer bytes consumed: :func:`frames` stops)."""
    at = 0
    while len(body) - at >= _PRELUDE:
        total, head_len, crc = struct.unpack_from(">III", body, at)
        if zlib.crc32(body[at : at + 8]) != crc:
            raise FrameError(f"the prelude CRC of the frame at byte {at} does not hold")
        if total < _PRELUDE + head_len + 4 or total > 24 * 1024 * 1024 + 128 * 1024:
            raise FrameError(f"the frame at byte {at} has lengths that cannot be")
        if len(body) - at < total:
            return
        end = at + total
        (want,) = struct.unpack_from(">I", body, end - 4)
        if zlib.crc32(body[at : end - 4]) != want:
            raise FrameError(f"the message CRC of the frame at byte {at} does not hold")
        yield Frame(_read_headers(body[at + _PRELUDE : at + _PRELUDE + head_len], at),
                    body[at + _PRELUDE + head_len : end - 4], at, total)  # fmt: skip
        at = end


def _read_headers(raw: bytes, at: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    i = 0
    try:
        while i < len(raw):
            size = raw[i]
            name = raw[i + 1 : i + 1 + size].decode()
            i += 1 + size
            kind = raw[i]
            if kind != _STRING:
                raise FrameError(f"the frame at byte {at} has a header of type {kind}")
            (length,) = struct.unpack_from(">H", raw, i + 1)
            headers[name] = raw[i + 3 : i + 3 + length].decode()
            i += 3 + length
    except (IndexError, struct.error, UnicodeDecodeError):
        raise FrameError(f"the frame at byte {at} has headers that cannot be read") from None
    return headers


def converse_body(
    ctx: StreamContext,
    text: str | None,
    calls: list[tuple[str, str, str]],
    stop: str,
    pieces: int,
) -> dict[str, Any]:
    """``Converse``'s whole answer: ``text`` (None: none), then ``calls`` as (tool use id,
    tool, arguments)."""
    content: list[dict[str, Any]] = [reasoning_block(ctx)] if ctx.reasoning else []
    content += [] if text is None else [{"text": text}]
    content += [{"toolUse": {"toolUseId": i, "name": tool, "input": _json_or_text(arguments)}}
                for i, tool, arguments in calls]  # fmt: skip
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage(ctx, pieces),
        "metrics": {"latencyMs": ctx.latency_ms},
    }


def usage(ctx: StreamContext, pieces: int) -> dict[str, int]:
    out = pieces + len(ctx.reasoning.split())  # the reasoning's tokens are output too
    found = {
        "inputTokens": ctx.prompt_tokens - ctx.cached,
        "outputTokens": out,
        "totalTokens": ctx.prompt_tokens + out,
    }
    if ctx.cached:
        found |= {"cacheReadInputTokens": ctx.cached, "cacheWriteInputTokens": 0}
    return found


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_body(status: int, message: str) -> bytes:
    """An HTTP error's body (its type is the ``x-amzn-ErrorType`` header)."""
    return json.dumps({"message": message}).encode()
