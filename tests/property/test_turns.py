"""Generated scripted conversations: the turn served is the one the rules choose, on every
dialect with tools.

Hypothesis makes a scenario of turns (each matching on the turn, a tool's result, or a
word of the last user message) and a conversation (a question, then rounds of a tool
call and its result, or of an answer and a new question). Each dialect's request for
that conversation goes over a real socket; an oracle written apart from the emulator
(on the conversation's own terms, not on what a reader made of it) says which turn must
answer: the most specific match, a 404 when none matches, a 400 on a tie. A tie the
scenario file already shows is refused when it is loaded, and the example is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from emulator import EmulatorConfig
from emulator.scenario import ScenarioError
from emulator.server import EmulatorServer

TOOLS = ("get_weather", "get_time")
WORDS = ("paris", "rain", "time")
#: What a user message says: one word, or two (where two substrings both match: a tie
#: only a request reveals).
SAID = (*WORDS, "paris rain", "rain time")

#: A round after the question: ("tools", tool) is a call and its result; ("chat", word)
#: an answer and a new question with that word.
Round = tuple[str, str]


def conversation_rounds() -> st.SearchStrategy[tuple[str, list[Round]]]:
    round_ = st.tuples(st.just("tools"), st.sampled_from(TOOLS)) | st.tuples(
        st.just("chat"), st.sampled_from(SAID)
    )
    return st.tuples(st.sampled_from(SAID), st.lists(round_, max_size=4))


def matches() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "turn": st.integers(1, 4),
            "tool_result": st.sampled_from((*TOOLS, "*")),
            "user_contains": st.sampled_from(WORDS),
        },
    ).filter(bool) | st.fixed_dictionaries({"turn_from": st.integers(1, 4)})


# -- the oracle: the conversation's own terms -------------------------------------------


def expected(turns: list[dict[str, Any]], question: str, rounds: list[Round]) -> int | str:
    """The turn (from 1) that must answer, "none" or "tie"."""
    turn = 1 + len(rounds)
    last_result = rounds[-1][1] if rounds and rounds[-1][0] == "tools" else None
    last_user = next((w for kind, w in reversed(rounds) if kind == "chat"), question)
    met: list[tuple[int, int]] = []
    for i, match in enumerate(turns, 1):
        ok = (
            match.get("turn", turn) == turn
            and turn >= match.get("turn_from", 0)
            and match.get("user_contains", last_user) in f"about {last_user}"
            and (
                "tool_result" not in match
                or (last_result is not None and match["tool_result"] in ("*", last_result))
            )
        )
        if ok:
            met.append((len(match), i))
    if not met:
        return "none"
    best = max(n for n, _ in met)
    winners = [i for n, i in met if n == best]
    return winners[0] if len(winners) == 1 else "tie"


# -- each dialect's request ------------------------------------------------------------


def _calls(rounds: list[Round]) -> Iterator[tuple[int, str, str]]:
    for i, (kind, value) in enumerate(rounds):
        if kind == "tools":
            yield i, value, f"call_{i}"


def chat(question: str, rounds: list[Round], responses: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"about {question}"}]
    for i, (kind, value) in enumerate(rounds):
        if kind == "chat":
            messages += [{"role": "assistant", "content": "ok"},
                         {"role": "user", "content": f"about {value}"}]  # fmt: skip
        elif responses:
            messages += [{"type": "function_call", "call_id": f"call_{i}", "name": value,
                          "arguments": "{}"},
                         {"type": "function_call_output", "call_id": f"call_{i}",
                          "output": "{}"}]  # fmt: skip
        else:
            messages += [{"role": "assistant", "content": None, "tool_calls": [
                             {"id": f"call_{i}", "type": "function",
                              "function": {"name": value, "arguments": "{}"}}]},
                         {"role": "tool", "tool_call_id": f"call_{i}", "content": "{}"}]  # fmt: skip
    return messages


def anthropic(question: str, rounds: list[Round]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"about {question}"}]
    for i, (kind, value) in enumerate(rounds):
        if kind == "chat":
            messages += [{"role": "assistant", "content": "ok"},
                         {"role": "user", "content": f"about {value}"}]  # fmt: skip
        else:
            messages += [{"role": "assistant", "content": [
                             {"type": "tool_use", "id": f"toolu_{i}", "name": value,
                              "input": {}}]},
                         {"role": "user", "content": [
                             {"type": "tool_result", "tool_use_id": f"toolu_{i}",
                              "content": "{}"}]}]  # fmt: skip
    return messages


def gemini(question: str, rounds: list[Round]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": f"about {question}"}]}]
    for kind, value in rounds:
        if kind == "chat":
            contents += [{"role": "model", "parts": [{"text": "ok"}]},
                         {"role": "user", "parts": [{"text": f"about {value}"}]}]  # fmt: skip
        else:
            contents += [{"role": "model", "parts": [{"functionCall": {"name": value,
                                                                       "args": {}}}]},
                         {"role": "user", "parts": [{"functionResponse": {
                             "name": value, "response": {}}}]}]  # fmt: skip
    return contents


def bedrock(question: str, rounds: list[Round]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": f"about {question}"}]}]
    for i, (kind, value) in enumerate(rounds):
        if kind == "chat":
            messages += [{"role": "assistant", "content": [{"text": "ok"}]},
                         {"role": "user", "content": [{"text": f"about {value}"}]}]  # fmt: skip
        else:
            messages += [{"role": "assistant", "content": [{"toolUse": {
                             "toolUseId": f"tooluse_{i}", "name": value, "input": {}}}]},
                         {"role": "user", "content": [{"toolResult": {
                             "toolUseId": f"tooluse_{i}", "content": [{"text": "{}"}]}}]}]  # fmt: skip
    return messages


def requests(question: str, rounds: list[Round]) -> dict[str, tuple[str, dict[str, str], Any]]:
    """Dialect -> (path, headers, body) of the request for this conversation."""
    openai = {"Authorization": "Bearer sk-test"}
    return {
        "openai-chat": ("/v1/chat/completions", openai,
                        {"model": "m", "messages": chat(question, rounds)}),
        "openai-responses": ("/v1/responses", openai,
                             {"model": "m", "input": chat(question, rounds, responses=True)}),
        "anthropic": ("/v1/messages", {"x-api-key": "sk-ant-t", "anthropic-version": "2023-06-01"},
                      {"model": "m", "max_tokens": 64, "messages": anthropic(question, rounds)}),
        "gemini": ("/v1beta/models/m:generateContent", {"x-goog-api-key": "k"},
                   {"contents": gemini(question, rounds)}),
        "bedrock": ("/model/m/converse", {"Authorization": "Bearer k"},
                    {"messages": bedrock(question, rounds)}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as emulator:
        yield emulator


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(turns=st.lists(matches(), min_size=1, max_size=4), conversation=conversation_rounds())
# Two substrings both in the message: a tie only the request shows.
@example(turns=[{"user_contains": "paris"}, {"user_contains": "rain"}],
         conversation=("paris rain", []))  # fmt: skip
# The agent loop: a call, then its result; then a result of the other tool, unmatched.
@example(turns=[{"turn": 1}, {"tool_result": "get_weather"}, {"turn_from": 3}],
         conversation=("paris", [("tools", "get_weather")]))  # fmt: skip
@example(turns=[{"turn": 1}, {"tool_result": "get_weather"}],
         conversation=("paris", [("tools", "get_time")]))  # fmt: skip
def test_the_served_turn_is_the_one_the_rules_choose(
    server: EmulatorServer, turns: list[dict[str, Any]], conversation: tuple[str, list[Round]]
) -> None:
    table = {
        "description": "generated turns",
        "turns": [{"match": m, "reply": {"text": f"turn {i}"}} for i, m in enumerate(turns, 1)],
    }
    try:
        server.state.register("generated", table)
    except ScenarioError as exc:
        assume("ties with" not in str(exc))  # a tie the file shows: refused, as it must be
        raise
    want = expected(turns, *conversation)
    event(f"expected: {want if isinstance(want, str) else 'a turn'}")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for dialect, (path, headers, body) in requests(*conversation).items():
            answer = http.post(path, json=body,
                               headers={**headers, "X-Emulator-Scenario": "generated"})  # fmt: skip
            call = server.state.requests.last
            where = f"{dialect}: {json.dumps(body)[:300]}"
            if want == "none":
                assert answer.status_code == 404, where
                assert "no turn of scenario 'generated' matches" in answer.text, where
                assert call.near, where
            elif want == "tie":
                assert answer.status_code == 400 and "equally" in answer.text, where
            else:
                assert answer.status_code == 200, (where, answer.text)
                assert (call.turn, call.scenario) == (want, "generated"), where
                assert f"turn {want}" in answer.text, where
