"""What a correct client makes of a recorded stream: the outcome an imported scenario states.

A small reader of its own (the emulator never imports the client): SSE
events by the WHATWG rules, then the upstream's cumulative snapshots or
``delta_encoding v1`` patches, as ``docs/PROTOCOL.md`` describes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

from ..scenario.model import Expect, Recording

__all__ = ["expected_outcome", "sse_data"]

_LINE: Final = re.compile(rb"\r\n|\r|\n")


def sse_data(body: bytes) -> Iterator[str]:
    """The data of each event of an SSE body (comments and other fields left out)."""
    text = body.decode("utf-8", "replace").removeprefix("\ufeff")
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line:
            if data:
                yield "\n".join(data)
            data = []
            continue
        name, colon, value = line.partition(":")
        if name == "data" and colon:
            data.append(value.removeprefix(" "))
        elif name == "data":
            data.append("")
    # An event not ended by a blank line is never dispatched.


def expected_outcome(recording: Recording, idle_timeout: float = 5.0) -> Expect:
    """The outcome a correct client reaches on ``recording``."""
    if recording.status >= 400:
        return Expect("failure", failure="http_status", status=recording.status,
                      idle_timeout=idle_timeout)  # fmt: skip
    text, done, finished, failure, message = _read(b"".join(c.data for c in recording.chunks))
    if failure is not None:
        return Expect("failure", failure=failure, message=message, idle_timeout=idle_timeout)
    complete = done or (finished and recording.ending == "complete")
    if not complete:
        failure = "idle_timeout" if recording.ending == "hold" else "incomplete_stream"
        if recording.ending == "complete":
            failure = "incomplete_stream" if text else "no_reply"
        return Expect("failure", failure=failure, idle_timeout=idle_timeout)
    if not text:
        return Expect("failure", failure="no_reply", idle_timeout=idle_timeout)
    return Expect("text", text=text, idle_timeout=idle_timeout)


def _read(body: bytes) -> tuple[str, bool, bool, str | None, str]:
    """(reply text, [DONE] seen, a finished message seen, a failure kind, its message)."""
    text = ""
    finished = False
    v1 = False
    for data in sse_data(body):
        if data == "[DONE]":
            return text, True, finished, None, ""
        try:
            obj: Any = json.loads(data)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("error"), str) and obj["error"]:
            return text, False, finished, "upstream_error", obj["error"]
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
            return text, False, finished, "rewritten_reply", ""
        if message.get("status") == "finished_successfully":
            finished = True
    return text, False, finished, None, ""


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
