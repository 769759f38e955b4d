"""What a correct client makes of a captured Ollama NDJSON stream. Pure."""

from __future__ import annotations

import json

from ...scenario.outcomes import Reading

__all__ = ["read_capture"]


def read_capture(body: bytes) -> Reading:
    """The text of the lines (a chat's ``message.content`` and its calls' arguments, or a
    generate's ``response``) up to the ``"done": true`` line, or the error a line
    carries."""
    text = ""
    for raw in body.splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue  # a blank line, or one a reader cannot read
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("error"), str):
            return Reading(text, False, False, "upstream_error", obj["error"])
        message = obj.get("message")
        if isinstance(message, dict):
            text += str(message.get("content") or "")
            for call in message.get("tool_calls") or ():
                arguments = call.get("function", {}).get("arguments")
                text += json.dumps(arguments, ensure_ascii=False) if arguments else ""
        elif isinstance(obj.get("response"), str):
            text += obj["response"]
        if obj.get("done") is True:
            return Reading(text, done=True, finished=True)
    return Reading(text)
