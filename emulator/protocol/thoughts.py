"""A model's reasoning as the APIs stream it (a few words a delta), and whether a request
turns it on. Pure."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["WORDS", "thinking_enabled", "thought_pieces"]

#: Words a reasoning delta carries.
WORDS: Final = 8


def thought_pieces(text: str) -> list[str]:
    """``text`` in pieces of :data:`WORDS` words (each but the last with the space after
    it): they join back to ``text``; none for no text."""
    words = text.split(" ") if text else []
    return [" ".join(words[i : i + WORDS]) + (" " if i + WORDS < len(words) else "")
            for i in range(0, len(words), WORDS)]  # fmt: skip


def thinking_enabled(body: dict[str, Any]) -> bool:
    """Whether the request turns extended thinking on (``{"type": "enabled", …}``)."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
