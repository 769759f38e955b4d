"""OpenAI's Realtime API (GA) as it is on the wire: its ids, its session, items and response
objects, and its server events, each one JSON text message. Pure.

Shapes from the official SDK's types (``openai`` 3.x ``types/realtime/``): every server
event carries an ``event_id``; a response's items carry ``object: "realtime.item"``; the
content parts of ``response.content_part.*`` are ``text``/``audio`` where an item's own
content says ``output_text``/``output_audio``; audio is base64 PCM16 at 24 kHz.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from ...core.endings import Label, event_label
from ...protocol.steps import Message

__all__ = [
    "DEFAULT_SESSION",
    "RealtimeContext",
    "error_event",
    "event",
    "fresh_id",
    "item_ids",
    "message_item",
    "response_object",
    "said",
    "said_bytes",
    "session_object",
]

_IDS: Final = random.Random()


def fresh_id(prefix: str) -> str:
    """An id as the API makes them: a prefix and 21 letters or digits (``event_…``; here
    hex digits, made from one random number: an event's id is made for every delta)."""
    return f"{prefix}_{_IDS.getrandbits(84):021x}"


def item_ids(response_id: str, index: int) -> tuple[str, str]:
    """The item id and call id of a response's ``index``-th output item, made from the
    response's id (so the session knows, once the response is played, what it said)."""
    tail = response_id.removeprefix("resp_")[:16]
    return f"item_{tail}{index:05d}", f"call_{tail}{index:05d}"


#: A session as the API opens it (GA defaults): audio out, server VAD on.
DEFAULT_SESSION: Final[Mapping[str, Any]] = {
    "type": "realtime",
    "object": "realtime.session",
    "output_modalities": ["audio"],
    "instructions": "",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "include": None,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 200,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
    },
}


def session_object(session_id: str, model: str, expires_at: int,
                   settings: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The session, as ``session.created``/``session.updated`` carry it."""
    return {**settings, "id": session_id, "model": model, "expires_at": expires_at}


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """A server event: its ``type``, a fresh ``event_id``, its fields."""
    return {"type": kind, "event_id": fresh_id("event"), **fields}


def said(obj: Mapping[str, Any], what: Label | None = None) -> Message:
    """One server event as its text message."""
    return Message(said_bytes(obj), what=what or event_label(str(obj["type"])))


def said_bytes(obj: Mapping[str, Any]) -> bytes:
    """One server event's text, as its message carries it."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def error_event(message: str, code: str | None = None, param: str | None = None,
                kind: str = "invalid_request_error",
                event_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The API's ``error`` event (every key present, null where it does not apply)."""
    return event("error", error={"type": kind, "code": code, "message": message,
                                 "param": param, "event_id": event_id})  # fmt: skip


def message_item(item_id: str, text: str, audio: bool, status: str) -> dict[str, Any]:
    """The assistant's message item: its text, or its audio's transcript (no audio bytes,
    as the item events and ``response.done`` carry it)."""
    part = ({"type": "output_audio", "transcript": text} if audio
            else {"type": "output_text", "text": text})  # fmt: skip
    return {"id": item_id, "object": "realtime.item", "type": "message", "status": status,
            "role": "assistant", "content": [part] if status != "in_progress" else []}  # fmt: skip


def call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {"id": item_id, "object": "realtime.item", "type": "function_call", "status": status,
            "name": name, "call_id": call_id, "arguments": arguments}  # fmt: skip


class RealtimeContext(NamedTuple):
    """What one ``response.create`` contributes to its response."""

    response_id: str
    conversation_id: str | None  # None: a response outside the conversation
    audio: bool  # the response speaks (output_modalities ["audio"]); else text
    voice: str
    input_tokens: int
    metadata: Mapping[str, str] | None = None
    transcribe_item: str = ""  # a user audio item whose transcription comes first


def response_object(
    ctx: RealtimeContext,
    status: str,
    output: Sequence[Mapping[str, Any]] = (),
    output_tokens: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Response: in progress (no usage yet), or ended with its output and usage."""
    usage = None
    if output_tokens is not None:
        audio = output_tokens if ctx.audio else 0
        usage = {
            "total_tokens": ctx.input_tokens + output_tokens,
            "input_tokens": ctx.input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {"text_tokens": ctx.input_tokens, "audio_tokens": 0,
                                    "image_tokens": 0, "cached_tokens": 0,
                                    "cached_tokens_details": {"text_tokens": 0,
                                                              "audio_tokens": 0,
                                                              "image_tokens": 0}},
            "output_token_details": {"text_tokens": output_tokens - audio,
                                     "audio_tokens": audio},
        }  # fmt: skip
    audio_out = {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": ctx.voice}}
    return {
        "object": "realtime.response",
        "id": ctx.response_id,
        "status": status,
        "status_details": details,
        "output": list(output),
        "conversation_id": ctx.conversation_id,
        "output_modalities": ["audio" if ctx.audio else "text"],
        "max_output_tokens": "inf",
        "audio": audio_out,
        "usage": usage,
        "metadata": dict(ctx.metadata) if ctx.metadata is not None else None,
    }
