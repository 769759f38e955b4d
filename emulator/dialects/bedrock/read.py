"""What a Converse request asks (:class:`~emulator.scenario.asked.Asked`), and the rules
the API enforces on ``messages`` (:data:`STRICT_RULES`). Pure."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from typing import Any, Final

from ...core.signing import Seals
from ...protocol.errors import BadRequest
from ...scenario.asked import Asked, Message, ToolCall, conversation_problems, with_tool_names
from ..strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_converse", "invalid"]

_ROLES: Final = ("user", "assistant")
_DOCS: Final = "https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html"

FIRST_USER: Final = StrictRule(
    "bedrock.first_user",
    "a conversation that does not start with a user message",
    "A conversation must start with a user message. Try again with a conversation that "
    "starts with a user message.",
    "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
    switchable=False,
)
ALTERNATE: Final = StrictRule(
    "bedrock.alternate",
    "two messages of the same role in a row",
    "A conversation must alternate between user and assistant roles. Make sure the "
    "conversation alternates between user and assistant roles and try again.",
    "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
    switchable=False,
)
EXTRA_RESULTS: Final = StrictRule(
    "bedrock.extra_results",
    "a `toolResult` whose `toolUseId` is no `toolUse` of the assistant message just before it",
    "The number of toolResult blocks at messages.{at}.content exceeds the number of toolUse "
    "blocks of previous turn.",
    f"{_DOCS}; the API's answer as quoted in github.com/pydantic/pydantic-ai/issues/2327",
)
MISSING_RESULTS: Final = StrictRule(
    "bedrock.missing_results",
    "an assistant message's `toolUse` blocks not all answered by `toolResult` blocks in the "
    "next message",
    "Expected toolResult blocks at messages.{at}.content for the following Ids: {ids}",
    f"{_DOCS}; the API's answer as quoted in github.com/evalstate/fast-agent/issues/624",
)
_THINKING_DOCS: Final = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html"
)
SIGNATURE: Final = StrictRule(
    "bedrock.signature",
    "a `reasoningContent` block whose `reasoningText` text or `signature` is not as the API "
    "sent it",
    "The model returned the following errors: messages.{at}.content.{block}: Invalid "
    "`signature` in `thinking` block",
    f"{_THINKING_DOCS} (the reasoning sent back unchanged, its signature checked by the "
    "model); Claude's answer, passed on by Bedrock as a ValidationException",
)
REDACTED: Final = StrictRule(
    "bedrock.redacted",
    "a `reasoningContent` block whose `redactedContent` is not as the API sent it",
    "The model returned the following errors: messages.{at}.content.{block}: Invalid "
    "`data` in `redacted_thinking` block",
    f"{_THINKING_DOCS} (redacted reasoning); Claude's answer, passed on by Bedrock as a "
    "ValidationException",
)
STRICT_RULES: Final = (FIRST_USER, ALTERNATE, EXTRA_RESULTS, MISSING_RESULTS, SIGNATURE,
                       REDACTED)  # fmt: skip


def invalid(message: str) -> BadRequest:
    return BadRequest(400, message)


def asked_of_converse(
    body: dict[str, Any],
    model: str,
    strict: bool,
    seals: Callable[[str], Seals] | None = None,
) -> Asked:
    """The conversation of a Converse body (``messages`` a non-empty list, checked by the
    caller). ``seals``: the signatures and seals of the conversation that opens with a
    text (a reasoning block's signature, a redacted block's content: each must be as this
    API sent it in this conversation)."""
    reasoned: list[tuple[int, int, dict[str, Any]]] = []  # the blocks to check, once known
    roles = [_role(m, i) for i, m in enumerate(body["messages"])]
    if roles[0] != "user":
        raise refuse(FIRST_USER)
    if any(a == b for a, b in itertools.pairwise(roles)):
        raise refuse(ALTERNATE)
    messages: list[Message] = []
    for i, (role, message) in enumerate(zip(roles, body["messages"], strict=True)):
        texts, calls = [], []
        for j, block in enumerate(message["content"]):
            if isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif isinstance(block.get("toolUse"), dict):
                use = block["toolUse"]
                calls.append(ToolCall(str(use.get("toolUseId", "")), str(use.get("name", "")),
                                      json.dumps(use.get("input", {}))))  # fmt: skip
            elif (
                isinstance(block.get("reasoningContent"), dict) and strict and role == "assistant"
            ):
                reasoned.append((i, j, block["reasoningContent"]))
            elif isinstance(block.get("toolResult"), dict):
                result = block["toolResult"]
                messages.append(Message("tool", _result_text(result),
                                        call_id=str(result.get("toolUseId", "")), at=i,
                                        block=j))  # fmt: skip
        if texts or calls or not any(m.at == i for m in messages):
            messages.append(Message(role, "".join(texts), tuple(calls), at=i))  # type: ignore[arg-type]
    asked = Asked(with_tool_names(messages), model, _system(body.get("system")),
                  _tools(body.get("toolConfig")), body)  # fmt: skip
    if strict:
        if reasoned and seals is not None:
            sealed_here = seals(asked.opening)
            for i, j, reasoning in reasoned:
                _check_reasoning(reasoning, i, j, sealed_here)
        for problem in conversation_problems(asked)[:1]:
            m = problem.message
            if problem.kind == "missing_results":
                raise refuse(MISSING_RESULTS, at=m.at + 1, ids=", ".join(problem.ids))
            raise refuse(EXTRA_RESULTS, at=m.at)
    return asked


def _check_reasoning(reasoning: dict[str, Any], at: int, block: int, seals: Seals) -> None:
    """A reasoning block sent back must be as it was sent in this conversation: its text
    with its signature, or its redacted content (base64 of what this server sealed)."""
    said = reasoning.get("reasoningText")
    if isinstance(said, dict):
        text = said.get("text")
        if not isinstance(text, str) or said.get("signature") != seals.signature(text):
            raise refuse(SIGNATURE, at=at, block=block)
    elif "redactedContent" in reasoning:
        try:
            sealed = base64.b64decode(str(reasoning["redactedContent"]), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            sealed = ""
        if seals.unsealed(sealed) is None:
            raise refuse(REDACTED, at=at, block=block)


def _role(message: Any, i: int) -> str:
    where = f"messages.{i + 1}.member"
    if not isinstance(message, dict):
        raise invalid(f"1 validation error detected: Value at '{where}' failed to satisfy "
                      "constraint: Member must be a structure")  # fmt: skip
    role = message.get("role")
    if role not in _ROLES:
        raise invalid(f"1 validation error detected: Value '{role}' at '{where}.role' failed "
                      "to satisfy constraint: Member must satisfy enum value set: "
                      "[user, assistant]")  # fmt: skip
    content = message.get("content")
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise invalid(f"1 validation error detected: Value null at '{where}.content' failed "
                      "to satisfy constraint: Member must not be null")  # fmt: skip
    return str(role)


def _result_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(str(c["text"]) if isinstance(c.get("text"), str) else json.dumps(c.get("json"))
                   for c in content if isinstance(c, dict))  # fmt: skip


def _system(system: Any) -> str:
    if not isinstance(system, list):
        return ""
    return "".join(
        b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)
    )


def _tools(config: Any) -> tuple[str, ...]:
    tools = config.get("tools") if isinstance(config, dict) else None
    names = []
    for tool in tools if isinstance(tools, list) else ():
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            names.append(spec["name"])
    return tuple(names)
