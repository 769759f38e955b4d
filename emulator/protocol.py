"""The upstream's wire shapes, as pure builders. No I/O.

Written apart from the client's decoder on purpose: the end-to-end tests are a
cross-check between this encoder and that decoder. Shapes follow the captured
2023 stream described in PROTOCOL.md.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Final

__all__ = [
    "CDN_CHALLENGE_HTML",
    "DEFAULT_MODEL",
    "ERROR_DETAILS",
    "FIELDS",
    "EnvelopeTemplate",
    "Holes",
    "MessageTemplate",
    "SSEFormat",
    "error_body",
    "field_placeholder",
    "loads_body",
    "session_body",
]

DEFAULT_MODEL: Final = "text-davinci-002-render-sha"
DONE: Final = "[DONE]"

#: The upstream's representative error details by status (PROTOCOL.md, Errors).
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

#: What the CDN in front of the upstream answers a browser it wants to check.
CDN_CHALLENGE_HTML: Final = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
    '<meta name="robots" content="noindex,nofollow"></head><body>'
    "<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


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


@dataclass(frozen=True, slots=True)
class SSEFormat:
    """How events are framed on the wire (the faults a scenario may ask for)."""

    line_ending: str = "\n"
    data_prefix: str = "data: "
    multiline_data: bool = False
    ensure_ascii: bool = False

    def event(self, data: str, event: str | None = None) -> bytes:
        """One event: optional ``event:`` line, ``data:`` line(s), blank line."""
        end = self.line_ending
        lines = [f"event: {event}"] if event else []
        lines.extend(self.data_prefix + line for line in data.split("\n"))
        return (end.join(lines) + end + end).encode()

    def comment(self, text: str) -> bytes:
        return f":{text}{self.line_ending}{self.line_ending}".encode()

    def dumps(self, obj: Any) -> str:
        # multiline_data: pretty-printed JSON has newlines only between tokens,
        # so each line becomes its own data: field and the decoder's LF join
        # gives back valid JSON.
        if self.multiline_data:
            return json.dumps(obj, ensure_ascii=self.ensure_ascii, indent=1)
        return json.dumps(obj, ensure_ascii=self.ensure_ascii)

    def json_event(self, obj: Any, event: str | None = None) -> bytes:
        return self.event(self.dumps(obj), event)


_PLACEHOLDER: Final = "\ue000PLACEHOLDER\ue000"
#: The per-request values a stream can carry, in the order templates look for them.
FIELDS: Final = (
    "message_id",
    "conversation_id",
    "parent_id",
    "create_time",
    "model",
    "moderation_id",
)


def field_placeholder(name: str) -> str:
    """The string that stands for the value ``name`` while a template is encoded."""
    return f"\ue001{name}\ue001"


class Holes:
    """Bytes with holes where per-request values go: fixed segments alternate with fields.

    Built once from bytes encoded with :func:`field_placeholder` strings in
    place of the values (:meth:`find`); :meth:`fill` joins the segments with
    each value's JSON encoding. A value a template encodes as a JSON string
    may be filled with any JSON value (``create_time`` is a number).
    """

    __slots__ = ("_fmt", "_pick", "fields", "segments")

    def __init__(self, segments: tuple[bytes, ...], fields: tuple[str, ...]) -> None:
        if len(segments) != len(fields) + 1:
            raise ValueError("a template has one more segment than it has fields")
        self.segments = segments
        self.fields = fields
        # Filled with one C-level %-format: the fixed bytes are escaped once here.
        self._fmt = b"%s".join(seg.replace(b"%", b"%%") for seg in segments)
        pick = operator.itemgetter(*fields) if fields else None
        self._pick: Callable[[Mapping[str, bytes]], Any] | None = (
            (lambda values: (values[fields[0]],)) if len(fields) == 1 else pick
        )

    @classmethod
    def find(cls, encoded: bytes, fmt: SSEFormat) -> Holes:
        """The holes in ``encoded``: one regular-expression pass over it."""
        names, pattern = _marks(fmt.ensure_ascii, fmt.multiline_data)
        segments: list[bytes] = []
        fields: list[str] = []
        start = 0
        for match in pattern.finditer(encoded):
            segments.append(encoded[start : match.start()])
            fields.append(names[match.group()])
            start = match.end()
        segments.append(encoded[start:])
        return cls(tuple(segments), tuple(fields))

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        """The bytes for one request; ``values`` are JSON-encoded already."""
        if self._pick is None:
            return self.segments[0]
        filled: bytes = self._fmt % self._pick(values)
        return filled

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Holes):
            return NotImplemented
        return (self.segments, self.fields) == (other.segments, other.fields)

    def __hash__(self) -> int:
        return hash((self.segments, self.fields))

    def __repr__(self) -> str:
        return f"Holes(segments={self.segments!r}, fields={self.fields!r})"


@lru_cache(maxsize=8)
def _marks(ensure_ascii: bool, multiline_data: bool) -> tuple[dict[bytes, str], re.Pattern[bytes]]:
    """Each field's placeholder as the framing encodes it, and a pattern finding any."""
    fmt = SSEFormat(multiline_data=multiline_data, ensure_ascii=ensure_ascii)
    names = {fmt.dumps(field_placeholder(name)).encode(): name for name in FIELDS}
    return names, re.compile(b"|".join(re.escape(mark) for mark in names))


@dataclass(frozen=True, slots=True)
class EnvelopeTemplate:
    """A message event encoded once, with holes for the per-request values.

    ``head`` and ``tail`` are the parts before and after the text. Filling
    them joins bytes instead of encoding the nested event again for every
    request.
    """

    head: Holes
    tail: Holes

    @classmethod
    def build(cls, fmt: SSEFormat, **kwargs: Any) -> EnvelopeTemplate:
        holes = {name: field_placeholder(name) for name in FIELDS if name != "moderation_id"}
        encoded = fmt.event(fmt.dumps(message_object(**holes, **kwargs)))  # type: ignore[arg-type]
        text = MessageTemplate.split(encoded, fmt)
        return cls(Holes.find(text.head, fmt), Holes.find(text.tail, fmt))

    def fill(self, values: Mapping[str, bytes]) -> MessageTemplate:
        """The event for one request; ``values`` are JSON-encoded already."""
        return MessageTemplate(self.head.fill(values), self.tail.fill(values))


def json_encoders(fmt: SSEFormat) -> tuple[Callable[[str], str], Callable[[Any], bytes]]:
    """Fast encoders for template values: one for strings, one for any JSON value.

    The string encoder is json's own (C) one, which ``json.dumps`` calls for a
    string; the other writes a finite float as its repr, as ``json.dumps``
    does, and hands anything else to the full encoder.
    """
    return (encode_basestring_ascii if fmt.ensure_ascii else encode_basestring), _value_encoder(
        fmt.ensure_ascii
    )


@lru_cache(maxsize=4)
def _value_encoder(ensure_ascii: bool) -> Callable[[Any], bytes]:
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii).encode

    def value(v: Any) -> bytes:
        if v.__class__ is float and v - v == 0:
            return float.__repr__(v).encode()
        return encode(v).encode()

    return value


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A message event pre-encoded around its text: ``head + escaped text + tail``.

    A cumulative reply repeats the whole text in every event; encoding the
    envelope once and splicing the escaped text in keeps the emulator's cost
    at copying bytes, close to a server writing pre-encoded events.
    """

    head: bytes
    tail: bytes

    @classmethod
    def split(cls, encoded: bytes, fmt: SSEFormat) -> MessageTemplate:
        literal = json.dumps(_PLACEHOLDER, ensure_ascii=fmt.ensure_ascii)[1:-1].encode()
        head, found, tail = encoded.partition(literal)
        if not found:
            raise ValueError("the message template has no text placeholder")
        return cls(head, tail)

    def render(self, escaped_text: bytes) -> bytes:
        return b"".join((self.head, escaped_text, self.tail))


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
    text: str = _PLACEHOLDER,
) -> dict[str, Any]:
    """A message event's JSON (``text`` defaults to the template placeholder)."""
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
