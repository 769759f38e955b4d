"""The APIs the peer benchmark asks each server for, and its load generator: a raw asyncio
protocol (no HTTP library), so that what is measured is the servers, not the client.

Each API is a request (its path, headers, a body for a prompt) and the bytes that say
its stream is whole (``[DONE]``, ``response.completed``, ``message_stop``, a
``finishReason``, ``messageStop`` in a binary frame); the Realtime API is a session over
a WebSocket (:class:`RawSession`: the upgrade, its asks as frames, ``response.done``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

__all__ = ["APIS", "REALTIME", "Api", "RawSession", "RawStream", "request_bytes"]


class Api(NamedTuple):
    title: str
    path: str
    headers: dict[str, str]
    body: Callable[[str], dict[str, Any]]
    #: What the end of a whole stream holds.
    done: bytes


APIS: Final = {
    "chat": Api("Chat Completions", "/v1/chat/completions", {"Authorization": "Bearer sk-b"},
                lambda p: {"model": "gpt-4o-mini", "stream": True,
                           "messages": [{"role": "user", "content": p}]}, b"[DONE]"),
    "responses": Api("Responses", "/v1/responses", {"Authorization": "Bearer sk-b"},
                     lambda p: {"model": "gpt-4o-mini", "input": p, "stream": True},
                     b"response.completed"),
    "messages": Api("Messages", "/v1/messages",
                    {"x-api-key": "sk-ant-b", "anthropic-version": "2023-06-01"},
                    lambda p: {"model": "claude-sonnet-4-5", "max_tokens": 8192, "stream": True,
                               "messages": [{"role": "user", "content": p}]}, b"message_stop"),
    "gemini": Api("Gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                  {"x-goog-api-key": "b"},
                  lambda p: {"contents": [{"role": "user", "parts": [{"text": p}]}]},
                  b'"finishReason"'),
    "bedrock": Api("Bedrock ConverseStream",
                   "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream",
                   {"Authorization": "AWS4-HMAC-SHA256 Credential=b/20260101/us-east-1"},
                   lambda p: {"messages": [{"role": "user", "content": [{"text": p}]}]},
                   b"messageStop"),
    # Not a POST: a session over a WebSocket (:class:`RawSession`), its asks as messages.
    "realtime": Api("Realtime (WebSocket)", "/v1/realtime?model=gpt-realtime", {},
                    lambda p: {}, b"response.done"),
}  # fmt: skip
#: The API spoken over a WebSocket.
REALTIME: Final = "realtime"


def request_bytes(api: Api, host: str, prompt: str, extra: dict[str, str] | None = None) -> bytes:
    """The whole HTTP/1.1 request for ``prompt`` (``Connection: close``: the body ends with
    the connection), with ``extra`` headers (a session's)."""
    body = json.dumps(api.body(prompt)).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in {**api.headers, **(extra or {})}.items())
    return (
        f"POST {api.path} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class RawStream(asyncio.Protocol):
    """One stream: when its first body bytes came, and whether its end did."""

    def __init__(self, request: bytes, done: bytes) -> None:
        self.request = request
        self.marker = done
        self.sent = time.perf_counter()
        self.first = float("nan")
        self.status = b""
        self.head = b""
        self.tail = b""
        self.in_body = False
        self.chunked = False
        self.complete = False
        self.transport: asyncio.Transport | None = None
        self.finished = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sent = time.perf_counter()
        transport.write(self.request)

    def past_head(self, data: bytes) -> bytes | None:
        """What of ``data`` follows the response's head (None: the head is not whole yet);
        the status is noted, and whether the body is chunked."""
        if self.in_body:
            return data
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return None
        self.status = self.head.split(b" ", 2)[1]
        self.chunked = b"transfer-encoding: chunked" in self.head[:end].lower()
        self.in_body = True
        return self.head[end + 4 :]

    def data_received(self, data: bytes) -> None:
        body = self.past_head(data)
        if not body:
            return
        data = body
        if self.first != self.first:  # nan: the first body bytes
            self.first = time.perf_counter() - self.sent
        seen = self.tail + data  # the marker may be split between two reads
        if not self.complete and self.marker in seen and self.status == b"200":
            self.complete = True
        self.tail = seen[-max(len(self.marker), 5) :]
        if self.chunked and self.tail.endswith(b"0\r\n\r\n"):
            # The body's last chunk: the stream is over, whether or not the server closes
            # the connection now (Node's servers keep it open a while).
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


def realtime_messages(prompt: str) -> list[bytes]:
    """What a session sends: text output, one user item with ``prompt``, a response."""
    return [json.dumps(m).encode() for m in (
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
        {"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": prompt}]}},
        {"type": "response.create"},
    )]  # fmt: skip


def _client_frame(payload: bytes) -> bytes:
    """A text frame as a client sends it: masked (RFC 6455, 5.3), with a key of zeros,
    which leaves the payload as it is."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class RawSession(RawStream):
    """One Realtime session over a WebSocket, read raw: the upgrade, the client's messages
    once the server's first comes, then its frames until one holds ``response.done``
    (when the first frame after the greeting came is its first bytes)."""

    def __init__(self, host: str, prompt: str) -> None:
        key = base64.b64encode(b"peer-benchmark-k").decode()
        request = (f"GET {APIS[REALTIME].path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-b\r\n\r\n").encode()  # fmt: skip
        super().__init__(request, b"response.done")
        self.asks = b"".join(_client_frame(m) for m in realtime_messages(prompt))
        self.buffer = b""  # what came of a frame not yet whole
        self.greeted = False

    def data_received(self, data: bytes) -> None:
        body = self.past_head(data)
        if body is None:
            return
        data = body
        buffer = self.buffer + data if self.buffer else data
        at = 0
        while True:
            found = _frame(buffer, at)
            if found is None:
                break
            start, at = found
            if not self.greeted:  # session.created: now the asks
                self.greeted = True
                assert self.transport is not None
                self.transport.write(self.asks)
                self.sent = time.perf_counter()
                continue
            if self.first != self.first:
                self.first = time.perf_counter() - self.sent
            if self.marker in buffer[start : start + 64] and self.status == b"101":
                self.complete = True
                assert self.transport is not None
                self.transport.close()
                break
        self.buffer = buffer[at:]


def _frame(buffer: bytes, at: int) -> tuple[int, int] | None:
    """Where the payload of the frame at ``at`` starts, and where the frame ends (None: it
    is not whole yet)."""
    if len(buffer) < at + 2:
        return None
    n, start = buffer[at + 1] & 0x7F, at + 2
    if n == 126:
        if len(buffer) < at + 4:
            return None
        n, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
    elif n == 127:
        if len(buffer) < at + 10:
            return None
        n, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
    if len(buffer) < start + n:
        return None
    return start, start + n
