"""What a correct client makes of a captured Cohere v2 chat stream. Pure."""

from __future__ import annotations

from typing import Any

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The text of the ``content-delta`` events (and the calls' arguments) up to
    ``message-end``, or the error a ``message-end`` with ``finish_reason: "ERROR"`` says."""
    text = ""
    for data in sse_data(body):
        obj = event_json(data)
        kind = obj.get("type")
        found = obj.get("delta")
        delta: dict[str, Any] = found if isinstance(found, dict) else {}
        found = delta.get("message")
        message: dict[str, Any] = found if isinstance(found, dict) else {}
        if kind == "content-delta":
            content = message.get("content")
            if isinstance(content, dict) and isinstance(content.get("text"), str):
                text += content["text"]
        elif kind == "tool-call-delta":
            call = message.get("tool_calls")
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                text += function["arguments"]
        elif kind == "message-end":
            if delta.get("finish_reason") == "ERROR":
                return Reading(text, False, False, "upstream_error", str(delta.get("error", "")))
            return Reading(text, done=True, finished=True)
    return Reading(text)
