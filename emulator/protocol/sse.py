"""The SSE encoder: events as bytes, framed as a scenario asks. Pure.

Written apart from the client's decoder (``client/sse.py``) on purpose: the
end-to-end tests are a cross-check between the two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DONE", "SSEFormat", "event_json", "sse_data"]

#: The data of the event that ends a stream on OpenAI's APIs (and the FakeGpt upstream).
DONE: Final = "[DONE]"


@dataclass(frozen=True, slots=True)
class SSEFormat:
    """How events are framed on the wire (the faults a scenario may ask for)."""

    line_ending: str = "\n"
    data_prefix: str = "data: "
    multiline_data: bool = False
    ensure_ascii: bool = False

    def event(self, data: str, event: str | None = None, id: str | None = None) -> bytes:
        """One event: optional ``id:`` and ``event:`` lines, ``data:`` line(s), blank line."""
        end = self.line_ending
        lines = [f"id: {id}"] if id is not None else []
        if event:
            lines.append(f"event: {event}")
        lines.extend(self.data_prefix + line for line in data.split("\n"))
        return (end.join(lines) + end + end).encode()

    def comment(self, text: str) -> bytes:
        return f":{text}{self.line_ending}{self.line_ending}".encode()

    def dumps(self, obj: Any) -> str:
        # multiline_data: pretty-printed JSON has newlines only between tokens,
        # so each line becomes its own data: field and the decoder's LF join
        # gives back valid JSON.
        if self.multiline_data:
            return json.dumps(obj, ensure_ascii=self.ensure_ascii, indent=1)
        return json.dumps(obj, ensure_ascii=self.ensure_ascii)

    def json_event(self, obj: Any, event: str | None = None) -> bytes:
        return self.event(self.dumps(obj), event)


def sse_data(body: bytes) -> Iterator[str]:
    """The data of each event of a captured SSE body (comments and other fields left out):
    a small reader for captures, not the client's spec-exact decoder."""
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


def event_json(data: str) -> dict[str, Any]:
    """An event's data as a JSON object; ``{}`` when it is not one (a reader skips it)."""
    try:
        obj = json.loads(data)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
