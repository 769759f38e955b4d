"""Gemini's ``GenerateContentResponse`` and error bodies, as the API sends them. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from ..google import call_arguments

__all__ = ["SAFETY_RATINGS", "GeminiContext", "chunk_object", "models_body"]


class GeminiContext(NamedTuple):
    """What one request contributes to its answer."""

    response_id: str
    model: str
    prompt_tokens: int
    thoughts: int = 0  # the tokens of the model's thinking (usage's thoughtsTokenCount)
    cached: int = 0  # of the prompt's, those the context cache served
    #: The thought signature the response's first functionCall part carries ("": none; a
    #: Gemini 3 model's, which must come back with that part).
    signature: str = ""


#: The ratings of a candidate the safety filter stopped: one category blocked.
SAFETY_RATINGS: Final = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
]


def chunk_object(
    ctx: GeminiContext,
    text: str,
    finish: str | None,
    pieces: int,
    tool: str = "",
    *,
    thought: bool = False,
    reasoning: str = "",
    calls: Sequence[tuple[str, str]] = (),
    first_call: bool = True,
) -> dict[str, Any]:
    """One ``GenerateContentResponse``: a piece of the reply (or all of it: a tool call is a
    whole ``functionCall`` part, its text the arguments), with the usage so far on every
    chunk and ``finishReason`` on the last (``SAFETY``: with the ratings that stopped it).
    ``thought``: the text is a thought summary; ``reasoning``: one before the reply (a
    whole answer); ``calls``: further calls (tool, arguments), each a whole ``functionCall`` part after it (no
    part of its own when ``text`` is empty)."""
    part: dict[str, Any] = (
        {"functionCall": {"name": tool, "args": call_arguments(text)}} if tool else {"text": text}
    )
    if thought:  # a thought summary: the model's reasoning, not its reply
        part["thought"] = True
    parts = [{"text": reasoning, "thought": True}] if reasoning else []
    parts += [part] if tool or text or not calls else []
    parts += [{"functionCall": {"name": name, "args": call_arguments(arguments)}}
              for name, arguments in calls]  # fmt: skip
    if ctx.signature and first_call:
        called = next((p for p in parts if "functionCall" in p), None)
        if called is not None:
            called["thoughtSignature"] = ctx.signature
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    if finish == "SAFETY":
        candidate["safetyRatings"] = SAFETY_RATINGS
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": ctx.prompt_tokens,
            "candidatesTokenCount": pieces,
            "totalTokenCount": ctx.prompt_tokens + ctx.thoughts + pieces,
            **({"thoughtsTokenCount": ctx.thoughts} if ctx.thoughts else {}),
            **({"cachedContentTokenCount": ctx.cached} if ctx.cached else {}),
        },
        "modelVersion": ctx.model,
        "responseId": ctx.response_id,
    }


def models_body() -> bytes:
    models = [
        {"name": f"models/{name}", "displayName": name, "supportedGenerationMethods":
         ["generateContent", "streamGenerateContent"]}
        for name in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash")
    ]  # fmt: skip
    return json.dumps({"models": models}).encode()
