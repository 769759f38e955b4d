"""What a correct client makes of a captured Chat Completions stream. Pure."""

from __future__ import annotations

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The content (or tool-call arguments) of choice 0, whether a ``finish_reason`` and
    ``[DONE]`` were read, or the error an ``{"error": …}`` event carries."""
    text = ""
    finished = False
    for data in sse_data(body):
        if data == "[DONE]":
            return Reading(text, done=True, finished=finished)
        obj = event_json(data)
        error = obj.get("error")
        if isinstance(error, dict):
            return Reading(text, False, finished, "upstream_error", str(error.get("message", "")))
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            continue
        delta = choices[0].get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                text += delta["content"]
            for call in delta.get("tool_calls") or ():
                arguments = call.get("function", {}).get("arguments")
                if isinstance(arguments, str):
                    text += arguments
        if choices[0].get("finish_reason"):
            finished = True
    return Reading(text, finished=finished)
