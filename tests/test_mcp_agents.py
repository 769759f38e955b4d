"""Agent frameworks' real loops with both sides on the emulator: the OpenAI Agents SDK
(``openai-agents``) and Pydantic AI, unchanged, each with its model on Chat Completions
and its tools from the MCP server, one scenario scripting the model's turns and the
tools' answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import EmulatorConfig, builtin_scenarios, serve
from emulator.conformance.agents import openai_agents_mcp, pydantic_ai_mcp
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"


@pytest.mark.parametrize("agent", [openai_agents_mcp, pydantic_ai_mcp])
async def test_an_agent_runs_a_scripted_loop_with_its_tools_over_mcp(agent: Any) -> None:
    async with serve(EmulatorConfig(speed=0, default="agent_loop")) as emulator:
        said = await agent(emulator.url, "What is the weather in Paris?")
        calls = [(c.path, c.detail if c.path == "/mcp" else c.turn) for c in emulator.requests
                 if c.method == "POST"]  # fmt: skip
    last = builtin_scenarios()["agent_loop"].turns[-1].scenario
    assert said == reply_text(last.reply, "")
    model = [turn for path, turn in calls if path != "/mcp"]
    assert model == [1, 2, 3]  # each turn chosen by the tool result the request carries
    tools = [detail for path, detail in calls if path == "/mcp"]
    # A discovery probe of a newer revision, refused (400), then the 2025-11-25 handshake.
    assert tools.count("tools/call") == 2
    assert tools[1:3] == ["initialize", "notifications/initialized"]
    # The model's calls reached the MCP server in order, between the model's turns.
    order = [p for p, d in calls if p != "/mcp" or d == "tools/call"]
    assert order == ["/v1/chat/completions", "/mcp", "/v1/chat/completions", "/mcp",
                     "/v1/chat/completions"]  # fmt: skip


@pytest.mark.parametrize(("marker", "agent"), [("python openai-agents mcp card", openai_agents_mcp),
                                               ("python pydantic-ai mcp card", pydantic_ai_mcp)])  # fmt: skip
async def test_the_card_is_what_a_run_finds(marker: str, agent: Any) -> None:
    await assert_report_card(marker, "openai-chat", agent, doc=CLIENTS, loop=True)


ROOT = Path(__file__).resolve().parent.parent
#: LangChain's MCP adapters pin mcp<2: their agent runs from a venv of its own (.ci/run
#: makes it from examples/langchain_mcp/requirements.txt).
LANGCHAIN = ROOT / ".venv-langchain-mcp" / "bin" / "python"


def _langchain_agent() -> str:
    """The LangChain agent as a conformance command (skipped, with how to make its venv,
    where it has none; under CI a missing venv fails)."""
    import os

    if not LANGCHAIN.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must judge LangChain's MCP adapters: .ci/run makes their venv")
        pytest.skip("no .venv-langchain-mcp: python -m venv .venv-langchain-mcp && "
                    ".venv-langchain-mcp/bin/pip install -r "
                    "examples/langchain_mcp/requirements.txt")  # fmt: skip
    return f"{LANGCHAIN} {ROOT / 'examples' / 'langchain_mcp' / 'agent.py'} {{url}} {{prompt}} {{timeout}}"


async def test_langchain_s_agent_runs_a_scripted_loop_with_its_tools_over_mcp() -> None:
    from emulator.conformance import cases, command_client, run_all

    chosen = cases(["agent_loop"], dialect="openai-chat", loop=True)
    (result,) = await run_all(chosen, command_client(_langchain_agent()), speed=0)
    assert result.verdict.passed, (result.verdict.detail, result.outcome.stderr)
    assert "turns served: 1 → 2 → 3 (reached its last turn)" in result.verdict.notes


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_langchain_s_card_is_what_a_run_finds() -> None:
    # Its card is the agent-loop scenarios': a process a case, whose imports take seconds,
    # is judged where its startup does not count against a stall's timeout.
    await assert_report_card("python langchain mcp card", "openai-chat", _langchain_agent(),
                             doc=CLIENTS, command=True, loop=True, select="agent_loop*")  # fmt: skip
