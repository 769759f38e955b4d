"""Planning a scenario on OpenAI's Chat Completions stream. Pure.

The same events as the FakeGpt stream, so a fault's ``at`` and a
scenario's expected outcome mean the same on both: event 0 carries the role
and no content, then one chunk per piece of the reply, then the chunk with
``finish_reason`` (and the usage chunk). Faults are written as on the
FakeGpt stream but for those with a shape of their own here (an ``error``
event, a malformed chunk); :func:`not_applicable` names the scenarios that
mean nothing on this dialect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream, format_of
from ...protocol.sse import SSEFormat
from ...protocol.steps import Step, Write
from ...scenario.faults import write_fault
from ...scenario.model import Fault, Scenario
from ..fakegpt.wire import DONE, StreamContext
from .wire import (
    ChatContext,
    chunk_object,
    error_object,
    tool_call,
    usage_chunk_object,
)

__all__ = ["TITLE", "finish_reason", "not_applicable", "planned_chat"]

TITLE: Final = "OpenAI Chat Completions"
#: Fault kinds with no meaning on a delta stream of chunks.
_NOT_HERE: Final = {
    "foreign_message": "chunks carry no message of another author",
    "moderation": "there is no moderation event",
    "num_variants": "there is no num_variants event",
    "stale": "a delta sent again cannot be told from a new one: the events are not numbered",
    "repeat": "a delta sent again cannot be told from a new one: the events are not numbered",
    "rewrite": "deltas cannot rewrite what was sent",
}


def not_applicable(scenario: Scenario, *, resent: bool = False) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies). ``resent``: the
    dialect numbers its events, so ``stale`` and ``repeat`` resend numbered events."""
    for fault in scenario.faults:
        if resent and fault.kind in ("stale", "repeat"):
            continue
        if fault.kind in _NOT_HERE:
            return f"its {fault.kind} fault: {_NOT_HERE[fault.kind]}"
    if scenario.wire.encoding != "cumulative":
        return "it is about the FakeGpt delta_encoding v1 stream"
    if scenario.wire.body != "stream":
        return f"its body is {scenario.wire.body!r}, a FakeGpt quirk"
    if scenario.recording is not None:
        return "its recording is of the FakeGpt stream"
    login = [e for e in scenario.http_errors if e.endpoint != "conversation"]
    transport = scenario.transport
    if (
        login
        or scenario.accounts is not None
        or not scenario.login_cookie
        or (transport.shapes and "conversation" not in transport.endpoints)
    ):
        return "it acts on the FakeGpt login calls, which this API does not have"
    if scenario.expect.outcome != "failure" and any(
        e.status in (401, 403) for e in scenario.http_errors
    ):
        return "it expects a fresh login to cure a 401; an API key has no login"
    return None


def finish_reason(scenario: Scenario) -> str:
    if scenario.wire.finish_type == "max_tokens":
        return "length"
    return "tool_calls" if scenario.reply.tool else "stop"


def planned_chat(
    scenario: Scenario, ctx: ChatContext, fault_ctx: StreamContext, prepared: Prepared
) -> Iterator[Step]:
    """The Chat Completions stream of ``scenario`` for one request, faults included."""
    fmt = format_of(scenario)
    done = [Write(fmt.event(DONE), "[DONE]")] if scenario.wire.done else []
    events = _events(scenario, ctx, fmt, prepared)
    return dialect_stream(scenario, events, fault_ctx, prepared, _writer(ctx), done)


def _events(scenario: Scenario, ctx: ChatContext, fmt: SSEFormat, prepared: Prepared) -> Events:
    tool = scenario.reply.tool

    def opening() -> list[Step]:
        delta: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        if tool:  # the call's id, type and name; its arguments follow piece by piece
            delta = {
                **delta,
                "content": None,
                "tool_calls": [tool_call(ctx, tool, "", first=True)],
            }
        return [Write(fmt.json_event(chunk_object(ctx, delta)), "chunk 0 (role)")]

    def piece(number: int, text: str) -> Step:
        delta = (
            {"tool_calls": [tool_call(ctx, None, text, first=False)]}
            if tool
            else {"content": text}
        )
        return Write(fmt.json_event(chunk_object(ctx, delta)), f"chunk {number}")

    def closing(text: str, pieces: int) -> list[Step]:
        final = chunk_object(ctx, {}, finish_reason(scenario))
        last: list[Step] = [Write(fmt.json_event(final), "final chunk")]
        if ctx.include_usage:
            usage = usage_chunk_object(ctx, pieces)
            last.append(Write(fmt.json_event(usage), "usage chunk"))
        return last

    return delta_events(scenario, prepared, opening, piece, closing)


def _writer(ctx: ChatContext) -> Any:
    """Fault writers, with this dialect's shapes for an error event and a malformed chunk."""

    def write(fault: Fault, fmt: SSEFormat, fault_ctx: StreamContext, sent: Any) -> Iterator[Step]:
        what = f"fault {fault.kind} at {fault.at}"
        if fault.kind == "error":
            obj = error_object(500, fault.text or "The server had an error while processing "
                               "your request.")  # fmt: skip
            for _ in range(fault.count):
                yield Write(fmt.json_event(obj), what)
        elif fault.kind == "malformed_json":
            data = fault.text or '{"id": "' + ctx.id + '", "object": "chat.completion.chunk", '
            for _ in range(fault.count):
                yield Write(fmt.event(data), what)
        else:
            yield from write_fault(fault, fmt, fault_ctx, sent)

    return write
