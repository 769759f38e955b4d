"""How the faults whose look is a dialect's own look on an Ollama NDJSON stream. Pure.

An error mid-stream is ``{"error": "…"}`` on a line of its own (the stream then ends),
as Ollama's server writes one; a malformed line is one cut mid-JSON; a keep-alive is a
blank line (which a reader of JSON lines must skip); an early end is a ``"done": true``
line before the reply is whole; an empty chunk a line with no text. The lines carry no
event type and are not numbered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import NOT_FRAMED, FaultShapes, Sent, Shapes
from ...scenario.model import Fault
from ..common import DELTA_MISSING, UNNUMBERED
from .wire import OllamaContext, final_object, piece_object

__all__ = ["FAULT_SHAPES", "MISSING", "shapes"]

#: The shaped kinds this API has not, and why.
MISSING: Final[Mapping[str, str]] = {
    **DELTA_MISSING,
    **UNNUMBERED,
    **NOT_FRAMED,
    "unknown_event": "its lines carry no event type",
}


def shapes(ctx: OllamaContext, encoded: Callable[[Any], bytes]) -> Shapes:
    """The Ollama look of the faults it has, for one request's stream (each line
    ``encoded`` with the stream's line ending)."""

    def error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(encoded({"error": fault.text or "an error was encountered while running "
                             "the model: unexpected EOF"}))  # fmt: skip

    def malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        cut = fault.text or f'{{"model":"{ctx.model}","created_at":"{ctx.created_at}","mess'
        yield Write((cut + fmt.line_ending).encode())

    def ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.line_ending.encode())

    def done(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(encoded(final_object(ctx, "stop", len(sent.back(0)))))

    def empty(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(encoded(piece_object(ctx)))

    return {"error": error, "malformed_json": malformed, "ping": ping, "done": done,
            "empty_chunk": empty}  # fmt: skip


#: What this dialect says of every shaped kind.
FAULT_SHAPES: Final = FaultShapes(
    frozenset({"error", "malformed_json", "ping", "done", "empty_chunk"}), MISSING
)
