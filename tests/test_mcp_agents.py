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
