"""Parallel tool calls and text before a call, judged by the official SDKs over real
sockets: every call whole, in order, with ids of its own; an agent loop that must answer
each of them; faults among the calls' events; scenario files that say them wrong."""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from emulator import EmulatorConfig, builtin_scenarios, scenario_from_dict
from emulator.scenario import ScenarioError
from emulator.scenario.check import meaning_problems
from emulator.scenario.dump import scenario_to_toml
from emulator.server import EmulatorServer
from tests.helpers import anthropic_client, bedrock_client, named, openai_client

PAIR = [("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_weather", {"city": "Tokyo", "unit": "celsius"})]  # fmt: skip
TRIO = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"}),
        ("get_time", {"timezone": "Asia/Tokyo"})]  # fmt: skip


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        yield server


# -- each API's own client gathers every call ------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_the_openai_sdk_gathers_interleaved_calls_on_chat(
    emulator: EmulatorServer, stream: bool
) -> None:
    client = openai_client(emulator.url)
    asked: Any = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Weather?"}],
                  "extra_headers": named("parallel_tool_calls_interleaved")}  # fmt: skip
    if stream:
        with client.chat.completions.stream(**asked) as events:
            choice = events.get_final_completion().choices[0]
    else:
        choice = client.chat.completions.create(**asked).choices[0]
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == TRIO
    assert len({c.id for c in calls}) == 3 and choice.finish_reason == "tool_calls"
    assert choice.message.content is None


def test_the_openai_sdk_gathers_interleaved_calls_on_responses(emulator: EmulatorServer) -> None:
    client = openai_client(emulator.url)
    with client.responses.stream(model="gpt-4o", input="Weather?",
                                 extra_headers=named("parallel_tool_calls_interleaved")) as events:  # fmt: skip
        kinds = [e.type for e in events]
        response = events.get_final_response()
    calls = [o for o in response.output if o.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == TRIO
    assert len({c.call_id for c in calls}) == 3
    # Every item is added before the first piece of arguments, and done after the last.
    first_delta = kinds.index("response.function_call_arguments.delta")
    assert kinds[:first_delta].count("response.output_item.added") == 3
    assert kinds.count("response.output_item.done") == 3


def test_the_anthropic_sdk_gets_the_text_block_then_the_tool_use(emulator: EmulatorServer) -> None:
    client = anthropic_client(emulator.url)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=[
            {"role": "user", "content": "Weather?"}],
            extra_headers=named("text_then_tool_call")) as events:  # fmt: skip
        final = events.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Let me look up the weather in Paris for you."  # type: ignore[union-attr]
    assert final.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    whole = client.messages.create(model="m", max_tokens=256, messages=[
        {"role": "user", "content": "Weather?"}], extra_headers=named("parallel_tool_calls"))  # fmt: skip
    assert [(b.name, b.input) for b in whole.content if b.type == "tool_use"] == PAIR


def test_the_gemini_and_bedrock_sdks_get_both_calls(emulator: EmulatorServer) -> None:
    gemini = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=emulator.url, headers=named("parallel_tool_calls")))  # fmt: skip
    with gemini:
        chunks = list(
            gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="?")
        )
    calls = [c for chunk in chunks for c in chunk.function_calls or []]
    assert [(c.name, c.args) for c in calls] == PAIR
    bedrock = bedrock_client(emulator.url, "parallel_tool_calls")
    with contextlib.closing(bedrock):
        answer = bedrock.converse(modelId="m", messages=[
            {"role": "user", "content": [{"text": "?"}]}])  # fmt: skip
    uses = [c["toolUse"] for c in answer["output"]["message"]["content"]]
    assert [(u["name"], u["input"]) for u in uses] == PAIR
    assert answer["stopReason"] == "tool_use" and uses[0]["toolUseId"] != uses[1]["toolUseId"]


# -- a loop that must answer every call ----------------------------------------------------------


def test_a_loop_with_parallel_calls_must_answer_each_call() -> None:
    with EmulatorServer(EmulatorConfig(speed=0, default="agent_loop_parallel")) as emulator:
        client = openai_client(emulator.url)
        asked: list[Any] = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
        first = client.chat.completions.create(model="gpt-4o", messages=asked)
        calls = first.choices[0].message.tool_calls or []
        assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "Tokyo"]  # type: ignore[union-attr]
        asked.append(first.choices[0].message.model_dump(exclude_none=True))
        results: list[Any] = [
            {"role": "tool", "tool_call_id": c.id, "content": "{}"} for c in calls
        ]
        with pytest.raises(
            openai.BadRequestError, match=f"did not have response messages: {calls[1].id}"
        ):
            client.chat.completions.create(model="gpt-4o", messages=[*asked, results[0]])
        final = client.chat.completions.create(model="gpt-4o", messages=[*asked, *results])
        assert final.choices[0].message.content == (
            "Paris is 18 °C and sunny; Tokyo is 24 °C with light rain."
        )
        served = [(c.turn, c.status) for c in emulator.state.requests if c.status == 200]
        assert served == [(1, 200), (2, 200)]
        assert [c.status for c in emulator.state.requests] == [200, 400, 200]


def test_an_anthropic_loop_answers_both_tool_uses() -> None:
    with EmulatorServer(EmulatorConfig(speed=0, default="agent_loop_parallel")) as emulator:
        client = anthropic_client(emulator.url)
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
        with client.messages.stream(model="m", max_tokens=256, messages=messages) as events:
            first = events.get_final_message()
        uses = [b for b in first.content if b.type == "tool_use"]
        assert len(uses) == 2 and uses[0].id != uses[1].id
        messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": u.id,
                                                   "content": "{}"} for u in uses]}]  # fmt: skip
        final = client.messages.create(model="m", max_tokens=256, messages=messages)
        assert final.content[0].text.startswith("Paris is 18 °C")  # type: ignore[union-attr]


# -- faults among the calls, and files that say them wrong ----------------------------------------


def test_a_drop_between_two_calls_is_a_failure_not_one_call() -> None:
    shipped = builtin_scenarios()["parallel_tool_calls"]
    table = tomllib.loads(scenario_to_toml(shipped))
    # Events: 0 the opening, then call 0 (start, 3 pieces, stop), then call 1's start (5).
    table["faults"] = [{"kind": "drop", "at": 5}]
    table["expect"] = {"failure": "incomplete_stream"}
    scenario = scenario_from_dict(table, name="cut_between_calls")
    config = EmulatorConfig(speed=0, scenarios={**builtin_scenarios(), "cut": scenario})
    with EmulatorServer(config) as emulator:
        client = openai_client(emulator.url)
        with (
            pytest.raises(openai.APIConnectionError),
            client.chat.completions.stream(
                model="m", messages=[{"role": "user", "content": "?"}], extra_headers=named("cut")
            ) as events,  # fmt: skip
        ):
            events.get_final_completion()
        # What came before the cut: the first call whole, and nothing of the second.
        received = _until_cut(emulator.url + "/v1/chat/completions", "cut")
    chunks = [json.loads(line[6:]) for line in received.decode().splitlines()
              if line.startswith("data: {")]  # fmt: skip
    calls = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
    assert {c["index"] for c in calls} == {0}
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == PAIR[0][1]


def _until_cut(url: str, scenario: str) -> bytes:
    """The body of a streamed Chat Completion of ``scenario``, up to where it is cut."""
    received = bytearray()
    asked = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "?"}]}
    try:
        with httpx.stream("POST", url, json=asked, headers={
                "Authorization": "Bearer sk-t", **named(scenario)}) as answer:  # fmt: skip
            for piece in answer.iter_raw():
                received += piece
    except httpx.RemoteProtocolError:
        return bytes(received)
    raise AssertionError("the stream was not cut")


def test_the_calls_events_count_for_faults_placed_past_the_end() -> None:
    shipped = builtin_scenarios()["parallel_tool_calls"]
    table = tomllib.loads(scenario_to_toml(shipped))
    # The opening, then each call's start, its two pieces (three words each) and its stop,
    # then the final event.
    last = 1 + 2 * (1 + 2 + 1)
    table["faults"] = [{"kind": "drop", "at": last}]
    assert meaning_problems(scenario_from_dict(table, name="t")) == []
    table["faults"] = [{"kind": "drop", "at": last + 1}]
    assert [key for key, _ in meaning_problems(scenario_from_dict(table, name="t"))] == [
        "faults[0].at"
    ]


def test_calls_round_trip_through_a_dumped_file() -> None:
    for name in ("parallel_tool_calls_interleaved", "text_then_tool_call"):
        shipped = builtin_scenarios()[name]
        again = scenario_from_dict(tomllib.loads(scenario_to_toml(shipped)), name=name)
        assert again.reply == shipped.reply


@pytest.mark.parametrize(
    ("reply", "key", "problem"),
    [
        ({"interleave": True, "calls": [{"tool": "a", "arguments": {}}]}, "[reply.interleave]",
         "two or more"),
        ({"calls": [{"tool": "a", "arguments": "[1]"}]}, "[reply.calls[0].arguments]",
         "must be a JSON object"),
        ({"calls": [{"tool": "a", "arguments": "{"}]}, "[reply.calls[0].arguments]",
         "must be a JSON object:"),
        ({"calls": [{"tool": "a", "arguments": 3}]}, "[reply.calls[0].arguments]",
         "a table or a JSON object's text"),
        ({"calls": [{"tool": "no spaces", "arguments": {}}]}, "[reply.calls[0].tool]",
         "1-64 letters"),
        ({"calls": [{"tool": "a", "args": {}}]}, "[reply.calls[0].args]", "unknown key"),
    ],
)  # fmt: skip
def test_a_call_said_wrong_names_its_key(reply: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"description": "calls", "reply": reply}, name="bad")
    assert key in str(caught.value) and problem in str(caught.value)
