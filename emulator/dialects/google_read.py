"""What a Gemini conversation asks (a ``generateContent`` request's, a Live session's) (:class:`~emulator.scenario.asked.Asked`),
and the conversation rules the API enforces on ``contents`` (:data:`STRICT_RULES`). Pure.

A model turn's ``functionCall`` parts are its tool calls; a user turn's
``functionResponse`` parts answer them by the tool's name (or by ``id`` where
the client gives one).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Final

from ..core.signing import Seals
from ..protocol.errors import BadRequest
from ..scenario.asked import Asked, Message, ToolCall, conversation_problems
from .google import signed_call
from .strict import StrictRule, refuse

__all__ = ["STRICT_RULES", "asked_of_gemini", "signs"]

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
_SIGNATURES: Final = "https://ai.google.dev/gemini-api/docs/thought-signatures"
SIGNATURE_MISSING: Final = StrictRule(
    "gemini.thought_signature",
    "on a Gemini 3 model, a model turn of the current turn (after the last user text) whose "
    "first `functionCall` part comes back without the `thoughtSignature` it was sent with",
    "Function call is missing a thought_signature in functionCall parts. This is required "
    "for tools to work correctly, and missing thought_signature may lead to degraded model "
    "performance. Additional data, function call `default_api:{name}` , position "
    "{position}. Please refer to " + _SIGNATURES + " for more details.",
    f"{_SIGNATURES}; the API's answer as quoted in github.com/TokenRhythm/opensquilla/issues/225",
)
SIGNATURE_CORRUPTED: Final = StrictRule(
    "gemini.thought_signature_corrupted",
    "a `functionCall` part whose `thoughtSignature` is not the one this API sent with that "
    "call in this conversation (altered, made up, or moved from another)",
    "Corrupted thought signature.",
    f"{_SIGNATURES}; the API's answer as quoted in google-gemini/gemini-cli#13467",
)
STRICT_RULES: Final = (
    RESPONSE_WITHOUT_CALL, RESPONSE_COUNT, SIGNATURE_MISSING, SIGNATURE_CORRUPTED
)  # fmt: skip


def asked_of_gemini(
    body: dict[str, Any],
    model: str,
    strict: bool,
    seals: Callable[[str], Seals] | None = None,
) -> Asked:
    """The conversation of a Gemini body (``contents`` a non-empty list, checked by the
    caller). ``seals``: the signatures of the conversation that opens with a text (each
    ``thoughtSignature`` sent back must be this API's for its call there; on a Gemini 3
    model, the current turn's calls must carry theirs)."""
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
        if seals is not None:
            _check_signatures(body["contents"], seals(asked.opening), signs(model))
        for problem in conversation_problems(asked, by_id=False)[:1]:
            rule = RESPONSE_COUNT if problem.kind == "missing_results" else RESPONSE_WITHOUT_CALL
            raise refuse(rule)
    return asked


def signs(model: str) -> bool:
    """Whether ``model`` sends thought signatures with its calls and requires them back
    (Gemini 3 and later, whose thinking cannot be turned off)."""
    name = model.removeprefix("models/")
    return name.startswith("gemini-") and name[7:8].isdigit() and int(name[7]) >= 3


def _check_signatures(contents: list[Any], seals: Seals, required: bool) -> None:
    """Every ``thoughtSignature`` on a functionCall part is the one sent with that call; where
    ``required``, the first call of each model turn since the last user text carries one."""
    current = 0  # where the current turn starts: after the last user content with text
    for i, content in enumerate(contents):
        parts = content["parts"]
        if content.get("role", "user") == "user" and any("text" in p for p in parts):
            current = i + 1
    for i, content in enumerate(contents):
        called = [p for p in content["parts"] if isinstance(p.get("functionCall"), dict)]
        for n, part in enumerate(called):
            said = part.get("thoughtSignature", part.get("thought_signature"))
            call = part["functionCall"]
            if said is None:
                if n == 0 and required and i >= current and content.get("role") == "model":
                    raise refuse(SIGNATURE_MISSING, name=call.get("name", ""), position=i + 1)
                continue
            made = seals.signature(signed_call(str(call.get("name", "")), call.get("args", {})))
            if _decoded(said) != _decoded(made):
                raise refuse(SIGNATURE_CORRUPTED)


def _decoded(signature: Any) -> bytes | None:
    """A signature's bytes, in either base64 alphabet (a client may send back the URL-safe
    form of what it was sent); None for what is not base64."""
    if not isinstance(signature, str):
        return None
    text = signature.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        return None


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
