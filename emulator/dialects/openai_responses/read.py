"""What a Responses request asks (:class:`~emulator.scenario.asked.Asked`), and the
conversation rules the API enforces on ``input`` (:data:`STRICT_RULES`). Pure."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario.asked import Asked, Message, ToolCall, with_tool_names
from ..openai import ROLES, content_text, tool_names
from ..strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_responses"]

_DOCS: Final = "https://platform.openai.com/docs/guides/function-calling"

UNKNOWN_OUTPUT: Final = StrictRule(
    "openai_responses.unknown_output",
    "a `function_call_output` whose `call_id` is no `function_call` in `input` (and no "
    "`previous_response_id` to find it in)",
    "No tool call found for function call output with call_id {id}.",
    f"{_DOCS}; the API's answer as quoted in github.com/continuedev/continue/issues/10092",
)
MISSING_OUTPUT: Final = StrictRule(
    "openai_responses.missing_output",
    "a `function_call` in `input` with no `function_call_output` for its `call_id`",
    "No tool output found for function call {id}.",
    f"{_DOCS}; the API's answer as quoted in github.com/anomalyco/opencode/issues/16717",
)
UNVERIFIED: Final = StrictRule(
    "openai_responses.encrypted_content",
    "a `reasoning` item whose `encrypted_content` is not as the API sent it (altered, or "
    "another's)",
    "The encrypted content for item {id} could not be verified. Reason: Encrypted content "
    "could not be decrypted or parsed.",
    "https://platform.openai.com/docs/guides/reasoning (encrypted reasoning items); the API's "
    "answer as quoted in github.com/smallmain/vscode-unify-chat-provider/issues/178",
)
REASONING_DROPPED: Final = StrictRule(
    "openai_responses.reasoning_dropped",
    "an output item (a `function_call`, an assistant `message`) sent back without the "
    "`reasoning` item that came before it (the client dropped it)",
    "Item '{id}' of type '{kind}' was provided without its required 'reasoning' item: "
    "'{reasoning}'.",
    "https://platform.openai.com/docs/guides/reasoning (keeping reasoning items in context); "
    "the API's answer as quoted in github.com/continuedev/continue/issues/12620",
)
STRICT_RULES: Final = (UNKNOWN_OUTPUT, MISSING_OUTPUT, UNVERIFIED, REASONING_DROPPED)


def reasoned_tail(mark: Callable[[str], str]) -> str:
    """The id tail (30 hex digits) of a response's items when it reasons: 18 random, the
    ``mark`` of those, then ``0000``; every item's id keeps the first 26, so each says it
    came with the reasoning item ``rs_`` + this tail."""
    seed = secrets.token_hex(9)
    return seed + mark(seed) + "0000"


def _reasoning_of(item_id: str, mark: Callable[[str], str]) -> str | None:
    """The reasoning item an output item's id says it came with (None: none, or not an id
    the emulator made)."""
    tail = item_id.partition("_")[2]
    if len(tail) < _MARKED or mark(tail[:18]) != tail[18:_MARKED]:
        return None
    return f"rs_{tail[:_MARKED]}0000"


_MARKED: Final = 26


def asked_of_responses(
    body: dict[str, Any],
    model: str,
    strict: bool,
    unsealed: Callable[[str], str | None] = lambda blob: blob,
    mark: Callable[[str], str] | None = None,
) -> Asked:
    """The conversation of a Responses body: ``input`` (a string, or items: messages,
    ``function_call``, ``function_call_output``, ``reasoning``), ``instructions``. Where
    ``strict``, a reasoning item's ``encrypted_content`` must open (``unsealed``: sealed
    by this API; not bound to a conversation, whose opening a request continued by
    ``previous_response_id`` does not carry), and an
    item that came with reasoning (its id has the emulator's ``mark``) must come back
    with it."""
    given = body.get("input")
    messages: list[Message] = []
    if isinstance(given, str):
        messages.append(Message("user", given))
    elif isinstance(given, list) and given:
        for i, item in enumerate(given):
            messages += _item(item, i, messages)
            if strict and isinstance(item, dict) and item.get("type") == "reasoning":
                sealed = item.get("encrypted_content")
                if sealed is not None and (
                    not isinstance(sealed, str) or unsealed(sealed) is None
                ):
                    raise refuse(UNVERIFIED, id=item.get("id", "?"))
    else:
        raise BadRequest(400, "Missing required parameter: 'input'.")
    instructions = body.get("instructions")
    system = instructions if isinstance(instructions, str) else ""
    system = "\n".join([system, *(m.text for m in messages if m.role == "system")]).strip()
    asked = Asked(with_tool_names(messages), model, system, tool_names(body.get("tools")), body)
    if strict and body.get("previous_response_id") is None:
        _check(asked)
        if mark is not None and isinstance(given, list):
            _check_reasoning(given, mark)
    return asked


def _check_reasoning(items: list[Any], mark: Callable[[str], str]) -> None:
    """Refuse an output item sent back without the reasoning item it came with."""
    kept = {item.get("id") for item in items if item.get("type") == "reasoning"}
    for item in items:
        kind = item.get("type", "message")
        item_id = item.get("id")
        if kind not in ("function_call", "message") or not isinstance(item_id, str):
            continue
        reasoning = _reasoning_of(item_id, mark)
        if reasoning is not None and reasoning not in kept:
            raise refuse(REASONING_DROPPED, id=item_id, kind=kind, reasoning=reasoning)


def _item(item: Any, i: int, before: list[Message]) -> list[Message]:
    """The messages one input item adds (a function call joins the assistant message
    just before it, as one answer of the model)."""
    if not isinstance(item, dict):
        raise BadRequest(400, f"Invalid 'input[{i}]': expected an object.")
    kind = item.get("type", "message")
    if kind == "function_call":
        call = ToolCall(str(item.get("call_id", "")), str(item.get("name", "")),
                        _arguments(item.get("arguments")))  # fmt: skip
        if before and before[-1].role == "assistant":
            last = before.pop()
            return [Message("assistant", last.text, (*last.calls, call), at=last.at)]
        return [Message("assistant", "", (call,), at=i)]
    if kind == "function_call_output":
        output = item.get("output")
        text = output if isinstance(output, str) else json.dumps(output)
        return [Message("tool", text, call_id=str(item.get("call_id", "")), at=i)]
    if kind in ("reasoning", "item_reference"):
        return []
    if kind != "message" or item.get("role") not in ROLES:
        raise BadRequest(400, f"Invalid 'input[{i}]': expected a message with a role.")
    content = item.get("content")
    if isinstance(content, list):
        content = [
            {**p, "type": "text"} if isinstance(p, dict) and p.get("type") in (
                "input_text", "output_text") else p
            for p in content
        ]  # fmt: skip
    role = item["role"]
    text = content_text(content, i)
    if role == "assistant" and before and before[-1].role == "assistant":
        last = before.pop()
        return [Message("assistant", last.text + text, last.calls, at=last.at)]
    return [Message("system" if role == "developer" else role, text, at=i)]


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments or {})


def _check(asked: Asked) -> None:
    calls = {c.id for m in asked.messages for c in m.calls}
    answered = set()
    for message in asked.messages:
        if message.role == "tool":
            if message.call_id not in calls:
                raise refuse(UNKNOWN_OUTPUT, id=message.call_id)
            answered.add(message.call_id)
    for message in asked.messages:
        for call in message.calls:
            if call.id not in answered:
                raise refuse(MISSING_OUTPUT, id=call.id)
