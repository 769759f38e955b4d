"""What a correct client makes of a captured FakeGpt conversation body. Pure.

The upstream's cumulative snapshots or ``delta_encoding v1`` patches, as
``docs/PROTOCOL.md`` describes them, read from the body's SSE events.
"""

from __future__ import annotations

import json
from typing import Any

from ...protocol.sse import sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The reply's text, whether ``[DONE]`` and a finished message were read, or the failure
    the body carries (an error event, a rewritten snapshot)."""
    text = ""
    finished = False
    v1 = False
    for data in sse_data(body):
        if data == "[DONE]":
            return Reading(text, done=True, finished=finished)
        try:
            obj: Any = json.loads(data)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("error"), str) and obj["error"]:
            return Reading(text, False, finished, "upstream_error", obj["error"])
        if obj.get("o") == "add" and isinstance(obj.get("v"), dict):
            v1 = True
            message = obj["v"].get("message")
            if _is_reply(message):
                text = _parts(message) or ""
            continue
        if v1 and ("v" in obj and set(obj) <= {"p", "o", "v", "c"}):
            if obj.get("o") == "patch" and isinstance(obj["v"], list):
                for patch in obj["v"]:
                    if isinstance(patch, dict):
                        text, finished = _patch(patch, text, finished)
            else:
                text, finished = _patch(obj, text, finished)
            continue
        message = obj.get("message")
        if not isinstance(message, dict) or not _is_reply(message):
            continue
        parts = _parts(message)
        if parts is not None and parts.startswith(text):
            text = parts
        elif parts is not None and not text.startswith(parts):
            return Reading(text, False, finished, "rewritten_reply")
        if message.get("status") == "finished_successfully":
            finished = True
    return Reading(text, finished=finished)


def _is_reply(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and isinstance(message.get("author"), dict)
        and message["author"].get("role") == "assistant"
        and isinstance(message.get("metadata"), dict)
        and message["metadata"].get("message_type", "next") == "next"
    )


def _parts(message: dict[str, Any]) -> str | None:
    content = message.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts[0] if isinstance(parts, list) and parts and isinstance(parts[0], str) else None


def _patch(patch: dict[str, Any], text: str, finished: bool) -> tuple[str, bool]:
    """One v1 patch applied; a bare ``{"v": …}`` appends to the reply's text."""
    path, op, value = patch.get("p"), patch.get("o"), patch.get("v")
    if path in (None, "/message/content/parts/0") and op in (None, "append"):
        if isinstance(value, str):
            text += value
    elif path == "/message/status" and value == "finished_successfully":
        finished = True
    return text, finished
