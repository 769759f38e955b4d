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
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from ...protocol.ids import call_id
from ...protocol.thoughts import thought_pieces

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
    "thinking_block",
    "thinking_events",
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
    #: The model's thinking, streamed first as a thinking block, and its signature ("": no
    #: block; the request did not turn thinking on).
    thinking: str = ""
    signature: str = ""
    #: The thinking redacted: a redacted_thinking block with this sealed data ("": not).
    redacted: str = ""
    #: Of the input's tokens, those read from the prompt cache (not in ``input_tokens``).
    cached_tokens: int = 0

    @property
    def text_index(self) -> int:
        """The index of the reply's content block (after the thinking block, if any)."""
        return 1 if self.thinks else 0

    @property
    def thinks(self) -> bool:
        """Whether the reply starts with a thinking block (its text may be empty: a
        thinking model's block when the scenario gives no reasoning; it is signed all the
        same)."""
        return bool(self.signature)


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
        "usage": _usage(ctx, out),
    }


def _usage(ctx: MessageContext, out: int) -> dict[str, int]:
    """The usage: the tokens read from the prompt cache are told apart from the input's."""
    if not ctx.cached_tokens:
        return {"input_tokens": ctx.input_tokens, "output_tokens": out}
    return {"input_tokens": ctx.input_tokens - ctx.cached_tokens, "output_tokens": out,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": ctx.cached_tokens}  # fmt: skip


def message_start(ctx: MessageContext) -> dict[str, Any]:
    return {"type": "message_start", "message": _message(ctx, [], None, 1)}


def tool_use(ctx: MessageContext, name: str, arguments: Any, call: int = 0) -> dict[str, Any]:
    """The ``tool_use`` block of the reply's call ``call`` (``arguments``: its input, ``{}``
    when it starts)."""
    return {"type": "tool_use", "id": call_id(ctx.id.removeprefix("msg_"), call, "toolu_"),
            "name": name, "input": arguments}  # fmt: skip


def block_start(ctx: MessageContext, tool: str = "") -> dict[str, Any]:
    """The content block's start: text, or (``tool``) a call whose input follows as JSON."""
    block = tool_use(ctx, tool, {}) if tool else {"type": "text", "text": ""}
    return {"type": "content_block_start", "index": ctx.text_index, "content_block": block}


def block_delta(text: str, tool: bool = False, index: int = 0) -> dict[str, Any]:
    """A piece of the text, or (``tool``) of the tool input's JSON."""
    delta = (
        {"type": "input_json_delta", "partial_json": text}
        if tool
        else {"type": "text_delta", "text": text}
    )
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int = 0) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def thinking_block(ctx: MessageContext) -> dict[str, Any]:
    """The whole thinking block, as a whole answer carries it (and a client sends back)."""
    if ctx.redacted:
        return {"type": "redacted_thinking", "data": ctx.redacted}
    return {"type": "thinking", "thinking": ctx.thinking, "signature": ctx.signature}


def thinking_events(ctx: MessageContext) -> list[tuple[str, dict[str, Any]]]:
    """The thinking block as it streams: its start, its text in pieces of a few words
    (``thinking_delta``), its ``signature_delta`` and its stop; (event name, data). A
    redacted one comes whole as it starts, then stops."""
    if ctx.redacted:
        return [
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": thinking_block(ctx)}),
            ("content_block_stop", block_stop(0)),
        ]  # fmt: skip
    start = {"type": "thinking", "thinking": "", "signature": ""}
    pieces = thought_pieces(ctx.thinking)
    return [
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": start}),
        *(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "thinking_delta", "thinking": p}})
          for p in pieces),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "signature_delta",
                                           "signature": ctx.signature}}),
        ("content_block_stop", block_stop(0)),
    ]  # fmt: skip


def message_delta(stop_reason: str, output_tokens: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


def message_object(
    ctx: MessageContext,
    text: str,
    stop_reason: str,
    out: int,
    tool: str = "",
    calls: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The whole answer to a request without ``stream``: ``text`` is the reply's (with
    ``tool``, a call's input as JSON), then its further ``calls`` as (tool, arguments)."""
    block = tool_use(ctx, tool, json.loads(text)) if tool else {"type": "text", "text": text}
    blocks = [thinking_block(ctx)] if ctx.thinks else []
    blocks += [block] if tool or text or not calls else []
    blocks += [tool_use(ctx, name, json.loads(arguments), i)
               for i, (name, arguments) in enumerate(calls, bool(tool))]  # fmt: skip
    return _message(ctx, blocks, stop_reason, out)


def error_object(status: int, message: str, kind: str = "") -> dict[str, Any]:
    kind = kind or ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_body(status: int, message: str) -> bytes:
    return json.dumps(error_object(status, message)).encode()


def token_headers(limit: int, remaining: int, reset_at: str) -> dict[str, str]:
    """A token budget as Anthropic's headers tell it (``reset_at``: RFC 3339)."""
    return {
        "anthropic-ratelimit-tokens-limit": str(limit),
        "anthropic-ratelimit-tokens-remaining": str(remaining),
        "anthropic-ratelimit-tokens-reset": reset_at,
    }


def token_limit_message(limit: int) -> str:
    """The 429's message when a token budget cannot cover a request, in Anthropic's words."""
    return (
        f"This request would exceed your organization's rate limit of {limit:,} tokens per "
        "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can "
        "see the response headers for current usage. Please reduce the prompt length or the "
        "maximum tokens requested, or try again later."
    )
