"""Who may use the admin API, and what its requests must look like.

Reachable from loopback only, unless the server was given an admin token,
in which case every admin request must carry it (``X-Emulator-Admin-Token``)
wherever it comes from. Without a token, a browser cannot drive it either:
a request whose ``Host`` is not a loopback name (DNS rebinding) or whose
``Origin`` is another site (CSRF) is refused, and bodies must be
``application/json``, which no cross-site form or simple request can send.
The inspector page reads only the admin API, so the same rules hold for it.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from ..protocol.errors import BadRequest
from ..scenario import ScenarioError
from ..state.store import LimitError
from .context import Context, Handler, is_loopback

__all__ = ["ADMIN_TOKEN_HEADER", "check_admin_access", "guarded", "hostname", "json_body"]

ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"  # noqa: S105 - a header name


def guarded(handler: Handler) -> Handler:
    async def guarded(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
        check_admin_access(request, ctx.config.admin_token)
        if await request.read() and request.content_type != "application/json":
            raise BadRequest(
                415,
                "the admin API takes application/json bodies "
                f"(got {request.content_type or 'none'})",
            )
        try:
            return await handler(request, ctx)
        except ScenarioError as exc:
            raise BadRequest(400, str(exc)) from None
        except LimitError as exc:
            raise BadRequest(409, str(exc)) from None

    return guarded


def check_admin_access(request: web.BaseRequest, token: str | None) -> None:
    """Refuse a request that is not the admin's own (a :class:`BadRequest` 403).

    With a token: the token, from anywhere. Without one: a loopback peer, a
    loopback ``Host`` and no foreign ``Origin``, so that neither another
    machine nor a web page in the user's browser gets in.
    """
    if token is not None:
        given = request.headers.get(ADMIN_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise BadRequest(403, f"the admin API needs the {ADMIN_TOKEN_HEADER} header")
        return
    if not is_loopback(request.remote):
        raise BadRequest(
            403, "the admin API answers loopback only; start the emulator with --admin-token"
        )
    host = request.headers.get("Host", "")
    if not is_loopback(hostname(host)):
        raise BadRequest(
            403,
            f"the admin API answers only requests addressed to a loopback name, not {host[:80]!r} "
            "(a page that rebinds its name to 127.0.0.1 must not reach it); "
            "use --admin-token to allow other names",
        )
    origin = request.headers.get("Origin")
    if origin is not None and not _loopback_origin(origin):
        raise BadRequest(
            403,
            f"the admin API refuses requests sent by a web page of another origin ({origin[:80]!r})",
        )


def hostname(host: str) -> str:
    """The name in a ``Host`` header: no port, no brackets."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name


def _loopback_origin(origin: str) -> bool:
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and is_loopback(hostname(rest))


async def json_body(request: web.BaseRequest) -> dict[str, Any]:
    try:
        obj = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return obj
