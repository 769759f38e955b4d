"""The Model Context Protocol's Streamable HTTP transport at ``/mcp`` (revision 2025-11-25):
POST carries one JSON-RPC message (a request answered as JSON, or, for ``tools/call``,
as an event stream the scenario plays, with its faults), GET with ``Last-Event-ID``
resumes a stream that dropped, DELETE ends a session. The legacy HTTP+SSE transport
(2024-11-05) too: GET ``/sse``, POST ``/messages``. The server
(:class:`~.serve.McpServer`) serves the built-in tools (:mod:`.tools`). Errors are
JSON-RPC error responses."""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, error_response
from ...protocol.sse import event_json, sse_data
from ...scenario import HttpError
from ...scenario.outcomes import Reading
from ..dialect import Capture, Dialect, Errors, Rpc
from ..speaker import Whole, scripted_answer
from .part import McpPart
from .plan import NAME, TITLE, expects, not_applicable
from .serve import McpServer
from .shapes import FAULT_SHAPES

__all__ = ["DIALECT", "MESSAGES_PATH", "PATH", "SSE_PATH", "read_answer"]

PATH: Final = "/mcp"
#: The legacy HTTP+SSE transport's two paths (revision 2024-11-05).
SSE_PATH: Final = "/sse"
MESSAGES_PATH: Final = "/messages"
_MESSAGES: Final = {429: "Too many requests", 500: "Internal error", 503: "Service unavailable"}


def error_body(status: int, detail: Any) -> bytes:
    """The emulator's refusal of a request, as a JSON-RPC error with no id."""
    text = detail if isinstance(detail, str) else json.dumps(detail)
    code = INVALID_REQUEST if status < 500 else INTERNAL_ERROR
    return json.dumps(error_response(None, code, text)).encode()


def scripted_error(error: HttpError) -> Whole:
    message = error.detail or _MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message))


def _message(body: bytes) -> str | None:
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None


def read_answer(body: bytes) -> Reading:
    """What a correct client makes of a ``tools/call`` answer's event stream: the result's
    text content, or the JSON-RPC error's failure."""
    for data in sse_data(body):
        message = event_json(data)
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            return Reading("", failure="upstream_error", message=str(error.get("message", "")))
        result = message.get("result")
        if isinstance(result, dict):
            text = "".join(c.get("text", "") for c in result.get("content", [])
                           if isinstance(c, dict))  # fmt: skip
            return Reading(text, done=True, finished=not result.get("isError"))
    return Reading("")


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=PATH,
    routes={
        PATH: {method: Rpc(McpServer) for method in ("POST", "GET", "DELETE")},
        SSE_PATH: {"GET": Rpc(McpServer, transport="sse_stream")},
        MESSAGES_PATH: {"POST": Rpc(McpServer, transport="sse_messages")},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=Errors(error_body, scripted_error, _message),
    capture=Capture(read_answer),
    expects=expects,
    part=McpPart,
    doc="The Model Context Protocol over Streamable HTTP (JSON-RPC; a tool's answer as an "
    "event stream with ids, resumable by Last-Event-ID; sessions by Mcp-Session-Id)",
)
