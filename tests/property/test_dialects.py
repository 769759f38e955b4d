"""Fuzzing the other APIs' streams: any generated scenario, planned on Chat Completions,
Anthropic Messages, the Responses API, Gemini or Bedrock's ConverseStream, read back by a
strict reference reader (for Bedrock's binary frames, botocore's own decoder).

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

from botocore.eventstream import EventStreamBuffer
from hypothesis import assume, example, given
from hypothesis import strategies as st

from client.sse import SSEDecoder
from emulator import Expect, Fault, Reply, Scenario, Wire
from emulator.dialects.anthropic.plan import planned_messages
from emulator.dialects.anthropic.wire import MessageContext
from emulator.dialects.bedrock.plan import planned_converse
from emulator.dialects.bedrock.wire import StreamContext as ConverseContext
from emulator.dialects.gemini.plan import planned_gemini
from emulator.dialects.gemini.wire import GeminiContext
from emulator.dialects.openai_chat.plan import planned_chat
from emulator.dialects.openai_chat.wire import ChatContext
from emulator.dialects.openai_responses.plan import planned_responses
from emulator.dialects.openai_responses.wire import ResponseContext
from emulator.dialects.registry import DIALECTS as REGISTRY
from emulator.engine.prepare import prepare
from emulator.protocol.steps import Drop, Write
from emulator.scenario import FAULTS
from emulator.scenario.text import reply_text
from emulator.strategies import scenarios

PROMPT = "Tell me something."
DIALECTS = ("openai-chat", "anthropic", "openai-responses", "gemini", "bedrock")
#: Lines of SSE framing: a binary event stream has none.
_SSE_ONLY = {"garbage", "comment"}


def for_dialect(scenario: Scenario, dialect: str) -> Scenario:
    """The scenario without the skippable faults that mean nothing on ``dialect`` (its
    shapes say which: a correct reader's text is the same without them), and, on a binary
    event stream, without SSE's framing quirks. A terminal fault stays (``assume`` then
    leaves out what does not apply)."""
    missing = set(REGISTRY[dialect].shapes.missing) | (
        _SSE_ONLY if dialect == "bedrock" else set()
    )
    faults = tuple(
        f for f in scenario.faults if f.kind not in missing or not FAULTS[f.kind].skippable
    )
    if dialect == "bedrock":
        wire = replace(scenario.wire, line_ending="\n", data_prefix="data: ", bom=False,
                       multiline_data=False, done=True)  # fmt: skip
        return replace(scenario, faults=faults, wire=wire)
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
    elif dialect == "bedrock":
        steps = planned_converse(scenario, ConverseContext(3, 200), prepared)
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
        self.last_was_error = False  # the stream's last frame was its exception (Bedrock)


def read_frames(data: bytes, size: int) -> Read:
    """A strict reader of a ConverseStream, fed ``size`` bytes at a time to botocore's own
    event-stream decoder (its CRC checks included)."""
    buffer = EventStreamBuffer()
    got = Read()
    for i in range(0, len(data), size):
        buffer.add_data(data[i : i + size])
        for message in buffer:
            headers = message.headers
            if headers.get(":message-type") == "exception":
                got.error = True
                got.last_was_error = True
                return got
            try:
                payload: Any = json.loads(message.payload)
            except ValueError:
                continue  # an event that is not JSON: skipped
            event = headers[":event-type"]
            delta = payload.get("delta") if isinstance(payload, dict) else None
            if event == "contentBlockDelta" and isinstance(delta, dict):
                got.text += delta["text"] if "text" in delta else delta["toolUse"]["input"]
            got.finished |= event == "messageStop"
    return got


def read(data: bytes, size: int, dialect: str) -> Read:
    if dialect == "bedrock":
        return read_frames(data, size)
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
@example(  # one-byte pieces of frames (preludes, headers, astral text), then the exception
    scenario=replace(NASTY, faults=NASTY.faults[3:]),
    dialect="bedrock",
    size=1,
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
    # [DONE] faults on the APIs without [DONE]
    assume(REGISTRY[dialect].not_applicable(scenario) is None)
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
        if dialect == "bedrock":
            whole = EventStreamBuffer()
            whole.add_data(data)
            assert got.last_was_error and list(whole)[-1].headers[":message-type"] == "exception"
        else:
            assert data.endswith(b"\n" if scenario.wire.line_ending != "\r" else b"\r")
    elif expect.outcome == "failure" and expect.failure == "no_reply":
        assert got.text == "" and not got.error and not cut
    elif expect.outcome == "text":
        assert got.done and got.text == expect.text  # [DONE] early: Chat Completions only
    else:  # the reply, whole
        assert not cut and not got.error and got.finished
        assert got.text == text
        assert got.done == (dialect == "openai-chat" and scenario.wire.done)
