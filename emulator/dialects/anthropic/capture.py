"""What a correct client makes of a captured Messages stream. Pure."""

from __future__ import annotations

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The text (or tool input JSON) of the content block deltas, whether a ``stop_reason``
    and ``message_stop`` were read, or the error an ``error`` event carries."""
    text = ""
    finished = False
    for data in sse_data(body):
        obj = event_json(data)
        event_type = obj.get("type")
        if event_type == "error":
            error = obj.get("error")
            message = error.get("message", "") if isinstance(error, dict) else ""
            return Reading(text, False, finished, "upstream_error", str(message))
        if event_type == "content_block_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict):
                piece = delta.get("text", delta.get("partial_json"))
                if isinstance(piece, str):
                    text += piece
        elif event_type == "message_delta":
            delta = obj.get("delta")
            finished = finished or (isinstance(delta, dict) and bool(delta.get("stop_reason")))
        elif event_type == "message_stop":
            return Reading(text, done=True, finished=finished)
    return Reading(text, finished=finished)
