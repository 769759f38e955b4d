"""OpenAI's Chat Completions on the wire: chunks, completions, models, errors. Pure.

As the API reference and the openai-python SDK's models describe them: a
stream of ``chat.completion.chunk`` objects (the first carries the role,
then one per piece of content, then one with ``finish_reason``, then a
usage chunk with empty ``choices`` when ``stream_options.include_usage``),
ended by ``data: [DONE]``; errors as ``{"error": {"message", "type",
"param", "code"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from ...protocol.ids import call_id

__all__ = [
    "MODELS",
    "PLAIN",
    "ChatContext",
    "Quirks",
    "chunk_object",
    "completion_object",
    "empty_chunk_object",
    "filter_results",
    "models_body",
    "tool_call",
    "usage_chunk_object",
    "usage_so_far",
]

#: The models ``GET /v1/models`` lists (any model name is accepted).
MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "o4-mini")
_CREATED: Final = 1_715_000_000


class Quirks(NamedTuple):
    """How an OpenAI-compatible server's stream differs from OpenAI's own (none: it does
    not): the presets of :mod:`.presets`."""

    #: ``data: [DONE]`` ends the stream (llama.cpp's server long sent none).
    done: bool = True
    #: An SSE comment before the first chunk (OpenRouter's ``: OPENROUTER PROCESSING``).
    comment: str = ""
    #: The usage chunk comes whether or not it was asked for (OpenRouter, Mistral).
    usage: bool = False
    #: Fields every chunk carries beside OpenAI's (OpenRouter's ``provider``).
    fields: tuple[tuple[str, Any], ...] = ()
    #: Fields the first chunk carries (Groq's ``x_groq`` with the request's id).
    first: tuple[tuple[str, Any], ...] = ()
    #: Each tool call comes whole in one chunk, its name and all its arguments (Mistral's;
    #: its SDK wants the name on every piece).
    whole_calls: bool = False
    #: Fields the final chunk carries (llama.cpp's ``timings``).
    final: tuple[tuple[str, Any], ...] = ()


#: OpenAI's own stream.
PLAIN: Final = Quirks()


class ChatContext(NamedTuple):
    """What one request contributes to its answer."""

    id: str  # chatcmpl-…
    created: int
    model: str
    include_usage: bool
    prompt_tokens: int
    reasoning_tokens: int = 0  # the model's hidden reasoning, counted in its usage
    cached_tokens: int = 0  # of the prompt's, those the prompt cache served
    quirks: Quirks = PLAIN  # how the server differs from OpenAI's (a preset's)
    #: Each chunk carries the usage so far (vLLM's ``continuous_usage_stats``, asked for).
    every_usage: bool = False


def chunk_object(
    ctx: ChatContext, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": ctx.id,
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
        "system_fingerprint": "fp_emulator",
        "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ],
    }


def tool_call(
    ctx: ChatContext, name: str | None, arguments: str, *, first: bool, index: int = 0
) -> dict[str, Any]:
    """Call ``index`` of a reply, whole or (``first`` False) a piece of its arguments as a
    delta carries it: the first delta has the id, type and name, later ones only the index
    and arguments."""
    if not first:
        return {"index": index, "function": {"arguments": arguments}}
    return {
        "index": index,
        "id": call_id(ctx.id.removeprefix("chatcmpl-"), index),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _usage(ctx: ChatContext, completion_tokens: int) -> dict[str, Any]:
    """The usage: a reasoning model's hidden reasoning counts as completion tokens, and is
    told apart in ``completion_tokens_details``."""
    completion = completion_tokens + ctx.reasoning_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": ctx.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": ctx.prompt_tokens + completion,
    }
    if ctx.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": ctx.cached_tokens}
    if ctx.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": ctx.reasoning_tokens}
    return usage


def usage_so_far(ctx: ChatContext, completion_tokens: int) -> dict[str, Any]:
    """The usage after ``completion_tokens`` pieces (what vLLM's continuous usage says)."""
    return _usage(ctx, completion_tokens)


def usage_chunk_object(ctx: ChatContext, completion_tokens: int) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage``: usage, and empty ``choices``."""
    found = chunk_object(ctx, {})
    found["choices"] = []
    found["usage"] = _usage(ctx, completion_tokens)
    return found


def empty_chunk_object() -> dict[str, Any]:
    """A chunk with no choices, as Azure OpenAI sends first: its prompt's filter results
    (the chunk that breaks code reading ``choices[0]``)."""
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": filter_results(filtered=False)}
        ],
    }


def filter_results(*, filtered: bool) -> dict[str, Any]:
    """Azure OpenAI's ``content_filter_results`` of a prompt or a choice: every category
    safe, or (``filtered``) the one that stopped the reply."""
    safe = {"filtered": False, "severity": "safe"}
    found = dict.fromkeys(("hate", "self_harm", "sexual", "violence"), safe)
    if filtered:
        found["violence"] = {"filtered": True, "severity": "medium"}
    return found


def completion_object(
    ctx: ChatContext,
    text: str,
    finish_reason: str,
    completion_tokens: int,
    tool: str = "",
    calls: Sequence[tuple[str, str]] = (),
    *,
    refusal: bool = False,
    azure: bool = False,
) -> dict[str, Any]:
    """The whole answer to a request with ``stream`` false (``tool``: a call of it, ``text``
    its arguments; ``calls``: the calls after it, as (tool, arguments); ``refusal``: the text is a refusal;
    ``azure``: with Azure OpenAI's filter results)."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if refusal:
        message = {**message, "content": None, "refusal": text}
    named = [(tool, text)] if tool else []
    named += calls
    if named:
        whole = [tool_call(ctx, name, arguments, first=True, index=i)
                 for i, (name, arguments) in enumerate(named)]  # fmt: skip
        for call in whole:
            del call["index"]
        message = {**message, "content": None if tool or not text else text, "tool_calls": whole}
    return {
        "id": ctx.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "system_fingerprint": "fp_emulator",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
                **(
                    {
                        "content_filter_results": filter_results(
                            filtered=finish_reason == "content_filter"
                        )
                    }
                    if azure
                    else {}
                ),
            }
        ],
        **(
            {"prompt_filter_results": empty_chunk_object()["prompt_filter_results"]}
            if azure
            else {}
        ),
        "usage": _usage(ctx, completion_tokens),
    }


def models_body() -> bytes:
    return json.dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": _CREATED, "owned_by": "system"}
                for m in MODELS
            ],
        }
    ).encode()
