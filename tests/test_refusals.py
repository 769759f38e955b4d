"""Refusals and content filters, judged by the official openai SDK over real sockets: the
model's refusal in OpenAI's refusal field (Chat and Responses), a loop that must stop at
one, Azure OpenAI's filter results, and the conformance judge holding a content-only
reader to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from emulator import EmulatorConfig, builtin_scenarios, scenario_from_dict
from emulator.conformance import cases, python_client, run_all
from emulator.dialects.registry import DIALECTS
from emulator.scenario import ScenarioError
from emulator.server import EmulatorServer
from tests.helpers import named, openai_client

REFUSED = "I'm sorry, but I can't help with that request."


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        yield server


def test_a_refusal_comes_in_chats_refusal_field(emulator: EmulatorServer) -> None:
    client = openai_client(emulator.url)
    asked: Any = {"model": "gpt-4o", "messages": [{"role": "user", "content": "?"}],
                  "extra_headers": named("refusal")}  # fmt: skip
    with client.chat.completions.stream(**asked) as events:
        kinds = {e.type for e in events}
        choice = events.get_final_completion().choices[0]
    assert {"refusal.delta", "refusal.done"} <= kinds and "content.delta" not in kinds
    assert (choice.message.refusal, choice.message.content) == (REFUSED, None)
    assert choice.finish_reason == "stop"
    whole = client.chat.completions.create(**asked).choices[0].message
    assert (whole.refusal, whole.content) == (REFUSED, None)


def test_a_refusal_is_a_refusal_part_on_responses(emulator: EmulatorServer) -> None:
    client = openai_client(emulator.url)
    with client.responses.stream(model="gpt-4o", input="?",
                                 extra_headers=named("refusal")) as events:  # fmt: skip
        kinds = [e.type for e in events]
        response = events.get_final_response()
    assert kinds.count("response.refusal.done") == 1 and "response.output_text.delta" not in kinds
    part = response.output[0].content[0]  # type: ignore[union-attr]
    assert (part.type, part.refusal) == ("refusal", REFUSED)  # type: ignore[union-attr]
    assert response.output_text == ""  # the words are not the answer
    whole = client.responses.create(model="gpt-4o", input="?", extra_headers=named("refusal"))
    assert whole.output[0].content[0].refusal == REFUSED  # type: ignore[union-attr]


def test_a_loop_stops_at_the_refusal() -> None:
    with EmulatorServer(EmulatorConfig(speed=0, default="agent_loop_refusal")) as emulator:
        client = openai_client(emulator.url)
        messages: list[Any] = [{"role": "user", "content": "What is on Bob's account?"}]
        refused = None
        for _ in range(5):  # bounded: a loop that ignores the refusal would run to the cap
            message = client.chat.completions.create(model="m", messages=messages).choices[0]
            if message.message.refusal:
                refused = message.message.refusal
                break
            calls = message.message.tool_calls or []
            messages.append(message.message.model_dump(exclude_none=True))
            messages += [{"role": "tool", "tool_call_id": c.id, "content": '{"plan": "gold"}'}
                         for c in calls]  # fmt: skip
        assert refused == "I can't share another customer's account details."
        assert [c.turn for c in emulator.state.requests] == [1, 2]


def test_azure_sends_the_prompts_filter_results_then_each_choices(
    emulator: EmulatorServer,
) -> None:
    answer = httpx.post(emulator.url + "/v1/chat/completions", headers={
        "Authorization": "Bearer sk-t", **named("azure_content_filter")}, json={
        "model": "m", "stream": True, "messages": [{"role": "user", "content": "?"}]})  # fmt: skip
    chunks = [json.loads(line[6:]) for line in answer.text.splitlines()
              if line.startswith("data: {")]  # fmt: skip
    assert (
        chunks[0]["choices"] == [] and chunks[0]["prompt_filter_results"][0]["prompt_index"] == 0
    )
    choices = [c["choices"][0] for c in chunks[1:]]
    assert all("content_filter_results" in c for c in choices)
    last = choices[-1]
    assert last["finish_reason"] == "content_filter"
    assert last["content_filter_results"]["violence"] == {"filtered": True, "severity": "medium"}
    assert not any(
        r["filtered"] for c in choices[:-1] for r in c["content_filter_results"].values()
    )
    # The SDK, reading only chunks with choices, gets what came.
    stream = openai_client(emulator.url).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "?"}], stream=True,
        extra_headers=named("azure_content_filter"))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Here is the first part of the story. Then the knight drew"
    whole = openai_client(emulator.url).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "?"}],
        extra_headers=named("azure_content_filter"))  # fmt: skip
    extra: Any = whole.choices[0].model_extra
    assert extra["content_filter_results"]["violence"]["filtered"] is True
    assert "prompt_filter_results" in (whole.model_extra or {})


def test_a_refusal_applies_where_the_api_has_a_refusal_field() -> None:
    refusal = builtin_scenarios()["refusal"]
    applies = {name for name, d in DIALECTS.items() if d.not_applicable(refusal) is None}
    assert applies == {"openai-chat", "openai-responses", "azure-openai", "openrouter"}
    assert "content_filtered" in (DIALECTS["anthropic"].not_applicable(refusal) or "")
    with pytest.raises(ScenarioError, match=r"\[reply.refusal\] a refusal is words"):
        scenario_from_dict({"description": "d", "reply": {"refusal": True, "tool": "t",
                                                          "text": "{}"}}, name="bad")  # fmt: skip


async def test_a_reader_of_content_alone_is_silently_wrong_on_a_refusal() -> None:
    async def content_only(url: str, prompt: str) -> str:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-t", max_retries=0)
        async with client:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": prompt}], stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    results = await run_all(cases(["refusal"], dialect="openai-chat"), python_client(content_only),
                            speed=0)  # fmt: skip
    assert [(r.verdict.kind, r.verdict.detail) for r in results] == [
        ("silently wrong", "returned '' where a refused failure was due")
    ]
