"""The tools the MCP server serves when no scenario scripts its own: ``echo``, which answers
its ``text`` as one text content; ``reply``, which answers the scenario's reply for its
``prompt`` (what the conformance kit asks: the same text every dialect streams); and the
tools the shipped agent-loop scenarios call (``get_weather``, ``get_forecast``,
``lookup_account``), with results of their own making, so an agent runs against it out of
the box. Pure.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["BUILTIN_TOOLS", "CallResult", "Tool", "png"]


@dataclass(frozen=True, slots=True)
class CallResult:
    """What a tool answers: its content (a text item; an image, a PNG of one ``image``
    colour; a link to the resource ``link``), its structured content, an error."""

    text: str
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    image: str = ""  # "#rrggbb": an image content, 8x8 pixels of it
    link: str = ""  # a resource's URI: a resource_link content

    def object(self) -> dict[str, Any]:
        """The ``CallToolResult`` the protocol carries."""
        content: list[dict[str, Any]] = []
        if self.text or not (self.image or self.link):
            content.append({"type": "text", "text": self.text})
        if self.image:
            data = base64.b64encode(png(self.image)).decode("ascii")
            content.append({"type": "image", "data": data, "mimeType": "image/png"})
        if self.link:
            content.append({"type": "resource_link", "uri": self.link, "name": self.link})
        result: dict[str, Any] = {"content": content, "isError": self.is_error}
        if self.structured is not None:
            result["structuredContent"] = dict(self.structured)
        return result


def png(colour: str) -> bytes:
    """An 8x8 PNG of one colour (``#rrggbb``): the same bytes for the same colour."""
    pixel = bytes.fromhex(colour.removeprefix("#"))
    rows = b"".join(b"\x00" + pixel * 8 for _ in range(8))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))  # fmt: skip

    head = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool: its name, description, schemas, and what it answers for given arguments and
    the scenario's reply (a function of a prompt); a ``ValueError`` for arguments it
    refuses: a tool's ``isError`` result."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    answer: Callable[[Mapping[str, Any], Callable[[str], str]], CallResult] = field(compare=False)
    output_schema: Mapping[str, Any] | None = None

    def listed(self) -> dict[str, Any]:
        """The tool as ``tools/list`` lists it."""
        said: dict[str, Any] = {"name": self.name, "description": self.description,
                                "inputSchema": dict(self.input_schema)}  # fmt: skip
        if self.output_schema is not None:
            said["outputSchema"] = dict(self.output_schema)
        return said

    def call(self, arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
        missing = [k for k in self.input_schema.get("required", ()) if k not in arguments]
        if missing:
            return CallResult(f"Missing required argument: {missing[0]}", is_error=True)
        try:
            return self.answer(arguments, replied)
        except ValueError as exc:
            return CallResult(str(exc), is_error=True)


def _schema(*required: str, **properties: str) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {k: {"type": t} for k, t in properties.items()}}  # fmt: skip


def _echo(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
    text = arguments["text"]
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    return CallResult(text)


def _reply(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
    prompt = arguments["prompt"]
    if not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    return CallResult(replied(prompt))


def _weather(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
    city = str(arguments["city"])
    unit = str(arguments.get("unit", "celsius"))
    degrees = 18 if unit == "celsius" else 64
    said = {"city": city, "temperature": degrees, "unit": unit, "conditions": "sunny"}
    return CallResult(json.dumps(said), said)


def _forecast(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
    city = str(arguments["city"])
    days = arguments.get("days", 1)
    if not isinstance(days, int) or not 1 <= days <= 14:
        raise ValueError("days must be a whole number from 1 to 14")
    said = {"city": city, "days": [{"day": d + 1, "conditions": "light rain"}
                                   for d in range(days)]}  # fmt: skip
    return CallResult(json.dumps(said), said)


def _account(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
    account = str(arguments.get("account_id", arguments.get("account", "")))
    said = {"account_id": account, "status": "active", "balance": "1024.00"}
    return CallResult(json.dumps(said), said)


_WEATHER_OUT: Final = _schema("city", "temperature", "unit", "conditions", city="string",
                              temperature="number", unit="string", conditions="string")  # fmt: skip

#: Every tool served with no scenario's tools, in the order ``tools/list`` lists them.
BUILTIN_TOOLS: Final = (
    Tool("echo", "Answers its text, as it was given.", _schema("text", text="string"), _echo),
    Tool(
        "reply",
        "Answers the scenario's reply for a prompt, as a model would stream it.",
        _schema("prompt", prompt="string"),
        _reply,
    ),
    Tool(
        "get_weather",
        "The weather in a city now.",
        _schema("city", city="string", unit="string"),
        _weather,
        _WEATHER_OUT,
    ),
    Tool(
        "get_forecast",
        "The forecast for a city, day by day.",
        _schema("city", city="string", days="integer"),
        _forecast,
    ),
    Tool(
        "lookup_account",
        "An account's status and balance.",
        _schema(account_id="string"),
        _account,
    ),
)
