"""Prompt formatting and small helpers, as the g4f provider helpers behave."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

from .typing import Messages

__all__ = ["format_prompt", "get_random_string", "normalize_messages"]

_ALPHABET = string.ascii_lowercase + string.digits


def get_random_string(length: int = 10) -> str:
    """A random string of lowercase letters and digits (a session password)."""
    if length < 0:
        raise ValueError(f"length must not be negative, got {length}")
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def normalize_messages(messages: Messages) -> list[tuple[str, str]]:
    """``(role, text)`` pairs from either message shape.

    Accepts OpenAI-style ``{"role": "user", "content": "…"}`` (``content`` may
    also be a list of ``{"type": "text", "text": "…"}`` parts) and the
    ChatGPT-shaped ``{"author": {"role": "user"}, "content": {"content_type":
    "text", "parts": ["…"]}}``. Anything else raises ``TypeError`` or
    ``ValueError`` naming the message and what is wrong with it.
    """
    given: object = messages
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise TypeError(f"messages must be a list of dicts, got {type(given).__name__}")
    out = [_normalize(i, m) for i, m in enumerate(given)]
    if not out:
        raise ValueError("messages is empty: there is nothing to send")
    return out


def format_prompt(messages: Messages, add_special_tokens: bool = False) -> str:
    """One prompt string from a conversation, as g4f's ``format_prompt``.

    A single message is sent as its bare text; a longer conversation becomes
    ``"Role: text"`` lines followed by ``"Assistant:"``.
    """
    pairs = normalize_messages(messages)
    if not add_special_tokens and len(pairs) == 1:
        return pairs[0][1]
    lines = "\n".join(f"{role.capitalize()}: {text}" for role, text in pairs)
    return f"{lines}\nAssistant:"


def _normalize(index: int, message: Any) -> tuple[str, str]:
    where = f"messages[{index}]"
    if not isinstance(message, Mapping):
        raise TypeError(f"{where} is a {type(message).__name__}, expected a dict")
    author = message.get("author")
    if "role" in message:
        role = message["role"]
    elif isinstance(author, Mapping) and "role" in author:
        role = author["role"]
    else:
        raise ValueError(f"{where} has no role (expected 'role' or 'author.role')")
    if not isinstance(role, str) or not role:
        raise ValueError(f"{where} has role {role!r}, expected a non-empty string")
    if "content" not in message:
        raise ValueError(f"{where} has no content")
    return role, _text(where, message["content"])


def _text(where: str, content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        parts = content.get("parts")
        if not isinstance(parts, list):
            raise ValueError(f"{where}.content is a dict without a 'parts' list")
        return "\n".join(_part_text(f"{where}.content.parts[{i}]", p) for i, p in enumerate(parts))
    if isinstance(content, list):
        return "\n".join(_part_text(f"{where}.content[{i}]", p) for i, p in enumerate(content))
    raise TypeError(
        f"{where}.content is a {type(content).__name__}, expected a string, "
        "a list of text parts, or a dict with 'parts'"
    )


def _part_text(where: str, part: Any) -> str:
    if isinstance(part, str):
        return part
    if (
        isinstance(part, Mapping)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    ):
        return str(part["text"])
    raise TypeError(f"{where} is not text: {part!r:.80}")
