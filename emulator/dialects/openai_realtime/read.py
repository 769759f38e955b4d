"""What a Realtime conversation asks (:class:`~emulator.scenario.asked.Asked`), from its
items as the session keeps them. Pure.

A user or assistant message says its text (or its audio's transcript); a
``function_call`` item is the assistant's call; a ``function_call_output`` answers it by
its ``call_id``; a system message joins the instructions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...scenario.asked import Asked, Message, ToolCall, with_tool_names

__all__ = ["asked_of_items", "item_text"]


def item_text(item: Mapping[str, Any]) -> str:
    """A message item's words: its text parts, and its audio parts' transcripts."""
    content = item.get("content")
    words = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, Mapping):
            said = part.get("text") if "text" in part else part.get("transcript")
            words.append(said if isinstance(said, str) else "")
    return "".join(words)


def asked_of_items(
    items: Sequence[Mapping[str, Any]],
    model: str,
    instructions: str,
    tools: tuple[str, ...],
    body: Any,
) -> Asked:
    messages: list[Message] = []
    system = [instructions] if instructions else []
    for i, item in enumerate(items):
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            if role == "system":
                system.append(item_text(item))
            elif role == "user" or role == "assistant":
                messages.append(Message(role, item_text(item), at=i))
        elif kind == "function_call":
            call = ToolCall(str(item.get("call_id", "")), str(item.get("name", "")),
                            str(item.get("arguments", "")))  # fmt: skip
            messages.append(Message("assistant", "", (call,), at=i))
        elif kind == "function_call_output":
            messages.append(Message("tool", str(item.get("output", "")),
                                    call_id=str(item.get("call_id", "")), at=i))  # fmt: skip
    return Asked(with_tool_names(messages), model, "\n".join(system), tools, body)
