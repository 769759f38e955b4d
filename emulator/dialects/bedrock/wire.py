"""AWS Bedrock ConverseStream's wire: the binary event-stream framing (``application/
vnd.amazon.eventstream``), the events it carries, and the API's error bodies. Pure.

A frame (an AWS event-stream *message*) is a prelude (its total length, its
headers' length, both 4-byte big-endian, and the CRC32 of those 8 bytes),
its headers (each: a 1-byte name length, the name, a 1-byte value type, 7
for a string, a 2-byte length and the value), its payload (JSON here) and
the CRC32 of everything before it. ``:message-type`` is ``event`` (with
``:event-type``) or ``exception`` (with ``:exception-type``). The emulator
writes the framing itself, so it can also write it wrong.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ...protocol.eventstream import (
    CONTENT_TYPE,
    SOUND,
    Breaks,
    Frame,
    FrameError,
    event_frame,
    event_headers,
    exception_frame,
    frame,
    framed,
    frames,
    padded,
    payload_json,
)
from ...protocol.thoughts import thought_pieces

__all__ = [
    "CONTENT_TYPE",
    "SOUND",
    "Breaks",
    "Frame",
    "FrameError",
    "StreamContext",
    "converse_body",
    "event_frame",
    "event_headers",
    "exception_frame",
    "frame",
    "framed",
    "frames",
    "padded",
    "payload_json",
    "reasoning_block",
    "reasoning_deltas",
]


class StreamContext(NamedTuple):
    """What one request contributes to its answer."""

    prompt_tokens: int
    latency_ms: int
    #: The model's reasoning, a reasoningContent block first ("": none, or the request did
    #: not turn thinking on), and its signature.
    reasoning: str = ""
    signature: str = ""
    #: The reasoning redacted: its sealed bytes, base64 ("": not redacted).
    redacted: str = ""
    #: Of the input's tokens, those read from the prompt cache (not in ``inputTokens``).
    cached: int = 0

    @property
    def first(self) -> int:
        """The index of the reply's first block (after the reasoning block, if any)."""
        return 1 if self.reasoning else 0


def reasoning_block(ctx: StreamContext) -> dict[str, Any]:
    """The whole reasoning block, as ``Converse`` answers it (and a client sends back)."""
    if ctx.redacted:
        return {"reasoningContent": {"redactedContent": ctx.redacted}}
    return {"reasoningContent": {"reasoningText": {"text": ctx.reasoning,
                                                   "signature": ctx.signature}}}  # fmt: skip


def reasoning_deltas(ctx: StreamContext) -> list[dict[str, Any]]:
    """The reasoning block as it streams (block 0): its text a few words a delta, then its
    signature (redacted: its sealed bytes, whole); each a ``contentBlockDelta``'s body."""
    if ctx.redacted:
        return [{"contentBlockIndex": 0,
                 "delta": {"reasoningContent": {"redactedContent": ctx.redacted}}}]  # fmt: skip
    said = [{"reasoningContent": {"text": p}} for p in thought_pieces(ctx.reasoning)]
    said.append({"reasoningContent": {"signature": ctx.signature}})
    return [{"contentBlockIndex": 0, "delta": delta} for delta in said]


def converse_body(
    ctx: StreamContext,
    text: str | None,
    calls: list[tuple[str, str, str]],
    stop: str,
    pieces: int,
) -> dict[str, Any]:
    """``Converse``'s whole answer: ``text`` (None: none), then ``calls`` as (tool use id,
    tool, arguments)."""
    content: list[dict[str, Any]] = [reasoning_block(ctx)] if ctx.reasoning else []
    content += [] if text is None else [{"text": text}]
    content += [{"toolUse": {"toolUseId": i, "name": tool, "input": _json_or_text(arguments)}}
                for i, tool, arguments in calls]  # fmt: skip
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage(ctx, pieces),
        "metrics": {"latencyMs": ctx.latency_ms},
    }


def usage(ctx: StreamContext, pieces: int) -> dict[str, int]:
    out = pieces + len(ctx.reasoning.split())  # the reasoning's tokens are output too
    found = {
        "inputTokens": ctx.prompt_tokens - ctx.cached,
        "outputTokens": out,
        "totalTokens": ctx.prompt_tokens + out,
    }
    if ctx.cached:
        found |= {"cacheReadInputTokens": ctx.cached, "cacheWriteInputTokens": 0}
    return found


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
