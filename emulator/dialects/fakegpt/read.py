"""Reading request bodies: validation with a clear 4xx for anything malformed. Pure.

Every refusal is a :class:`~emulator.protocol.errors.BadRequest` naming what is
wrong (``messages[2].content.parts must be a list of strings``).
"""

from __future__ import annotations

import email.policy
import json
import json.scanner
from email.parser import BytesParser
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl

from ...protocol.errors import BadRequest, json_kind, lone_surrogate, may_hold_surrogates
from .wire import DEFAULT_MODEL

__all__ = [
    "ConversationRequest",
    "form_text",
    "json_loads",
    "multipart_form",
    "parse_conversation",
    "urlencoded_form",
]

_ACTIONS: Final = frozenset({"next", "variant", "continue"})


class ConversationRequest(NamedTuple):
    prompt: str
    parent_id: str
    model: str
    conversation_id: str | None
    body: dict[str, Any] | None = None  # the JSON body (what a match's path looks into)


def parse_conversation(body: bytes, content_type: str) -> ConversationRequest:
    if content_type != "application/json":
        raise BadRequest(
            415, f"Content-Type must be application/json (got {content_type or 'none'})"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = json_loads(text)
    except RecursionError:
        raise BadRequest(400, "the body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, f"the body must be a JSON object, got {_json_kind(obj)}")
    if may_hold_surrogates(body):
        where = lone_surrogate(obj)
        if where is not None:
            raise BadRequest(400, f"{where} holds a lone surrogate (a \\uD800 to \\uDFFF "
                             "escape not in a pair), which is not text")  # fmt: skip
    action = _field(obj, "action", str, "a string")
    if action not in _ACTIONS:
        raise BadRequest(400, f"action must be one of {sorted(_ACTIONS)}, got {action[:40]!r}")
    messages = _field(obj, "messages", list, "a list of messages")
    if not messages:
        raise BadRequest(400, "messages must not be empty")
    texts = [_message_text(i, m) for i, m in enumerate(messages)]
    parent = _field(obj, "parent_message_id", str, "a string (a UUID)")
    model = obj.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise BadRequest(400, f"model must be a string, got {_json_kind(model)}")
    conversation_id = obj.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise BadRequest(
            400, f"conversation_id must be a string, got {_json_kind(conversation_id)}"
        )
    return ConversationRequest(texts[-1], parent, model, conversation_id, obj)


_SCAN: Final = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def json_loads(text: str) -> Any:
    """``json.loads(text)``, faster for the usual body: json's C scanner, called directly.

    Anything the scanner does not take whole (leading whitespace, extra data,
    invalid JSON) goes to ``json.loads``, which accepts it or raises its own
    error.
    """
    try:
        obj, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return json.loads(text)
    return obj


def _field(obj: dict[str, Any], name: str, kind: type, what: str) -> Any:
    if name not in obj:
        raise BadRequest(400, f"{name} is required ({what})")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(400, f"{name} must be {what}, got {_json_kind(value)}")
    return value


def _message_text(index: int, message: Any) -> str:
    if not isinstance(message, dict):
        raise BadRequest(400, f"messages[{index}] must be an object, got {_json_kind(message)}")
    author = message.get("author")
    if not isinstance(author, dict) or not isinstance(author.get("role"), str):
        raise BadRequest(400, f"messages[{index}].author.role is required (a string)")
    content = message.get("content")
    if not isinstance(content, dict):
        raise BadRequest(400, f"messages[{index}].content must be an object with 'parts'")
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise BadRequest(400, f"messages[{index}].content.parts must be a list of strings")
    try:
        return "\n".join(parts)  # raises TypeError for a part that is not a string
    except TypeError:
        raise BadRequest(
            400, f"messages[{index}].content.parts must be a list of strings"
        ) from None


def _json_kind(value: Any) -> str:
    """What JSON calls the type of ``value``, with its article ("an object"; "null")."""
    kind = json_kind(value)
    return kind if kind == "null" else f"{'an' if kind[0] in 'ao' else 'a'} {kind}"


class _FormFile:
    """A multipart part that is a file, not a text field."""


def multipart_form(content_type: str, body: bytes) -> dict[str, Any]:
    """The fields of a ``multipart/form-data`` body (already read whole for the journal).

    aiohttp's own reader wants the body unread; the standard library's MIME
    parser takes the bytes instead.
    """
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body (is the boundary right?)")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if part.get_filename() is not None:
            fields.setdefault(name, _FormFile())
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields.setdefault(name, raw.decode(part.get_content_charset() or "utf-8"))
    return fields


def urlencoded_form(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (the first of each
    name), decoded in its charset (UTF-8 by default), as aiohttp's ``post()`` reads it."""
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        text = body.rstrip().decode(charset)
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, encoding=charset):
        fields.setdefault(name, value)
    return fields


def form_text(form: Any, name: str) -> str:
    value = form.get(name)
    if value is None:
        raise BadRequest(400, f"form field '{name}' is required")
    if not isinstance(value, str):
        raise BadRequest(400, f"form field '{name}' must be text, not a file")
    return value
