"""A request refused: the status and what to say, raised by readers at any layer. Pure.

A dialect's reader raises :class:`BadRequest`; the HTTP lifecycle answers it in
the dialect's error shape (or the emulator's own ``{"detail": …}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CDN_CHALLENGE_HTML",
    "BadRequest",
    "json_kind",
    "lone_surrogate",
    "may_hold_surrogates",
]


class BadRequest(Exception):
    """Answer ``status`` with ``detail`` (in the route's error shape), or ``body`` as it is."""

    def __init__(
        self,
        status: int,
        detail: Any,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.body = body  # the whole body, for an API with an error shape of its own


def json_kind(value: Any) -> str:
    """What JSON calls the type of ``value`` ("string", "number", …), as APIs name it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


#: A JSON escape of a UTF-16 surrogate (``\\uD800`` to ``\\uDFFF``), in a body's bytes.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def may_hold_surrogates(body: bytes) -> bool:
    """Whether a JSON body could decode to a string with a lone surrogate (a quick look at
    its bytes: a pair decodes to one character, and UTF-8 cannot carry a surrogate)."""
    return b"\\u" in body and _SURROGATE_ESCAPE.search(body) is not None


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """Where in a decoded JSON value a string holds a lone surrogate (``messages[0].content``;
    "" for the value itself), or None: none does. Such a string is not text: it cannot be
    written as UTF-8 in any answer."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "the value"
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = lone_surrogate(key, where) or lone_surrogate(item, where)
            if found is not None:
                return found
    return None


#: What a CDN in front of an API answers a client it wants to check (a scenario's
#: ``body = "html"`` error, on any API).
CDN_CHALLENGE_HTML: Final = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
    '<meta name="robots" content="noindex,nofollow"></head><body>'
    "<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)
