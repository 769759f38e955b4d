"""What a Gemini ``generateContent`` request asks (:class:`~emulator.scenario.asked.Asked`),
and the conversation rules the API enforces on ``contents`` (:data:`STRICT_RULES`). Pure.

A model turn's ``functionCall`` parts are its tool calls; a user turn's
``functionResponse`` parts answer them by the tool's name (or by ``id`` where
the client gives one).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario.asked import Asked, Message, ToolCall, conversation_problems
from ..strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_gemini"]

_DOCS: Final = "https://ai.google.dev/gemini-api/docs/function-calling"

RESPONSE_WITHOUT_CALL: Final = StrictRule(
    "gemini.response_without_call",
    "a `functionResponse` turn with no `functionCall` turn just before it, or answering a "
    "function that turn did not call",
    "Please ensure that function response turn comes immediately after a function call turn.",
    f"{_DOCS}; the API's answer as quoted in github.com/langchain-ai/langchain/issues/27799",
)
RESPONSE_COUNT: Final = StrictRule(
    "gemini.response_count",
    "a `functionCall` turn whose calls are not all answered by the `functionResponse` "
    "parts of the next turn",
    "Please ensure that the number of function response parts is equal to the number of "
    "function call parts of the function call turn.",
    f"{_DOCS}; the API's answer as quoted in github.com/microsoft/vscode/issues/299295",
)
STRICT_RULES: Final = (RESPONSE_WITHOUT_CALL, RESPONSE_COUNT)


def asked_of_gemini(body: dict[str, Any], model: str, strict: bool) -> Asked:
    """The conversation of a Gemini body (``contents`` a non-empty list, checked by the
    caller)."""
    messages: list[Message] = []
    for i, content in enumerate(body["contents"]):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            raise BadRequest(400, f"* GenerateContentRequest.contents[{i}].parts: "
                             "contents.parts must not be empty")  # fmt: skip
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise BadRequest(400, f"* GenerateContentRequest.contents[{i}].role: Please use a "
                             "valid role: user, model.")  # fmt: skip
        calls, text = [], ""
        for j, part in enumerate(parts):
            if isinstance(part.get("functionCall"), dict):
                call = part["functionCall"]
                name = str(call.get("name", ""))
                calls.append(ToolCall(str(call.get("id") or name), name,
                                      json.dumps(call.get("args", {}))))  # fmt: skip
            elif isinstance(part.get("functionResponse"), dict):
                response = part["functionResponse"]
                name = str(response.get("name", ""))
                messages.append(Message("tool", json.dumps(response.get("response", {})),
                                        call_id=str(response.get("id") or name), tool=name,
                                        at=i, block=j))  # fmt: skip
            elif isinstance(part.get("text"), str) and not part.get("thought"):
                text += part["text"]
        if text or calls or not any(m.at == i for m in messages):
            messages.append(Message("assistant" if role == "model" else "user", text,
                                    tuple(calls), at=i))  # fmt: skip
    asked = Asked(tuple(messages), model, _system(body.get("systemInstruction")),
                  _tools(body.get("tools")), body)  # fmt: skip
    if strict:
        for problem in conversation_problems(asked, by_id=False)[:1]:
            rule = RESPONSE_COUNT if problem.kind == "missing_results" else RESPONSE_WITHOUT_CALL
            raise refuse(rule)
    return asked


def _system(instruction: Any) -> str:
    parts = instruction.get("parts") if isinstance(instruction, dict) else None
    if not isinstance(parts, list):
        return instruction if isinstance(instruction, str) else ""
    return "".join(
        p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def _tools(tools: Any) -> tuple[str, ...]:
    declared = [
        d
        for tool in (tools if isinstance(tools, list) else ())
        if isinstance(tool, dict) and isinstance(d := tool.get("functionDeclarations"), list)
    ]
    return tuple(
        f["name"]
        for d in declared
        for f in d
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    )
