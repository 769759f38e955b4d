"""Agent loops: matching on what a request says, scripted turns, and the conversation
rules the real APIs enforce, judged by the official SDKs over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from emulator import EmulatorConfig, load_scenario, scenario_from_dict
from emulator.scenario import ScenarioError
from emulator.scenario.asked import Asked, Message, ToolCall
from emulator.scenario.match import Match, misses, provable_tie
from emulator.server import EmulatorServer
from emulator.state.matching import check_pool

OPENAI_TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
                for n in ("get_weather", "get_forecast")]  # fmt: skip
FINAL = "It is 18 °C and sunny in Paris now; tomorrow brings light rain."


@pytest.fixture
def loop() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0, default="agent_loop")) as emulator:
        yield emulator


# -- the official SDKs run the shipped three-turn loop -------------------------------------


def test_openai_chat_sdk_runs_the_three_turn_loop(loop: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=loop.url + "/v1", api_key="sk-test", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    called = []
    for _ in range(5):  # bounded: the script has three turns
        text, calls = "", {}
        for chunk in client.chat.completions.create(
            model="gpt-4o", messages=messages, tools=OPENAI_TOOLS, stream=True
        ):
            delta = chunk.choices[0].delta if chunk.choices else None
            text += (delta and delta.content) or ""
            for call in (delta and delta.tool_calls) or []:
                got = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                got["id"] += call.id or ""
                got["name"] += (call.function and call.function.name) or ""
                got["arguments"] += (call.function and call.function.arguments) or ""
        if not calls:
            break
        called += [(c["name"], json.loads(c["arguments"])) for c in calls.values()]
        messages.append({"role": "assistant", "tool_calls": [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls.values()]})  # fmt: skip
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": "{}"}
                     for c in calls.values()]  # fmt: skip
    assert text == FINAL
    assert called == [("get_weather", {"city": "Paris"}),
                      ("get_forecast", {"city": "Paris", "days": 1})]  # fmt: skip
    served = [(c.scenario, c.turn, c.status) for c in loop.state.requests]
    assert served == [("agent_loop", 1, 200), ("agent_loop", 2, 200), ("agent_loop", 3, 200)]


def test_openai_responses_sdk_runs_the_three_turn_loop(loop: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=loop.url + "/v1", api_key="sk-test", max_retries=0)
    tools: Any = [{"type": "function", "name": n, "parameters": {"type": "object"}}
                  for n in ("get_weather", "get_forecast")]  # fmt: skip
    items: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    for _ in range(5):
        with client.responses.stream(model="gpt-4o", input=items, tools=tools) as stream:
            response = stream.get_final_response()
        calls = [o for o in response.output if o.type == "function_call"]
        if not calls:
            break
        items += [o.model_dump(exclude_none=True) for o in response.output]
        items += [{"type": "function_call_output", "call_id": c.call_id, "output": "{}"}
                  for c in calls]  # fmt: skip
    assert response.output_text == FINAL
    assert [c.turn for c in loop.state.requests] == [1, 2, 3]


def _anthropic_loop(client: anthropic.Anthropic, **kwargs: Any) -> tuple[str, list[Any]]:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    for _ in range(5):
        with client.messages.stream(messages=messages, **kwargs) as stream:
            final = stream.get_final_message()
        uses = [b for b in final.content if b.type == "tool_use"]
        if not uses:
            return "".join(b.text for b in final.content if b.type == "text"), messages
        messages.append({"role": "assistant", "content": [b.model_dump() for b in final.content]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u.id, "content": "{}"} for u in uses]})  # fmt: skip
    raise AssertionError("the loop did not end")


def test_anthropic_sdk_runs_the_three_turn_loop(loop: EmulatorServer) -> None:
    client = anthropic.Anthropic(base_url=loop.url, api_key="sk-ant-test", max_retries=0)
    tools: Any = [{"name": n, "input_schema": {"type": "object"}}
                  for n in ("get_weather", "get_forecast")]  # fmt: skip
    text, _ = _anthropic_loop(client, model="claude-sonnet-4-5", max_tokens=1024, tools=tools)
    assert text == FINAL
    assert [c.turn for c in loop.state.requests] == [1, 2, 3]


# -- thinking: sent signed, checked when it comes back ---------------------------------------


def test_a_thinking_loop_must_send_the_thinking_block_back_unchanged() -> None:
    config = EmulatorConfig(speed=0, default="agent_loop_thinking")
    with EmulatorServer(config) as emulator:
        client = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
        kwargs: Any = {"model": "claude-sonnet-4-5", "max_tokens": 2048,
                       "thinking": {"type": "enabled", "budget_tokens": 1024},
                       "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}  # fmt: skip
        text, messages = _anthropic_loop(client, **kwargs)
        assert text == "It is 18 °C and sunny in Paris."
        first = messages[1]["content"]
        assert [b["type"] for b in first] == ["thinking", "tool_use"]
        assert first[0]["thinking"].startswith("The user wants the weather in Paris.")
        dropped = [messages[0], {"role": "assistant", "content": first[1:]}, messages[2]]
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(messages=dropped, **kwargs)
        assert caught.value.body["error"]["message"].startswith(  # type: ignore[index]
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            "`tool_use`. When `thinking` is enabled, a final `assistant` message must start"
        )
        altered = [messages[0], {"role": "assistant", "content": [
            {**first[0], "thinking": "Something else."}, first[1]]}, messages[2]]  # fmt: skip
        with pytest.raises(anthropic.BadRequestError, match="Invalid `signature` in `thinking`"):
            client.messages.create(messages=altered, **kwargs)
        # Knowingly sending less: one request turns the rules off.
        lenient = client.messages.create(messages=dropped, extra_headers={
            "X-Emulator-Strict": "off"}, **kwargs)  # fmt: skip
        assert lenient.stop_reason == "end_turn"
    # Without thinking asked for, the reply has no thinking block.
    with EmulatorServer(config) as emulator:
        client = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
        reply = client.messages.create(model="m", max_tokens=64, messages=[
            {"role": "user", "content": "hi"}])  # fmt: skip
        assert [b.type for b in reply.content] == ["tool_use"]


# -- what the real APIs refuse -----------------------------------------------------------------


def test_a_wrong_tool_call_id_gets_openais_400(loop: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=loop.url + "/v1", api_key="sk-test", max_retries=0)
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}  # fmt: skip
    asked: Any = [{"role": "user", "content": "hi"},
                  {"role": "assistant", "tool_calls": [call]},
                  {"role": "tool", "tool_call_id": "call_2", "content": "{}"}]  # fmt: skip
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=asked)
    assert caught.value.body["message"] == (  # type: ignore[index]
        "Invalid parameter: 'tool_call_id' of 'call_2' not found in 'tool_calls' of previous "
        "message."
    )
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding"):
        client.chat.completions.create(model="m", messages=[asked[0], asked[2]])
    with pytest.raises(openai.BadRequestError, match="did not have response messages: call_1"):
        client.chat.completions.create(model="m", messages=[*asked[:2], asked[0]])
    with pytest.raises(openai.BadRequestError, match=r"'messages\[2\].tool_call_id'"):
        client.chat.completions.create(model="m", messages=[
            *asked[:2], {"role": "tool", "content": "{}"}])  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="expected a boolean, but got a string"):
        client.chat.completions.create(model="m", messages=asked[:1], stream="true")  # type: ignore[call-overload]


def test_lenient_lets_the_conversation_rules_through() -> None:
    with EmulatorServer(EmulatorConfig(speed=0, strict=False)) as emulator:
        client = openai.OpenAI(base_url=emulator.url + "/v1", api_key="sk-t", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_x", "content": "{}"}])  # fmt: skip
        assert reply.choices[0].message.content == "Hello! How can I help you today?"


# -- nearest-match diagnostics -------------------------------------------------------------


def test_a_request_no_turn_matches_gets_a_404_naming_the_nearest(loop: EmulatorServer) -> None:
    client = openai.OpenAI(base_url=loop.url + "/v1", api_key="sk-test", max_retries=0)
    asked: Any = [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "More?"}]
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="m", messages=asked)
    message = caught.value.body["message"]  # type: ignore[index]
    assert message.startswith("no turn of scenario 'agent_loop' matches this request (turn 2")
    assert "turn 1 (turn: expected 1, got 2)" in message
    assert "turn 2 (tool_result: expected a result for 'get_weather', got no tool result)" in (
        message
    )
    near = loop.state.requests.last.to_dict()["near"]
    assert near[0] == {"name": "turn 1", "misses": [
        {"field": "turn", "expected": "1", "actual": "2"}]}  # fmt: skip


# -- matching scenarios by what a request says ------------------------------------------------


def _scenario(name: str, match: dict[str, Any], text: str) -> Any:
    return scenario_from_dict({"description": name, "match": match, "reply": {"text": text}},
                              name=name)  # fmt: skip


def test_the_most_specific_match_wins_and_a_miss_falls_through() -> None:
    scenarios = {
        "weather": _scenario("weather", {"user_contains": "weather"}, "general"),
        "weather_gpt": _scenario(
            "weather_gpt", {"user_contains": "weather", "model": "gpt-4o"}, "specific"
        ),
    }
    with EmulatorServer(EmulatorConfig(speed=0, scenarios=scenarios)) as emulator:
        client = openai.OpenAI(base_url=emulator.url + "/v1", api_key="sk-t", max_retries=0)

        def ask(model: str, text: str) -> str | None:
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": text}]
            )
            return reply.choices[0].message.content

        assert ask("gpt-4o", "the weather?") == "specific"
        assert ask("gpt-5", "the weather?") == "general"
        assert ask("gpt-4o", "a joke") == "Hello! How can I help you today?"
        last = emulator.state.requests.last.to_dict()
        assert last["chosen_by"] == "the default"
        assert {n["name"] for n in last["near"]} == {
            "scenario 'weather'",
            "scenario 'weather_gpt'",
        }
        assert emulator.state.requests[0].chosen_by == (
            "its match (user_contains = 'weather', model = 'gpt-4o')"
        )


def test_ambiguous_matches_are_refused_when_loaded_naming_both_and_the_field() -> None:
    a = _scenario("a", {"model": "gpt-4o"}, "a")
    b = _scenario("b", {"tool": "get_weather"}, "b")
    with pytest.raises(ScenarioError) as caught:
        check_pool([a, b])
    assert caught.value.key == "match"
    assert caught.value.problem.startswith("scenario 'b' (<python>) ties with scenario 'a'")
    assert "(model, tool)" in caught.value.problem
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"description": "d", "turns": [
            {"match": {"user_contains": "rain"}}, {"match": {"user_contains": "rain in"}}]})  # fmt: skip
    assert caught.value.key == "turns[1].match"
    assert (
        caught.value.problem.startswith("turns[1] ties with turns[0]")
        and "user_contains" in caught.value.problem
    )
    # Not provably a tie: told apart by the value, or only a request can show it.
    assert provable_tie(Match(model="a"), Match(model="b")) is None
    assert provable_tie(Match(user_contains="rain"), Match(user_contains="sun")) is None
    assert provable_tie(Match(turn=1), Match(tool_result="*")) is None
    assert provable_tie(Match(turn=2), Match(turn_from=2)) == "turn, turn_from"


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ({"user_regex": "("}, "match.user_regex", "not a valid regular expression"),
        ({"path": {"$.a..b": 1}}, "match.path.'$.a..b'", "is not a path"),
        ({}, "match", "is empty"),
        ({"turn": 1, "turn_from": 2}, "match.turn_from", "not both"),
        ({"tools": False, "tool": "x"}, "match.tools", "cannot offer"),
        ({"modle": "x"}, "match.modle", "unknown key"),
    ],
)
def test_a_bad_match_names_its_key(table: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"description": "d", "match": table}, source="f.toml")
    assert (caught.value.source, caught.value.key) == ("f.toml", key)
    assert problem in caught.value.problem


def test_misses_name_the_field_the_expected_and_the_actual() -> None:
    asked = Asked(
        (Message("user", "weather in Paris"), Message("assistant", "", (ToolCall("c1", "w"),)),
         Message("tool", "{}", call_id="c1", tool="w")),
        model="gpt-4o", system="You are terse.", tools=("w",),
        body={"metadata": {"user": "u1"}, "n": [1, 2]},
    )  # fmt: skip
    assert asked.turn == 2 and asked.prompt == "weather in Paris"
    assert misses(Match(user_regex=r"Paris$", tool_result="w", tool_call_id="c1", turn=2,
                        model="gpt-4o", tool="w", tools=True, system_contains="terse",
                        paths=(("$.metadata.user", "u1"), ("$.n[1]", 2))), asked) == []  # fmt: skip
    found = misses(Match(user="weather", tool_result="x", paths=(("$.n[5]", 1),)), asked)
    assert [str(m) for m in found] == [
        "user: expected 'weather', got 'weather in Paris'",
        "tool_result: expected a result for 'x', got a result for 'w'",
        "path $.n[5]: expected 1, got nothing there",
    ]


def test_the_shipped_loops_load_with_their_turns() -> None:
    loop = load_scenario("scenarios/agent_loop.toml")
    assert [t.scenario.name for t in loop.turns] == [
        "agent_loop#1",
        "agent_loop#2",
        "agent_loop#3",
    ]
    assert [t.scenario.reply.tool for t in loop.turns] == ["get_weather", "get_forecast", ""]
    assert loop.turns[2].scenario.reply.cut == "word"


# -- token budgets -----------------------------------------------------------------------


def test_a_token_budget_counts_down_across_requests_until_a_429() -> None:
    config = EmulatorConfig(speed=0, default="token_budget")
    with EmulatorServer(config) as emulator:
        client = openai.OpenAI(base_url=emulator.url + "/v1", api_key="sk-t", max_retries=0)
        ask: Any = [{"role": "user", "content": "one two three"}]  # 3 words + 3: 6 tokens
        left = []
        for _ in range(10):  # bounded: 60 tokens at 15 a request
            try:
                raw = client.chat.completions.with_raw_response.create(model="m", messages=ask)
            except openai.RateLimitError as exc:
                refused = exc
                break
            assert raw.headers["x-ratelimit-limit-tokens"] == "60"
            left.append(int(raw.headers["x-ratelimit-remaining-tokens"]))
        assert left == [45, 30, 15, 0]  # 6 in, 9 out (the reply's words) a request
        assert 50 <= int(refused.response.headers["Retry-After"]) <= 60  # the window's rest
        assert refused.message.startswith(
            "Error code: 429 - Rate limit reached for m on tokens per min (TPM): Limit 60, "
            "Used 60, Requested 15. Please try again in "
        )
        assert refused.message.endswith("s. Visit https://platform.openai.com/account/"
                                        "rate-limits to learn more.")  # fmt: skip
        # Another session has a budget of its own.
        other = openai.OpenAI(base_url=f"{emulator.url}/_session/s1/v1", api_key="sk-t")
        raw = other.chat.completions.with_raw_response.create(model="m", messages=ask)
        assert raw.headers["x-ratelimit-remaining-tokens"] == "45"
        # Anthropic tells it in its own headers, and its stream carries them too.
        claude = anthropic.Anthropic(base_url=f"{emulator.url}/_session/s2", api_key="sk-ant-t")
        with claude.messages.with_streaming_response.create(
            model="m", max_tokens=64, messages=ask, stream=True
        ) as streamed:
            assert streamed.headers["anthropic-ratelimit-tokens-remaining"] == "45"
            assert streamed.headers["anthropic-ratelimit-tokens-reset"].endswith("Z")
