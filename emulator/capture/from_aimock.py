"""aimock's fixture JSON (``{"fixtures": [{"match": …, "response": …}]}``), read into
:class:`~.fixtures.Fixture` values. Pure.

``userMessage`` (a substring), ``sequenceIndex``, ``toolCallId``, ``toolName``,
``model``, ``systemMessage``, ``turnIndex``, ``hasToolResult``, ``responseFormat``;
``content``, ``toolCalls``, ``reasoning``, ``error`` and ``status``, ``finishReason``;
``chunkSize``, ``latency``, ``truncateAfterChunks``.
"""

from __future__ import annotations

from typing import Any, Final

from .fixtures import ANYTHING, Fixture, calls_reply, error_tables, paced

_AIMOCK_FINISH: Final = {
    "length": "max_tokens",
    "content_filter": "content_filter",
    "stop": "stop",
}


def from_aimock(data: dict[str, Any]) -> list[Fixture]:
    found = []
    for i, raw in enumerate(data["fixtures"]):
        fixture = Fixture(f"fixture {i + 1}", {}, {})
        match = raw.get("match") if isinstance(raw.get("match"), dict) else {}
        _aimock_match(match, fixture)
        _aimock_response(raw.get("response"), fixture)
        _aimock_stream(raw, fixture)
        found.append(fixture)
    return found


def _aimock_match(match: dict[str, Any], fixture: Fixture) -> None:
    said: dict[str, Any] = {}
    user = match.get("userMessage")
    if isinstance(user, str) and user not in ("", ".*"):
        said["user_contains"] = user
    for theirs, ours in (("toolCallId", "tool_call_id"), ("toolName", "tool"),
                         ("model", "model"), ("systemMessage", "system_contains")):  # fmt: skip
        if isinstance(match.get(theirs), str) and match[theirs]:
            said[ours] = match[theirs]
    if "model" in said:
        fixture.drop("match.model", "taken as the exact model (aimock also takes a dated "
                     "version of it)")  # fmt: skip
    if isinstance(match.get("sequenceIndex"), int):
        said["nth"] = match["sequenceIndex"] + 1
    if isinstance(match.get("turnIndex"), int):
        said["turn"] = match["turnIndex"] + 1
    if match.get("hasToolResult") is True:
        said["tool_result"] = "*"
    if isinstance(match.get("responseFormat"), str):
        said["path"] = {"$.response_format.type": match["responseFormat"]}
    known = {"userMessage", "toolCallId", "toolName", "model", "systemMessage",
             "sequenceIndex", "turnIndex", "hasToolResult", "responseFormat"}  # fmt: skip
    for key in match:
        if key not in known or (key == "hasToolResult" and match[key] is not True):
            fixture.drop(f"match.{key}", "no condition here tests it")
    fixture.match = said or dict(ANYTHING)


def _aimock_response(response: Any, fixture: Fixture) -> None:
    if not isinstance(response, dict):
        fixture.drop("response", "not a JSON object (a function's answers cannot be read)")
        return
    if "error" in response:
        error = response["error"]
        message = error.get("message") if isinstance(error, dict) else error
        fixture.tables.update(error_tables(fixture, response.get("status", 500), message))
        return
    reply: dict[str, Any] = {}
    calls = response.get("toolCalls")
    if isinstance(calls, list) and calls:
        reply = calls_reply(calls, fixture, "response.toolCalls")
        if isinstance(response.get("content"), str) and response["content"]:
            fixture.drop("response.content", "text beside tool calls: the calls are served")
    elif isinstance(response.get("content"), str):
        reply["text"] = response["content"]
    if isinstance(response.get("reasoning"), str):
        reply["reasoning"] = response["reasoning"]
    finish = response.get("finishReason")
    if finish in _AIMOCK_FINISH:
        if finish != "stop":
            fixture.tables["wire"] = {"finish_type": _AIMOCK_FINISH[finish]}
    elif finish is not None:
        fixture.drop("response.finishReason", f"{finish!r} has no equivalent")
    for key in response:
        if key not in ("content", "toolCalls", "reasoning", "finishReason", "status"):
            fixture.drop(f"response.{key}", "no answer here says it (an embedding is made "
                         "from its text)" if key == "embedding" else "no equivalent")  # fmt: skip
    if reply:
        fixture.tables["reply"] = reply
    elif "http_errors" not in fixture.tables:
        fixture.drop("response", "says no text, tool call or error")


def _aimock_stream(raw: dict[str, Any], fixture: Fixture) -> None:
    paced(fixture, raw.get("chunkSize"), raw.get("latency"))
    cut = raw.get("truncateAfterChunks")
    if isinstance(cut, int) and cut >= 0:
        fixture.tables["faults"] = [{"kind": "drop", "at": cut + 1}]
    for key in ("disconnectAfterMs", "streamingProfile", "chaos"):
        if key in raw:
            fixture.drop(key, "no equivalent: give the turn [[faults]] or [transport]")
