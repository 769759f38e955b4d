"""What a correct client makes of a captured Gemini stream (``alt=sse``, or the default
JSON array). Pure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...protocol.sse import event_json, sse_data
from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def _elements(body: bytes) -> Iterator[dict[str, Any]]:
    """The whole elements of a JSON array that may never close (a stream cut early)."""
    text = body.decode("utf-8", "replace").lstrip().removeprefix("[")
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or text[at] == "]":
            return
        try:
            element, at = decoder.raw_decode(text, at)
        except ValueError:
            return  # a cut or malformed element: a reader stops there
        if isinstance(element, dict):
            yield element


def read_capture(body: bytes) -> Reading:
    """The text of candidate 0's parts, whether a ``finishReason`` was read (the stream has
    no end marker of its own: the finish reason is it), or the error an event carries."""
    array = body.lstrip().startswith(b"[")
    text = ""
    for chunk in _elements(body) if array else map(event_json, sse_data(body)):
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
            if isinstance(part, dict) and part.get("thought") is True:
                continue  # the model's reasoning, not its reply
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                text += part["text"]
            elif isinstance(part, dict) and isinstance(part.get("functionCall"), dict):
                # A call is whole: its arguments, as the scenario's text has them.
                text += json.dumps(part["functionCall"].get("args", {}), ensure_ascii=False)
        if candidate.get("finishReason"):
            return Reading(text, done=True, finished=True)
    return Reading(text)
