"""The conformance kit judging whole agent loops (``conform --loop``): the official SDKs'
loops reach every shipped loop's last turn, and the loops that make the known mistakes
(a parallel call left unanswered, a thinking block dropped, a refusal not seen, no loop
at all) each get the verdict that names it."""

from __future__ import annotations

import functools
import subprocess
import sys
from typing import Any

import pytest

from emulator.conformance import cases, python_client, run_all
from emulator.conformance.loops import anthropic_loop, openai_chat_loop, openai_responses_loop
from emulator.conformance.runner import LONE_CALL, skipped

LOOPS = {  # each dialect's loop, and the shipped loops it is judged on
    "openai-chat": (openai_chat_loop, {"agent_loop", "agent_loop_parallel",
                                       "agent_loop_refusal", "agent_loop_thinking"}),
    "anthropic": (anthropic_loop, {"agent_loop", "agent_loop_parallel", "agent_loop_thinking"}),
    "openai-responses": (openai_responses_loop, {"agent_loop", "agent_loop_parallel",
                                                 "agent_loop_refusal", "agent_loop_thinking"}),
}  # fmt: skip


async def _judged(dialect: str, client: Any, name: str = "agent_loop*") -> dict[str, Any]:
    results = await run_all(cases(name, dialect=dialect, loop=True), python_client(client),
                            jobs=4, speed=0)  # fmt: skip
    return {r.case.name: r for r in results}


@pytest.mark.parametrize("dialect", LOOPS)
async def test_the_sdks_loops_reach_every_shipped_loops_last_turn(dialect: str) -> None:
    client, names = LOOPS[dialect]
    judged = await _judged(dialect, client)
    assert set(judged) == names
    assert {n: r.verdict.kind for n, r in judged.items()} == dict.fromkeys(names, "pass")
    assert "turns served: 1 → 2 → 3 (reached its last turn)" in judged["agent_loop"].verdict.notes


async def test_a_loop_that_answers_one_of_two_parallel_calls_gets_the_apis_400() -> None:
    client = functools.partial(openai_chat_loop, answer_all=False)
    result = (await _judged("openai-chat", client, "agent_loop_parallel"))["agent_loop_parallel"]
    assert result.verdict.kind == "failed differently"
    assert "did not have response messages" in (result.outcome.failure or "")
    assert "turns served: 1 → refused (never reached turn 2)" in result.verdict.notes


async def test_a_loop_that_drops_the_thinking_block_gets_anthropics_400() -> None:
    client = functools.partial(anthropic_loop, keep_thinking=False)
    result = (await _judged("anthropic", client, "agent_loop_thinking"))["agent_loop_thinking"]
    assert result.verdict.kind == "failed differently"
    assert "Expected `thinking` or `redacted_thinking`" in (result.outcome.failure or "")


async def test_a_stateless_loop_that_drops_the_reasoning_item_gets_the_responses_400() -> None:
    client = functools.partial(openai_responses_loop, keep_reasoning=False)
    result = (await _judged("openai-responses", client, "agent_loop_thinking"))[
        "agent_loop_thinking"]  # fmt: skip
    assert result.verdict.kind == "failed differently"
    assert "of type 'function_call' was provided without its required 'reasoning' item: 'rs_" in (
        result.outcome.failure or ""
    )


async def test_a_loop_that_reads_only_content_is_silently_wrong_at_a_refusal() -> None:
    client = functools.partial(openai_chat_loop, see_refusals=False)
    result = (await _judged("openai-chat", client, "agent_loop_refusal"))["agent_loop_refusal"]
    assert (result.verdict.kind, result.outcome.text) == ("silently wrong", "")


async def test_a_client_that_does_not_loop_stops_at_the_first_turn() -> None:
    async def one_request(url: str, prompt: str) -> str:  # the tool call's arguments
        import openai

        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-t", max_retries=0) as c:
            message = (await c.chat.completions.create(
                model="m", messages=[{"role": "user", "content": prompt}])).choices[0].message  # fmt: skip
            return "".join(t.function.arguments for t in message.tool_calls or [])  # type: ignore[union-attr]

    result = (await _judged("openai-chat", one_request, "agent_loop"))["agent_loop"]
    assert (result.verdict.kind, result.outcome.text) == ("wrong text", '{"city": "Paris"}')
    assert "turns served: 1 (never reached turn 3)" in result.verdict.notes


def test_a_lone_tool_call_is_left_out_of_a_loops_run() -> None:
    lone = dict(skipped("openai-chat", loop=True))
    assert lone["parallel_tool_calls"] == LONE_CALL and "agent_loop" not in lone
    assert "parallel_tool_calls" not in dict(skipped("openai-chat"))
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "conform", "--loop", "--dialect", "openai-chat",
         "--python", "emulator.conformance.loops:openai_chat_loop", "-k", "agent_loop", "-j",
         "4", "--speed", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 scenarios: 4 pass" in done.stdout
