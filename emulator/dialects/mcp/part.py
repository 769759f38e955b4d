"""The MCP server's own part of a scenario (``[mcp]``): how its answers go wrong in ways only
MCP has. Pure.

Written as a table of its own in a scenario file (``[mcp]``), or as dotted keys at its top
(``mcp.error_code = -32602``); no other API has these: a scenario that says them means
nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar, Final

from ...scenario.parts import ApiPart

if TYPE_CHECKING:
    from typing import Self

    from ...scenario.table import Table

__all__ = ["McpPart"]

#: The most notifications one answer may flood a client with.
MAX_NOTIFICATIONS: Final = 10_000


@dataclass(frozen=True, slots=True)
class McpPart(ApiPart):
    """What a scenario says of the MCP server alone."""

    dialect: ClassVar[str] = "mcp"

    #: A request's answer as one JSON body, not an event stream (so no fault can happen
    #: inside it, and there is nothing to resume).
    json_response: bool = False
    #: > 0: the session is forgotten once it has made this many requests (the next gets a
    #: 404, and the client must initialize again).
    session_expires_after: int = 0
    #: The protocol version ``initialize`` answers with ("": the one the client asked, when
    #: spoken here): a version the client does not speak is a mismatch it must refuse.
    protocol_version: str = ""
    #: != 0: ``tools/call`` is answered with this JSON-RPC error code (-32602, -32603, …).
    error_code: int = 0
    error_message: str = ""
    #: Before the result, a response for a request id the client never used.
    stray_result: bool = False
    #: The result sent twice (a client takes the first and ignores the second).
    duplicate_result: bool = False
    #: Logging notifications (``notifications/message``) sent before the result.
    notifications: int = 0
    #: Seconds the tool takes before its result (``notifications/progress`` each second
    #: when the client gave a progress token): a tool slower than a client's timeout.
    tool_seconds: float = 0.0

    @classmethod
    def read(cls, top: Table, wire: Table) -> Self:
        d = cls()
        table = top.table("mcp")
        part = cls(
            json_response=table.boolean("json_response", d.json_response),
            session_expires_after=table.integer("session_expires_after", 0, minimum=0),
            protocol_version=table.text("protocol_version", ""),
            error_code=table.integer("error_code", 0),
            error_message=table.text("error_message", ""),
            stray_result=table.boolean("stray_result", False),
            duplicate_result=table.boolean("duplicate_result", False),
            notifications=table.integer("notifications", 0, minimum=0, maximum=MAX_NOTIFICATIONS),
            tool_seconds=table.number("tool_seconds", 0.0, minimum=0.0, maximum=3600.0),
        )
        table.finish()
        return part

    def lines(self) -> tuple[list[str], list[str]]:
        d = type(self)()
        top = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(d, f.name):
                said = ("true" if value else "false") if isinstance(value, bool) else (
                    f'"{value}"' if isinstance(value, str) else str(value))  # fmt: skip
                top.append(f"mcp.{f.name} = {said}")
        return top, []

    def elsewhere(self) -> str | None:
        return "it scripts the MCP server ([mcp]), which this API is not"

    @property
    def streams(self) -> bool:
        return not self.json_response

    def problems(self, faulted: bool, replies: bool) -> list[tuple[str, str]]:
        if faulted and self.json_response:
            return [("faults", "never happen: mcp.json_response answers with one JSON body")]
        return []

    def effects(self) -> list[str]:
        said = []
        if self.session_expires_after:
            said.append(f"the MCP session expires after {self.session_expires_after} requests")
        if self.protocol_version:
            said.append(f"initialize answers protocol version {self.protocol_version}")
        if self.error_code:
            said.append(f"tools/call answers JSON-RPC error {self.error_code}")
        return said
