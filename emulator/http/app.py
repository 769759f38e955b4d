"""The emulator's HTTP face: the route table, the dispatcher, and the server builders.

:func:`make_server` serves it on aiohttp's low-level server (what every way
of running the emulator uses); :func:`make_app` wraps it in an application.
For every request the handler records the call, enforces the body limit and
reads the body, then hands it to its route: a dialect's route goes through
the one request lifecycle (:mod:`emulator.http.lifecycle`), an admin route to
its handler. An error outside a dialect's route is answered as JSON
``{"detail": ...}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..core.endings import Ending, Label
from ..core.signing import Signer
from ..dialects.dialect import Errors
from ..protocol.errors import BadRequest
from ..state.config import EmulatorConfig
from ..state.journal import Call, LimitError, bounded_head
from ..state.secrets import redacted_body, redacted_headers, redacted_query
from ..state.sessions import SESSION_HEADER, SESSION_PREFIX, split_session_path
from ..state.store import EmulatorState
from ..state.transcript import Transcript
from .context import ADMIN_PREFIX, Context, cors_headers, error_response, is_loopback
from .guard import check_admin_access, hostname
from .lifecycle import dispatch
from .routes import RouteTable, route_table

__all__ = ["EmulatorHandler", "make_app", "make_server"]

log = logging.getLogger("emulator")
access_log = logging.getLogger("emulator.access")
#: The label of an answer sent whole.
_BODY: Final = Label("body", "body")
#: How many accepted Host headers a server remembers (EmulatorHandler.addressed).
_ADDRESSED: Final = 64


class _MalformedHttpFilter(logging.Filter):
    """aiohttp's parser logs malformed HTTP framing as "Error handling request"
    with a traceback; for an emulator that is a bad request, not a crash: one
    INFO line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "malformed HTTP refused with %s: %s", (exc.code, exc.message)
            record.exc_info = record.exc_text = None
        return True


def _install_log_filter() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedHttpFilter) for f in logger.filters):
        logger.addFilter(_MalformedHttpFilter())


class EmulatorHandler:
    """The whole emulator as one low-level aiohttp handler: ``await handler(request)``."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState) -> None:
        self.config = config
        self.state = state
        self.signer = Signer(config.secret, config.token_ttl)
        #: The names requests may be addressed to, but for loopback ones (None: any, as a
        #: server bound to other machines is meant to be reached by any name).
        self.hosts: frozenset[str] | None = (
            frozenset((*config.allowed_hosts, config.host, "localhost", "127.0.0.1", "::1"))
            if is_loopback(config.host)
            else None
        )
        #: The routes of the dialects registered when the server was built.
        self.routes: RouteTable = route_table()
        #: Host headers already found to name the emulator (a client sends the same one
        #: each time): at most _ADDRESSED of them.
        self.addressed: set[str] = set()

    def __call__(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        return _handle(request, self)  # the coroutine itself: no extra frame a request


def make_server(config: EmulatorConfig, state: EmulatorState) -> web.Server:
    """The emulator as aiohttp's low-level server (serve it with ``web.ServerRunner``).

    What :func:`serving` runs: no application, router or middleware chain
    between the socket and the handler (about 16 us a request here).
    Call it with the serving loop running.
    """
    _install_log_filter()
    handler = EmulatorHandler(config, state)
    loop = asyncio.get_running_loop()

    def request_factory(
        message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        # The body limit is the request's: aiohttp stops reading past it.
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=config.max_body
        )

    # keepalive_timeout doubles as the header timeout: aiohttp closes a
    # connection whose next request head is not complete when it fires.
    return web.Server(
        handler,
        request_factory=request_factory,
        access_log=None,
        keepalive_timeout=config.header_timeout,
    )


def make_app(config: EmulatorConfig, state: EmulatorState) -> web.Application:
    """The emulator as an aiohttp application, for runners and tools that take one.

    It answers every path itself, so serve it at the root, not as a sub-app.
    """
    _install_log_filter()
    serve_request = EmulatorHandler(config, state)

    # A middleware rather than a route: it also sees requests no route can
    # match ("OPTIONS *", "CONNECT host:443"), which aiohttp would answer
    # with its own plain-text 404. It never calls the router's handler.
    @web.middleware
    async def emulator(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await serve_request(request)

    return web.Application(client_max_size=config.max_body, middlewares=[emulator])


# -- every request ------------------------------------------------------------------


async def _handle(request: web.BaseRequest, emulator: EmulatorHandler) -> web.StreamResponse:
    config = emulator.config
    clock = config.clock
    started = clock.time()
    refused: BadRequest | None = None
    try:
        request, state = _session_of(request, emulator)
    except BadRequest as exc:
        refused, state = exc, emulator.state
    is_admin = request.path.startswith(ADMIN_PREFIX)
    call = Call(
        method=request.method,
        path=request.path,
        query=_query(request, config.journal_secrets),
        # An immutable, case-insensitive view, kept, not copied, when it carries no
        # credential; else a copy with a marker in place of each (state.secrets).
        headers=bounded_head(
            request.headers if config.journal_secrets else redacted_headers(request.headers),
            config.limits.head_bytes,
        ),
        body=b"",
        arrived=started,
        started=clock.wall(),
    )
    cors = (
        cors_headers(config.cors, request.headers.get("Origin"))
        if config.cors and emulator.routes.is_upstream(request.path)
        else {}
    )
    ctx = Context(call, state, config, emulator.signer, cors=cors)
    if not is_admin:
        limits = config.limits
        call.transcript = Transcript(
            keep_bytes=limits.transcript_bytes,
            keep_writes=limits.transcript_writes,
            capture=config.capture_bytes,
        )
        state.record(call)
    try:
        if refused is not None:
            raise refused
        limit = config.max_body
        length = request.content_length
        if length is not None and length > limit:
            raise _too_large(limit)  # refused on the declared length: not one byte is read
        try:
            body = await _body(request, config.limits.body_seconds)
        except web.HTTPRequestEntityTooLarge:
            # aiohttp stops reading at client_max_size: the body is never held whole.
            raise _too_large(limit) from None
        state.keep_body(call, body, redact=not config.journal_secrets)
        response = await dispatch(request, ctx, emulator.routes, body)
    except BadRequest as exc:
        response = _refused(emulator.routes.errors_of(request.path), exc)
        if exc.status == 408:
            response.force_close()  # the rest of the body may still be on its way
    except web.HTTPException as exc:
        response = _http_exception_response(request, exc, state)
    except ConnectionError:
        # The client left (e.g. mid-body): nobody to answer, nothing to log
        # as an error; the journal keeps the note.
        call.detail = "the client went away"
        response = web.Response(status=400)
    except asyncio.CancelledError:
        # Handlers are cancelled only when the server stops.
        call.detail = "stopped by shutdown"
        call.ending = Ending("shutdown", call.bytes_sent)
        call.duration = clock.time() - started
        if not is_admin:
            _log_access(request, call, _outcome(call))
        raise
    except Exception as exc:
        log.exception("handler error on %s %s", request.method, request.path)
        state.add_problem(f"{request.method} {request.path}: {type(exc).__name__}: {exc}")
        failed = BadRequest(500, f"emulator error: {type(exc).__name__}: {exc}")
        response = _refused(emulator.routes.errors_of(request.path), failed)
    finally:
        call.duration = clock.time() - started
    call.status = response.status
    if cors and not response.prepared:
        response.headers.update(cors)
    answered = response.body if isinstance(response, web.Response) else None
    if call.bytes_sent == 0 and isinstance(answered, bytes):
        call.bytes_sent = len(answered)
    if not is_admin:
        _settle(call, response, answered, state, emulator.routes, config.journal_secrets)
        if access_log.isEnabledFor(logging.INFO):
            _log_access(request, call, _outcome(call))
    return response


def _session_of(
    request: web.BaseRequest, emulator: EmulatorHandler
) -> tuple[web.BaseRequest, EmulatorState]:
    """The request as its session sees it (no ``/_session/ID`` prefix), and that session.

    A request the server refuses (addressed to a name that is not the emulator's, or an
    admin request from outside) is refused first: it creates no session.
    """
    root = emulator.state
    header = request.headers.get(SESSION_HEADER)
    raw = request.raw_path
    if header is None and not raw.startswith(SESSION_PREFIX):
        if not raw.startswith(ADMIN_PREFIX):  # the admin API's guard has rules of its own
            _addressed(request, emulator)
        return request, root  # the usual case
    try:
        named, rest = split_session_path(raw)
    except ValueError as exc:
        raise BadRequest(400, f"bad session: {exc}") from None
    if named is not None:
        if header is not None and header != named:
            raise BadRequest(
                400,
                f"bad session: the {SESSION_HEADER} header ({header[:64]!r}) and the URL "
                f"({named!r}) name different sessions",
            )
        request = request.clone(rel_url=rest)
    if request.path.startswith(ADMIN_PREFIX):
        check_admin_access(request, emulator.config.admin_token)
    else:
        _addressed(request, emulator)
    try:
        return request, root.session(named or header)
    except LimitError as exc:  # a ValueError too: first
        raise BadRequest(409, str(exc)) from None
    except ValueError as exc:
        raise BadRequest(400, f"bad session: {exc}") from None


def _addressed(request: web.BaseRequest, emulator: EmulatorHandler) -> None:
    """Refuse a request addressed to a name that is not the emulator's, on a server bound to
    loopback (as Jupyter does): a page whose name was rebound to 127.0.0.1 (DNS
    rebinding) gets nothing, and cannot open sessions."""
    hosts = emulator.hosts
    host = request.headers.get("Host")
    if hosts is None or host is None:
        return  # bound to other machines too, or HTTP/1.0: no name to check
    if host in emulator.addressed:
        return
    name = hostname(host)
    if name in hosts or is_loopback(name):
        if len(emulator.addressed) < _ADDRESSED:
            emulator.addressed.add(host)
        return
    raise BadRequest(
        403,
        f"the emulator answers requests addressed to a loopback name, not {host[:80]!r} (a "
        "page that rebinds its name to 127.0.0.1 must not reach it); --allowed-host NAME "
        "allows another",
    )


def _settle(
    call: Call,
    response: web.StreamResponse,
    body: object,
    state: EmulatorState,
    routes: RouteTable,
    secrets: bool = False,
) -> None:
    """Complete the call's transcript with what was answered (with a marker in place of an
    issued credential or token, unless ``secrets``), and count it in the journal."""
    transcript = call.transcript
    if transcript is None:
        return
    transcript.status = response.status
    headers = response.headers
    transcript.headers = dict(headers if secrets else redacted_headers(headers))
    if isinstance(body, bytes) and body:
        kept = body if secrets else redacted_body(body)
        transcript.wrote(0, (call.duration or 0.0) * 1000, kept, _BODY)
    transcript.ending = call.ending
    state.journal.settle(call)
    state.metrics.answered(
        routes.label(call.path),
        call.scenario,
        call.status,
        call.bytes_sent,
        call.ending,
        transcript.faults,
    )


def _outcome(call: Call) -> str:
    """The status, and for a stream how it really ended."""
    if call.ending is None or (not call.ending.early and call.status != 200):
        return str(call.status)
    return f"{call.status} {call.ending}"


async def _body(request: web.BaseRequest, seconds: float) -> bytes:
    """The request's body, whole (kept by the request: handlers read it again for free); a
    408 when it is not all there ``seconds`` after the head (one byte a second holds no
    handler)."""
    if not request.body_exists or request.content.is_eof():
        return await request.read()  # there already: no timer for the usual request
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise BadRequest(408, f"the request body was not all there {seconds:g} s after its "
                         "head") from None  # fmt: skip


def _query(request: web.BaseRequest, secrets: bool) -> dict[str, str]:
    """The request's query, as the journal keeps it."""
    if "?" not in request.raw_path:
        return {}
    return dict(request.query) if secrets else redacted_query(request.query)


def _log_access(request: web.BaseRequest, call: Call, outcome: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in call.query.items())
    access_log.info(
        "%s %s %s %sscenario=%s%s bytes=%d %.1fms",
        request.method,
        f"{request.path}?{query}" if query else request.path,
        outcome,
        f"session={call.session} " if call.session is not None else "",
        call.scenario or "-",
        f" chaos={call.chaos!r}" if call.chaos is not None else "",
        call.bytes_sent,
        (call.duration or 0.0) * 1000,
    )


def _refused(errors: Errors | None, exc: BadRequest) -> web.Response:
    """A refusal in the shape of the API whose route it is (its error body and headers),
    or the emulator's own ``{"detail": …}`` off the APIs' routes."""
    if exc.body is not None or errors is None:
        return error_response(exc.status, exc.detail, exc.headers, exc.body)
    headers = {**errors.headers(exc.status), **exc.headers}
    return error_response(exc.status, exc.detail, headers, errors.body(exc.status, exc.detail))


def _too_large(limit: int) -> BadRequest:
    return BadRequest(413, f"request body is larger than {limit:,} bytes")


def _http_exception_response(
    request: web.BaseRequest, exc: web.HTTPException, state: EmulatorState
) -> web.Response:
    detail: Any = exc.reason
    if exc.status == 404:
        detail = f"Not Found: no route for {request.method} {request.path}"
    elif exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        detail = (
            f"Method Not Allowed: {request.method} {request.path} (allowed: {', '.join(allowed)})"
        )
    if exc.status in (404, 405):
        state.add_unmatched(f"{request.method} {request.path}")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return error_response(exc.status, detail, headers)
