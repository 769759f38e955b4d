"""The admin API under ``/_emulator``: scenarios, queue, rules, journal, reset.

Reachable from loopback only, unless the server was given an admin token,
in which case every admin request must carry it (``X-Emulator-Admin-Token``)
wherever it comes from.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._version import __version__
from .app import ADMIN_PREFIX, BadRequest, current_config, current_state, is_loopback
from .scenario import Scenario, ScenarioError

__all__ = ["ADMIN_TOKEN_HEADER", "admin_routes"]

ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"  # noqa: S105 - a header name

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def admin_routes() -> dict[str, dict[str, Handler]]:
    """The admin API as {path: {method: handler}}, each behind the access check."""
    routes = [
        ("GET", "", _info),
        ("GET", "/scenarios", _list_scenarios),
        ("GET", "/scenario", _get_active),
        ("PUT", "/scenario", _set_active),
        ("POST", "/scenario", _set_active),
        ("GET", "/queue", _get_queue),
        ("POST", "/queue", _enqueue),
        ("POST", "/rules", _add_rule),
        ("GET", "/journal", _journal),
        ("POST", "/reset", _reset),
    ]
    table: dict[str, dict[str, Handler]] = {}
    for method, path, handler in routes:
        table.setdefault(ADMIN_PREFIX + path, {})[method] = _guarded(handler)
    return table


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.BaseRequest) -> web.StreamResponse:
        token = current_config().admin_token
        if token is not None:
            given = request.headers.get(ADMIN_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise BadRequest(403, f"the admin API needs the {ADMIN_TOKEN_HEADER} header")
        elif not is_loopback(request.remote):
            raise BadRequest(
                403, "the admin API answers loopback only; start the emulator with --admin-token"
            )
        return await handler(request)

    return guarded


def _describe(s: Scenario) -> dict[str, Any]:
    return {"name": s.name, "description": s.description, "source": s.source}


def _ok(obj: Any) -> web.Response:
    return web.Response(body=json.dumps(obj).encode(), content_type="application/json")


async def _body(request: web.BaseRequest) -> dict[str, Any]:
    try:
        obj = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return obj


def _scenario_ref(obj: dict[str, Any], key: str = "scenario") -> Any:
    ref = obj.get(key, obj.get("name"))
    if isinstance(ref, str) and ref.endswith(".toml"):
        raise BadRequest(
            400, "give a scenario by name or as an object; the admin API reads no files"
        )
    if not isinstance(ref, (str, dict)):
        raise BadRequest(400, f"'{key}' must be a scenario name or a scenario object")
    return ref


async def _info(request: web.BaseRequest) -> web.Response:
    state = current_state()
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


async def _list_scenarios(request: web.BaseRequest) -> web.Response:
    state = current_state()
    return _ok([_describe(s) for _, s in sorted(state.scenarios.items())])


async def _get_active(request: web.BaseRequest) -> web.Response:
    return _ok(_describe(current_state().active))


async def _set_active(request: web.BaseRequest) -> web.Response:
    state = current_state()
    try:
        scenario = state.use(_scenario_ref(await _body(request)))
    except ScenarioError as exc:
        raise BadRequest(400, str(exc)) from None
    return _ok(_describe(scenario))


async def _get_queue(request: web.BaseRequest) -> web.Response:
    return _ok([_describe(s) for s in current_state().queued])


async def _enqueue(request: web.BaseRequest) -> web.Response:
    body = await _body(request)
    refs = body.get("scenarios")
    if not isinstance(refs, list) or not refs:
        raise BadRequest(400, "'scenarios' must be a non-empty list of names or scenario objects")
    for ref in refs:
        _scenario_ref({"scenario": ref})
    try:
        state = current_state()
        state.enqueue(refs)
    except ScenarioError as exc:
        raise BadRequest(400, str(exc)) from None
    return _ok([_describe(s) for s in state.queued])


async def _add_rule(request: web.BaseRequest) -> web.Response:
    body = await _body(request)
    pattern = body.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise BadRequest(400, "'pattern' must be a regular expression matched against the prompt")
    try:
        current_state().add_rule(pattern, _scenario_ref(body))
    except ScenarioError as exc:
        raise BadRequest(400, str(exc)) from None
    return _ok({"pattern": pattern})


async def _journal(request: web.BaseRequest) -> web.Response:
    state = current_state()
    path = request.query.get("path")
    return _ok([c.to_dict() for c in state.calls(path)])


async def _reset(request: web.BaseRequest) -> web.Response:
    current_state().reset()
    return _ok({"reset": True})
