"""What a Cohere v2 chat request asks (:class:`~emulator.scenario.asked.Asked`). Pure.

Messages are ``system``, ``user``, ``assistant`` (its ``tool_calls`` with their
arguments as JSON text) and ``tool`` (a result, by ``tool_call_id``); content is a string
or a list of ``{"type": "text", "text"}`` parts (a tool result's may also hold
documents, read as their JSON).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario.asked import Asked, Message, Role, ToolCall, with_tool_names

__all__ = ["asked_of_chat"]

_ROLES: Final = ("system", "user", "assistant", "tool")


def _text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(p["text"] if p.get("type") == "text" and isinstance(p.get("text"), str)
                       else json.dumps(p.get("document", p)) for p in content)  # fmt: skip
    raise BadRequest(400, f"invalid request: messages[{i}].content must be a string or a "
                     "list of content parts")  # fmt: skip


def _calls(given: Any, i: int) -> tuple[ToolCall, ...]:
    calls = []
    for call in given if isinstance(given, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(400, f"invalid request: messages[{i}].tool_calls must each "
                             "name a function")  # fmt: skip
        arguments = function.get("arguments", "{}")
        calls.append(ToolCall(str(call.get("id", "")), function["name"],
                              arguments if isinstance(arguments, str)
                              else json.dumps(arguments)))  # fmt: skip
    return tuple(calls)


def _tool_names(tools: Any) -> tuple[str, ...]:
    if not isinstance(tools, list):
        return ()
    names = (t.get("function", {}).get("name") for t in tools if isinstance(t, dict))
    return tuple(n for n in names if isinstance(n, str))


def asked_of_chat(body: dict[str, Any], model: str) -> Asked:
    """The conversation of a ``/v2/chat`` body (a 400 naming what is wrong)."""
    given = body.get("messages")
    if not isinstance(given, list) or not given:
        raise BadRequest(400, "invalid request: messages must be a non-empty list")
    messages: list[Message] = []
    for i, message in enumerate(given):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise BadRequest(400, f"invalid request: messages[{i}].role must be one of "
                             "system, user, assistant, tool")  # fmt: skip
        kind: Role = role
        text = _text(message.get("content"), i)
        if kind == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise BadRequest(400, f"invalid request: messages[{i}].tool_call_id is "
                                 "required")  # fmt: skip
            messages.append(Message("tool", text, call_id=call_id, at=i))
        else:
            calls = _calls(message.get("tool_calls"), i) if kind == "assistant" else ()
            messages.append(Message(kind, text, calls, at=i))
    system = "\n".join(m.text for m in messages if m.role == "system")
    return Asked(with_tool_names(messages), model, system, _tool_names(body.get("tools")), body)
