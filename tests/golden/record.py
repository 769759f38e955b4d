"""Record (``python -m tests.golden.record``) or compare the bytes every shipped scenario plans.

For each shipped scenario and a few prompts, on every dialect (FakeGpt's at the
top level of a scenario's entry, the others under their names): the planned steps with fixed
per-request values (each write's bytes, each wait, drop and hold), planned
twice (the second time from a template where one applies, which must agree), and the HTTP
errors it injects. A refactoring that changes none of the emulator's output
leaves ``plans.json`` as it is.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "plans.json"
PROMPTS = ("Tell me something.", "héllo 👋🏽 [x]", "")


def _context(prompt: str) -> Any:
    try:
        from emulator.dialects.fakegpt.wire import StreamContext
    except ImportError:
        from emulator.script import StreamContext  # type: ignore[no-redef]
    return StreamContext(
        prompt=prompt,
        message_id="6fa459ea-ee8a-4ca4-894e-db77e160355e",
        conversation_id="16fd2706-8baf-433b-82eb-8c7fada847da",
        parent_id="1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        create_time=1700000000.123456,
        model="text-davinci-002-render-sha",
        moderation_id="modr-0123456789abcdef01234567",
    )


def _steps(scenario: Any, prompt: str, templates: Any = None) -> str:
    try:
        from emulator.dialects.fakegpt.plan import PlanError, plan
    except ImportError:
        from emulator.script import PlanError, plan  # type: ignore[no-redef]
    kwargs = {"templates": templates} if templates is not None else {}
    steps: list[Any] = []
    try:
        for step in plan(scenario, _context(prompt), **kwargs):
            # A paced stream from a template is one step: its writes and pauses, as played.
            steps.extend(getattr(step, "writes", None) or (step,))
    except PlanError as exc:
        return _hashed(steps, ["PlanError", str(exc)])
    return _hashed(steps)


def _as_response(answer: Any) -> Any:
    """A scripted error as aiohttp sends it (newer versions answer with a value)."""
    if hasattr(answer, "prepared"):
        return answer
    try:
        from emulator.http.asking import sent
    except ImportError:  # before both lifecycles shared it
        from emulator.http.lifecycle import sent  # type: ignore[attr-defined,no-redef]

    return sent(answer)


def _scripted(dialect: Any) -> Any:
    """A dialect's scripted error (newer versions keep it with its errors)."""
    errors = getattr(dialect, "errors", None)
    return errors.scripted if errors is not None else dialect.scripted_error


def _errors(scenario: Any) -> list[Any]:
    try:
        from emulator.dialects.fakegpt.api import scripted_error
    except ImportError:
        from emulator.app import _scripted_error as scripted_error  # type: ignore[no-redef]
    found = []
    for error in scenario.http_errors:
        response = _as_response(scripted_error(error))
        found.append(
            [
                error.endpoint,
                error.on_call,
                response.status,
                response.content_type,
                bytes(response.body or b"").hex(),
                dict(response.headers).get("Retry-After"),
            ]
        )
    return found


def _same(*plans: str) -> str:
    # Planned afresh, then (where one applies) from a template: the same bytes.
    if len(set(plans)) != 1:
        raise AssertionError("a template plans other bytes than planning afresh")
    return plans[0]


#: Fixed per-request values of the other dialects' answers.
_ID = "0123456789abcdef0123456789abcd"
_CREATED = 1700000000


def _dialects() -> dict[str, tuple[Any, Any, Any, Any]]:
    """Each other dialect's (not_applicable, stream planner, whole answer, scripted error),
    each taking what the golden file fixes (a scenario, a prompt, a prepared text)."""
    from emulator.dialects.anthropic import plan as anthropic
    from emulator.dialects.anthropic.wire import MessageContext, message_object
    from emulator.dialects.bedrock import plan as bedrock
    from emulator.dialects.bedrock.wire import StreamContext as ConverseContext
    from emulator.dialects.bedrock.wire import converse_body
    from emulator.dialects.gemini import plan as gemini
    from emulator.dialects.gemini.shapes import array_not_applicable
    from emulator.dialects.gemini.wire import GeminiContext
    from emulator.dialects.gemini.wire import chunk_object as gemini_chunk
    from emulator.dialects.openai_chat import plan as openai_chat
    from emulator.dialects.openai_chat.wire import ChatContext, completion_object
    from emulator.dialects.openai_responses import plan as openai_responses
    from emulator.dialects.openai_responses.wire import ResponseContext
    from emulator.dialects.registry import DIALECTS

    def chat_ctx(usage: bool, s: Any) -> Any:
        made = ChatContext(f"chatcmpl-{_ID}", _CREATED, "gpt-4o-mini", usage, 7)
        return _with(made, reasoning_tokens=_words(s), cached_tokens=_cached(s))

    message = MessageContext(f"msg_{_ID}", "claude-3-5-haiku-latest", 7)

    def thinking(s: Any) -> Any:
        """As a request with thinking on gets it: its reasoning a signed thinking block."""
        reasoning = getattr(s.reply, "reasoning", "")
        return _with(message, thinking=reasoning, signature="EuSigned" if reasoning else "",
                     redacted="gAAAAAsealed" if getattr(s.reply, "redacted", False) else "",
                     cached_tokens=_cached(s))  # fmt: skip

    response = ResponseContext(f"resp_{_ID}", f"msg_{_ID}", _CREATED, "gpt-4o-mini", 7)

    def responding(s: Any) -> Any:
        """As a request asking for the reasoning's summary and encrypted content gets it."""
        reasoning = getattr(s.reply, "reasoning", "")
        summary = bool(reasoning) and not getattr(s.reply, "redacted", False)
        return _with(response, reasoning=reasoning, summary=summary,
                     encrypted="gAAAAAsealed" if reasoning else "", cached_tokens=_cached(s))  # fmt: skip

    generated = GeminiContext(_ID[:24], "gemini-2.5-flash", 7)

    def gemini_ctx(s: Any) -> Any:
        return _with(generated, thoughts=_words(s), cached=_cached(s))

    converse = ConverseContext(7, 321)

    def conversing(s: Any) -> Any:
        """As a request with thinking on gets it."""
        reasoning = getattr(s.reply, "reasoning", "")
        return _with(converse, reasoning=reasoning, signature="EuSigned" if reasoning else "",
                     redacted="Z0FBQUFB" if getattr(s.reply, "redacted", False) else "",
                     cached=_cached(s))  # fmt: skip

    return {
        "openai-chat": (
            openai_chat.not_applicable,
            lambda s, p, prep: [
                *openai_chat.planned_chat(s, chat_ctx(False, s), prep, _context(p).create_time),
                *openai_chat.planned_chat(s, chat_ctx(True, s), prep, _context(p).create_time),
            ],
            lambda s, text, pieces: completion_object(
                chat_ctx(False, s),
                text,
                openai_chat.finish_reason(s),
                pieces,
                s.reply.tool,
                *_calls(s),
                **_said(s),
            ),
            _scripted(DIALECTS["openai-chat"]),
        ),
        "openai-responses": (
            openai_responses.not_applicable,
            lambda s, p, prep: openai_responses.planned_responses(
                s, responding(s), prep, _context(p).create_time
            ),
            lambda s, text, pieces: openai_responses.whole_response(
                s, responding(s), text, pieces
            ),
            _scripted(DIALECTS["openai-chat"]),
        ),
        "anthropic": (
            anthropic.not_applicable,
            lambda s, p, prep: anthropic.planned_messages(s, thinking(s), prep),
            lambda s, text, pieces: message_object(
                thinking(s),
                text,
                anthropic.stop_reason(s),
                pieces,
                s.reply.tool,
                *_calls(s),
            ),
            _scripted(DIALECTS["anthropic"]),
        ),
        "gemini": (
            gemini.not_applicable,
            lambda s, p, prep: [
                *gemini.planned_gemini(s, gemini_ctx(s), prep),
                *(
                    gemini.planned_gemini_array(s, gemini_ctx(s), prep)
                    if array_not_applicable(s) is None
                    else ()
                ),
            ],
            lambda s, text, pieces: gemini_chunk(
                gemini_ctx(s),
                text,
                gemini.finish_reason(s),
                pieces,
                s.reply.tool,
                **({"reasoning": s.reply.reasoning} if getattr(s.reply, "reasoning", "") else {}),
                **({"calls": _calls(s)[0]} if _calls(s) else {}),
            ),
            _scripted(DIALECTS["gemini"]),
        ),
        "bedrock": (
            bedrock.not_applicable,
            lambda s, p, prep: bedrock.planned_converse(s, conversing(s), prep),
            lambda s, text, pieces: (
                bedrock.whole_body(s, conversing(s), text, pieces)
                if hasattr(bedrock, "whole_body")  # before parallel calls: one block
                else converse_body(
                    converse,
                    text,
                    s.reply.tool,
                    bedrock.tool_id(s),
                    bedrock.stop_reason(s),
                    pieces,
                )
            ),
            _scripted(DIALECTS["bedrock"]),
        ),
    }


def _with(ctx: Any, **fields: Any) -> Any:
    """``ctx`` with those of ``fields`` its version has and that say something."""
    given = {k: v for k, v in fields.items() if k in type(ctx)._fields and v}
    return ctx._replace(**given) if given else ctx


def _words(scenario: Any) -> int:
    """The tokens of the scenario's reasoning (0: none)."""
    return len(getattr(scenario.reply, "reasoning", "").split())


def _cached(scenario: Any) -> int:
    """The prompt's tokens (7 here) the prompt cache serves."""
    return min(getattr(scenario.reply, "cached_tokens", 0), 7)


def _calls(scenario: Any) -> tuple[Any, ...]:
    """The reply's further calls, as an argument where the version takes them."""
    calls = getattr(scenario.reply, "calls", ())
    return ([(c.tool, c.arguments) for c in calls],) if calls else ()


def _said(scenario: Any) -> dict[str, bool]:
    """A Chat answer's refusal and Azure filter results, where the version has them."""
    said = {"refusal": getattr(scenario.reply, "refusal", False),
            "azure": getattr(scenario.wire, "azure_filters", False)}  # fmt: skip
    return {key: True for key, value in said.items() if value}


def _hashed(steps: Any, *last: list[str]) -> str:
    """The steps as the player sends them, hashed: consecutive writes merged (what reaches
    the socket, not how the planner happened to cut it), each wait, hold and drop."""
    out: list[Any] = []
    for step in steps:
        kind = type(step).__name__
        if kind == "Write":
            if out and out[-1][0] == "W":
                out[-1][1] += step.data.hex()
            else:
                out.append(["W", step.data.hex()])
        elif kind == "Wait":
            out.append(["T", repr(step.seconds), step.scaled])
        elif kind == "Hold":
            out.append(["H", repr(step.seconds)])
        else:
            out.append([kind])
    out.extend(last)
    return hashlib.sha256(json.dumps(out).encode()).hexdigest()


def _websocket_only(scenario: Any) -> str | None:
    """Why a scenario is served on no HTTP dialect: a WebSocket's own fault (newer versions
    have them)."""
    from emulator.scenario.faults import FAULTS

    kind = next((f.kind for f in scenario.faults if getattr(FAULTS[f.kind], "websocket", False)),
                None)  # fmt: skip
    return None if kind is None else f"its {kind} fault is a WebSocket's"


def _foreign(scenario: Any, dialect: str) -> str | None:
    """Why another API's part of ``scenario`` means nothing on ``dialect`` (since the
    scenario model became the answers' own; before, each dialect said it itself)."""
    from emulator.dialects.registry import DIALECTS

    foreign = getattr(DIALECTS[dialect], "_foreign", None)
    return None if foreign is None else foreign(scenario)


def _on_dialect(scenario: Any, dialect: str, hooks: tuple[Any, Any, Any, Any]) -> dict[str, Any]:
    """One scenario on another dialect: why not, or its stream and whole answer per
    prompt, and its scripted errors (status, type and body; a request id is random)."""
    from emulator.engine.prepare import prepare
    from emulator.scenario.text import reply_text

    not_applicable, planned, whole, scripted = hooks
    reason = _websocket_only(scenario) or not_applicable(scenario) or _foreign(scenario, dialect)
    if reason is not None:
        return {"not_applicable": reason}
    plans, wholes = {}, {}
    for prompt in PROMPTS:
        prepared = prepare(scenario, reply_text(scenario.reply, prompt))
        plans[prompt] = _hashed(planned(scenario, prompt, prepared))
        body = whole(scenario, prepared.text, len(prepared.ends))
        wholes[prompt] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    errors = []
    for error in scenario.http_errors:
        response = _as_response(scripted(error))
        headers = dict(response.headers)
        errors.append([error.endpoint, error.on_call, response.status, response.content_type,
                       bytes(response.body or b"").hex(), headers.get("Retry-After"),
                       headers.get("x-ratelimit-remaining-requests"),
                       headers.get("anthropic-ratelimit-requests-remaining")])  # fmt: skip
    return {"plans": plans, "whole": wholes, "errors": errors}


def _fakegpt_not_applicable(scenario: Any) -> str | None:
    try:
        from emulator.dialects.fakegpt.plan import not_applicable
    except ImportError:  # before the registry, every scenario applied
        return None
    return not_applicable(scenario)


def record() -> dict[str, Any]:
    from emulator import builtin_scenarios

    try:
        from emulator.dialects.fakegpt.cache import TemplateCache

        cache: Any = TemplateCache()
    except ImportError:  # before the redesign the cache was a module global
        cache = None
    result: dict[str, Any] = {}
    dialects = _dialects()
    shipped = builtin_scenarios()
    every = {  # each turn of a scripted conversation, as its own scenario (NAME#N)
        **shipped,
        **{t.scenario.name: t.scenario for s in shipped.values() for t in getattr(s, "turns", ())},
    }
    for name, scenario in sorted(every.items()):
        result[name] = {
            dialect: _on_dialect(scenario, dialect, hooks) for dialect, hooks in dialects.items()
        }
        if getattr(scenario.reply, "tool", ""):
            continue  # a tool call is not served on the FakeGpt stream
        reason = (
            _websocket_only(scenario)
            or _fakegpt_not_applicable(scenario)
            or _foreign(scenario, "fakegpt")
        )
        if reason is not None:
            result[name]["not_applicable"] = reason
            continue
        result[name] |= {
            "plans": {
                prompt: _same(
                    _steps(scenario, prompt, cache),
                    _steps(scenario, prompt, cache),
                    _steps(scenario, prompt),
                )
                for prompt in PROMPTS
            },
            "errors": _errors(scenario),
        }
    return result


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
