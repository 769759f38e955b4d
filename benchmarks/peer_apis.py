"""The APIs the peer benchmark asks each server for, and its load generator: a raw asyncio
protocol (no HTTP library), so that what is measured is the servers, not the client.

Each API is a request (its path, headers, a body for a prompt) and the bytes that say
its stream is whole (``[DONE]``, ``response.completed``, ``message_stop``, a
``finishReason``, ``messageStop`` in a binary frame).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

__all__ = ["APIS", "Api", "RawStream", "request_bytes"]


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
}  # fmt: skip


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

    def data_received(self, data: bytes) -> None:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.head[:end].lower()
            self.status = self.head.split(b" ", 2)[1]
            self.chunked = b"transfer-encoding: chunked" in head
            self.in_body = True
            data = self.head[end + 4 :]
            if not data:
                return
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
