"""Cohere's v2 chat events and bodies, as the API sends them. Pure.

A stream is SSE, each event named by its type and carrying it (``"type"``):
``message-start`` (the id and an empty assistant message), ``content-start``, a
``content-delta`` per piece, ``content-end``, and for a tool call ``tool-call-start``
(its id and name), ``tool-call-delta`` (its arguments, piece by piece), ``tool-call-end``;
then ``message-end`` with ``finish_reason`` (``COMPLETE``, ``MAX_TOKENS``,
``TOOL_CALL``, ``ERROR``) and the usage. There is no ``[DONE]``. An error body is
``{"id", "message"}``.
"""

from __future__ import annotations

import json
from typing import Any, Final, NamedTuple

__all__ = [
    "EMBED_DIMENSIONS",
    "CohereContext",
    "content_delta",
    "content_start",
    "error_body",
    "message_end",
    "message_start",
    "response_object",
    "tool_call_delta",
    "tool_call_start",
]

#: An embedding model's vector length (others: 1,024); embed-v4.0 takes
#: ``output_dimension`` 256, 512, 1,024 or 1,536.
EMBED_DIMENSIONS: Final = {
    "embed-v4.0": 1536,
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
}


class CohereContext(NamedTuple):
    """What one request contributes to its answer."""

    id: str
    prompt_tokens: int


def message_start(ctx: CohereContext) -> dict[str, Any]:
    message = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
               "citations": []}  # fmt: skip
    return {"id": ctx.id, "type": "message-start", "delta": {"message": message}}


def content_start(index: int, thinking: bool = False) -> dict[str, Any]:
    content = {"type": "thinking", "thinking": ""} if thinking else {"type": "text", "text": ""}
    return {"type": "content-start", "index": index, "delta": {"message": {"content": content}}}


def content_delta(index: int, text: str, thinking: bool = False) -> dict[str, Any]:
    content = {"thinking": text} if thinking else {"text": text}
    return {"type": "content-delta", "index": index, "delta": {"message": {"content": content}}}


def tool_call_start(ctx: CohereContext, index: int, name: str) -> dict[str, Any]:
    call = {"id": f"{name}_{ctx.id[:8]}{index}", "type": "function",
            "function": {"name": name, "arguments": ""}}  # fmt: skip
    return {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": call}}}


def tool_call_delta(index: int, arguments: str) -> dict[str, Any]:
    call = {"function": {"arguments": arguments}}
    return {"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": call}}}


def _usage(ctx: CohereContext, pieces: int) -> dict[str, Any]:
    tokens = {"input_tokens": ctx.prompt_tokens, "output_tokens": pieces}
    return {"billed_units": tokens, "tokens": dict(tokens), "cached_tokens": 0}


def message_end(ctx: CohereContext, reason: str, pieces: int, error: str = "") -> dict[str, Any]:
    delta: dict[str, Any] = {"finish_reason": reason, "usage": _usage(ctx, pieces)}
    if error:
        delta["error"] = error
    return {"type": "message-end", "delta": delta}


def response_object(
    ctx: CohereContext,
    text: str,
    reason: str,
    pieces: int,
    calls: list[tuple[str, str]],
    thinking: str = "",
) -> dict[str, Any]:
    """A whole answer (``"stream": false``)."""
    content = [{"type": "thinking", "thinking": thinking}] if thinking else []
    content += [{"type": "text", "text": text}] if text or not calls else []
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_plan"] = ""
        message["tool_calls"] = [
            {"id": f"{name}_{ctx.id[:8]}{i}", "type": "function",
             "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(calls)
        ]  # fmt: skip
    return {"id": ctx.id, "finish_reason": reason, "message": message,
            "usage": _usage(ctx, pieces)}  # fmt: skip


def error_body(status: int, detail: Any) -> bytes:
    return json.dumps({"id": "00000000-0000-4000-8000-000000000000",
                       "message": str(detail)}).encode()  # fmt: skip
