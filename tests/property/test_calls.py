"""Generated parallel tool calls, read back on every API that has them.

Hypothesis makes a reply of some text (or none) and one to four calls, their arguments
JSON objects of awkward text, cut into pieces of any size, sent whole one after another
or interleaved; each dialect plans it, and a strict reader of that API, fed the bytes
at any chunk size, gathers the calls by the index (block, output item) each piece names.
Property: it gets the text, then every call with its tool and its arguments exactly, in
order, each call named once with an id of its own; blocks open and close in order
(Anthropic, Bedrock); and the whole (unstreamed) answer says the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.eventstream import EventStreamBuffer
from hypothesis import example, given
from hypothesis import strategies as st

from client.sse import SSEDecoder
from emulator import Reply, Scenario
from emulator.dialects.anthropic.wire import MessageContext, message_object
from emulator.dialects.bedrock.plan import whole_body
from emulator.dialects.bedrock.wire import StreamContext
from emulator.dialects.gemini.wire import GeminiContext, chunk_object
from emulator.dialects.openai_chat.wire import ChatContext, completion_object
from emulator.dialects.openai_responses.plan import whole_response
from emulator.dialects.openai_responses.wire import ResponseContext
from emulator.dialects.registry import DIALECTS as REGISTRY
from emulator.scenario.model import Call
from tests.property.test_dialects import DIALECTS, body

#: Awkward text for the arguments' values: quotes, escapes, astral and combining marks.
_values = st.text(st.sampled_from('ab "\\\n/é👋🏽\u2028{}:,'), max_size=12)
_arguments = st.dictionaries(
    st.sampled_from(["city", "unit", "q", "days"]), _values | st.integers(-5, 99), max_size=3
).map(lambda d: json.dumps(d, ensure_ascii=False))
_calls = st.lists(
    st.builds(Call, tool=st.sampled_from(["get_weather", "get_time", "search"]),
              arguments=_arguments),
    min_size=1,
    max_size=4,
)  # fmt: skip


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    calls = tuple(draw(_calls))
    return Reply(
        text=draw(st.sampled_from(["", "Let me check.", 'One moment 👋🏽 "quoted"'])),
        cut=draw(st.sampled_from(["char", "token", "word", "byte"])),
        cut_size=draw(st.integers(1, 5)),
        calls=calls,
        interleave=len(calls) > 1 and draw(st.booleans()),
    )


@dataclass
class Gathered:
    """What a reader gathered: the text, and each call (id, tool, arguments) by its index."""

    text: str = ""
    calls: dict[int, list[str]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # indices in the order the calls started

    def start(self, index: int, call_id: str, tool: str) -> None:
        assert index not in self.calls, f"call {index} started twice"
        self.calls[index] = [call_id, tool, ""]
        self.order.append(index)

    def add(self, index: int, piece: str) -> None:
        self.calls[index][2] += piece

    def result(self, first: int) -> tuple[str, list[tuple[str, str]], list[str]]:
        """The text, the calls and their ids; the calls' indices run on from ``first``."""
        assert self.order == sorted(self.order), "calls started out of order"
        assert sorted(self.calls) == list(range(first, first + len(self.calls)))
        got = [self.calls[i] for i in sorted(self.calls)]
        return self.text, [(tool, arguments) for _, tool, arguments in got], [c[0] for c in got]


def _sse(data: bytes, size: int) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events = []
    for i in range(0, len(data), size):
        events += decoder.feed(data[i : i + size])
    return [json.loads(e.data) for e in events if e.data != "[DONE]"]


def read_chat(events: list[dict[str, Any]]) -> Gathered:
    got = Gathered()
    for event in events:
        for choice in event.get("choices") or []:
            delta = choice["delta"]
            got.text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                if "id" in call:  # the first piece names the call; the others only its index
                    got.start(call["index"], call["id"], call["function"]["name"])
                got.add(call["index"], call["function"]["arguments"])
    return got


def read_anthropic(events: list[dict[str, Any]]) -> Gathered:
    got, open_block = Gathered(), None
    for event in events:
        kind = event["type"]
        if kind == "content_block_start":
            assert open_block is None, "a block started before the last one stopped"
            open_block = event["index"]
            block = event["content_block"]
            if block["type"] == "tool_use":
                got.start(event["index"], block["id"], block["name"])
        elif kind == "content_block_delta":
            assert event["index"] == open_block
            delta = event["delta"]
            if delta["type"] == "text_delta":
                got.text += delta["text"]
            else:
                got.add(event["index"], delta["partial_json"])
        elif kind == "content_block_stop":
            assert event["index"] == open_block
            open_block = None
    assert open_block is None
    return got


def read_responses(events: list[dict[str, Any]]) -> Gathered:
    got = Gathered()
    for event in events:
        kind = event["type"]
        if kind == "response.output_item.added" and event["item"]["type"] == "function_call":
            item = event["item"]
            got.start(event["output_index"], item["call_id"], item["name"])
        elif kind == "response.function_call_arguments.delta":
            got.add(event["output_index"], event["delta"])
        elif kind == "response.output_text.delta":
            got.text += event["delta"]
        elif kind == "response.function_call_arguments.done":
            assert event["arguments"] == got.calls[event["output_index"]][2]
    return got


def read_gemini(events: list[dict[str, Any]]) -> Gathered:
    got = Gathered()
    for event in events:
        for part in event["candidates"][0]["content"]["parts"]:
            if "functionCall" in part:
                call = part["functionCall"]
                index = len(got.calls)
                got.start(index, f"gemini-{index}", call["name"])
                got.add(index, json.dumps(call["args"], ensure_ascii=False))
            else:
                got.text += part.get("text", "")
    return got


def read_bedrock(data: bytes, size: int) -> Gathered:
    buffer, got, open_blocks = EventStreamBuffer(), Gathered(), set()
    for i in range(0, len(data), size):
        buffer.add_data(data[i : i + size])
        for message in buffer:
            kind, payload = message.headers[":event-type"], json.loads(message.payload)
            if kind == "contentBlockStart":
                use = payload["start"]["toolUse"]
                got.start(payload["contentBlockIndex"], use["toolUseId"], use["name"])
                open_blocks.add(payload["contentBlockIndex"])
            elif kind == "contentBlockDelta":
                delta = payload["delta"]
                if "text" in delta:
                    got.text += delta["text"]
                else:
                    assert payload["contentBlockIndex"] in open_blocks
                    got.add(payload["contentBlockIndex"], delta["toolUse"]["input"])
            elif kind == "contentBlockStop":
                open_blocks.discard(payload["contentBlockIndex"])
    assert not open_blocks
    return got


def streamed(scenario: Scenario, dialect: str, size: int) -> Gathered:
    data, cut = body(scenario, dialect)
    assert not cut
    if dialect == "bedrock":
        return read_bedrock(data, size)
    events = _sse(data, size)
    reader = {"openai-chat": read_chat, "anthropic": read_anthropic,
              "openai-responses": read_responses, "gemini": read_gemini}[dialect]  # fmt: skip
    return reader(events)


def whole(scenario: Scenario, dialect: str) -> tuple[str, list[tuple[str, str]]]:
    """The unstreamed answer's text and calls, as each API's whole answer carries them."""
    text, reply = scenario.reply.text or "", scenario.reply
    calls: list[tuple[str, str]] = []
    pairs = [(c.tool, c.arguments) for c in reply.calls]
    if dialect == "openai-chat":
        message = completion_object(ChatContext("chatcmpl-1", 1, "m", False, 3), text, "stop", 1,
                                    calls=pairs)["choices"][0]["message"]  # fmt: skip
        calls = [
            (c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]
        ]
        return message["content"] or "", calls
    if dialect == "anthropic":
        blocks = message_object(MessageContext("msg_1", "m", 3), text, "tool_use", 1, "", pairs)
        for b in blocks["content"]:
            if b["type"] == "tool_use":
                calls.append((b["name"], json.dumps(b["input"], ensure_ascii=False)))
        return "".join(b.get("text", "") for b in blocks["content"]), calls
    if dialect == "openai-responses":
        items = whole_response(scenario, ResponseContext("resp_1", "msg_1", 1, "m", 3), text, 1)
        for item in items["output"]:
            if item["type"] == "function_call":
                calls.append((item["name"], item["arguments"]))
        said = [p["text"] for i in items["output"] if i["type"] == "message" for p in i["content"]]
        return "".join(said), calls
    if dialect == "gemini":
        chunk = chunk_object(GeminiContext("r", "m", 3), text, "STOP", 1, calls=pairs)
        parts = chunk["candidates"][0]["content"]["parts"]
        calls = [(p["functionCall"]["name"], json.dumps(p["functionCall"]["args"],
                                                        ensure_ascii=False))
                 for p in parts if "functionCall" in p]  # fmt: skip
        return "".join(p.get("text", "") for p in parts), calls
    content = whole_body(scenario, StreamContext(3, 200), text, 1)["output"]["message"]["content"]
    calls = [(c["toolUse"]["name"], json.dumps(c["toolUse"]["input"], ensure_ascii=False))
             for c in content if "toolUse" in c]  # fmt: skip
    return "".join(c.get("text", "") for c in content), calls


def _canonical(calls: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    return [(tool, json.loads(arguments)) for tool, arguments in calls]


_PAIR = Reply(  # two calls, interleaved a byte at a time, after astral text
    text="One moment 👋🏽",
    cut="byte",
    cut_size=1,
    calls=(Call("get_weather", '{"city": "Z\\u00fcrich \\"Z\\""}'), Call("search", "{}")),
    interleave=True,
)


@given(
    reply=replies(),
    dialect=st.sampled_from(DIALECTS),
    size=st.sampled_from([1, 2, 5, 64, 1 << 30]),
)
@example(reply=_PAIR, dialect="openai-chat", size=1)
@example(reply=_PAIR, dialect="bedrock", size=1)
@example(reply=_PAIR, dialect="openai-responses", size=3)
def test_parallel_calls_read_back_whole_and_in_order_on_every_api(
    reply: Reply, dialect: str, size: int
) -> None:
    scenario = Scenario(name="calls", description="generated", reply=reply)
    reason = REGISTRY[dialect].not_applicable(scenario)
    if reason is not None:  # interleaving where the API never interleaves
        assert reply.interleave and dialect in ("anthropic", "gemini"), reason
        return
    # Chat numbers the calls from 0; a block or an output item of text comes before them.
    first = 1 if reply.text and dialect in ("anthropic", "openai-responses", "bedrock") else 0
    text, calls, ids = streamed(scenario, dialect, size).result(first)
    wanted = [(c.tool, c.arguments) for c in reply.calls]
    assert text == (reply.text or "")
    if dialect == "gemini":  # a call is an object there, not text: the same object
        assert _canonical(calls) == _canonical(wanted)
    else:
        assert calls == wanted
    assert len(set(ids)) == len(ids)  # an id of its own each
    whole_text, whole_calls = whole(scenario, dialect)
    assert whole_text == text and _canonical(whole_calls) == _canonical(wanted)
