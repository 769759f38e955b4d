"""OpenAI's Responses API on the wire: the typed ``response.*`` event stream. Pure.

As the API reference and the openai-python SDK's models describe it: each
event named by its ``type`` and numbered by ``sequence_number``:
``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``, one
``response.output_text.delta`` per piece, ``response.output_text.done``,
``response.content_part.done``, ``response.output_item.done``, then
``response.completed`` (or ``response.incomplete`` when the output was cut
at ``max_output_tokens``, ``response.failed`` on an error).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ...protocol.ids import call_id
from ...protocol.thoughts import thought_pieces

__all__ = [
    "ResponseContext",
    "event_object",
    "function_call_item",
    "message_item",
    "reasoning_events",
    "reasoning_item",
    "refusal_part",
    "response_object",
    "text_part",
]


class ResponseContext(NamedTuple):
    id: str  # resp_…
    item_id: str  # msg_…
    created_at: int
    model: str
    input_tokens: int
    #: The model's reasoning: a reasoning item first ("": none); with ``summary`` its text
    #: as a summary (the request asked for one), with ``encrypted`` its encrypted_content.
    reasoning: str = ""
    summary: bool = False
    encrypted: str = ""
    cached_tokens: int = 0  # of the input's, those the prompt cache served

    @property
    def first(self) -> int:
        """The output index of the reply's first item (after the reasoning item, if any)."""
        return 1 if self.reasoning else 0

    @property
    def reasoning_tokens(self) -> int:
        return len(self.reasoning.split())


def reasoning_item(ctx: ResponseContext, *, whole: bool = True) -> dict[str, Any]:
    """The reasoning item (``whole`` False: as it is added, before its summary)."""
    item: dict[str, Any] = {"id": "rs_" + ctx.item_id.removeprefix("msg_"), "type": "reasoning",
                            "summary": []}  # fmt: skip
    if whole and ctx.summary:
        item["summary"] = [{"type": "summary_text", "text": ctx.reasoning}]
    if whole and ctx.encrypted:
        item["encrypted_content"] = ctx.encrypted
    return item


def reasoning_events(ctx: ResponseContext) -> list[tuple[str, dict[str, Any]]]:
    """The reasoning item as it streams: added, its summary (when asked for) in pieces of a
    few words, done; (event type, fields)."""
    item = reasoning_item(ctx)
    where = {"item_id": item["id"], "output_index": 0, "summary_index": 0}
    pieces = thought_pieces(ctx.reasoning)
    part = {"type": "summary_text", "text": ctx.reasoning}
    summary = [
        ("response.reasoning_summary_part.added", {**where, "part": {**part, "text": ""}}),
        *(("response.reasoning_summary_text.delta", {**where, "delta": p}) for p in pieces),
        ("response.reasoning_summary_text.done", {**where, "text": ctx.reasoning}),
        ("response.reasoning_summary_part.done", {**where, "part": part}),
    ]
    return [
        ("response.output_item.added", {"output_index": 0,
                                        "item": reasoning_item(ctx, whole=False)}),
        *(summary if ctx.summary else []),
        ("response.output_item.done", {"output_index": 0, "item": item}),
    ]  # fmt: skip


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(
    ctx: ResponseContext, text: str | None, status: str, *, refusal: bool = False
) -> dict[str, Any]:
    """The assistant's message item (``text`` None: no content part yet; ``refusal``: the
    text is the model's refusal)."""
    part = refusal_part if refusal else text_part
    return {
        "id": ctx.item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [] if text is None else [part(text)],
    }


def function_call_item(
    ctx: ResponseContext, name: str, arguments: str, status: str, call: int = 0
) -> dict[str, Any]:
    """The reply's call ``call`` of the tool ``name`` (its id ``fc_…``, its ``call_id``
    ``call_…``)."""
    tail = ctx.item_id.removeprefix("msg_")
    return {
        "id": "fc_" + (tail if call == 0 else f"{tail[:26]}{call:04d}"),
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id(tail, call),
        "name": name,
    }


def response_object(
    ctx: ResponseContext,
    status: str,
    output: list[dict[str, Any]],
    output_tokens: int | None = None,
    *,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    return {
        "id": ctx.id,
        "object": "response",
        "created_at": ctx.created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None
        if output_tokens is None
        else {
            "input_tokens": ctx.input_tokens,
            "input_tokens_details": {"cached_tokens": ctx.cached_tokens},
            "output_tokens": output_tokens + ctx.reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": ctx.reasoning_tokens},
            "total_tokens": ctx.input_tokens + output_tokens + ctx.reasoning_tokens,
        },
        "metadata": {},
    }


def event_object(kind: str, sequence: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "sequence_number": sequence, **fields}
