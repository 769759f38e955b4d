"""The SSE encoder: events as bytes, framed as a scenario asks. Pure.

Written apart from the client's decoder (``client/sse.py``) on purpose: the
end-to-end tests are a cross-check between the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEFormat"]


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
