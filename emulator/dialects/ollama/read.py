"""What an Ollama request asks (:class:`~emulator.scenario.asked.Asked`): a chat's
messages, or a generate's prompt. Pure.

Ollama's server checks little: a model must be named, each message must have a role it
knows; a tool result names its tool (``tool_name``), not a call id, and an assistant's
calls carry their arguments as an object.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario.asked import Asked, Message, Role, ToolCall, with_tool_names

__all__ = ["asked_of_chat", "asked_of_generate", "model_of"]

_ROLES: Final = ("system", "user", "assistant", "tool")


def model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "model is required")
    return model


def _tool_names(tools: Any) -> tuple[str, ...]:
    if not isinstance(tools, list):
        return ()
    names = (t.get("function", {}).get("name") for t in tools if isinstance(t, dict))
    return tuple(n for n in names if isinstance(n, str))


def _calls(given: Any) -> tuple[ToolCall, ...]:
    calls = []
    for i, call in enumerate(given if isinstance(given, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise BadRequest(400, "invalid tool call: a call must have a function")
        arguments = function.get("arguments", {})
        calls.append(ToolCall(str(call.get("id") or f"call_{i}"), str(function.get("name", "")),
                              json.dumps(arguments) if not isinstance(arguments, str)
                              else arguments))  # fmt: skip
    return tuple(calls)


def asked_of_chat(body: dict[str, Any], model: str) -> Asked:
    """The conversation of an ``/api/chat`` body."""
    given = body.get("messages")
    if given is None:
        given = []
    if not isinstance(given, list):
        raise BadRequest(400, "json: cannot unmarshal object into Go struct field "
                         "ChatRequest.messages of type []api.Message")  # fmt: skip
    messages: list[Message] = []
    for i, message in enumerate(given):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise BadRequest(400, f"invalid role: {role!r}; a message's role is one of "
                             + ", ".join(_ROLES))  # fmt: skip
        content = message.get("content", "")
        if not isinstance(content, str):
            raise BadRequest(400, "json: cannot unmarshal array into Go struct field "
                             "Message.messages.content of type string")  # fmt: skip
        kind: Role = role
        if kind == "tool":
            messages.append(Message("tool", content, call_id=str(message.get("tool_call_id", "")),
                                    tool=str(message.get("tool_name", "")), at=i))  # fmt: skip
        else:
            calls = _calls(message.get("tool_calls")) if kind == "assistant" else ()
            messages.append(Message(kind, content, calls, at=i))
    if not messages:
        raise BadRequest(400, "messages is required: this emulator does not load models")
    system = "\n".join(m.text for m in messages if m.role == "system")
    return Asked(with_tool_names(messages), model, system, _tool_names(body.get("tools")), body)


def asked_of_generate(body: dict[str, Any], model: str) -> Asked:
    """The prompt (and system prompt) of an ``/api/generate`` body."""
    prompt = body.get("prompt", "")
    system = body.get("system", "")
    if not isinstance(prompt, str) or not isinstance(system, str):
        raise BadRequest(400, "json: cannot unmarshal into Go struct field "
                         "GenerateRequest.prompt of type string")  # fmt: skip
    if not prompt:
        raise BadRequest(400, "prompt is required: this emulator does not load models")
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt, at=0)]
    return Asked(tuple(messages), model, system, (), body)
