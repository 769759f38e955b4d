"""Gemini Live (``BidiGenerateContent``) as it is on the wire: the server's messages, each
one JSON object in a binary frame (as Google's server sends them), top-level keys in
camelCase. Pure.

Shapes as google-genai's Live client reads them (``LiveServerMessage``): ``setupComplete``
first; a turn's pieces as ``serverContent.modelTurn.parts`` (text, or ``inlineData`` audio:
PCM16 at 24 kHz, base64) with ``outputTranscription`` beside audio when the setup asked
for it; calls as one ``toolCall``; ``turnComplete`` last, with ``usageMetadata``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from ...core.endings import Label, event_label
from ...protocol.steps import Message
from ..google import call_arguments

__all__ = [
    "AUDIO_MIME",
    "LiveContext",
    "call_id",
    "calls_message",
    "content_message",
    "said",
    "usage",
]

#: The audio the API speaks: 16-bit little-endian mono PCM at 24 kHz.
AUDIO_MIME: Final = "audio/pcm;rate=24000"


class LiveContext(NamedTuple):
    """What one turn of a Live session contributes to its answer."""

    turn: int  # the session's turn number (its calls' ids are made from it)
    model: str
    audio: bool  # responseModalities AUDIO (else TEXT)
    transcribe: bool  # outputAudioTranscription: the audio's words beside it
    prompt_tokens: int
    transcribe_input: bool = False  # inputAudioTranscription of a spoken turn: told first


def said(obj: Mapping[str, Any], what: Label | None = None) -> Message:
    """One server message, as the API sends it: JSON in a binary frame."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    kind = next(iter(obj), "message")
    return Message(text.encode("utf-8", "surrogatepass"), binary=True,
                   what=what or event_label(kind))  # fmt: skip


def content_message(ctx: LiveContext, text: str, pcm: bytes | None) -> list[Message]:
    """A piece of the model's turn: its text, or its audio (and the audio's words, when the
    setup asked for a transcription)."""
    if pcm is None:
        return [said({"serverContent": {"modelTurn": {"parts": [{"text": text}]}}})]
    data = base64.b64encode(pcm).decode("ascii")
    spoken = said({"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": AUDIO_MIME, "data": data}}]}}})  # fmt: skip
    if not ctx.transcribe:
        return [spoken]
    return [spoken, said({"serverContent": {"outputTranscription": {"text": text}}})]


def call_id(turn: int, index: int) -> str:
    """The id of a turn's ``index``-th call (the client answers it by this id)."""
    return f"function-call-{turn:06d}{index:04d}"


def calls_message(ctx: LiveContext, calls: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The turn's calls (tool, arguments), all in one ``toolCall``."""
    return {"toolCall": {"functionCalls": [
        {"id": call_id(ctx.turn, i), "name": tool, "args": call_arguments(arguments)}
        for i, (tool, arguments) in enumerate(calls)]}}  # fmt: skip


def usage(ctx: LiveContext, tokens: int) -> dict[str, Any]:
    """``usageMetadata`` of a turn that answered ``tokens`` tokens."""
    modality = "AUDIO" if ctx.audio else "TEXT"
    return {
        "promptTokenCount": ctx.prompt_tokens,
        "responseTokenCount": tokens,
        "totalTokenCount": ctx.prompt_tokens + tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": ctx.prompt_tokens}],
        "responseTokensDetails": [{"modality": modality, "tokenCount": tokens}],
    }
