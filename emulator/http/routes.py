"""The emulator's route table: what answers which method on which path.

Built when a server is built (:func:`route_table`), from the registered
dialects (:data:`emulator.dialects.registry.DIALECTS`: each brings its
routes and error shapes; a conversation's :class:`~emulator.dialects.speaker.Speaker`
is made here, one per server), the admin API and the index page. The
lifecycle (:mod:`emulator.http.lifecycle`) answers a dialect's route; an
admin route is a handler of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..dialects.dialect import (
    Conversation,
    Dialect,
    Errors,
    Plain,
    Route,
    Rpc,
    Session,
    path_pattern,
)
from ..dialects.registry import DIALECTS
from ..dialects.rpc import RpcServer
from ..dialects.session import Talker
from ..dialects.speaker import Speaker
from .admin import ADMIN_PREFIX_ROUTES, ADMIN_ROUTES
from .context import Context, Handler

__all__ = ["Admin", "RouteTable", "Served", "route_table"]

_SLASHES = re.compile("/{2,}")


async def index(request: web.BaseRequest, ctx: Context) -> web.Response:
    return web.Response(
        text="<!DOCTYPE html><title>FakeGpt emulator</title><p>FakeGpt upstream emulator. "
        '<a href="/_emulator/ui">The inspector</a> shows what it sent.</p>',
        content_type="text/html",
    )


@dataclass(frozen=True, slots=True)
class Served:
    """A dialect's route on one server: the route, its dialect, and for a conversation
    the speaker this server made for it."""

    route: Route
    dialect: Dialect
    speaker: Speaker[Any, Any, Any] | None = None
    #: For a WebSocket's route, the talker this server made for it.
    talker: Talker[Any] | None = None
    #: For a JSON-RPC route (MCP), the server this server made for it.
    server: RpcServer[Any] | None = None


@dataclass(frozen=True, slots=True)
class Admin:
    """One of the emulator's own routes (the admin API, the index page)."""

    handler: Handler


Entry = Served | Admin


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Every route of one server, by path and method."""

    routes: Mapping[str, Mapping[str, Entry]]
    #: Routes for every path under a prefix (a model in the path; the admin API's
    #: /journal/{id}).
    prefixes: Mapping[str, Mapping[str, Entry]]
    #: The upstream's paths (the ones CORS applies to), and prefixes of such paths.
    upstream: frozenset[str]
    upstream_prefixes: tuple[str, ...] = ()
    #: Routes whose path names parts of it (``/openai/deployments/{deployment}/…``): the
    #: pattern, the path as written, and what answers it; tried after the plain paths and
    #: before the prefixes.
    templates: tuple[tuple[re.Pattern[str], str, Mapping[str, Entry]], ...] = ()

    def is_upstream(self, path: str) -> bool:
        if path in self.upstream or path.startswith(self.upstream_prefixes):
            return True
        return any(p.match(path) and _any_upstream(m) for p, _, m in self.templates)

    def label(self, path: str) -> str:
        """What the metrics count ``path`` as: itself, the template or the prefix it is
        under (a model in a path would make a label per model), or ``(no route)``."""
        if path in self.routes:
            return path
        found = next((t for p, t, _ in self.templates if p.match(path)), None)
        if found is None:
            found = next((p + "*" for p in self.prefixes if path.startswith(p)), None)
        if found is None and "//" in path:
            return self.label(_SLASHES.sub("/", path))
        return found or "(no route)"

    def _methods(self, path: str) -> Mapping[str, Entry] | None:
        """What answers each method on ``path`` (None: no route)."""
        found = self._found(path)
        return None if found is None else found[0]

    def _found(self, path: str) -> tuple[Mapping[str, Entry], Mapping[str, str]] | None:
        """What answers each method on ``path``, and what a template's path names in it
        (None: no route). A path with runs of slashes is looked up with each run as one
        (a client that joins a base URL ending in "/" to an absolute path: @google/genai's
        Live client dials ``//ws/…``)."""
        methods = self.routes.get(path)
        if methods is not None:
            return methods, {}
        for pattern, _, templated in self.templates:
            matched = pattern.match(path)
            if matched is not None:
                return templated, matched.groupdict()
        methods = next((m for p, m in self.prefixes.items() if path.startswith(p)), None)
        if methods is not None:
            return methods, {}
        if "//" in path:
            return self._found(_SLASHES.sub("/", path))
        return None

    def errors_of(self, path: str) -> Errors | None:
        """How errors look on ``path``: its dialect's (None: not an API's route)."""
        methods = self._methods(path) or {}
        served = next((e for e in methods.values() if isinstance(e, Served)), None)
        return None if served is None else served.dialect.errors

    def route_of(self, request: web.BaseRequest) -> tuple[Entry, Mapping[str, str]]:
        """What answers ``request``, and what its route's template names in its path."""
        found = self._found(request.path)
        if found is None:
            raise web.HTTPNotFound()
        methods, params = found
        route = methods.get(request.method)
        if route is None and request.method == "HEAD":
            route = methods.get("GET")
        if route is None:
            allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
            raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
        return route, params


def _served(
    dialect: Dialect, routes: Mapping[str, Mapping[str, Route]]
) -> dict[str, Mapping[str, Entry]]:
    return {
        path: {
            method: Served(
                route,
                dialect,
                route.speaker() if isinstance(route, Conversation) else None,
                route.talker() if isinstance(route, Session) else None,
                route.server() if isinstance(route, Rpc) else None,
            )
            for method, route in methods.items()
        }
        for path, methods in routes.items()
    }


def route_table() -> RouteTable:
    """The routes of every dialect registered now, the admin API's and the index page."""
    routes: dict[str, Mapping[str, Entry]] = {}
    prefixes: dict[str, Mapping[str, Entry]] = {}
    templates: list[tuple[re.Pattern[str], str, Mapping[str, Entry]]] = []
    for dialect in DIALECTS.values():
        for path, served in _served(dialect, dialect.routes).items():
            pattern = path_pattern(path)
            if pattern is None:
                routes[path] = served
            else:
                templates.append((pattern, path, served))
        prefixes.update(_served(dialect, dialect.prefixes))
    upstream = frozenset(p for p, m in routes.items() if _any_upstream(m))
    upstream_prefixes = tuple(p for p, m in prefixes.items() if _any_upstream(m))
    routes["/"] = {"GET": Admin(index)}
    for path, methods in ADMIN_ROUTES.items():
        routes[path] = {method: Admin(handler) for method, handler in methods.items()}
    for prefix, methods in ADMIN_PREFIX_ROUTES.items():
        prefixes[prefix] = {method: Admin(handler) for method, handler in methods.items()}
    return RouteTable(routes, prefixes, upstream, upstream_prefixes, tuple(templates))


def _any_upstream(methods: Mapping[str, Entry]) -> bool:
    return any(_upstream(e) for e in methods.values())


def _upstream(entry: Entry) -> bool:
    """Whether a route is one of an API's calls (CORS applies to it)."""
    return isinstance(entry, Served) and not isinstance(entry.route, Plain)
