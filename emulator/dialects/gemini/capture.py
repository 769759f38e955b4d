"""What a correct client makes of a captured Gemini stream (``alt=sse``). Pure."""

from __future__ import annotations

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The text of candidate 0's parts, whether a ``finishReason`` was read (the stream has
    no end marker of its own: the finish reason is it), or the error an event carries."""
    text = ""
    for data in sse_data(body):
        chunk = event_json(data)
        error = chunk.get("error")
        if isinstance(error, dict):
            return Reading(text, False, False, "upstream_error", str(error.get("message", "")))
        candidates = chunk.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            continue
        candidate = candidates[0] if isinstance(candidates[0], dict) else {}
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                text += part["text"]
        if candidate.get("finishReason"):
            return Reading(text, done=True, finished=True)
    return Reading(text)
