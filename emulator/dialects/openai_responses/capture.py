"""What a correct client makes of a captured Responses stream. Pure."""

from __future__ import annotations

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]

_DELTAS = ("response.output_text.delta", "response.function_call_arguments.delta")


def read_capture(body: bytes) -> Reading:
    """The text (or call arguments) of the delta events, whether ``response.completed`` (or
    ``incomplete``) was read, or the error a ``response.failed``/``error`` event carries."""
    text = ""
    for data in sse_data(body):
        obj = event_json(data)
        event_type = obj.get("type")
        if event_type in _DELTAS and isinstance(obj.get("delta"), str):
            text += obj["delta"]
        elif event_type in ("response.completed", "response.incomplete"):
            return Reading(text, done=True, finished=True)
        elif event_type == "error":
            return Reading(text, False, False, "upstream_error", str(obj.get("message", "")))
        elif event_type == "response.failed":
            response = obj.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            message = error.get("message", "") if isinstance(error, dict) else ""
            return Reading(text, False, False, "upstream_error", str(message))
    return Reading(text)
