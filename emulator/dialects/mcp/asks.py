"""What a scripted tool asks the client before it answers (``asks``): the server's own
request (``elicitation/create``, ``sampling/createMessage``, ``roots/list``) on the call's
event stream, the wait for the client's answer, and the tool's result made of it. Pure,
but for the answer, looked up as it comes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ...core.endings import end_label, event_label
from ...protocol.jsonrpc import RequestId, response
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Until, Write
from ..rpc import Played
from .part import McpPart
from .scripted import ScriptedTool
from .tools import CallResult
from .wire import message_event

__all__ = ["ASK_SECONDS", "asked", "asking_tool"]


def asking_tool(part: McpPart, played: Played) -> ScriptedTool | None:
    return part.asking(played.params.get("name")) if played.method == "tools/call" else None


#: What a tool that asks the client sends it, by what it asks; and how long it waits.
_ASKED: Final = {"elicitation": "elicitation/create", "sampling": "sampling/createMessage",
                 "roots": "roots/list"}  # fmt: skip
ASK_SECONDS: Final = 30.0


def asked(
    tool: ScriptedTool,
    played: Played,
    fmt: SSEFormat,
    request: str,
    heard: Callable[[RequestId], Mapping[str, Any] | None],
) -> Iterator[Step]:
    """The server's request to the client, the wait for its answer, and the tool's result
    made of that answer (lazily: only once it has come, or the wait is over)."""
    method = _ASKED[tool.asks]
    if tool.asks not in played.session.get("client", ()):
        why = f"the client did not declare {tool.asks} at initialize"
        yield _told(fmt, response(played.id, CallResult(why, is_error=True).object()))
        return
    if tool.asks == "elicitation":
        params: dict[str, Any] = {"mode": "form", "message": tool.ask_text or "Your answer?",
                                  "requestedSchema": {"type": "object", "required": ["answer"],
                                                      "properties": {"answer": {
                                                          "type": "string"}}}}  # fmt: skip
    elif tool.asks == "sampling":
        params = {"messages": [{"role": "user", "content": {
            "type": "text", "text": tool.ask_text or "Say something."}}], "maxTokens": 200}  # fmt: skip
    else:
        params = {}
    asked = {"jsonrpc": "2.0", "id": request, "method": method, "params": params}
    yield Write(message_event(fmt, asked, None), event_label(method))
    yield Until(lambda: heard(request) is not None, ASK_SECONDS)
    answer = heard(request)
    if answer is None:
        result = CallResult(f"no answer to {method} within {ASK_SECONDS:g} s", is_error=True)
    elif "error" in answer:
        error = answer["error"] if isinstance(answer["error"], Mapping) else {}
        result = CallResult(f"the client refused {method}: {error.get('message', '')}",
                            is_error=True)  # fmt: skip
    else:
        result = CallResult(_answered(tool.asks, answer["result"]))
    yield _told(fmt, response(played.id, result.object()))


def _told(fmt: SSEFormat, message: Mapping[str, Any]) -> Write:
    return Write(message_event(fmt, message, None), end_label("response"))


def _answered(asks: str, result: Any) -> str:
    """The text of a tool's result made of the client's answer to what it asked."""
    got = result if isinstance(result, Mapping) else {}
    if asks == "elicitation":
        return json.dumps({"action": got.get("action"), "content": got.get("content")},
                          ensure_ascii=False, sort_keys=True)  # fmt: skip
    if asks == "sampling":
        content = got.get("content")
        return str(content.get("text", "")) if isinstance(content, Mapping) else ""
    roots = got.get("roots")
    return " ".join(str(r.get("uri")) for r in roots if isinstance(r, Mapping)) if isinstance(
        roots, list) else ""  # fmt: skip
