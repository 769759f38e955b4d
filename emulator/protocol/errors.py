"""A request refused: the status and what to say, raised by readers at any layer. Pure.

A dialect's reader raises :class:`BadRequest`; the HTTP lifecycle answers it in
the dialect's error shape (or the emulator's own ``{"detail": …}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["CDN_CHALLENGE_HTML", "BadRequest", "json_kind"]


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


#: What a CDN in front of an API answers a client it wants to check (a scenario's
#: ``body = "html"`` error, on any API).
CDN_CHALLENGE_HTML: Final = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
    '<meta name="robots" content="noindex,nofollow"></head><body>'
    "<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)
