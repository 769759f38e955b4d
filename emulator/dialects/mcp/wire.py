"""MCP (revision 2025-11-25) as it is on the wire: the server's results and its SSE events
with ids. Pure.

Shapes as the official Python client (``mcp`` 2.x) validates them: an ``InitializeResult``
with ``protocolVersion``, ``capabilities`` and ``serverInfo``; tools with an
``inputSchema``; a ``CallToolResult`` with ``content``. An answer's event stream opens with
a priming event (an id, empty data, and ``retry:``) so a client whose stream drops can
resume from it with ``Last-Event-ID``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..._version import __version__
from ...protocol.sse import SSEFormat

__all__ = [
    "LATEST",
    "RETRY_MS",
    "VERSIONS",
    "event_id",
    "initialize_result",
    "message_event",
    "priming_event",
]

#: The revisions it speaks, newest first (a client asking another gets the newest).
VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
LATEST: Final = VERSIONS[0]
#: How long a client waits before it resumes a stream that dropped.
RETRY_MS: Final = 250


def initialize_result(version: str, list_changed: Sequence[str] = ()) -> dict[str, Any]:
    """``list_changed``: the lists (tools, resources, prompts) whose changes it tells."""
    return {
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": "tools" in list_changed},
            "resources": {"subscribe": True, "listChanged": "resources" in list_changed},
            "prompts": {"listChanged": "prompts" in list_changed},
            "logging": {},
        },
        "serverInfo": {
            "name": "fakegpt-emulator",
            "title": "FakeGpt emulator (MCP)",
            "version": __version__,
        },
        "instructions": "A scripted MCP server: its tools answer as its scenario says.",
    }


def event_id(stream: int, index: int) -> str:
    """An event's id: unique across the streams of one session, as resumption needs."""
    return f"{stream}-{index}"


def priming_event(fmt: SSEFormat, id: str) -> bytes:
    """The event that opens an answer: its id, ``retry:``, and empty data."""
    end = fmt.line_ending
    return f"id: {id}{end}retry: {RETRY_MS}{end}{fmt.data_prefix.rstrip()}{end}{end}".encode()


def message_event(fmt: SSEFormat, message: Any, id: str | None) -> bytes:
    """One JSON-RPC message as an event (``event: message``, its id if it has one)."""
    return fmt.event(fmt.dumps(message), "message", id)
