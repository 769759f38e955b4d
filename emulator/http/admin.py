"""The admin API under ``/_emulator``: scenarios, queue, rules, reset (and, from
:mod:`emulator.http.journal_api`, the journal, its live feed and the metrics).

Every route is behind :func:`emulator.http.guard.guarded` (loopback or the
admin token; no foreign ``Host`` or ``Origin``; JSON bodies).

Requests name scenarios; they never give files. A scenario of one's own is
registered first (``POST /_emulator/scenarios``) and then named like any other.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from .._version import __version__
from ..dialects.registry import DIALECTS
from ..protocol.errors import BadRequest
from ..scenario import Scenario
from ..scenario.chaos import DEFAULT_KINDS, Chaos
from ..state.store import SCENARIO_NAME
from .context import ADMIN_PREFIX, Context, Handler, json_response
from .guard import guarded, json_body
from .journal_api import JOURNAL_PREFIX_ROUTES, JOURNAL_ROUTES
from .ui import inspector

__all__ = ["ADMIN_PREFIX_ROUTES", "ADMIN_ROUTES"]


def _describe(s: Scenario) -> dict[str, Any]:
    return {"name": s.name, "description": s.description, "source": s.source}


def _ok(obj: Any) -> web.Response:
    return json_response(obj)


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
            "pid": os.getpid(),  # which worker answered (--workers)
            "loop": _loop_name(),  # the event loop it runs on (--loop)
            "session": state.id,
            "active": state.active.name,
            "default": state.default.name,
            "queued": [s.name for s in state.queued],
            "unused": [s.name for s in state.unused],
            "scenarios": sorted(state.scenarios),
            "requests": len(state.requests),
            "problems": list(state.problems),
            "unmatched": list(state.unmatched),
            "dialects": [
                {"name": d.name, "title": d.title, "answered_at": d.answered_at}
                for d in DIALECTS.values()
            ],
        }
    )


async def _list_scenarios(request: web.BaseRequest, ctx: Context) -> web.Response:
    state = ctx.state
    return _ok([_describe(s) for _, s in sorted(state.known.items())])


async def _register(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await json_body(request)
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
    return _ok(_describe(state.use(state.named(_scenario_name(await json_body(request))))))


async def _get_queue(request: web.BaseRequest, ctx: Context) -> web.Response:
    return _ok([_describe(s) for s in ctx.state.queued])


async def _enqueue(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await json_body(request)
    refs = body.get("scenarios")
    if not isinstance(refs, list) or not refs:
        raise BadRequest(400, "'scenarios' must be a non-empty list of scenario names")
    state = ctx.state
    state.enqueue([state.named(_scenario_name({"scenario": ref})) for ref in refs])
    return _ok([_describe(s) for s in state.queued])


async def _add_rule(request: web.BaseRequest, ctx: Context) -> web.Response:
    body = await json_body(request)
    pattern = body.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise BadRequest(400, "'pattern' must be a regular expression matched against the prompt")
    state = ctx.state
    state.add_rule(pattern, state.named(_scenario_name(body)))
    return _ok({"pattern": pattern})


async def _list_rules(request: web.BaseRequest, ctx: Context) -> web.Response:
    return _ok([{"pattern": p, "scenario": name} for p, name in ctx.state.rules])


async def _remove_rules(request: web.BaseRequest, ctx: Context) -> web.Response:
    """Remove every rule, or (``?pattern=``) those with one pattern."""
    removed = ctx.state.remove_rules(request.query.get("pattern"))
    return _ok({"removed": removed, "rules": len(ctx.state.rules)})


async def _reset(request: web.BaseRequest, ctx: Context) -> web.Response:
    ctx.state.reset()
    return _ok({"reset": True})


async def _list_sessions(request: web.BaseRequest, ctx: Context) -> web.Response:
    return _ok(ctx.state.sessions())


async def _drop_session(request: web.BaseRequest, ctx: Context) -> web.Response:
    session = request.path.removeprefix(f"{ADMIN_PREFIX}/sessions/")
    if not ctx.state.drop_session(session):
        raise BadRequest(404, f"no session {session[:64]!r} is open")
    return _ok({"dropped": session})


async def _get_chaos(request: web.BaseRequest, ctx: Context) -> web.Response:
    chaos = ctx.state.chaos
    return _ok(chaos.to_dict() if chaos is not None else None)


async def _set_chaos(request: web.BaseRequest, ctx: Context) -> web.Response:
    """``{"rate": 0.1, "seed": 7, "kinds": [...], "endpoints": [...]}`` for this session."""
    body = await json_body(request)
    unknown = sorted(set(body) - {"rate", "seed", "kinds", "endpoints"})
    if unknown:
        raise BadRequest(
            400, f"unknown chaos setting {unknown[0]!r} (rate, seed, kinds, endpoints)"
        )
    rate, seed = body.get("rate"), body.get("seed", 0)
    kinds = body.get("kinds", list(DEFAULT_KINDS))
    endpoints = body.get("endpoints", ["conversation"])
    if not isinstance(rate, int | float) or isinstance(rate, bool):
        raise BadRequest(400, "'rate' must be a number from 0 to 1")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BadRequest(400, "'seed' must be an integer")
    for key, value in (("kinds", kinds), ("endpoints", endpoints)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(400, f"'{key}' must be a list of names")
    try:
        chaos = Chaos(float(rate), seed, tuple(kinds), tuple(endpoints))
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    ctx.state.set_chaos(chaos)
    return _ok(chaos.to_dict())


async def _stop_chaos(request: web.BaseRequest, ctx: Context) -> web.Response:
    ctx.state.set_chaos(None)
    return _ok(None)


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
    ("GET", "/rules", _list_rules),
    ("DELETE", "/rules", _remove_rules),
    ("POST", "/reset", _reset),
    ("GET", "/sessions", _list_sessions),
    ("GET", "/chaos", _get_chaos),
    ("PUT", "/chaos", _set_chaos),
    ("DELETE", "/chaos", _stop_chaos),
)

_ALL: Final = (*_ROUTES, *JOURNAL_ROUTES)

#: The admin API as {path: {method: handler}}, each behind the access check.
ADMIN_ROUTES: Final[Mapping[str, Mapping[str, Handler]]] = {
    **{
        ADMIN_PREFIX + path: {m: guarded(h) for m, p, h in _ALL if p == path}
        for path in dict.fromkeys(p for _, p, _ in _ALL)
    },
    # The page checks access itself (it is served to anyone when a token is set).
    ADMIN_PREFIX + "/ui": {"GET": inspector},
}
#: Routes for every path under a prefix ({prefix: {method: handler}}): /journal/{id}.
ADMIN_PREFIX_ROUTES: Final[Mapping[str, Mapping[str, Handler]]] = {
    ADMIN_PREFIX + prefix: {m: guarded(h) for m, h in methods.items()}
    for prefix, methods in {
        **JOURNAL_PREFIX_ROUTES,
        "/sessions/": {"DELETE": _drop_session},
    }.items()
}


def _loop_name() -> str:
    """The running event loop's kind: ``asyncio``, or ``uvloop`` (``serve --loop``)."""
    return (
        "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
    )
