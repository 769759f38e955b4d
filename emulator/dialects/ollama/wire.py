"""Ollama's objects as its server writes them: stream lines, the last with its timings,
the models it lists, errors. Pure.

A stream is NDJSON: one compact JSON object a line, ``"done": false`` on each piece
and ``"done": true`` on the last, which carries ``done_reason`` and the timings in
nanoseconds (``total_duration``, ``load_duration``, ``prompt_eval_count``,
``prompt_eval_duration``, ``eval_count``, ``eval_duration``). A chat's line carries a
``message``; a generate's a ``response``. A tool call is whole, its arguments an
object. An error is ``{"error": "…"}``, as a body or as a line mid-stream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "MODELS",
    "OllamaContext",
    "arguments_object",
    "created_at",
    "error_body",
    "final_object",
    "line",
    "piece_object",
    "show_body",
    "tags_body",
    "tool_calls",
]

#: The models ``GET /api/tags`` lists (any model name is accepted).
MODELS: Final = ("llama3.2:latest", "qwen3:8b", "gemma3:4b", "nomic-embed-text:latest")
#: An embedding model's vector length, by its name before any ``:tag`` (others: 768).
EMBEDDING_DIMENSIONS: Final = {
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "bge-m3": 1024,
    "embeddinggemma": 768,
    "snowflake-arctic-embed": 1024,
}
#: What each token takes, as the timings say it (nanoseconds): reading the prompt, writing.
_PROMPT_NS: Final = 2_000_000
_EVAL_NS: Final = 20_000_000
_LOAD_NS: Final = 5_000_000


class OllamaContext(NamedTuple):
    """What one request contributes to its answer."""

    model: str
    created_at: str
    prompt_tokens: int
    kind: Literal["chat", "generate"]
    ensure_ascii: bool = False


def created_at(now: float) -> str:
    """A time as Ollama writes ``created_at``: RFC 3339 in UTC, to the microsecond."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line(obj: Any, ending: str = "\n", ensure_ascii: bool = False) -> bytes:
    """One NDJSON line: compact JSON (as Go writes it), then the line's end."""
    return (json.dumps(obj, ensure_ascii=ensure_ascii, separators=(",", ":")) + ending).encode()


def arguments_object(text: str) -> Any:
    """A call's arguments (JSON text) as the object Ollama sends ({} when not an object)."""
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def piece_object(
    ctx: OllamaContext,
    text: str = "",
    *,
    thinking: str = "",
    calls: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A line of the reply: a piece of its text (or its thinking, or its calls, whole)."""
    head: dict[str, Any] = {"model": ctx.model, "created_at": ctx.created_at}
    if ctx.kind == "generate":
        said: dict[str, Any] = {"response": text}
        if thinking:
            said["thinking"] = thinking
        return {**head, **said, "done": False}
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = tool_calls(calls)
    return {**head, "message": message, "done": False}


def tool_calls(calls: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Calls (tool, arguments as JSON text) as a message's ``tool_calls``: each whole, its
    arguments an object."""
    return [
        {"id": f"call_{i}", "function": {"index": i, "name": tool,
                                         "arguments": arguments_object(arguments)}}
        for i, (tool, arguments) in enumerate(calls)
    ]  # fmt: skip


def final_object(
    ctx: OllamaContext, reason: str, pieces: int, whole: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The last line (or a whole answer, ``whole`` its message or response): ``done``,
    why, and the timings of ``pieces`` tokens written."""
    prompt, evals = ctx.prompt_tokens, max(pieces, 1)
    timings = {
        "total_duration": _LOAD_NS + prompt * _PROMPT_NS + evals * _EVAL_NS,
        "load_duration": _LOAD_NS,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": prompt * _PROMPT_NS,
        "eval_count": evals,
        "eval_duration": evals * _EVAL_NS,
    }
    head: dict[str, Any] = {"model": ctx.model, "created_at": ctx.created_at}
    if ctx.kind == "generate":
        said: dict[str, Any] = whole or {"response": ""}
        context = {"context": list(range(1, min(prompt + evals, 256) + 1))}
        return {**head, **said, "done": True, "done_reason": reason, **context, **timings}
    message = whole or {"role": "assistant", "content": ""}
    return {**head, "message": message, "done": True, "done_reason": reason, **timings}


def error_body(status: int, detail: Any) -> bytes:
    return json.dumps({"error": str(detail)}).encode()


def _model_entry(name: str) -> dict[str, Any]:
    family = name.partition(":")[0].rstrip("0123456789.")
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 2_019_393_189,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {"parent_model": "", "format": "gguf", "family": family,
                    "families": [family], "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M"},
    }  # fmt: skip


def tags_body() -> bytes:
    return json.dumps({"models": [_model_entry(m) for m in MODELS]}).encode()


def show_body(model: str) -> bytes:
    """``/api/show``'s answer for any model: its details and what it can do."""
    entry = _model_entry(model)
    embedding = model.partition(":")[0] in EMBEDDING_DIMENSIONS
    capabilities = ["embedding"] if embedding else ["completion", "tools", "thinking"]
    return json.dumps({
        "modelfile": f"FROM {model}\n",
        "parameters": "stop \"<|eot_id|>\"",
        "template": "{{ .Prompt }}",
        "details": entry["details"],
        "model_info": {"general.architecture": entry["details"]["family"],
                       "general.parameter_count": 3_212_749_888},
        "capabilities": capabilities,
        "modified_at": entry["modified_at"],
    }).encode()  # fmt: skip
