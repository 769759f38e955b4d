"""THE lifecycle of MCP's legacy HTTP+SSE transport (revision 2024-11-05), for older clients.

GET ``/sse`` opens the session's one event stream: its first event, ``endpoint``, names
where to POST (``/messages?session_id=…``); every answer then comes on that stream, each
played as it comes (a ``tools/call``'s with the scenario's faults: a drop ends the stream,
and with it the session, as nothing resumes here). POST ``/messages`` takes one message
(202 Accepted; its answer goes on the stream), the scenario chosen for each request (its
HTTP error answers the POST itself). The session ends with its stream.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from ..dialects.rpc import Replied, RpcServer
from ..dialects.speaker import STREAM_HEADERS
from ..engine.body import HttpBody
from ..engine.play import play_steps
from ..engine.sinks import KeptOpen
from ..engine.stream import format_of
from ..protocol.errors import BadRequest
from ..protocol.jsonrpc import RpcError, error_response, read_message
from ..protocol.sse import SSEFormat
from ..protocol.steps import Step, Write
from ..state.sessions import SESSION_HEADER, SESSION_PREFIX
from .asking import applicable
from .context import Context
from .exchange import chosen, foreign, refused, unless_cancelled
from .routes import Served

__all__ = ["listened", "posted"]

#: Answers that may wait on a session's stream; past it, a POST is refused (503).
_WAITING: Final = 256
#: With nothing to say this long, the stream says a comment (a keep-alive).
_QUIET_SECONDS: Final = 15.0
_PLAIN: Final = SSEFormat()


async def listened(
    request: web.BaseRequest, ctx: Context, served: Served, server: RpcServer[Any]
) -> web.StreamResponse:
    """GET /sse: the session's stream, open until the client leaves or a fault cuts it."""
    if foreign(request):
        return refused(403, "Forbidden: Origin not allowed")
    session = secrets.token_hex(16)
    answers: asyncio.Queue[Iterable[Step]] = asyncio.Queue(_WAITING)
    sessions = ctx.state.rpc
    sessions.opened(session, None, answers)
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    call, clock = ctx.call, ctx.config.clock
    call.status = 200
    call.detail = f"MCP session {session} (legacy SSE)"
    call.rpc_session = session
    sink = KeptOpen(HttpBody(request, response, None, call, clock,
                             ctx.config.limits.reader_seconds), call)  # fmt: skip
    # Where to POST, under the emulator session's path prefix when the URL named one.
    named = ctx.state.id
    prefix = f"{SESSION_PREFIX}{named}" if named and SESSION_HEADER not in request.headers else ""
    messages = prefix + request.path.removesuffix("sse") + f"messages?session_id={session}"
    try:
        steps: Iterable[Step] = (Write(_PLAIN.event(messages, "endpoint")),)
        while True:
            await play_steps(request, iter(steps), sink, clock, ctx.config.speed, call,
                             clock.time())  # fmt: skip
            if call.ending is not None and call.ending.early:
                break  # a fault cut the stream: the session ends with it
            try:
                steps = await asyncio.wait_for(answers.get(), _QUIET_SECONDS)
            except TimeoutError:
                steps = (Write(_PLAIN.comment(" keep-alive")),)
            transport = request.transport
            if transport is None or transport.is_closing():
                break
    finally:
        sessions.ended(session)
    return response


async def posted(
    request: web.BaseRequest, ctx: Context, served: Served, server: RpcServer[Any], body: bytes
) -> web.StreamResponse:
    """POST /messages?session_id=…: one message; its answer goes on the session's stream."""
    if foreign(request):
        return refused(403, "Forbidden: Origin not allowed")
    session = request.query.get("session_id", "")
    sessions = ctx.state.rpc
    answers = sessions.channel(session)
    if answers is None:
        return refused(404, f"Could not find session {session!r}")
    try:
        message = read_message(body)
    except RpcError as exc:
        return refused(400, exc.message, exc.code)
    scenario, scripted = chosen(request, ctx, served, server, message)
    if scripted is not None:
        return scripted
    state, said = server.handle(sessions.state(session), message, scenario)
    sessions.update(session, state)
    ctx.call.rpc_session = session
    steps: Iterable[Step]
    if isinstance(said, Replied):
        if said.message is None:
            return web.Response(status=202, text="Accepted")
        steps = _said(said.message)
    else:
        assert scenario is not None
        try:
            applicable(served.dialect, scenario)
        except BadRequest as exc:  # said on the stream, as the request's error
            refusal = error_response(said.id, -32600, str(exc.detail))
            steps = _said(refusal)
        else:
            played = server.play(scenario, said, 0, format_of(scenario), resumable=False,
                                 heard=lambda asked: server.heard(sessions.state(session), asked))  # fmt: skip
            request_id = said.id
            steps = (
                _said(played.message)
                if isinstance(played, Replied)
                else unless_cancelled(
                    ctx,
                    played.steps,
                    lambda: server.cancelled(sessions.state(session), request_id),
                )
            )
    try:
        answers.put_nowait(steps)
    except asyncio.QueueFull:
        return refused(503, f"{_WAITING} answers already wait on this session's stream")
    return web.Response(status=202, text="Accepted")


def _said(message: Mapping[str, Any] | None) -> tuple[Step, ...]:
    """One whole message on the session's stream (an ``event: message``)."""
    return (Write(_PLAIN.event(_PLAIN.dumps(message), "message")),)
