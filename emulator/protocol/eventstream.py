"""AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), which
Bedrock streams in: frames written (sound, or wrong on purpose) and read back. Pure.

A frame (an AWS event-stream *message*) is a prelude (its total length, its
headers' length, both 4-byte big-endian, and the CRC32 of those 8 bytes),
its headers (each: a 1-byte name length, the name, a 1-byte value type, 7
for a string, a 2-byte length and the value), its payload (JSON here) and
the CRC32 of everything before it. ``:message-type`` is ``event`` (with
``:event-type``) or ``exception`` (with ``:exception-type``). The emulator
writes the framing itself, so it can also write it wrong.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, NamedTuple

from .sse import SSEFormat

__all__ = [
    "CONTENT_TYPE",
    "SOUND",
    "Breaks",
    "ChunkFrames",
    "Frame",
    "FrameError",
    "chunk_payload",
    "event_frame",
    "event_headers",
    "exception_frame",
    "frame",
    "framed",
    "frames",
    "padded",
    "payload_json",
]

#: The stream's media type.
CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
_PRELUDE: Final = 12
_STRING: Final = 7


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


def chunk_payload(data: str) -> bytes:
    """A ``chunk`` event's payload: ``data`` (an event's JSON text) as base64 ``bytes``."""
    raw = base64.b64encode(data.encode("utf-8", "surrogatepass")).decode("ascii")
    return padded(payload_json({"bytes": raw}))


@dataclass(frozen=True, slots=True)
class ChunkFrames(SSEFormat):
    """Events written as InvokeModelWithResponseStream writes a model's own events: each
    event's JSON in a ``chunk`` frame, base64 (where SSE would write an event)."""

    def event(self, data: str, event: str | None = None, id: str | None = None) -> bytes:
        return framed(event_headers("chunk"), chunk_payload(data))

    def comment(self, text: str) -> bytes:
        return b""  # a binary stream has no comments (such scenarios do not apply)
