"""How the faults whose look is a dialect's own look on a Gemini stream. Pure.

An error mid-stream is the API's error object as an event (the stream then
ends); a malformed chunk is one cut mid-JSON. There is no keep-alive event,
no ``[DONE]`` (the stream just ends), and the chunks are not numbered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault, Scenario
from ..common import DELTA_MISSING, sse_framing
from ..google import error_object

__all__ = ["FAULT_SHAPES", "MISSING", "NO_END", "JsonArray", "array_not_applicable",
           "array_shapes", "shapes"]  # fmt: skip

#: Why a scenario that ends with (or sends) ``[DONE]`` means nothing here.
NO_END: Final = "there is no [DONE] in this API (its stream just ends)"
#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **NOT_FRAMED,
    "done": NO_END,
    "ping": "Gemini's stream has no keep-alive event",
    "stale": "a chunk sent again cannot be told from a new one: the chunks are not numbered",
    "repeat": "a chunk sent again cannot be told from a new one: the chunks are not numbered",
    "unknown_event": "its chunks carry no event type",
}


#: Google's status, by an error fault's cause.
GOOGLE_STATUS: Final = {
    "": "INTERNAL",
    "internal": "INTERNAL",
    "overloaded": "UNAVAILABLE",
    "rate_limited": "RESOURCE_EXHAUSTED",
}


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    message = fault.text or "Internal error encountered."
    yield Write(fmt.json_event(error_object(500, message, GOOGLE_STATUS[fault.cause])))


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.event(fault.text or '{"candidates": [{"content": {"parts": [{"text": '))


#: A chunk without candidates: only its usage (Gemini sends such chunks; a reader skips them).
EMPTY_CHUNK: Final = {
    "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}
}


def _empty(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event(EMPTY_CHUNK))


#: The Gemini look of the faults it has (the same for every request).
SHAPES: Final[Shapes] = {"error": _error, "malformed_json": _malformed, "empty_chunk": _empty}


def shapes() -> Shapes:
    return SHAPES


class JsonArray:
    """The JSON array the default streamed form writes one element at a time: ``[`` before
    the first, ``,\\r\\n`` between two, ``]`` at the end (never, when the stream is cut)."""

    __slots__ = ("ensure_ascii", "started")

    def __init__(self, ensure_ascii: bool = False) -> None:
        self.ensure_ascii = ensure_ascii
        self.started = False

    def raw(self, data: bytes) -> bytes:
        lead = b",\r\n" if self.started else b"["
        self.started = True
        return lead + data

    def element(self, obj: object) -> bytes:
        return self.raw(json.dumps(obj, ensure_ascii=self.ensure_ascii).encode())

    def close(self) -> bytes:
        return b"]" if self.started else b"[]"


def array_shapes(array: JsonArray) -> Shapes:
    """The faults Gemini has, as elements of the JSON-array form."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        message = fault.text or "Internal error encountered."
        yield Write(array.element(error_object(500, message, GOOGLE_STATUS[fault.cause])))

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        cut = fault.text or '{"candidates": [{"content": {"parts": [{"text": '
        yield Write(array.raw(cut.encode()))

    def empty(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(array.element(EMPTY_CHUNK))

    return {"error": error, "malformed_json": malformed, "empty_chunk": empty}


def array_not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on the JSON-array form, beyond the dialect's reasons:
    what it does is SSE framing."""
    return sse_framing(scenario, "the JSON-array form")


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(frozenset(SHAPES), MISSING)
