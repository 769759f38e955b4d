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
    #: The upstream's paths (the ones CORS applies to), and prefixes of such paths.
    upstream: frozenset[str]
    upstream_prefixes: tuple[str, ...] = ()

    def is_upstream(self, path: str) -> bool:
        return path in self.upstream or path.startswith(self.upstream_prefixes)

    def label(self, path: str) -> str:
        """What the metrics count ``path`` as: itself, the prefix it is under (a model in a
        path would make a label per model), or ``(no route)``."""
        if path in self.routes:
            return path
        return next((p + "*" for p in self.prefixes if path.startswith(p)), "(no route)")

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
    prefixes: dict[str, Mapping[str, Route]] = {}
    for dialect in DIALECTS.values():
        routes.update(dialect.table())
        prefixes.update(dialect.prefix_table())
    upstream = frozenset(p for p, m in routes.items() if any(r.endpoint for r in m.values()))
    upstream_prefixes = tuple(
        p for p, m in prefixes.items() if any(r.endpoint for r in m.values())
    )
    routes["/"] = {"GET": Route(index)}
    for path, methods in ADMIN_ROUTES.items():
        routes[path] = {method: Route(handler) for method, handler in methods.items()}
    for prefix, methods in ADMIN_PREFIX_ROUTES.items():
        prefixes[prefix] = {method: Route(handler) for method, handler in methods.items()}
    return RouteTable(routes, prefixes, upstream, upstream_prefixes)
