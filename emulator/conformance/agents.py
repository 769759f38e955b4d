"""Agent frameworks as conformance clients, both sides of their loop on the emulator: the
model's turns from a dialect, the tools from the emulator's MCP server (``/mcp``), one
scenario scripting both (``conform --loop``).

(``--python emulator.conformance.agents:openai_agents_mcp --dialect openai-chat --loop``;
``pydantic_ai_mcp`` the same.)
"""

from __future__ import annotations

__all__ = ["openai_agents_mcp", "pydantic_ai_mcp"]


async def openai_agents_mcp(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The OpenAI Agents SDK (``openai-agents``): an ``Agent`` whose model is Chat
    Completions at the emulator and whose tools come from ``MCPServerStreamableHttp`` at
    its ``/mcp``, run with ``Runner.run`` to its final output (at most 8 turns). The idle
    timeout is the model client's read timeout and the MCP session's."""
    import openai
    from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner
    from agents.mcp import MCPServerStreamableHttp

    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-conformance", max_retries=0,
                                timeout=openai.Timeout(60.0, read=timeout))  # fmt: skip
    params = {"url": f"{url}/mcp", "timeout": timeout, "sse_read_timeout": timeout}
    async with client, MCPServerStreamableHttp(params=params, name="emulator",  # type: ignore[arg-type]
                                               client_session_timeout_seconds=timeout) as tools:  # fmt: skip
        agent = Agent(name="conformance", instructions="Answer; call tools when asked.",
                      mcp_servers=[tools],
                      model=OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client))  # fmt: skip
        result = await Runner.run(agent, prompt, max_turns=8,
                                  run_config=RunConfig(tracing_disabled=True))  # fmt: skip
    return str(result.final_output)


async def pydantic_ai_mcp(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """Pydantic AI (``pydantic-ai-slim[openai,mcp]``): an ``Agent`` whose model is
    ``OpenAIChatModel`` on Chat Completions at the emulator and whose toolset is
    ``MCPToolset`` on its ``/mcp``, run to its output. The idle timeout is the MCP
    toolset's read timeout; the model client's is its own (the SDK's)."""
    import openai
    from pydantic_ai import Agent
    from pydantic_ai.mcp import MCPToolset
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-conformance", max_retries=0,
                                timeout=openai.Timeout(60.0, read=timeout))  # fmt: skip
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    tools = MCPToolset(f"{url}/mcp", read_timeout=timeout)
    agent = Agent(model, toolsets=[tools], instructions="Answer; call tools when asked.")
    async with client, agent:
        result = await agent.run(prompt)
    return str(result.output)
