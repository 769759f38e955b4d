"""The emulator's one aiohttp handler: the four upstream endpoints, validation, the journal.

:func:`make_server` serves it on aiohttp's low-level server (what every way of
running the emulator uses); :func:`make_app` wraps it in an application.

Handlers validate the request, pick a scenario (:mod:`emulator.state`), plan
the answer (:mod:`emulator.script`) and play the planned steps onto the
socket. Playing is the only place that sleeps, and it sleeps through
:class:`Clock`, so ``speed=0`` never waits for pacing.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.policy
import hashlib
import hmac
import ipaddress
import json
import json.scanner
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from typing import Any, Final, NamedTuple

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .auth import Identity, Signer, user_id_for
from .protocol import CDN_CHALLENGE_HTML, DEFAULT_MODEL, error_body, loads_body, session_body
from .scenario import Endpoint, HttpError, Scenario, ScenarioError
from .script import (
    CACHE_TEXT_CHARS,
    COALESCE_BYTES,
    Drop,
    Hold,
    PlanError,
    Step,
    StreamContext,
    Wait,
    Write,
    plan,
    prepare,
    reply_text,
)
from .state import LIMITS, SCENARIO_HEADER, Call, EmulatorState, Limits, RuleTimeoutError

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

__all__ = [
    "ADMIN_PREFIX",
    "STATE_KEY",
    "Clock",
    "EmulatorConfig",
    "EmulatorHandler",
    "current_config",
    "current_state",
    "make_app",
    "make_server",
]

log = logging.getLogger("emulator")
access_log = logging.getLogger("emulator.access")

ADMIN_PREFIX: Final = "/_emulator"
STATE_KEY: Final = web.AppKey("emulator_state", EmulatorState)
CONFIG_KEY: Final[web.AppKey[EmulatorConfig]] = web.AppKey("emulator_config")
SIGNER_KEY: Final = web.AppKey("emulator_signer", Signer)


class _Current(NamedTuple):
    """The request being handled: its journal entry and the app's parts, looked up once."""

    call: Call
    state: EmulatorState
    config: EmulatorConfig
    signer: Signer


# Each request runs in its own task, so a context variable is per request.
_CURRENT: Final[contextvars.ContextVar[_Current]] = contextvars.ContextVar("emulator_request")
_ACTIONS: Final = frozenset({"next", "variant", "continue"})


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How one emulator behaves apart from its scenarios."""

    speed: float = 1.0  # time scale of scenario pacing: 1 real time, 0 no waiting
    seed: int = 0
    secret: bytes | None = None  # None: random per process
    token_ttl: float = 3600.0
    accounts: int = 8
    max_body: int = 1024 * 1024
    max_prompt: int = 100_000  # UTF-8 bytes; longer: 413 message_length_exceeds_limit
    #: A reply stream estimated larger than this is refused with a 400.
    max_stream_bytes: int = 256 * 1024 * 1024
    #: A connection that has not sent a whole request head within this many
    #: seconds (after connecting, or after its last answer) is closed.
    header_timeout: float = 15.0
    admin_token: str | None = None
    limits: Limits = field(default=LIMITS)

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ValueError(f"speed must be 0 or more, got {self.speed}")
        if self.header_timeout <= 0:
            raise ValueError(f"header_timeout must be positive, got {self.header_timeout}")
        if self.max_stream_bytes <= 0:
            raise ValueError(f"max_stream_bytes must be positive, got {self.max_stream_bytes}")
        if self.token_ttl <= 0:
            raise ValueError(f"token_ttl must be positive, got {self.token_ttl}")
        if self.accounts < 0:
            raise ValueError(f"accounts must be 0 or more, got {self.accounts}")


class Clock:
    """Time for the player: scaled waits follow ``speed``, fault waits do not."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def seconds(self, wait: Wait) -> float:
        return wait.seconds * self.speed if wait.scaled else wait.seconds


class BadRequest(Exception):
    """Answer ``status`` with ``{"detail": detail}``."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


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
    """The whole emulator as one low-level aiohttp handler: ``await handler(request)``.

    It records the call in the journal, enforces the body limit, routes the
    request and answers every error as JSON ``{"detail": ...}``.
    """

    def __init__(self, config: EmulatorConfig, state: EmulatorState) -> None:
        self.config = config
        self.state = state
        self.signer = Signer(config.secret, config.token_ttl)

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

    app = web.Application(client_max_size=config.max_body, middlewares=[emulator])
    app[STATE_KEY] = state
    app[CONFIG_KEY] = config
    app[SIGNER_KEY] = serve_request.signer
    return app


def _routes() -> dict[str, dict[str, Handler]]:
    from .admin import admin_routes

    return {
        "/api/loads": {"GET": _loads},
        "/auth/login": {"POST": _login},
        "/api/auth/session": {"GET": _session},
        "/api/conversation": {"POST": _conversation},
        "/": {"GET": _index},
        **admin_routes(),
    }


_ROUTE_TABLE: dict[str, dict[str, Handler]] = {}


def _route(request: web.BaseRequest) -> Handler:
    if not _ROUTE_TABLE:
        _ROUTE_TABLE.update(_routes())
    methods = _ROUTE_TABLE.get(request.path)
    if methods is None:
        raise web.HTTPNotFound()
    handler = methods.get(request.method)
    if handler is None and request.method == "HEAD":
        handler = methods.get("GET")
    if handler is None:
        allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    return handler


# -- every request ------------------------------------------------------------------


async def _handle(request: web.BaseRequest, emulator: EmulatorHandler) -> web.StreamResponse:
    state = emulator.state
    config = emulator.config
    started = time.perf_counter()
    is_admin = request.path.startswith(ADMIN_PREFIX)
    call = Call(
        method=request.method,
        path=request.path,
        query=dict(request.query) if "?" in request.raw_path else {},
        headers=request.headers,  # an immutable, case-insensitive view: kept, not copied
        body=b"",
    )
    _CURRENT.set(_Current(call, state, config, emulator.signer))
    if not is_admin:
        state.record(call)
    try:
        limit = config.max_body
        length = request.content_length
        if length is not None and length > limit:
            raise _too_large(limit)  # refused on the declared length: not one byte is read
        try:
            body = await request.read()  # kept by the request: handlers read it again for free
        except web.HTTPRequestEntityTooLarge:
            # aiohttp stops reading at client_max_size: the body is never held whole.
            raise _too_large(limit) from None
        state.keep_body(call, body)
        response = await _route(request)(request)
    except BadRequest as exc:
        response = _error_response(exc.status, exc.detail, exc.headers)
    except web.HTTPException as exc:
        response = _http_exception_response(request, exc)
    except ConnectionError:
        # The client left (e.g. mid-body): nobody to answer, nothing to log
        # as an error; the journal keeps the note.
        call.detail = "the client went away"
        response = web.Response(status=400)
    except asyncio.CancelledError:
        # Handlers are cancelled only when the server stops.
        call.detail = "stopped by shutdown"
        call.duration = time.perf_counter() - started
        if not is_admin:
            _log_access(request, call, "stopped by shutdown")
        raise
    except Exception as exc:
        log.exception("handler error on %s %s", request.method, request.path)
        state.add_problem(f"{request.method} {request.path}: {type(exc).__name__}: {exc}")
        response = _error_response(500, f"emulator error: {type(exc).__name__}: {exc}")
    finally:
        call.duration = time.perf_counter() - started
    call.status = response.status
    if call.bytes_sent == 0 and isinstance(response, web.Response) and response.body is not None:
        call.bytes_sent = len(response.body) if isinstance(response.body, bytes) else 0
    if not is_admin and access_log.isEnabledFor(logging.INFO):
        _log_access(request, call, str(response.status))
    return response


def _log_access(request: web.BaseRequest, call: Call, outcome: str) -> None:
    access_log.info(
        "%s %s %s scenario=%s bytes=%d %.1fms",
        request.method,
        request.path_qs,
        outcome,
        call.scenario or "-",
        call.bytes_sent,
        (call.duration or 0.0) * 1000,
    )


def current_state() -> EmulatorState:
    """The state of the emulator handling the current request (for route handlers)."""
    return _CURRENT.get().state


def current_config() -> EmulatorConfig:
    """The configuration of the emulator handling the current request."""
    return _CURRENT.get().config


def _too_large(limit: int) -> BadRequest:
    return BadRequest(413, f"request body is larger than {limit:,} bytes")


def _http_exception_response(request: web.BaseRequest, exc: web.HTTPException) -> web.Response:
    detail: Any = exc.reason
    if exc.status == 404:
        detail = f"Not Found: no route for {request.method} {request.path}"
    elif exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        detail = (
            f"Method Not Allowed: {request.method} {request.path} (allowed: {', '.join(allowed)})"
        )
    if exc.status in (404, 405):
        _CURRENT.get().state.add_unmatched(f"{request.method} {request.path}")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return _error_response(exc.status, detail, headers)


def _error_response(
    status: int, detail: Any, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=error_body(status, detail),
        content_type="application/json",
        headers=headers,
    )


# -- shared pieces ----------------------------------------------------------------


def _select(request: web.BaseRequest, endpoint: Endpoint, prompt: str | None = None) -> Scenario:
    current = _CURRENT.get()
    try:
        scenario = current.state.select(endpoint, request.headers.get(SCENARIO_HEADER), prompt)
    except ScenarioError as exc:
        raise BadRequest(400, f"cannot choose a scenario: {exc.problem}") from exc
    except RuleTimeoutError as exc:
        current.state.add_problem(str(exc))
        raise BadRequest(400, f"cannot choose a scenario: {exc}") from exc
    current.call.scenario = scenario.name
    return scenario


def _injected_error(scenario: Scenario, endpoint: Endpoint) -> web.Response | None:
    """Count this call; the HTTP error the scenario asks for on it, if any."""
    current = _CURRENT.get()
    n = current.state.next_call(scenario, endpoint)
    current.call.number = n
    for error in scenario.http_errors:
        if error.endpoint == endpoint and error.on_call in (0, n):
            return _scripted_error(error)
    return None


def _scripted_error(error: HttpError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if error.body == "html":
        return web.Response(
            status=error.status, text=CDN_CHALLENGE_HTML, content_type="text/html", headers=headers
        )
    if error.body == "empty":
        return web.Response(status=error.status, body=b"", headers=headers)
    detail = error.detail if (error.body == "text" or error.detail) else None
    return web.Response(
        status=error.status,
        body=error_body(error.status, detail),
        content_type="application/json",
        headers=headers,
    )


def _accounts(scenario: Scenario | None = None) -> list[str]:
    config = _CURRENT.get().config
    count = config.accounts if scenario is None or scenario.accounts is None else scenario.accounts
    return [
        hashlib.md5(f"{config.seed}:{i}".encode(), usedforsecurity=False).hexdigest()
        for i in range(count)
    ]


def _json_response(obj: Any, **kwargs: Any) -> web.Response:
    return web.Response(body=json.dumps(obj).encode(), content_type="application/json", **kwargs)


# -- the four endpoints -------------------------------------------------------------


async def _index(request: web.BaseRequest) -> web.Response:
    return web.Response(
        text="<!DOCTYPE html><title>FakeGpt emulator</title><p>FakeGpt upstream emulator.</p>",
        content_type="text/html",
    )


async def _loads(request: web.BaseRequest) -> web.Response:
    t = request.query.get("t")
    if t is not None and not t.lstrip("-").isdigit():
        raise BadRequest(
            400, f"query parameter 't' must be an integer (a cache-buster), got {t!r}"
        )
    scenario = _select(request, "loads")
    injected = _injected_error(scenario, "loads")
    if injected is not None:
        return injected
    current = _CURRENT.get()
    # Counts change from call to call, reproducibly for a given seed.
    rng = random.Random(current.config.seed * 1_000_003 + current.call.number)
    ids = _accounts(scenario)
    return _json_response(loads_body([(token_id, rng.randint(0, 120)) for token_id in ids]))


async def _login(request: web.BaseRequest) -> web.Response:
    ctype = request.content_type
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(
            415,
            f"Content-Type must be application/x-www-form-urlencoded (got {ctype or 'none'})",
        )
    try:
        form: Mapping[str, Any] = (
            _multipart_form(request.headers.get("Content-Type", ""), await request.read())
            if ctype == "multipart/form-data"
            else await request.post()
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the form body cannot be read: {exc}") from exc
    token_key = _form_text(form, "token_key")
    password = _form_text(form, "session_password")
    scenario = _select(request, "login")
    injected = _injected_error(scenario, "login")
    if injected is not None:
        return injected
    if token_key not in _accounts():
        raise BadRequest(
            400, f"Invalid token_key {token_key[:64]!r}: GET /api/loads lists the valid ones"
        )
    signer = _CURRENT.get().signer
    user = user_id_for(signer.secret, token_key, password)
    credential, _ = signer.issue("credential", token_key, user)
    response = _json_response({"code": 0, "url": "/"})
    if not scenario.login_cookie:
        return response
    response.set_cookie(
        "credential",
        credential,
        path="/",
        httponly=True,
        samesite="Lax",
        max_age=math.ceil(signer.ttl),
    )
    return response


class _FormFile:
    """A multipart part that is a file, not a text field."""


def _multipart_form(content_type: str, body: bytes) -> dict[str, Any]:
    """The fields of a ``multipart/form-data`` body (already read whole for the journal).

    aiohttp's own reader wants the body unread; the standard library's MIME
    parser takes the bytes instead.
    """
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body (is the boundary right?)")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if part.get_filename() is not None:
            fields.setdefault(name, _FormFile())
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields.setdefault(name, raw.decode(part.get_content_charset() or "utf-8"))
    return fields


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    if value is None:
        raise BadRequest(400, f"form field '{name}' is required")
    if not isinstance(value, str):
        raise BadRequest(400, f"form field '{name}' must be text, not a file")
    return value


async def _session(request: web.BaseRequest) -> web.Response:
    scenario = _select(request, "session")
    injected = _injected_error(scenario, "session")
    if injected is not None:
        return injected
    signer = _CURRENT.get().signer
    identity = signer.verify("credential", request.cookies.get("credential", ""))
    if identity is None:
        return _json_response({})  # the NextAuth convention for "not signed in"
    token, expires = signer.issue("access", identity.account, identity.user)
    return _json_response(
        session_body(
            user_id=identity.user,
            name=identity.user.removeprefix("user-")[:8],
            email=f"{identity.user.removeprefix('user-')[:8]}@emulator.invalid",
            expires=datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            token=token,
        )
    )


class _ConversationRequest(NamedTuple):
    prompt: str
    parent_id: str
    model: str
    conversation_id: str | None


async def _conversation(request: web.BaseRequest) -> web.StreamResponse:
    current = _CURRENT.get()
    config = current.config
    # The usual header read as it is: parsing it (request.content_type) costs
    # more than the rest of the validation.
    ctype = request.headers.get("Content-Type")
    parsed = _parse_conversation(
        await request.read(),
        "application/json" if ctype == "application/json" else request.content_type,
    )
    # Authorised before anything costly (prompt rules, planning) runs.
    identity = _authorize(request)
    if _too_long(parsed.prompt, config.max_prompt):
        raise BadRequest(413, None)  # the upstream's message_length_exceeds_limit
    scenario = _select(request, "conversation", parsed.prompt)
    injected = _injected_error(scenario, "conversation")
    if injected is not None:
        return injected
    conversation_id = _conversation_id(current.signer, identity, parsed)
    ctx = StreamContext(
        prompt=parsed.prompt,
        message_id=_random_uuid4(),
        conversation_id=conversation_id,
        parent_id=parsed.parent_id,
        create_time=time.time(),
        model=parsed.model or DEFAULT_MODEL,
        moderation_id=f"modr-{_IDS.getrandbits(96):024x}",
    )
    try:
        prepared = None
        if scenario.wire.body == "stream":
            text = reply_text(scenario.reply, parsed.prompt)
            if len(text) > CACHE_TEXT_CHARS:
                # Cutting and escaping a long text takes a while: in a worker
                # thread, so the loop keeps serving everyone else meanwhile.
                prepared = await asyncio.to_thread(prepare, scenario, text)
        steps = plan(scenario, ctx, max_bytes=config.max_stream_bytes, prepared=prepared)
    except PlanError as exc:
        raise BadRequest(400, str(exc)) from exc
    return await _play(request, steps, Clock(config.speed))


def _too_long(prompt: str, limit: int) -> bool:
    """Whether the prompt takes more than ``limit`` bytes in UTF-8 (encoded only if it may)."""
    n = len(prompt)
    if n > limit:
        return True
    if n * 4 <= limit:  # no character takes more than 4 bytes
        return False
    return len(prompt.encode("utf-8", "surrogatepass")) > limit


def _authorize(request: web.BaseRequest) -> Identity:
    header = request.headers.get("X-Authorization") or request.headers.get("Authorization")
    if not header:
        raise BadRequest(
            401, "Unauthorized: send the access token as 'X-Authorization: Bearer <accessToken>'"
        )
    scheme, _, token = header.partition(" ")
    identity = (
        _CURRENT.get().signer.verify("access", token.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if identity is None:
        raise BadRequest(401, None)  # the upstream's token_expired
    return identity


def _conversation_id(signer: Signer, identity: Identity, parsed: _ConversationRequest) -> str:
    """A conversation id that names its owner: a nonce and a MAC of (user, nonce).

    An id sent back by another user (another session password) fails the MAC
    and is answered as not found, without any state on the server.
    """
    if parsed.conversation_id is not None:
        try:
            raw = uuid.UUID(parsed.conversation_id).bytes
        except ValueError:
            raise BadRequest(400, "conversation_id must be a UUID") from None
        mac = signer.tag(identity.user.encode() + raw[:8])
        if not hmac.compare_digest(mac, raw[8:]):
            raise BadRequest(404, "Conversation not found")
        return parsed.conversation_id
    nonce = _IDS.getrandbits(64).to_bytes(8, "big")
    mac = signer.tag(identity.user.encode() + nonce)
    return _uuid_text((nonce + mac).hex())


# Ids need to be unique, not secret (a MAC is what a forger lacks): a Mersenne
# Twister of our own, so no system call, and tests that seed the global
# random module (hypothesis does) cannot make ids repeat.
_IDS: Final = random.Random()
#: The version and variant bits of a random UUID (RFC 9562, version 4).
_UUID4_BITS: Final = (0x4 << 76) | (0b10 << 62)
_UUID4_MASK: Final = ~((0xF << 76) | (0b11 << 62)) & ((1 << 128) - 1)


def _random_uuid4() -> str:
    """A random version 4 UUID in canonical form, without a system call."""
    return _uuid_text(f"{(_IDS.getrandbits(128) & _UUID4_MASK) | _UUID4_BITS:032x}")


def _uuid_text(h: str) -> str:
    """32 hex digits in the canonical UUID form."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _parse_conversation(body: bytes, content_type: str) -> _ConversationRequest:
    if content_type != "application/json":
        raise BadRequest(
            415, f"Content-Type must be application/json (got {content_type or 'none'})"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = _json_loads(text)
    except RecursionError:
        raise BadRequest(400, "the body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, f"the body must be a JSON object, got {_json_kind(obj)}")
    action = _field(obj, "action", str, "a string")
    if action not in _ACTIONS:
        raise BadRequest(400, f"action must be one of {sorted(_ACTIONS)}, got {action[:40]!r}")
    messages = _field(obj, "messages", list, "a list of messages")
    if not messages:
        raise BadRequest(400, "messages must not be empty")
    texts = [_message_text(i, m) for i, m in enumerate(messages)]
    parent = _field(obj, "parent_message_id", str, "a string (a UUID)")
    model = obj.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise BadRequest(400, f"model must be a string, got {_json_kind(model)}")
    conversation_id = obj.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise BadRequest(
            400, f"conversation_id must be a string, got {_json_kind(conversation_id)}"
        )
    return _ConversationRequest(texts[-1], parent, model, conversation_id)


_SCAN: Final = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _json_loads(text: str) -> Any:
    """``json.loads(text)``, faster for the usual body: json's C scanner, called directly.

    Anything the scanner does not take whole (leading whitespace, extra data,
    invalid JSON) goes to ``json.loads``, which accepts it or raises its own
    error.
    """
    try:
        obj, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return json.loads(text)
    return obj


def _field(obj: dict[str, Any], name: str, kind: type, what: str) -> Any:
    if name not in obj:
        raise BadRequest(400, f"{name} is required ({what})")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(400, f"{name} must be {what}, got {_json_kind(value)}")
    return value


def _message_text(index: int, message: Any) -> str:
    if not isinstance(message, dict):
        raise BadRequest(400, f"messages[{index}] must be an object, got {_json_kind(message)}")
    author = message.get("author")
    if not isinstance(author, dict) or not isinstance(author.get("role"), str):
        raise BadRequest(400, f"messages[{index}].author.role is required (a string)")
    content = message.get("content")
    if not isinstance(content, dict):
        raise BadRequest(400, f"messages[{index}].content must be an object with 'parts'")
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise BadRequest(400, f"messages[{index}].content.parts must be a list of strings")
    try:
        return "\n".join(parts)  # raises TypeError for a part that is not a string
    except TypeError:
        raise BadRequest(
            400, f"messages[{index}].content.parts must be a list of strings"
        ) from None


def _json_kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    return names.get(type(value), "a number")


# -- playing ------------------------------------------------------------------------


async def _play(
    request: web.BaseRequest, steps: Iterator[Step], clock: Clock
) -> web.StreamResponse:
    call = _CURRENT.get().call
    response = web.StreamResponse(status=200, headers=_STREAM_HEADERS)
    await response.prepare(request)
    call.status = 200
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    pending: list[bytes] = []
    size = 0
    unyielded = 0  # bytes written since this task last let others run
    count = 0
    try:
        for step in steps:
            count += 1
            if not count & _YIELD_STEPS:
                await asyncio.sleep(0)  # a long run of steps that write nothing
            if isinstance(step, Write):
                # Writes with no real wait between them go out together.
                pending.append(step.data)
                size += len(step.data)
                if size < COALESCE_BYTES:
                    continue
            elif isinstance(step, Wait):
                seconds = clock.seconds(step)
                if seconds <= 0 and step.scaled:
                    continue
            if pending:
                unyielded += await _flush(response, call, pending)
                pending, size = [], 0
                if unyielded >= _YIELD_BYTES:
                    # A fast reader never makes a write wait, so the loop
                    # would serve this stream alone until it ends.
                    await asyncio.sleep(0)
                    unyielded = 0
            if isinstance(step, Wait):
                # Absolute deadlines: pacing does not drift with write time.
                deadline = max(deadline, loop.time() - 0.5) + clock.seconds(step)
                unyielded = 0
                if not await _wait_connected(request, deadline):
                    call.detail = "the client went away"
                    return response
            elif isinstance(step, Drop):
                call.detail = "dropped by the scenario"
                if request.transport is not None:
                    request.transport.abort()
                return response
            elif isinstance(step, Hold):
                await _wait_connected(request, loop.time() + step.seconds)
        # The last bytes go out with the end of the body: one send, not two.
        last = b"".join(pending)
        call.bytes_sent += len(last)
        await response.write_eof(last)
    except ConnectionError:  # reset, or aiohttp's "Connection lost": the client left
        call.detail = "the client went away"
    return response


_STREAM_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
}


#: The player lets other tasks run after this many bytes written without a
#: pause, and after this many steps + 1 (a mask).
_YIELD_BYTES: Final = 256 * 1024
_YIELD_STEPS: Final = 4095


async def _flush(response: web.StreamResponse, call: Call, pending: list[bytes]) -> int:
    data = pending[0] if len(pending) == 1 else b"".join(pending)
    await response.write(data)
    call.bytes_sent += len(data)
    return len(data)


async def _wait_connected(request: web.BaseRequest, deadline: float) -> bool:
    """Sleep until ``deadline`` (loop time); False as soon as the client disconnects.

    A stalled or held stream stops at once when its client leaves, instead of
    sleeping on for a reader that is gone.
    """
    loop = asyncio.get_running_loop()
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        left = deadline - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))


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
