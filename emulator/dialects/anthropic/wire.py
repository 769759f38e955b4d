"""Anthropic's Messages API on the wire: the typed event stream, messages, errors. Pure.

As the API reference and the anthropic SDK's models describe them: a
stream of named events (``message_start``, ``content_block_start``,
``ping``, ``content_block_delta`` with ``text_delta``,
``content_block_stop``, ``message_delta`` with the ``stop_reason`` and the
output tokens, ``message_stop``); an ``error`` event mid-stream; errors as
``{"type": "error", "error": {"type", "message"}}`` (529 is
``overloaded_error``).
"""

from __future__ import annotations

import json
from typing import Any, Final, NamedTuple

__all__ = [
    "MessageContext",
    "block_delta",
    "block_start",
    "block_stop",
    "error_body",
    "error_object",
    "message_delta",
    "message_object",
    "message_start",
    "tool_use",
]

#: Each status's error type, as the API answers them.
ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class MessageContext(NamedTuple):
    id: str  # msg_…
    model: str
    input_tokens: int


def _message(
    ctx: MessageContext, content: list[Any], stop: str | None, out: int
) -> dict[str, Any]:
    return {
        "id": ctx.id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": ctx.input_tokens, "output_tokens": out},
    }


def message_start(ctx: MessageContext) -> dict[str, Any]:
    return {"type": "message_start", "message": _message(ctx, [], None, 1)}


def tool_use(ctx: MessageContext, name: str, arguments: Any) -> dict[str, Any]:
    """A ``tool_use`` content block (``arguments``: its input, ``{}`` when it starts)."""
    return {"type": "tool_use", "id": "toolu_" + ctx.id.removeprefix("msg_")[:24],
            "name": name, "input": arguments}  # fmt: skip


def block_start(ctx: MessageContext, tool: str = "") -> dict[str, Any]:
    """The content block's start: text, or (``tool``) a call whose input follows as JSON."""
    block = tool_use(ctx, tool, {}) if tool else {"type": "text", "text": ""}
    return {"type": "content_block_start", "index": 0, "content_block": block}


def block_delta(text: str, tool: bool = False) -> dict[str, Any]:
    """A piece of the text, or (``tool``) of the tool input's JSON."""
    delta = (
        {"type": "input_json_delta", "partial_json": text}
        if tool
        else {"type": "text_delta", "text": text}
    )
    return {"type": "content_block_delta", "index": 0, "delta": delta}


def block_stop() -> dict[str, Any]:
    return {"type": "content_block_stop", "index": 0}


def message_delta(stop_reason: str, output_tokens: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


def message_object(
    ctx: MessageContext, text: str, stop_reason: str, out: int, tool: str = ""
) -> dict[str, Any]:
    """The whole answer to a request without ``stream`` (``tool``: a call of it, ``text``
    its input as JSON)."""
    block = tool_use(ctx, tool, json.loads(text)) if tool else {"type": "text", "text": text}
    return _message(ctx, [block], stop_reason, out)


def error_object(status: int, message: str, kind: str = "") -> dict[str, Any]:
    kind = kind or ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_body(status: int, message: str) -> bytes:
    return json.dumps(error_object(status, message)).encode()
