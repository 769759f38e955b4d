"""THE lifecycle of a JSON-RPC dialect's requests: MCP's Streamable HTTP transport.

POST carries one message: the ``Origin`` checked (a foreign one is a 403, against DNS
rebinding), its media types and ``MCP-Protocol-Version`` checked, its session found by
``Mcp-Session-Id`` (``initialize`` opens one; any other request without one is a 400, with
one no longer open a 404), the scenario chosen for each request (its HTTP error answers
it: ``http_429_rate_limited`` refuses ``initialize``), then the dialect's
:class:`~emulator.dialects.rpc.RpcServer` says what it gets: a JSON answer, 202 for a
notification, or an event stream the scenario plays, whose events are kept so a GET with
``Last-Event-ID`` replays what followed that event, once. DELETE ends a session. A GET
without ``Last-Event-ID`` opens the session's own stream: the server's notifications that
belong to no request (a subscribed resource updated) go there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from ..dialects.rpc import Played, Replied, RpcServer
from ..engine.stream import format_of
from ..protocol.errors import BadRequest
from ..protocol.jsonrpc import RpcError, RpcMessage, error_response, read_message
from ..protocol.sse import SSEFormat
from ..protocol.steps import Step, Write
from ..scenario import ANSWER, Scenario
from .asking import applicable, choose, sent
from .context import Context
from .routes import Served
from .streams import streamed

__all__ = [
    "SESSION_HEADER",
    "VERSION_HEADER",
    "chosen",
    "exchange",
    "foreign",
    "refused",
    "unless_cancelled",
]

SESSION_HEADER: Final = "Mcp-Session-Id"
VERSION_HEADER: Final = "MCP-Protocol-Version"
#: The hosts of a page that may call the server (a browser on this machine).
_LOCAL: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_SSE: Final = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _json(message: Any, status: int = 200, session: str | None = None) -> web.Response:
    headers = {SESSION_HEADER: session} if session else {}
    return web.Response(body=json.dumps(message).encode(), status=status, headers=headers,
                        content_type="application/json")  # fmt: skip


def refused(status: int, message: str, code: int = -32600) -> web.Response:
    return _json(error_response(None, code, message), status)


def foreign(request: web.BaseRequest) -> bool:
    """Whether the request comes from a page of another origin (a DNS-rebinding attack's
    shape): an ``Origin`` whose host is neither this machine's nor the one it asked."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    host = urlsplit(origin).hostname
    return host is None or (host not in _LOCAL and host != request.url.host)


def chosen(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    server: RpcServer[Any],
    message: RpcMessage,
) -> tuple[Scenario | None, web.Response | None]:
    """The scenario for a request (None for a notification or a response), chosen by what
    it asks; and, when the scenario's HTTP error is on this call, the answer that refuses
    it (in the dialect's shape). Noted in the journal."""
    ctx.call.detail = message.method or f"response to {message.id!r}"
    if not message.request:
        return None, None
    scenario = choose(request, ctx, ANSWER, server.asked(message))
    number = ctx.call.number = ctx.state.next_call(scenario, ANSWER)
    ctx.call.served = scenario
    scripted = scenario.http_error(ANSWER, number)
    if scripted is None:
        return scenario, None
    return scenario, sent(served.dialect.errors.scripted(scripted))


def unless_cancelled(
    ctx: Context, steps: Iterator[Step], cancelled: Callable[[], bool]
) -> Iterator[Step]:
    """``steps`` until the client cancels the request they answer (looked at before each
    step: a slow tool's next second); then nothing more, the result never sent."""
    for step in steps:
        if cancelled():
            ctx.call.detail = "cancelled by the client (notifications/cancelled)"
            return
        yield step


async def exchange(
    request: web.BaseRequest, ctx: Context, served: Served, server: RpcServer[Any], body: bytes
) -> web.StreamResponse:
    """Answer one request on ``served``'s JSON-RPC route."""
    if foreign(request):
        return refused(403, "Forbidden: Origin not allowed (requests from other origins are "
                        "refused, against DNS rebinding)")  # fmt: skip
    version = request.headers.get(VERSION_HEADER)
    if version is not None and version not in server.versions:
        return refused(400, f"Bad Request: unsupported protocol version {version!r} "
                        f"(supported: {', '.join(server.versions)})")  # fmt: skip
    sessions = ctx.state.rpc
    named = request.headers.get(SESSION_HEADER)
    if request.method == "DELETE":
        if named is None:
            return refused(400, f"Bad Request: {SESSION_HEADER} header is required")
        return web.Response(status=204) if sessions.ended(named) else refused(
            404, "Session not found")  # fmt: skip
    if request.method == "GET":
        return await _resumed(request, ctx, named)
    return await _posted(request, ctx, served, server, body, named)


async def _resumed(
    request: web.BaseRequest, ctx: Context, named: str | None
) -> web.StreamResponse:
    last = request.headers.get("Last-Event-ID")
    if named is None:
        return refused(400, f"Bad Request: {SESSION_HEADER} header is required")
    sessions = ctx.state.rpc
    if sessions.state(named) is None:
        return refused(404, "Session not found")
    if last is None:
        return await _listening(request, ctx, named)
    ctx.call.rpc_session = named
    stream, _, _ = last.partition("-")
    found = sessions.resumed(named, last, int(stream)) if stream.isdigit() else None
    if found is None:
        return refused(404, f"No stream to resume after event {last!r} (each is replayed "
                        "once)")  # fmt: skip
    events, ready_at = found
    clock = ctx.config.clock
    if ready_at > clock.time():  # a slow tool's result is not there before its time
        await clock.sleep(min(ready_at - clock.time(), 3600.0))
    ctx.call.detail = f"resumed after event {last}: {len(events)} event(s) replayed"
    steps = iter([Write(data) for data in events])
    return await streamed(request, ctx, steps, None, headers={**_SSE, SESSION_HEADER: named})


async def _listening(request: web.BaseRequest, ctx: Context, named: str) -> web.StreamResponse:
    """GET without ``Last-Event-ID``: the session's own stream, open until the client leaves
    or the session ends, carrying the server's notifications (a keep-alive comment every
    :data:`KEEP_ALIVE` seconds)."""
    sessions = ctx.state.rpc
    queue = sessions.listen(named)
    assert queue is not None
    ctx.call.rpc_session, ctx.call.detail = named, "the session's own stream"
    response = web.StreamResponse(headers={**_SSE, SESSION_HEADER: named})
    await response.prepare(request)
    ctx.call.status = 200
    fmt = SSEFormat()
    quiet = 0.0
    try:
        while sessions.state(named) is not None:
            transport = request.transport
            if transport is None or transport.is_closing():
                break  # the client left
            try:
                notice = await asyncio.wait_for(queue.get(), _LOOK_EVERY)
            except TimeoutError:
                quiet += _LOOK_EVERY
                if quiet >= KEEP_ALIVE:
                    await response.write(fmt.comment(" keep-alive"))
                    quiet = 0.0
                continue
            data = fmt.event(json.dumps(notice, ensure_ascii=False), "message")
            await response.write(data)
            ctx.call.bytes_sent += len(data)
    except ConnectionError:
        pass  # the client left
    finally:
        sessions.unlisten(named, queue)
    return response


#: How often the session's own stream says it is alive, in seconds; and how often it looks
#: whether its client or its session is still there.
KEEP_ALIVE: Final = 15.0
_LOOK_EVERY: Final = 0.5


async def _posted(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    server: RpcServer[Any],
    body: bytes,
    named: str | None,
) -> web.StreamResponse:
    media = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        return refused(415, "Unsupported Media Type: Content-Type must be application/json")
    accept = request.headers.get("Accept", "")
    if "application/json" not in accept or "text/event-stream" not in accept:
        return refused(406, "Not Acceptable: Accept must name both application/json and "
                        "text/event-stream")  # fmt: skip
    try:
        message = read_message(body)
    except RpcError as exc:
        return _json(error_response(exc.id, exc.code, exc.message), 400)
    sessions = ctx.state.rpc
    session: Any = None
    if message.method != "initialize":
        if named is None:
            return refused(400, f"Bad Request: {SESSION_HEADER} header is required")
        session = sessions.state(named)
        if session is None:
            return refused(404, "Session not found")
    scenario, scripted = chosen(request, ctx, served, server, message)
    if scripted is not None:
        return scripted
    state, said = server.handle(session, message, scenario)
    if state is None:  # the session ended (it expired): the client must initialize again
        if named is not None:
            sessions.ended(named)
        return _json(said.message if isinstance(said, Replied) else {}, said.status
                     if isinstance(said, Replied) else 404)  # fmt: skip
    id_ = server.session_id(state)
    ctx.call.rpc_session = id_  # the journal groups a session's exchanges by it
    if named is None:
        sessions.opened(id_, state)
    else:
        sessions.update(id_, state)
    for notice in said.notices if isinstance(said, Replied) else ():
        sessions.notify(id_, notice)  # on the session's own stream
    if isinstance(said, Replied):
        if said.message is None:
            return web.Response(status=said.status, headers={SESSION_HEADER: id_})
        return _json(said.message, said.status, id_)
    return await _played(request, ctx, served, server, said, id_, scenario)


async def _played(
    request: web.BaseRequest,
    ctx: Context,
    served: Served,
    server: RpcServer[Any],
    played: Played,
    session: str,
    scenario: Any,
) -> web.StreamResponse:
    try:
        applicable(served.dialect, scenario)
    except BadRequest as exc:
        return _json(error_response(played.id, -32600, str(exc.detail)), exc.status, session)
    sessions = ctx.state.rpc
    stream = sessions.next_stream(session)
    answer = server.play(scenario, played, stream, format_of(scenario),
                         heard=lambda asked: server.heard(sessions.state(session), asked))  # fmt: skip
    if isinstance(answer, Replied):  # as one JSON body: nothing to resume
        return _json(answer.message, answer.status, session)
    clock = ctx.config.clock
    sessions.keep(session, stream, answer.events, clock.time() + answer.ready_after)
    steps = unless_cancelled(ctx, answer.steps,
                             lambda: server.cancelled(sessions.state(session), played.id))  # fmt: skip
    transport = scenario.transport if scenario.transport.applies(ANSWER) else None
    return await streamed(request, ctx, steps, transport,
                          headers={**_SSE, SESSION_HEADER: session})  # fmt: skip
