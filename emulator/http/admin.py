"""The admin API under ``/_emulator``: scenarios, queue, rules, journal, reset.

Reachable from loopback only, unless the server was given an admin token,
in which case every admin request must carry it (``X-Emulator-Admin-Token``)
wherever it comes from. Without a token, a browser cannot drive it either:
a request whose ``Host`` is not a loopback name (DNS rebinding) or whose
``Origin`` is another site (CSRF) is refused, and bodies must be
``application/json``, which no cross-site form or simple request can send.

Requests name scenarios; they never give files. A scenario of one's own is
registered first (``POST /_emulator/scenarios``) and then named like any other.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from .._version import __version__
from ..scenario import Scenario, ScenarioError
from ..state import SCENARIO_NAME, LimitError
from .errors import ADMIN_PREFIX, BadRequest, Context, Handler, is_loopback, json_response

__all__ = ["ADMIN_ROUTES", "ADMIN_TOKEN_HEADER", "check_admin_access"]

ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"  # noqa: S105 - a header name


def _guarded(handler: Handler) -> Handler:
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
    if not is_loopback(_hostname(host)):
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


def _hostname(host: str) -> str:
    """The name in a ``Host`` header: no port, no brackets."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name


def _loopback_origin(origin: str) -> bool:
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and is_loopback(_hostname(rest))


def _describe(s: Scenario) -> dict[str, Any]:
    return {"name": s.name, "description": s.description, "source": s.source}


def _ok(obj: Any) -> web.Response:
    return json_response(obj)


async def _body(request: web.BaseRequest) -> dict[str, Any]:
    try:
        obj = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return obj


def _scenario_name(obj: dict[str, Any], key: str = "scenario") -> str:
    ref = obj.get(key, obj.get("name"))
    if isinstance(ref, dict):
        raise BadRequest(
            400,
            "name a known scenario; to use a scenario of your own, register it first with "
            'POST /_emulator/scenarios {"name": ..., "scenario": {...}}',
        )
    if not isinstance(ref, str):
        raise BadRequest(400, f"'{key}' must be the name of a known scenario")
    return ref


async def _info(request: web.BaseRequest, ctx: Context) -> web.Response:
    state = ctx.state
    return _ok(
        {
            "version": __version__,
            "active": state.active.name,
            "default": state.default.name,
            "queued": [s.name for s in state.queued],
            "scenarios": sorted(state.scenarios),
            "requests": len(state.requests),
            "problems": list(state.problems),
            "unmatched": list(state.unmatched),
        }
    )


async def _list_scenarios(request: web.BaseRequest, ctx: Context) -> web.Response:
    state = ctx.state
    return _ok([_describe(s) for _, s in sorted(state.known.items())])


async def _register(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await _body(request)
    name, table = body.get("name"), body.get("scenario")
    if not isinstance(name, str) or not SCENARIO_NAME.fullmatch(name) or name.endswith(".toml"):
        raise BadRequest(
            400,
            "'name' must be 1 to 64 letters, digits, '_', '-' or '.' (usable in a "
            "[scenario:NAME] marker), not ending in .toml",
        )
    if not isinstance(table, dict):
        raise BadRequest(400, "'scenario' must be a scenario table (as in a scenario file)")
    return _ok(_describe(ctx.state.register(name, table)))


async def _get_active(request: web.BaseRequest, ctx: Context) -> web.Response:
    return _ok(_describe(ctx.state.active))


async def _set_active(request: web.BaseRequest, ctx: Context) -> web.Response:
    state = ctx.state
    return _ok(_describe(state.use(state.named(_scenario_name(await _body(request))))))


async def _get_queue(request: web.BaseRequest, ctx: Context) -> web.Response:
    return _ok([_describe(s) for s in ctx.state.queued])


async def _enqueue(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await _body(request)
    refs = body.get("scenarios")
    if not isinstance(refs, list) or not refs:
        raise BadRequest(400, "'scenarios' must be a non-empty list of scenario names")
    state = ctx.state
    state.enqueue([state.named(_scenario_name({"scenario": ref})) for ref in refs])
    return _ok([_describe(s) for s in state.queued])


async def _add_rule(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await _body(request)
    pattern = body.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise BadRequest(400, "'pattern' must be a regular expression matched against the prompt")
    state = ctx.state
    state.add_rule(pattern, state.named(_scenario_name(body)))
    return _ok({"pattern": pattern})


async def _journal(request: web.BaseRequest, ctx: Context) -> web.Response:
    state = ctx.state
    path = request.query.get("path")
    return _ok([c.to_dict() for c in state.calls(path)])


async def _reset(request: web.BaseRequest, ctx: Context) -> web.Response:
    ctx.state.reset()
    return _ok({"reset": True})


_ROUTES: Final = (
    ("GET", "", _info),
    ("GET", "/scenarios", _list_scenarios),
    ("POST", "/scenarios", _register),
    ("GET", "/scenario", _get_active),
    ("PUT", "/scenario", _set_active),
    ("POST", "/scenario", _set_active),
    ("GET", "/queue", _get_queue),
    ("POST", "/queue", _enqueue),
    ("POST", "/rules", _add_rule),
    ("GET", "/journal", _journal),
    ("POST", "/reset", _reset),
)

#: The admin API as {path: {method: handler}}, each behind the access check.
ADMIN_ROUTES: Final[Mapping[str, Mapping[str, Handler]]] = {
    ADMIN_PREFIX + path: {m: _guarded(h) for m, p, h in _ROUTES if p == path}
    for path in dict.fromkeys(p for _, p, _ in _ROUTES)
}
