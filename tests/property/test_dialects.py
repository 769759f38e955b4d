"""Fuzzing the other APIs' streams: any generated scenario, planned on Chat Completions,
Anthropic Messages or the Responses API, read back by a strict reference reader.

Property: the stream's bytes, fed to the spec-exact SSE decoder at any chunk size, give
exactly the scenario's text through that API's own events (skipping what a correct
reader skips), or the failure it states: the error event, the connection cut, the early
``[DONE]``. On the Responses API the ``sequence_number``s, once the events sent again
are dropped, run unbroken from 0. Pure: the planners' steps, no sockets (the SDK tests
and the conformance runner cover the sockets).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st

from client.sse import SSEDecoder
from emulator import Expect, Fault, Reply, Scenario, Wire
from emulator.dialects.anthropic.plan import not_applicable as messages_not_applicable
from emulator.dialects.anthropic.plan import planned_messages
from emulator.dialects.anthropic.wire import MessageContext
from emulator.dialects.gemini.plan import not_applicable as gemini_not_applicable
from emulator.dialects.gemini.plan import planned_gemini
from emulator.dialects.gemini.wire import GeminiContext
from emulator.dialects.openai_chat.plan import not_applicable as chat_not_applicable
from emulator.dialects.openai_chat.plan import planned_chat
from emulator.dialects.openai_chat.wire import ChatContext
from emulator.dialects.openai_responses.plan import not_applicable as responses_not_applicable
from emulator.dialects.openai_responses.plan import planned_responses
from emulator.dialects.openai_responses.wire import ResponseContext
from emulator.engine.prepare import prepare
from emulator.protocol.steps import Drop, Write
from emulator.scenario.text import reply_text
from emulator.strategies import scenarios

PROMPT = "Tell me something."
DIALECTS = ("openai-chat", "anthropic", "openai-responses", "gemini")
#: Fault kinds a dialect has no equivalent for (its not_applicable says why): left out.
_NOT_ON = {
    "openai-chat": {"foreign_message", "moderation", "num_variants", "stale", "repeat"},
    "anthropic": {"foreign_message", "moderation", "num_variants", "stale", "repeat"},
    "openai-responses": {"foreign_message", "moderation", "num_variants"},
    "gemini": {"foreign_message", "moderation", "num_variants", "stale", "repeat", "ping"},
}
_WHY = {
    "openai-chat": chat_not_applicable,
    "anthropic": messages_not_applicable,
    "openai-responses": responses_not_applicable,
    "gemini": gemini_not_applicable,
}


def for_dialect(scenario: Scenario, dialect: str) -> Scenario:
    """The scenario without the faults that mean nothing on ``dialect``."""
    faults = tuple(f for f in scenario.faults if f.kind not in _NOT_ON[dialect])
    return replace(scenario, faults=faults)


def body(scenario: Scenario, dialect: str) -> tuple[bytes, bool]:
    """The stream's bytes as planned, and whether the connection is cut at their end."""
    text = reply_text(scenario.reply, PROMPT)
    prepared = prepare(scenario, text)
    now = 1700000000.5
    if dialect == "openai-chat":
        steps = planned_chat(scenario, ChatContext("chatcmpl-1", 1, "m", True, 3), prepared, now)
    elif dialect == "anthropic":
        steps = planned_messages(scenario, MessageContext("msg_1", "m", 3), prepared)
    elif dialect == "gemini":
        steps = planned_gemini(scenario, GeminiContext("r-1", "m", 3), prepared)
    else:
        steps = planned_responses(
            scenario, ResponseContext("resp_1", "msg_1", 1, "m", 3), prepared, now
        )
    out = bytearray()
    for step in steps:
        if isinstance(step, Write):
            out += step.data
        elif isinstance(step, Drop):
            return bytes(out), True
    return bytes(out), False


class Read:
    """What a strict reader of one API makes of a stream."""

    def __init__(self) -> None:
        self.text = ""
        self.error = False  # an error event came (the reader stops there)
        self.finished = False  # the end came (finish_reason, message_stop, response.completed,
        # finishReason)
        self.done = False  # data: [DONE] (Chat Completions)
        self.numbers: list[int] = []  # sequence numbers kept (Responses)


def read(data: bytes, size: int, dialect: str) -> Read:
    decoder = SSEDecoder()
    events = []
    for i in range(0, len(data), size):
        events += decoder.feed(data[i : i + size])
    got = Read()
    seen: set[int] = set()
    for event in events:
        if dialect == "openai-chat" and event.data == "[DONE]":
            got.done = True
            break
        try:
            obj: Any = json.loads(event.data)
        except ValueError:
            continue  # a line that is not JSON: skipped
        if not isinstance(obj, dict):
            continue  # a ping's number
        if dialect == "gemini":
            if "error" in obj:
                got.error = True
                break
            for candidate in obj.get("candidates") or []:
                got.text += "".join(p.get("text", "") for p in candidate["content"]["parts"])
                got.finished |= "finishReason" in candidate
            continue
        if dialect == "openai-chat":
            if "error" in obj:
                got.error = True
                break
            for choice in obj.get("choices") or []:
                got.text += choice["delta"].get("content") or ""
                got.finished |= choice["finish_reason"] is not None
            continue
        kind = obj.get("type")
        if dialect == "openai-responses":
            if not isinstance(obj.get("sequence_number"), int):
                continue  # JSON, but not an event
            if obj["sequence_number"] in seen:
                continue  # an event sent again
            seen.add(obj["sequence_number"])
            got.numbers.append(obj["sequence_number"])
        if kind in ("error", "response.failed"):
            got.error = True
            break
        if kind == "content_block_delta" and "text" in obj.get("delta", {}):
            got.text += obj["delta"]["text"]
        elif kind == "response.output_text.delta":
            got.text += obj["delta"]
        got.finished |= kind in ("message_stop", "response.completed")
    return got


NASTY = Scenario(
    name="fuzz",
    description="CR endings, a BOM, one-byte pieces of astral text, resent and junk events.",
    reply=Reply(text="e\u0301👋🏽\r\n\u2028\x85漢", cut="byte", cut_size=1),
    wire=Wire(line_ending="\r", bom=True, multiline_data=True, data_prefix="data:"),
    faults=(
        Fault("stale", at=3),
        Fault("garbage", at=2, raw=b"\xed\xa0\x80\xc3"),
        Fault("repeat", at=4, count=2),
        Fault("error", at=5, text="boom"),
    ),
    expect=Expect(outcome="failure", failure="upstream_error", message="boom"),
)


@given(
    scenario=scenarios(),
    dialect=st.sampled_from(DIALECTS),
    size=st.sampled_from([1, 2, 3, 7, 64, 1 << 30]),
)
@example(scenario=NASTY, dialect="openai-responses", size=1)
@example(  # nothing sent yet to send again
    scenario=replace(NASTY, faults=(Fault("stale", at=0), Fault("repeat", at=0)), expect=Expect()),
    dialect="openai-responses",
    size=1,
)
@example(
    scenario=replace(NASTY, faults=NASTY.faults[1:2], expect=Expect()), dialect="anthropic", size=2
)
@example(  # junk, then Gemini's error object mid-stream
    scenario=replace(NASTY, faults=NASTY.faults[1:2] + NASTY.faults[3:]),
    dialect="gemini",
    size=1,
)
def test_any_generated_stream_reads_exactly_on_every_api(
    scenario: Scenario, dialect: str, size: int
) -> None:
    scenario = for_dialect(scenario, dialect)
    assume(_WHY[dialect](scenario) is None)  # [DONE] faults on the APIs without [DONE]
    data, cut = body(scenario, dialect)
    got = read(data, size, dialect)
    expect = scenario.expect
    text = reply_text(scenario.reply, PROMPT)
    assert text.startswith(got.text)
    if dialect == "openai-responses":
        assert got.numbers == list(range(len(got.numbers)))  # unbroken, in order
    if expect.outcome == "failure" and expect.failure == "incomplete_stream":
        assert cut
    elif expect.outcome == "failure" and expect.failure == "upstream_error":
        # Before the API's end: [DONE] on Chat (its finish_reason may have come), the
        # message_stop or response.completed on the others.
        assert got.error and not got.done
        assert dialect == "openai-chat" or not got.finished
        assert data.endswith(b"\n" if scenario.wire.line_ending != "\r" else b"\r")
    elif expect.outcome == "failure" and expect.failure == "no_reply":
        assert got.text == "" and not got.error and not cut
    elif expect.outcome == "text":
        assert got.done and got.text == expect.text  # [DONE] early: Chat Completions only
    else:  # the reply, whole
        assert not cut and not got.error and got.finished
        assert got.text == text
        assert got.done == (dialect == "openai-chat" and scenario.wire.done)
