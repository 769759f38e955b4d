"""The MCP server as a state machine: the session a request names and its one message in,
the session and what to answer out. No I/O. Pure.

``initialize`` opens a session (the version the client asks, when this server speaks it;
else the newest); every other request needs one. ``tools/list`` lists the tools,
``tools/call`` is a result the scenario plays (a tool that does not exist is the
protocol's -32602; arguments its schema refuses, the tool's ``isError`` result);
``ping`` is answered empty. Notifications and responses from the client are accepted.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, NamedTuple

from ...core.endings import Label, end_label, event_label
from ...engine.prepare import prepare
from ...engine.stream import dialect_stream
from ...protocol.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    RequestId,
    RpcMessage,
    error_response,
    notification,
    response,
)
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Wait, Write
from ...scenario.asked import Asked, Message
from ...scenario.model import Scenario
from ...scenario.text import told_text
from ..rpc import Played, Replied, RpcServer, Streamed
from .asks import asked, asking_tool
from .part import McpPart
from .shapes import shapes
from .tools import CallResult, Tool
from .wire import VERSIONS, event_id, initialize_result, message_event, priming_event

__all__ = ["McpServer", "McpSession", "Told"]

#: The tools listed on one page; a longer list goes on with ``nextCursor``.
PAGE: Final = 50
#: The error of a resource that does not exist (the spec's).
RESOURCE_NOT_FOUND: Final = -32002
#: How many cancelled request ids a session keeps.
_CANCELLED: Final = 64
#: The log levels, least severe first (RFC 5424's, as the spec names them).
LOG_LEVELS: Final = ("debug", "info", "notice", "warning", "error", "critical", "alert",
                     "emergency")  # fmt: skip


@dataclass(frozen=True, slots=True)
class McpSession:
    """One client's session: its id, the protocol version agreed, whether the client said
    it is initialized, and how many requests it made."""

    id: str
    version: str
    initialized: bool = False
    requests: int = 0
    #: The requests the client cancelled (``notifications/cancelled``), the latest few.
    cancelled: tuple[RequestId, ...] = ()
    #: The least severe log message the client wants (``logging/setLevel``; "": all).
    log_level: str = ""
    #: What the client said it can do at ``initialize`` (elicitation, sampling, roots…).
    client: frozenset[str] = frozenset()
    #: The client's answers to the server's own requests, by id, the latest few.
    answers: tuple[tuple[RequestId, Mapping[str, Any]], ...] = ()
    #: The resources it was told were updated (it subscribed to them): read changed.
    updated: frozenset[str] = frozenset()


class Told(NamedTuple):
    """One message of a played answer (None: only time passes), after ``wait`` seconds of
    the tool's work (never scaled by the server's speed)."""

    message: Mapping[str, Any] | None
    what: str
    wait: float = 0.0


_WORKS: Final = Label("pause", "the tool works")


def _error(message: RpcMessage, code: int, text: str, status: int = 200) -> Replied:
    return Replied(error_response(message.id, code, text), status)


def _part(scenario: Scenario | None) -> McpPart:
    found = None if scenario is None else scenario.part(McpPart)
    return found if found is not None else McpPart()


class McpServer(RpcServer[McpSession]):
    """The scripted MCP server, one per server."""

    versions = VERSIONS

    def asked(self, message: RpcMessage) -> Asked | None:
        """A call of ``reply`` asks the scenario's conversation its prompt (its turn is
        chosen by it, as a model's request's is)."""
        params = message.params if isinstance(message.params, Mapping) else {}
        arguments = params.get("arguments")
        if message.method != "tools/call" or params.get("name") != "reply":
            return None
        prompt = arguments.get("prompt") if isinstance(arguments, Mapping) else None
        if not isinstance(prompt, str):
            return None
        return Asked((Message("user", prompt),), body=dict(params))

    def session_id(self, session: McpSession) -> str:
        return session.id

    def heard(self, session: McpSession | None, request: RequestId) -> Mapping[str, Any] | None:
        found = () if session is None else (a for i, a in session.answers if i == request)
        return next(iter(found), None)

    def cancelled(self, session: McpSession | None, request: RequestId) -> bool:
        return session is not None and request in session.cancelled

    def handle(
        self, session: McpSession | None, message: RpcMessage, scenario: Scenario | None
    ) -> tuple[McpSession | None, Replied | Played]:
        if not message.request:  # a notification or a response: taken, nothing to say
            if session is not None and message.method is None and message.id is not None:
                answer = {"error": message.error} if message.error is not None else {
                    "result": message.result}  # fmt: skip
                session = replace(session, answers=(*session.answers,
                                                    (message.id, answer))[-_CANCELLED:])  # fmt: skip
            if session is not None and message.method == "notifications/initialized":
                session = replace(session, initialized=True)
            if session is not None and message.method == "notifications/cancelled":
                params = message.params if isinstance(message.params, Mapping) else {}
                request = params.get("requestId")
                if isinstance(request, (str, int)) and not isinstance(request, bool):
                    kept = (*session.cancelled, request)[-_CANCELLED:]
                    session = replace(session, cancelled=kept)
            return session, Replied(None, 202)
        assert message.id is not None
        part = _part(scenario)
        params = message.params if isinstance(message.params, Mapping) else {}
        if message.method == "initialize":
            asked = params.get("protocolVersion")
            version = part.protocol_version or (asked if asked in VERSIONS else VERSIONS[0])
            declared = params.get("capabilities")
            client = frozenset(declared) if isinstance(declared, Mapping) else frozenset()
            opened = McpSession(secrets.token_hex(16), str(version), requests=1, client=client)
            return opened, Replied(response(message.id, initialize_result(opened.version,
                                                                          part.list_changed)))  # fmt: skip
        if session is None:
            return None, _error(message, INVALID_REQUEST, "Bad Request: no session: "
                                "initialize first", 400)  # fmt: skip
        if part.session_expires_after and session.requests >= part.session_expires_after:
            return None, _error(message, INVALID_REQUEST, "Session not found (it expired)", 404)
        session = replace(session, requests=session.requests + 1)
        if message.method == "ping":
            return session, Replied(response(message.id, {}))
        if message.method == "logging/setLevel":
            level = params.get("level")
            if level not in LOG_LEVELS:
                return session, _error(message, INVALID_PARAMS, f"Invalid log level: {level!r}")
            return replace(session, log_level=str(level)), Replied(response(message.id, {}))
        tools = part.listed_tools()
        if message.method == "tools/list":
            return session, _listed(message, params, tools)
        if message.method == "tools/call":
            called = _called(message, params, tools)
            if isinstance(called, Played):
                called = replace(called, session={"log_level": session.log_level,
                                                  "client": session.client})  # fmt: skip
            return session, called
        if message.method in ("resources/subscribe", "resources/unsubscribe"):
            return _subscribed(session, message, params, part)
        said = _listed_or_read(message, params, part, session.updated)
        if said is not None:
            return session, said
        return session, _error(message, METHOD_NOT_FOUND, f"Method not found: {message.method}")

    def told(self, scenario: Scenario, played: Played, *, final: bool = True) -> list[Told]:
        """What a played ``tools/call`` says, in order, whatever carries it: what comes
        before the response ([mcp]: notifications, a slow tool's time and progress, a stray
        result), the response (or the scripted error), its duplicate."""
        part = _part(scenario)
        answered = _answer(scenario, played, part)
        wanted = str(played.session.get("log_level") or "debug")
        logs = part.notifications if LOG_LEVELS.index(wanted) <= LOG_LEVELS.index("info") else 0
        said = [Told(notification("notifications/message", {
            "level": "info", "logger": "emulator", "data": f"working: {n + 1}"}), "notification")
            for n in range(logs)]  # fmt: skip
        said += [Told(notification(f"notifications/{kind}/list_changed"), "list changed")
                 for kind in part.list_changed]  # fmt: skip
        said += _progress(part.tool_seconds, played)
        if part.stray_result:
            said.append(Told(response("never-asked", {"content": []}), "stray result"))
        if not final:  # the response comes after the client's answer to the server's ask
            return said
        asking = asking_tool(part, played)
        if asking is not None:  # told whole (stdio): there is no answer to wait for here
            why = (f"{asking.name} asks the client ({asking.asks}): served over HTTP "
                   "(Streamable HTTP, or HTTP+SSE), not over stdio")  # fmt: skip
            answered = response(played.id, CallResult(why, is_error=True).object())
        said.append(Told(answered, "response"))
        if part.duplicate_result:
            said.append(Told(answered, "duplicate result"))
        return said

    def play(
        self,
        scenario: Scenario,
        played: Played,
        stream: int,
        fmt: SSEFormat,
        *,
        resumable: bool = True,
        heard: Callable[[RequestId], Mapping[str, Any] | None] = lambda _: None,
    ) -> Streamed | Replied:
        """The answer as events: the priming event (event 0, as faults count; an id and
        ``retry:``, where the stream is ``resumable``), then :meth:`told`, each an event
        (with an id, where resumable); the scenario's faults between the priming event and
        the rest. As one JSON body where [mcp] says so. A tool that asks the client
        (``asks``) sends its request, waits for the answer (``heard``), and its result is
        made of it (those events are not kept to resume)."""
        part = _part(scenario)
        asking = asking_tool(part, played)
        messages = self.told(scenario, played, final=asking is None)
        if part.json_response:
            return Replied(messages[-1].message)
        ids = (event_id(stream, i) if resumable else None for i in itertools.count())
        first = next(ids)
        primed = priming_event(fmt, first) if first is not None else b""
        kept: list[tuple[str, bytes]] = [] if first is None else [(first, primed)]
        closing: list[Step] = []
        for i, each in enumerate(messages):
            if each.wait:
                closing.append(Wait(each.wait, scaled=False, what=_WORKS))
            if each.message is None:
                continue
            id_ = next(ids)
            made = message_event(fmt, each.message, id_)
            if id_ is not None:
                kept.append((id_, made))
            last = i == len(messages) - 1
            closing.append(Write(made, end_label(each.what) if last else event_label(each.what)))

        def events() -> Any:
            yield 0, [0], (Write(primed, event_label("priming")),) if primed else ()

        ending: Iterable[Step] = closing
        if asking is not None:  # lazily: its result is made once the client has answered
            ending = itertools.chain(closing, asked(asking, played, fmt, f"emulator-{stream}",
                                                    heard))  # fmt: skip
        steps = dialect_stream(scenario, events(), prepare(scenario, "", escape=False),
                               lambda: shapes(played.id), ending)  # fmt: skip
        return Streamed(steps, tuple(kept), part.tool_seconds)


def _progress(seconds: float, played: Played) -> list[Told]:
    """A slow tool: its time, told each second as progress when the client gave a token."""
    if seconds <= 0:
        return []
    meta = played.params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, Mapping) else None
    said = []
    whole = int(seconds)
    for n in range(whole):
        told = None if token is None else notification("notifications/progress", {
            "progressToken": token, "progress": n + 1, "total": seconds})  # fmt: skip
        said.append(Told(told, "progress", wait=1.0))
    if seconds > whole:
        said.append(Told(None, "the tool works", wait=seconds - whole))
    return said


def _subscribed(
    session: McpSession, message: RpcMessage, params: Mapping[str, Any], part: McpPart
) -> tuple[McpSession, Replied]:
    """A subscription to a resource (or its end): a scripted one that changes is told
    updated on the session's own stream, and read changed from then on."""
    assert message.id is not None
    uri = params.get("uri")
    found = part.resource(uri)
    if not isinstance(uri, str) or (found is None and part.templated(uri) is None):
        return session, _error(message, RESOURCE_NOT_FOUND, f"Resource not found: {uri}")
    if message.method == "resources/unsubscribe" or found is None or not found.updated_text:
        return session, Replied(response(message.id, {}))
    told = notification("notifications/resources/updated", {"uri": uri})
    return replace(session, updated=session.updated | {uri}), Replied(
        response(message.id, {}), notices=(told,))  # fmt: skip


def _listed_or_read(
    message: RpcMessage, params: Mapping[str, Any], part: McpPart, updated: frozenset[str]
) -> Replied | None:
    """Resources and prompts: listed, read, got (None: the method is none of these)."""
    assert message.id is not None
    if message.method == "resources/list":
        return _paged(message, params, "resources", [r.listed() for r in part.resources])
    if message.method == "resources/templates/list":
        listed = [t.listed() for t in part.resource_templates]
        return _paged(message, params, "resourceTemplates", listed)
    if message.method == "resources/read":
        found = part.resource(params.get("uri"))
        contents = (found.contents(found.uri in updated) if found is not None
                    else part.templated(params.get("uri")))  # fmt: skip
        if contents is None:
            return _error(message, RESOURCE_NOT_FOUND, f"Resource not found: {params.get('uri')}")
        return Replied(response(message.id, {"contents": [contents]}))
    if message.method == "prompts/list":
        return _paged(message, params, "prompts", [p.listed() for p in part.prompts])
    if message.method == "prompts/get":
        got = part.prompt(params.get("name"))
        if got is None:
            return _error(message, INVALID_PARAMS, f"Unknown prompt: {params.get('name')}")
        given = params.get("arguments") or {}
        try:
            text = got.got(given if isinstance(given, Mapping) else {})
        except ValueError as exc:
            return _error(message, INVALID_PARAMS, str(exc))
        return Replied(response(message.id, {"description": got.description, "messages": [
            {"role": "user", "content": {"type": "text", "text": text}}]}))  # fmt: skip
    return None


def _listed(message: RpcMessage, params: Mapping[str, Any], tools: Sequence[Tool]) -> Replied:
    return _paged(message, params, "tools", [t.listed() for t in tools])


def _paged(
    message: RpcMessage, params: Mapping[str, Any], key: str, items: Sequence[Any]
) -> Replied:
    """A list's page: :data:`PAGE` items from the ``cursor`` the client gives (a page that
    is not the last says where the next starts, ``nextCursor``)."""
    assert message.id is not None
    cursor = params.get("cursor")
    start = 0
    if cursor is not None:
        if not isinstance(cursor, str) or not cursor.isdigit() or int(cursor) >= len(items):
            return _error(message, INVALID_PARAMS, f"Invalid cursor: {cursor!r}")
        start = int(cursor)
    result: dict[str, Any] = {key: list(items[start : start + PAGE])}
    if start + PAGE < len(items):
        result["nextCursor"] = str(start + PAGE)
    return Replied(response(message.id, result))


def _called(
    message: RpcMessage, params: Mapping[str, Any], tools: Sequence[Tool]
) -> Replied | Played:
    assert message.id is not None
    name = params.get("name")
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        return _error(message, INVALID_PARAMS, f"Unknown tool: {name}")
    arguments = params.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        return _error(message, INVALID_PARAMS, "Invalid params: arguments is an object")
    return Played(message.id, "tools/call", {**params, "arguments": arguments})


def _answer(scenario: Scenario, played: Played, part: McpPart) -> dict[str, Any]:
    """The response a played ``tools/call`` ends with, under ``scenario``: the tool's
    result, or the error [mcp] scripts."""
    if part.error_code:
        return error_response(played.id, part.error_code, part.error_message
                              or f"JSON-RPC error {part.error_code}")  # fmt: skip
    name = played.params.get("name")
    tool = next((t for t in part.listed_tools() if t.name == name), None)
    assert tool is not None  # only a tool that exists is played
    arguments = played.params.get("arguments") or {}
    result = tool.call(arguments, lambda prompt: told_text(scenario.reply, prompt))
    return response(played.id, result.object())
