"""The emulator's route table (a constant): which handler answers which method on which path.

For the upstream's endpoints (a route with ``endpoint``) the dispatcher in
:mod:`emulator.http.app` reads and authorises the request, chooses the
scenario and injects its HTTP error before the answer runs; a route with
``errors`` answers every error in its API's own shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

from aiohttp import web

from ..scenario import Endpoint, HttpError
from . import anthropic_api, endpoints, openai_api
from .admin import ADMIN_PREFIX_ROUTES, ADMIN_ROUTES
from .endpoints import scripted_error
from .errors import Context, Handler

__all__ = ["PREFIX_ROUTES", "ROUTES", "UPSTREAM_PATHS", "Reader", "Route", "route_of"]

#: Validates (and authorises) a request: the prompt it carries, if any, and what it read.
Reader = Callable[[web.BaseRequest, Context], Awaitable[tuple[str | None, Any]]]


class Route(NamedTuple):
    """What answers one method on one path.

    For the upstream's endpoints (``endpoint`` set), the dispatcher runs
    ``read`` (validation, authorisation), chooses the scenario and injects
    its HTTP error before ``answer`` runs.
    """

    answer: Handler
    endpoint: Endpoint | None = None
    read: Reader | None = None
    #: The API's own error shape: (status, message) -> body, and a scenario's
    #: HTTP error as an answer (None: the FakeGpt upstream's).
    errors: Callable[[int, str], bytes] | None = None
    scripted: Callable[[HttpError], web.Response] = scripted_error


ROUTES: Final[Mapping[str, Mapping[str, Route]]] = {
    "/api/loads": {"GET": Route(endpoints.answer_loads, "loads", endpoints.read_loads)},
    "/auth/login": {"POST": Route(endpoints.answer_login, "login", endpoints.read_login)},
    "/api/auth/session": {"GET": Route(endpoints.answer_session, "session")},
    "/api/conversation": {
        "POST": Route(endpoints.answer_conversation, "conversation", endpoints.read_conversation)
    },
    "/v1/chat/completions": {
        "POST": Route(
            openai_api.answer_chat,
            "conversation",
            openai_api.read_chat,
            openai_api.chat_error,
            openai_api.scripted_chat_error,
        )
    },
    "/v1/responses": {
        "POST": Route(
            openai_api.answer_responses,
            "conversation",
            openai_api.read_responses,
            openai_api.chat_error,
            openai_api.scripted_chat_error,
        )
    },
    "/v1/models": {"GET": Route(openai_api.answer_models, errors=openai_api.chat_error)},
    "/v1/messages": {
        "POST": Route(
            anthropic_api.answer_messages,
            "conversation",
            anthropic_api.read_messages,
            anthropic_api.messages_error,
            anthropic_api.scripted_messages_error,
        )
    },
    "/": {"GET": Route(endpoints.index)},
    **{
        path: {method: Route(handler) for method, handler in methods.items()}
        for path, methods in ADMIN_ROUTES.items()
    },
}
#: The upstream's paths (the ones CORS applies to).
UPSTREAM_PATHS: Final = frozenset(
    p for p, m in ROUTES.items() if any(r.endpoint for r in m.values())
)
#: Routes for every path under a prefix (the admin API's /journal/{id}).
PREFIX_ROUTES: Final[Mapping[str, Mapping[str, Route]]] = {
    prefix: {method: Route(handler) for method, handler in methods.items()}
    for prefix, methods in ADMIN_PREFIX_ROUTES.items()
}


def route_of(request: web.BaseRequest) -> Route:
    path = request.path
    methods = ROUTES.get(path)
    if methods is None:
        methods = next((m for p, m in PREFIX_ROUTES.items() if path.startswith(p)), None)
    if methods is None:
        raise web.HTTPNotFound()
    route = methods.get(request.method)
    if route is None and request.method == "HEAD":
        route = methods.get("GET")
    if route is None:
        allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    return route
