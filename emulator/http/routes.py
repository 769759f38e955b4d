"""The emulator's route table: which handler answers which method on which path.

Built when a server is built (:func:`route_table`), from the registered
dialects (:data:`emulator.dialects.registry.DIALECTS`: each brings its
paths, readers, answers and error shapes), the admin API and the index
page. For the upstream's endpoints (a route with ``endpoint``) the
dispatcher in :mod:`emulator.http.app` reads and authorises the request,
chooses the scenario and injects its HTTP error before the answer runs; a
route with ``errors`` answers every error in its API's own shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from ..dialects.dialect import Route
from ..dialects.registry import DIALECTS
from .admin import ADMIN_PREFIX_ROUTES, ADMIN_ROUTES
from .errors import Context

__all__ = ["RouteTable", "route_table"]


async def index(request: web.BaseRequest, ctx: Context) -> web.Response:
    return web.Response(
        text="<!DOCTYPE html><title>FakeGpt emulator</title><p>FakeGpt upstream emulator. "
        '<a href="/_emulator/ui">The inspector</a> shows what it sent.</p>',
        content_type="text/html",
    )


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Every route of one server, by path and method."""

    routes: Mapping[str, Mapping[str, Route]]
    #: Routes for every path under a prefix (the admin API's /journal/{id}).
    prefixes: Mapping[str, Mapping[str, Route]]
    #: The upstream's paths (the ones CORS applies to).
    upstream: frozenset[str]

    def route_of(self, request: web.BaseRequest) -> Route:
        path = request.path
        methods = self.routes.get(path)
        if methods is None:
            methods = next((m for p, m in self.prefixes.items() if path.startswith(p)), None)
        if methods is None:
            raise web.HTTPNotFound()
        route = methods.get(request.method)
        if route is None and request.method == "HEAD":
            route = methods.get("GET")
        if route is None:
            allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
            raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
        return route


def route_table() -> RouteTable:
    """The routes of every dialect registered now, the admin API's and the index page."""
    routes: dict[str, Mapping[str, Route]] = {}
    for dialect in DIALECTS.values():
        routes.update(dialect.table())
    upstream = frozenset(p for p, m in routes.items() if any(r.endpoint for r in m.values()))
    routes["/"] = {"GET": Route(index)}
    for path, methods in ADMIN_ROUTES.items():
        routes[path] = {method: Route(handler) for method, handler in methods.items()}
    prefixes = {
        prefix: {method: Route(handler) for method, handler in methods.items()}
        for prefix, methods in ADMIN_PREFIX_ROUTES.items()
    }
    return RouteTable(routes, prefixes, upstream)
