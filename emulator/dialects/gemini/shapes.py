"""How the faults whose look is a dialect's own look on a Gemini stream. Pure.

An error mid-stream is the API's error object as an event (the stream then
ends); a malformed chunk is one cut mid-JSON. There is no keep-alive event,
no ``[DONE]`` (the stream just ends), and the chunks are not numbered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..openai_chat.shapes import DELTA_MISSING
from .wire import error_object

__all__ = ["FAULT_SHAPES", "MISSING", "NO_END", "shapes"]

#: Why a scenario that ends with (or sends) ``[DONE]`` means nothing here.
NO_END: Final = "there is no [DONE] in this API (its stream just ends)"
#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    "done": NO_END,
    "ping": "Gemini's stream has no keep-alive event",
    "stale": "a chunk sent again cannot be told from a new one: the chunks are not numbered",
    "repeat": "a chunk sent again cannot be told from a new one: the chunks are not numbered",
}


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event(error_object(500, fault.text or "Internal error encountered.")))


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.event(fault.text or '{"candidates": [{"content": {"parts": [{"text": '))


#: The Gemini look of the faults it has (the same for every request).
SHAPES: Final[Shapes] = {"error": _error, "malformed_json": _malformed}


def shapes() -> Shapes:
    return SHAPES


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(frozenset(SHAPES), MISSING)
