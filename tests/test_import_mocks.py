"""Fixtures written for the other mocks (aimock, mock-llm, llmposter, VidaiMock), imported
by ``python -m emulator import`` and served by a real server to the official SDKs: the
same answers to the same requests, on every dialect, and what has no equivalent named.
The files in ``tests/captures/mocks/`` are the tools' own examples (aimock's are its
npm package's ``fixtures/``, MIT)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import Emulator, load_scenario, scenario_from_dict
from emulator.capture.fixture_formats import imported_fixtures
from emulator.scenario import ScenarioError
from emulator.scenario.asked import Asked, Message
from emulator.state.matching import NthCounts, turn_of

openai = pytest.importorskip("openai", reason="the openai package is not installed")
anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")

MOCKS = Path(__file__).resolve().parent / "captures" / "mocks"
JOKES = [
    "Why did the programmer quit his job? Because he didn't get arrays!",
    "Why do Java developers wear glasses? Because they can't C#!",
    "A SQL query walks into a bar, sees two tables, and asks: 'Can I join you?'",
]


def imported(name: str) -> Any:
    path = MOCKS / name
    found = imported_fixtures(path.read_bytes(), path, path.stem)
    assert found is not None, name
    return found


async def _chat(emulator: Emulator, prompt: str) -> str:
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="sk-t",
                                  max_retries=0) as client:  # fmt: skip
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _messages(emulator: Emulator, prompt: str) -> str:
    client = anthropic.AsyncAnthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
    ask = {"role": "user", "content": prompt}
    async with client, client.messages.stream(model="claude-sonnet-4-5", max_tokens=100,
                                              messages=[ask]) as stream:  # fmt: skip
        return await stream.get_final_text()


@pytest.mark.parametrize("ask", [_chat, _messages], ids=["chat", "messages"])
async def test_aimock_s_greeting_answers_the_same_through_each_sdk(
    emulator: Emulator, ask: Any
) -> None:
    found = imported("aimock-example-greeting.json")
    assert found.tool == "aimock" and found.dropped == []
    emulator.use(found.scenario)
    assert await ask(emulator, "hello there") == "Hello! How can I help you today?"
    assert await ask(emulator, "goodbye now") == "Goodbye! Have a great day!"


@pytest.mark.parametrize("ask", [_chat, _messages], ids=["chat", "messages"])
async def test_aimock_s_sequential_jokes_come_in_order_then_no_more(
    emulator: Emulator, ask: Any
) -> None:
    emulator.use(imported("aimock-sequential-responses.json").scenario)
    said = [await ask(emulator, "please tell me a joke") for _ in JOKES]
    assert said == JOKES
    with pytest.raises((openai.NotFoundError, anthropic.NotFoundError)):
        await ask(emulator, "please tell me a joke")  # aimock too has no fourth


async def test_aimock_s_error_and_tool_call_fixtures(emulator: Emulator) -> None:
    emulator.use(imported("aimock-error-injection.json").scenario)
    with pytest.raises(openai.RateLimitError, match="Rate limit exceeded"):
        await _chat(emulator, "anything")
    emulator.use(imported("aimock-example-tool-call.json").scenario)
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="sk-t",
                                  max_retries=0) as client:  # fmt: skip
        done = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "weather?"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        )  # fmt: skip
    call = done.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"location": "San Francisco", "unit": "fahrenheit"}'


async def test_mock_llm_s_sequence_and_error_rule(emulator: Emulator) -> None:
    found = imported("mock-llm.yaml")
    assert found.tool == "mock-llm"
    assert found.dropped == ["rule 4: path: '/v1/models' is not Chat Completions' path: "
                             "left out"]  # fmt: skip
    emulator.use(found.scenario)
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key provided"):
        await _chat(emulator, "say error-401")
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="sk-t",
                                  max_retries=0) as client:  # fmt: skip
        ask: Any = {"model": "m", "messages": [{"role": "user", "content": "weather?"}]}
        first = await client.chat.completions.create(**ask)
        second = await client.chat.completions.create(**ask)
    assert first.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert second.choices[0].message.content == "The weather is 72°F"


async def test_llmposter_s_fixtures_and_what_has_no_equivalent(emulator: Emulator) -> None:
    found = imported("llmposter.yaml")
    assert found.tool == "llmposter"
    assert [d.split(":")[:2] for d in found.dropped] == [["fixture 1", " scenario"],
                                                         ["fixture 2", " error.headers"]]  # fmt: skip
    emulator.use(found.scenario)
    assert await _messages(emulator, "hello world") == "Hi from llmposter!"
    assert await _chat(emulator, "what now?") == "Scenario complete — no more weather fixtures."
    with pytest.raises(openai.RateLimitError, match="Rate limit exceeded"):
        await _chat(emulator, "hit the rate limit")


async def test_a_vidaimock_template_serves_its_else_branch(emulator: Emulator) -> None:
    found = imported("vidaimock-chat.json.j2")
    assert found.tool == "vidaimock" and len(found.dropped) == 2
    emulator.use(found.scenario)
    assert await _messages(emulator, "hi") == "Everything looks normal."


def test_the_cli_writes_a_scenario_and_names_what_it_left_out(tmp_path: Path) -> None:
    out = tmp_path / "jokes.toml"
    done = subprocess.run([sys.executable, "-m", "emulator", "import",
                           str(MOCKS / "mock-llm.yaml"), "-o", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not as in mock-llm: rule 4: path: '/v1/models'" in done.stderr
    assert "3 turn(s)" in done.stderr
    scenario = load_scenario(out)
    assert scenario.name == "jokes" and len(scenario.turns) == 3


def test_a_file_that_is_no_mock_s_is_imported_as_a_capture_still(tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text('data: {"message": {"content": {"parts": ["Hi"]}}}\n\ndata: [DONE]\n\n')
    assert imported_fixtures(body.read_bytes(), body, "body") is None


def test_fixtures_none_of_which_can_be_served_are_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"fixtures": [{"match": {"userMessage": "x"}, "response": 3}]}')
    with pytest.raises(ScenarioError, match=r"bad\.json.*no aimock fixture"):
        imported_fixtures(bad.read_bytes(), bad, "bad")


def _ask(prompt: str) -> Asked:
    return Asked((Message("user", prompt),))


@given(st.integers(1, 8), st.lists(st.booleans(), max_size=20))
def test_nth_counts_only_the_requests_that_meet_the_other_conditions(
    length: int, asks: list[bool]
) -> None:
    # A sequence of answers to "joke" among other requests: the k-th "joke" gets turn k.
    turns = [{"match": {"user_contains": "joke", "nth": k}, "reply": {"text": f"joke {k}"}}
             for k in range(1, length + 1)]  # fmt: skip
    turns.append({"match": {"user_contains": "other"}, "reply": {"text": "other"}})
    scenario = scenario_from_dict({"description": "d", "turns": turns}, name="seq")
    counts, jokes = NthCounts(), 0
    for joke in asks:
        if not joke:
            assert turn_of(scenario, _ask("other"), 0.1, counts)[0].reply.text == "other"
            continue
        jokes += 1
        if jokes <= length:
            got = turn_of(scenario, _ask("a joke"), 0.1, counts)[0]
            assert got.reply.text == f"joke {jokes}"
        else:
            with pytest.raises(LookupError):
                turn_of(scenario, _ask("a joke"), 0.1, counts)


def test_nth_is_a_turn_s_condition_only() -> None:
    with pytest.raises(ScenarioError, match=r"match\.nth"):
        scenario_from_dict({"description": "d", "match": {"nth": 2}}, name="x")
