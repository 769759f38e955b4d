"""WebSocket frames as a server writes them (RFC 6455, section 5.2), and close codes. Pure.

The player sends whole messages, pings and closes through aiohttp's writer;
what aiohttp will not write (a message in fragments, a frame a client must
refuse) is written as bytes made here. Written apart from any reader: the
tests read these frames with aiohttp's client, a cross-check.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Final

__all__ = ["MAX_CONTROL_PAYLOAD", "CloseCode", "Opcode", "close_payload", "frame"]


class Opcode(IntEnum):
    """A frame's opcode (RFC 6455, 5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(IntEnum):
    """The close codes a server sends (RFC 6455, 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013


#: A control frame's payload is at most this long (RFC 6455, 5.5).
MAX_CONTROL_PAYLOAD: Final = 125


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """One frame from the server: never masked (RFC 6455, 5.1), its length in the
    shortest form that holds it (5.2: 7 bits, then 16, then 64)."""
    first = (0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


def close_payload(code: int, reason: str = "") -> bytes:
    """A close frame's payload: the code, then the reason in UTF-8 (cut to fit 125 bytes
    at a character's end)."""
    raw = reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
    return struct.pack("!H", code) + raw.decode("utf-8", "ignore").encode("utf-8")
