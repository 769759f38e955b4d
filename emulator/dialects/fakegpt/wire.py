"""The FakeGpt upstream's wire shapes (the 2023 ChatGPT backend), as pure builders.

Every event the emulator can send is built here: message snapshots, the
2024 ``delta_encoding v1`` operations, moderation and ``num_variants``
events, in-stream errors, and the bodies of the login endpoints and of HTTP
errors. Shapes follow the captured stream described in docs/PROTOCOL.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = [
    "DEFAULT_MODEL",
    "ERROR_DETAILS",
    "StreamContext",
    "completion_object",
    "error_body",
    "error_object",
    "loads_body",
    "malformed_message",
    "message_object",
    "num_variants_object",
    "session_body",
    "snapshot_object",
    "stream_complete_object",
    "v1_add_object",
    "v1_append_object",
    "v1_finish_object",
]

DEFAULT_MODEL: Final = "text-davinci-002-render-sha"

#: The upstream's representative error details by status (docs/PROTOCOL.md, Errors).
ERROR_DETAILS: Final[Mapping[int, Any]] = {
    400: "Invalid request",
    401: {
        "code": "token_expired",
        "message": "Your authentication token has expired. Please try signing in again.",
    },
    403: "Forbidden",
    404: "Not Found",
    413: {
        "code": "message_length_exceeds_limit",
        "message": "The message you submitted was too long, please reload the conversation "
        "and submit something shorter.",
    },
    429: "Too many requests in 1 hour. Try again later.",
    500: "Hmm...something seems to have gone wrong. Maybe try me again in a little bit.",
    502: "Bad gateway",
    503: "The server is overloaded or not ready yet.",
}


def error_body(status: int, detail: Any = None) -> bytes:
    """``{"detail": …}`` for an error status, the upstream's detail by default."""
    if detail is None:
        detail = ERROR_DETAILS.get(status, "Error")
    return json.dumps({"detail": detail}).encode()


def loads_body(accounts: list[tuple[str, int]]) -> dict[str, Any]:
    return {"loads": [{"token_id": token_id, "count": count} for token_id, count in accounts]}


def session_body(user_id: str, name: str, email: str, expires: str, token: str) -> dict[str, Any]:
    return {
        "user": {
            "id": user_id,
            "name": name,
            "email": email,
            "image": None,
            "picture": None,
            "groups": [],
        },
        "expires": expires,
        "accessToken": token,
        "authProvider": "auth0",
    }


def message_object(
    *,
    message_id: str,
    conversation_id: str,
    parent_id: str,
    create_time: float,
    status: str,
    finish_type: str | None = None,
    role: str = "assistant",
    message_type: str = "next",
    model: str = DEFAULT_MODEL,
    text: str,
) -> dict[str, Any]:
    """A message event's JSON."""
    metadata: dict[str, Any] = {
        "message_type": message_type,
        "model_slug": model,
        "parent_id": parent_id,
    }
    if finish_type is not None:
        metadata = {
            "finish_details": {"type": finish_type, "stop_tokens": [100260]},
            "is_complete": True,
            **metadata,
            "timestamp_": "absolute",
        }
    return {
        "message": {
            "id": message_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": create_time,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": status,
            "end_turn": True if finish_type is not None else None,
            "weight": 1.0,
            "metadata": metadata,
            "recipient": "all",
        },
        "conversation_id": conversation_id,
        "error": None,
    }


def completion_object(conversation_id: str, message_id: str, moderation_id: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "is_completion": True,
        "moderation_response": {
            "flagged": False,
            "blocked": False,
            "moderation_id": moderation_id,
        },
    }


def error_object(conversation_id: str, text: str) -> dict[str, Any]:
    return {"message": None, "conversation_id": conversation_id, "error": text}


def v1_add_object(message: dict[str, Any]) -> dict[str, Any]:
    """The first event of a 2024 ``delta_encoding: v1`` stream."""
    return {"p": "", "o": "add", "v": message, "c": 0}


def num_variants_object(conversation_id: str) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "num_variants_in_stream": 2}


def v1_append_object(piece: str, first: bool) -> dict[str, Any]:
    """A ``delta_encoding v1`` append; the first names its path and operation."""
    if first:
        return {"p": "/message/content/parts/0", "o": "append", "v": piece}
    return {"v": piece}


def v1_finish_object(finish_type: str) -> dict[str, Any]:
    """The ``delta_encoding v1`` patch that finishes the message."""
    return {
        "p": "",
        "o": "patch",
        "v": [
            {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
            {"p": "/message/end_turn", "o": "replace", "v": True},
            {
                "p": "/message/metadata",
                "o": "append",
                "v": {
                    "is_complete": True,
                    "finish_details": {"type": finish_type, "stop_tokens": [100260]},
                },
            },
        ],
    }


def stream_complete_object(conversation_id: str) -> dict[str, Any]:
    return {"type": "message_stream_complete", "conversation_id": conversation_id}


class StreamContext(NamedTuple):
    """What one request contributes to the stream.

    A named tuple rather than a frozen dataclass: one is made per request,
    and a tuple is made in C.
    """

    prompt: str
    message_id: str
    conversation_id: str
    parent_id: str
    create_time: float
    model: str
    moderation_id: str
    timestamp: float = 0.0


def snapshot_object(ctx: StreamContext, text: str, **fields: Any) -> dict[str, Any]:
    """A message event of this request's reply carrying ``text`` (in progress by default).

    ``fields`` override :func:`message_object`'s other arguments (a foreign
    message's id, role and message type).
    """
    values: dict[str, Any] = {
        "message_id": ctx.message_id,
        "conversation_id": ctx.conversation_id,
        "parent_id": ctx.parent_id,
        "create_time": ctx.create_time,
        "status": "in_progress",
        "model": ctx.model,
        **fields,
    }
    return message_object(text=text, **values)


def malformed_message(ctx: StreamContext) -> str:
    """A message event cut off mid-JSON (what a ``malformed_json`` fault sends by default)."""
    return '{"message": {"id": "' + ctx.message_id + '", "content": '
