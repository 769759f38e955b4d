"""What the HTTP layer's modules share: the error answered as JSON, the admin prefix,
the loopback check, and the per-request context handed to every handler."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

from aiohttp import web

from ..core.signing import Signer
from ..dialects.dialect import detail_body
from ..state.config import EmulatorConfig
from ..state.journal import Call
from ..state.store import EmulatorState

__all__ = [
    "ADMIN_PREFIX",
    "Context",
    "Handler",
    "cors_headers",
    "error_response",
    "is_loopback",
    "json_response",
    "preflight",
]

ADMIN_PREFIX: Final = "/_emulator"


class Context(NamedTuple):
    """One request's context, passed to its handler (never looked up from a global)."""

    call: Call  # its journal entry
    state: EmulatorState
    config: EmulatorConfig
    signer: Signer
    cors: Mapping[str, str] = {}  # CORS headers for this request's answer (none: no CORS)


Handler = Callable[[web.BaseRequest, Context], Awaitable[web.StreamResponse]]


def error_response(
    status: int, detail: Any, headers: dict[str, str] | None = None, body: bytes | None = None
) -> web.Response:
    """``{"detail": …}`` with ``status``, or ``body`` as it is."""
    return web.Response(
        status=status,
        body=body if body is not None else detail_body(status, detail),
        content_type="application/json",
        headers=headers,
    )


def json_response(obj: Any, **kwargs: Any) -> web.Response:
    return web.Response(body=json.dumps(obj).encode(), content_type="application/json", **kwargs)


def is_loopback(remote: str | None) -> bool:
    """True for a loopback address (or the name ``localhost``)."""
    if not remote:
        return False
    if remote == "localhost":
        return True
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


#: Request headers a browser app sends to the upstream's endpoints.
_CORS_REQUEST_HEADERS: Final = (
    "Content-Type, X-Authorization, Authorization, X-Emulator-Scenario, X-Emulator-Session"
)


def cors_headers(allowed: tuple[str, ...], origin: str | None) -> dict[str, str]:
    """The CORS headers for a request from ``origin`` (empty: not allowed, or no CORS)."""
    if not allowed or origin is None:
        return {}
    if "*" in allowed:
        return {"Access-Control-Allow-Origin": "*"}
    if origin in allowed:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def preflight(cors: Mapping[str, str]) -> web.Response:
    """The answer to a CORS preflight ``OPTIONS`` (204)."""
    return web.Response(
        status=204,
        headers={
            **cors,
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": _CORS_REQUEST_HEADERS,
            "Access-Control-Max-Age": "600",
        },
    )
