"""What a Chat Completions request asks (:class:`~emulator.scenario.asked.Asked`), and
the conversation rules the API enforces (:data:`STRICT_RULES`). Pure."""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario.asked import (
    Asked,
    Message,
    Role,
    ToolCall,
    conversation_problems,
    with_tool_names,
)
from ..openai import ROLES, STREAM_TYPE, content_text, tool_names
from ..strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_chat"]

_DOCS: Final = "https://platform.openai.com/docs/guides/function-calling"

ROLE: Final = StrictRule(
    "openai_chat.role",
    "a message whose role is none of the API's",
    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
    "'function', 'tool', and 'developer'.",
    "https://platform.openai.com/docs/api-reference/chat/create",
    switchable=False,
)
TOOL_CALL_ID: Final = StrictRule(
    "openai_chat.tool_call_id",
    "a `tool` message without `tool_call_id`",
    "Missing required parameter: 'messages[{at}].tool_call_id'.",
    "https://platform.openai.com/docs/api-reference/chat/create",
)
RESULT_WITHOUT_CALL: Final = StrictRule(
    "openai_chat.result_without_call",
    "a `tool` message with no assistant `tool_calls` just before it (a dropped assistant message)",
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
    "message with 'tool_calls'.",
    f"{_DOCS}; the API's answer as quoted in github.com/miurla/morphic/issues/136",
)
UNKNOWN_CALL_ID: Final = StrictRule(
    "openai_chat.unknown_call_id",
    "a `tool` message whose `tool_call_id` is none of the calls just before it",
    "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message.",
    f"{_DOCS}; the API's answer as quoted in github.com/dapr/dapr-agents/issues/145",
)
MISSING_RESULTS: Final = StrictRule(
    "openai_chat.missing_results",
    "an assistant message whose `tool_calls` are not all answered by `tool` messages after it",
    "An assistant message with 'tool_calls' must be followed by tool messages responding "
    "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
    "{ids}",
    f"{_DOCS}; the API's answer as quoted in github.com/QwenLM/qwen-code/issues/869",
)
STRICT_RULES: Final = (
    ROLE, STREAM_TYPE, TOOL_CALL_ID, RESULT_WITHOUT_CALL, UNKNOWN_CALL_ID, MISSING_RESULTS,
)  # fmt: skip


def asked_of_chat(body: dict[str, Any], model: str, strict: bool) -> Asked:
    """The conversation of a Chat Completions body (``messages`` checked to be a non-empty
    list by the caller); the rules refused with the API's 400."""
    messages: list[Message] = []
    for i, message in enumerate(body["messages"]):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            raise refuse(ROLE, role=role if isinstance(role, str) else "")
        text = content_text(message.get("content"), i)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                if strict:
                    raise refuse(TOOL_CALL_ID, at=i)
                call_id = ""
            messages.append(Message("tool", text, call_id=call_id, at=i))
            continue
        calls = _calls(message.get("tool_calls"), i) if role == "assistant" else ()
        kind: Role = "system" if role == "developer" else role
        messages.append(Message(kind, text, calls, at=i))
    system = "\n".join(m.text for m in messages if m.role == "system")
    asked = Asked(with_tool_names(messages), model, system, tool_names(body.get("tools")), body)
    if strict:
        _check(asked)
    return asked


def _check(asked: Asked) -> None:
    for problem in conversation_problems(asked)[:1]:
        if problem.kind == "result_without_call":
            raise refuse(RESULT_WITHOUT_CALL)
        if problem.kind == "unknown_call_id":
            raise refuse(UNKNOWN_CALL_ID, id=problem.ids[0])
        raise refuse(MISSING_RESULTS, ids=", ".join(problem.ids))


def _calls(given: Any, i: int) -> tuple[ToolCall, ...]:
    if given is None:
        return ()
    if not isinstance(given, list):
        raise BadRequest(400, f"Invalid type for 'messages[{i}].tool_calls': expected an array.")
    calls = []
    for j, call in enumerate(given):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise BadRequest(400, f"Missing required parameter: 'messages[{i}].tool_calls[{j}]"
                             ".function'.")  # fmt: skip
        arguments = function.get("arguments", "{}")
        calls.append(ToolCall(call["id"], str(function.get("name", "")),
                              arguments if isinstance(arguments, str) else json.dumps(arguments)))  # fmt: skip
    return tuple(calls)
