"""A HAR of an MCP session (a browser's devtools, MCP Inspector's, a proxy's) as a scenario
whose ``[mcp]`` part scripts the server it talked to: the tools it listed, with each call's
arguments and result (``[[mcp.tools.answers]]``), the resources it read and the prompts it
got. Pure.

Each entry whose request body is a JSON-RPC request is paired with its answer: a JSON body,
or the event stream's message with the same id. What has no equivalent in a scenario (the
server's own requests, notifications, an error response) is named, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..dialects.mcp.part import McpPart
from ..dialects.mcp.scripted import (
    ScriptedAnswer,
    ScriptedPrompt,
    ScriptedResource,
    ScriptedTool,
)
from ..scenario.model import Scenario

__all__ = ["mcp_from_har"]


def mcp_from_har(
    har: Mapping[str, Any], source: str, name: str
) -> tuple[Scenario, list[str]] | None:
    """The scenario that scripts the MCP server of ``har``, and what it could not keep
    (None: it holds no MCP request)."""
    pairs = [p for e in har.get("log", {}).get("entries", []) if (p := _pair(e)) is not None]
    if not pairs:
        return None
    left_out: list[str] = []
    listed: dict[str, Mapping[str, Any]] = {}
    calls: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
    resources: dict[str, ScriptedResource] = {}
    prompts: dict[str, ScriptedPrompt] = {}
    for request, answer, extra in pairs:
        left_out += extra
        method, params = request.get("method"), request.get("params") or {}
        result = answer.get("result") if answer is not None else None
        if answer is not None and "error" in answer:
            left_out.append(f"the error answering {method} ({answer['error'].get('message', '')})")
            continue
        if not isinstance(result, Mapping) or not isinstance(params, Mapping):
            continue
        if method == "tools/list":
            listed.update({t["name"]: t for t in result.get("tools", []) if "name" in t})
        elif method == "tools/call":
            calls.setdefault(str(params.get("name")), []).append(
                (params.get("arguments") or {}, result)
            )
        elif method == "resources/read":
            for got in result.get("contents", []):
                if "text" in got:
                    resources[got["uri"]] = ScriptedResource(got["uri"], "", got.get(
                        "mimeType", "text/plain"), got["text"])  # fmt: skip
        elif method == "prompts/get":
            said = [m.get("content", {}).get("text", "") for m in result.get("messages", [])]
            prompts[str(params.get("name"))] = ScriptedPrompt(
                str(params.get("name")), result.get("description") or "", "\n".join(said)
            )
    tools = tuple(_tool(n, listed.get(n, {}), calls.get(n, [])) for n in {**listed, **calls})
    part = McpPart(tools=tools, resources=tuple(resources.values()),
                   prompts=tuple(prompts.values()))  # fmt: skip
    described = (f"Imported from an MCP session ({source}): {len(tools)} tools, "
                 f"{sum(len(c) for c in calls.values())} calls, {len(resources)} resources, "
                 f"{len(prompts)} prompts.")  # fmt: skip
    scenario = Scenario(name=name, description=described, parts=(part,), source=source)
    return scenario, sorted(set(left_out))


def _tool(
    name: str,
    listed: Mapping[str, Any],
    calls: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> ScriptedTool:
    """A listed tool, answering each call's arguments with what that call got (the first
    call's answer for any other)."""
    answers = [_answer(arguments, result) for arguments, result in calls]
    default = answers[0] if answers else ScriptedAnswer({})
    by_arguments = tuple(a for a in answers if a.when)
    return ScriptedTool(name, str(listed.get("description") or ""),
                        listed.get("inputSchema") or {"type": "object"},
                        listed.get("outputSchema"), default.text, default.structured,
                        default.is_error, answers=by_arguments)  # fmt: skip


def _answer(arguments: Mapping[str, Any], result: Mapping[str, Any]) -> ScriptedAnswer:
    text = "".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")
    return ScriptedAnswer(dict(arguments), text, result.get("structuredContent"),
                          bool(result.get("isError")))  # fmt: skip


def _pair(entry: Any) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]] | None:
    """One HAR entry as (its JSON-RPC request, its answer, what it carried besides)."""
    if not isinstance(entry, Mapping):
        return None
    try:
        request = json.loads(entry.get("request", {}).get("postData", {}).get("text", ""))
    except (ValueError, AttributeError):
        return None
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "id" not in request:
        return None  # not a request (a notification, a client's answer: nothing to script)
    text = entry.get("response", {}).get("content", {}).get("text") or ""
    messages = _messages(text)
    answer = next((m for m in messages if m.get("id") == request["id"] and "method" not in m),
                  None)  # fmt: skip
    extra = [f"the server's {m['method']}" for m in messages if "method" in m]
    return request, answer, extra


def _messages(text: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer: a JSON body, or an event stream's data lines."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    found = []
    for line in text.splitlines():
        if line.startswith("data:"):
            try:
                said = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(said, dict):
                found.append(said)
    return found
