"""What a correct client makes of a captured ConverseStream body. Pure."""

from __future__ import annotations

import json
from typing import Any

from ...scenario.outcomes import Reading
from .wire import FrameError, frames

__all__ = ["decoded_events", "read_capture"]


def decoded_events(body: bytes) -> list[dict[str, Any]]:
    """The frames of a body as a person reads them (for the inspector): where each starts,
    its size, its type and its payload (JSON where it is JSON); then the frame a strict
    reader stops at, or the bytes of a frame cut short, with why."""
    found: list[dict[str, Any]] = []
    end = 0
    try:
        for each in frames(body):
            headers = each.headers
            kind = headers.get(":event-type") or headers.get(":exception-type") or "?"
            payload: Any = _json(each.payload) or each.payload.decode("utf-8", "backslashreplace")
            found.append({"offset": each.at, "size": each.size, "type": kind,
                          "message_type": headers.get(":message-type", ""),
                          "payload": payload})  # fmt: skip
            end = each.at + each.size
    except FrameError as exc:
        return [*found, {"offset": end, "size": len(body) - end, "error": str(exc)}]
    if end < len(body):
        found.append({"offset": end, "size": len(body) - end,
                      "error": f"a frame cut short: {len(body) - end} bytes, and the body ended"})  # fmt: skip
    return found


def read_capture(body: bytes) -> Reading:
    """The text of the deltas (text, or a tool call's input), whether ``messageStop`` was
    read, the exception an exception frame carries, or the corrupt frame that stops a
    strict reader. Events it does not know, and payloads that are not JSON, it skips."""
    text = ""
    try:
        for each in frames(body):
            headers = each.headers
            if headers.get(":message-type") == "exception":
                return Reading(text, failure="upstream_error", message=_message(each.payload))
            event = headers.get(":event-type")
            payload = _json(each.payload)
            if event == "contentBlockDelta":
                delta = payload.get("delta")
                delta = delta if isinstance(delta, dict) else {}
                tool = delta.get("toolUse")
                piece = tool.get("input") if isinstance(tool, dict) else delta.get("text")
                text += piece if isinstance(piece, str) else ""
            elif event == "messageStop":
                return Reading(text, done=True, finished=True)
    except FrameError as exc:
        return Reading(text, failure="corrupt_stream", message=str(exc))
    return Reading(text)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(payload: bytes) -> str:
    message = _json(payload).get("message")
    return message if isinstance(message, str) else ""
