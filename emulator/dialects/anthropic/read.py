"""What a Messages request asks (:class:`~emulator.scenario.asked.Asked`), and the
conversation rules the API enforces (:data:`STRICT_RULES`), the thinking signature
check among them. Pure: the signer is given."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from ...core.signing import Seals
from ...protocol.errors import BadRequest
from ...protocol.thoughts import thinking_enabled
from ...scenario.asked import Asked, Message, ToolCall, conversation_problems, with_tool_names
from ..strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_messages"]

_ROLES: Final = ("user", "assistant")
_THINKING_DOCS: Final = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_TOOL_DOCS: Final = "https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use"

MAX_TOKENS: Final = StrictRule(
    "anthropic.max_tokens",
    "a request without `max_tokens`",
    "max_tokens: Field required",
    "https://docs.claude.com/en/api/messages",
    switchable=False,
)
UNKNOWN_RESULT: Final = StrictRule(
    "anthropic.unknown_result",
    "a `tool_result` whose `tool_use_id` is no `tool_use` of the assistant message just "
    "before it (or with no assistant message before it)",
    "messages.{at}.content.{block}: unexpected `tool_use_id` found in `tool_result` blocks: "
    "{id}. Each `tool_result` block must have a corresponding `tool_use` block in the "
    "previous message.",
    f"{_TOOL_DOCS}; the API's answer as quoted in github.com/decocms/studio/issues/1803",
)
MISSING_RESULTS: Final = StrictRule(
    "anthropic.missing_results",
    "an assistant message's `tool_use` blocks not all answered by `tool_result` blocks in "
    "the next message",
    "messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately "
    "after: {ids}. Each `tool_use` block must have a corresponding `tool_result` block in "
    "the next message.",
    f"{_TOOL_DOCS}; the API's answer as quoted in github.com/anthropics/claude-code/issues/5989",
)
THINKING_DROPPED: Final = StrictRule(
    "anthropic.thinking_dropped",
    "with `thinking` enabled, a tool loop's last assistant message that does not start "
    "with its thinking block (the client dropped it)",
    "messages.{at}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
    "`{found}`. When `thinking` is enabled, a final `assistant` message must start with a "
    "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). "
    "We recommend you include thinking blocks from previous turns. To avoid this "
    "requirement, disable `thinking`. Please consult our documentation at " + _THINKING_DOCS,
    f"{_THINKING_DOCS} (preserving thinking blocks); the API's answer as quoted in "
    "github.com/anomalyco/opencode/issues/3077",
)
SIGNATURE: Final = StrictRule(
    "anthropic.signature",
    "a `thinking` block whose text or `signature` is not as the API sent it",
    "messages.{at}.content.{block}: Invalid `signature` in `thinking` block",
    f"{_THINKING_DOCS} (thinking encryption); the API's answer as quoted in "
    "github.com/ding113/claude-code-hub/issues/518",
)
REDACTED_DATA: Final = StrictRule(
    "anthropic.redacted_data",
    "a `redacted_thinking` block whose `data` is not as the API sent it",
    "messages.{at}.content.{block}: Invalid `data` in `redacted_thinking` block",
    f"{_THINKING_DOCS} (redacted thinking); the API's answer as quoted in "
    "github.com/anthropics/claude-code/issues/56708",
)
STRICT_RULES: Final = (
    MAX_TOKENS,
    UNKNOWN_RESULT,
    MISSING_RESULTS,
    THINKING_DROPPED,
    SIGNATURE,
    REDACTED_DATA,
)


def asked_of_messages(
    body: dict[str, Any],
    model: str,
    strict: bool,
    seals: Callable[[str], Seals] | None = None,
) -> Asked:
    """The conversation of a Messages body (``messages`` a non-empty list, checked by the
    caller); the rules refused with the API's 400. ``seals``: the signatures and seals of
    the conversation that opens with a text (a thinking block's signature, a redacted
    block's data: each must be as this API sent it in this conversation)."""
    messages: list[Message] = []
    firsts: dict[int, str] = {}  # an assistant message's first block's type, by index
    thoughts: list[tuple[int, int, dict[str, Any]]] = []  # the blocks to check, once known
    for i, message in enumerate(body["messages"]):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise BadRequest(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        role, content = message["role"], message.get("content")
        if isinstance(content, str):
            messages.append(Message(role, content, at=i))
            continue
        if not isinstance(content, list):
            raise BadRequest(400, f"messages.{i}.content: Input should be a string or content "
                             "blocks")  # fmt: skip
        texts, calls = [], []
        for j, block in enumerate(content):
            kind = block.get("type") if isinstance(block, dict) else None
            if j == 0 and role == "assistant":
                firsts[i] = str(kind)
            if kind == "text":
                if not isinstance(block.get("text"), str):
                    raise BadRequest(400, f"messages.{i}.content.{j}.text: Field required")
                texts.append(block["text"])
            elif kind == "tool_use":
                calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")),
                                      json.dumps(block.get("input", {}))))  # fmt: skip
            elif kind == "tool_result":
                messages.append(Message("tool", _result_text(block.get("content")),
                                        call_id=str(block.get("tool_use_id", "")), at=i,
                                        block=j))  # fmt: skip
            elif kind in ("thinking", "redacted_thinking") and strict and role == "assistant":
                thoughts.append((i, j, block))
        if texts or calls or not any(m.at == i for m in messages):
            messages.append(Message(role, "".join(texts), tuple(calls), at=i))
    asked = Asked(with_tool_names(messages), model, _system(body.get("system")),
                  _tools(body.get("tools")), body)  # fmt: skip
    if strict:
        if thoughts and seals is not None:
            _check_thoughts(thoughts, seals(asked.opening))
        _check(asked, firsts, thinking_enabled(body))
    return asked


def _check_thoughts(thoughts: list[tuple[int, int, dict[str, Any]]], seals: Seals) -> None:
    """Each thinking block sent back as it was sent in this conversation: its text with its
    signature, or a redacted block's data."""
    for i, j, block in thoughts:
        if block.get("type") == "thinking":
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(thinking, str) or signature != seals.signature(thinking):
                raise refuse(SIGNATURE, at=i, block=j)
        else:
            data = block.get("data")
            if not isinstance(data, str) or seals.unsealed(data) is None:
                raise refuse(REDACTED_DATA, at=i, block=j)


def _check(asked: Asked, firsts: dict[int, str], thinking: bool) -> None:
    for problem in conversation_problems(asked)[:1]:
        m = problem.message
        if problem.kind == "missing_results":
            raise refuse(MISSING_RESULTS, at=m.at, ids=", ".join(problem.ids))
        raise refuse(UNKNOWN_RESULT, at=m.at, block=max(m.block, 0), id=m.call_id)
    last = asked.last
    if thinking and last is not None and last.role == "tool":
        caller = next(m for m in reversed(asked.messages) if m.role == "assistant")
        if firsts.get(caller.at) not in ("thinking", "redacted_thinking"):
            raise refuse(THINKING_DROPPED, at=caller.at, found=firsts.get(caller.at, "text"))


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b["text"] for b in content
                       if isinstance(b, dict) and isinstance(b.get("text"), str))  # fmt: skip
    return ""


def _system(system: Any) -> str:
    if isinstance(system, str):
        return system
    return _result_text(system)


def _tools(tools: Any) -> tuple[str, ...]:
    if not isinstance(tools, list):
        return ()
    return tuple(
        t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)
    )
