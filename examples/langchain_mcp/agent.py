"""LangChain's MCP adapters, unchanged, running an agent against both sides of the emulator:
a LangChain agent (``create_agent``, on LangGraph) whose model is ``ChatOpenAI`` on the
emulator's Chat Completions
and whose tools are the emulator's MCP server's (``MultiServerMCPClient`` over Streamable
HTTP), run to its last message. One scenario scripts both sides (``conform --loop``).

``langchain-mcp-adapters`` requires ``mcp`` 1.x, where this project's tests use 2.x: it
runs in a venv of its own (``requirements.txt`` beside this file), as a command:

    python -m venv .venv-langchain-mcp
    .venv-langchain-mcp/bin/pip install -r examples/langchain_mcp/requirements.txt
    python -m emulator conform --dialect openai-chat --loop \\
        --cmd '.venv-langchain-mcp/bin/python examples/langchain_mcp/agent.py {url} {prompt} {timeout}'

Prints the agent's last message; on any failure, the error's type and message on stderr
and exit status 1.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta


async def reply(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    from langchain.agents import create_agent
    from langchain_mcp_adapters.client import MultiServerMCPClient
    from langchain_openai import ChatOpenAI

    servers = {"emulator": {"url": f"{url}/mcp", "transport": "streamable_http",
                            "timeout": timedelta(seconds=60),
                            "sse_read_timeout": timedelta(seconds=timeout)}}  # fmt: skip
    tools = await MultiServerMCPClient(servers).get_tools()  # type: ignore[arg-type]
    model = ChatOpenAI(model="gpt-4o", base_url=f"{url}/v1", api_key="sk-conformance",  # type: ignore[arg-type]
                       max_retries=0, timeout=timeout)  # fmt: skip
    agent = create_agent(model, tools)
    result = await agent.ainvoke({"messages": [{"role": "user", "content": prompt}]},
                                 {"recursion_limit": 16})  # fmt: skip
    return str(result["messages"][-1].content)


def main() -> int:
    url, prompt, timeout = (
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3] if len(sys.argv) > 3 else 60),
    )
    try:
        text = asyncio.run(reply(url, prompt, timeout))
    except Exception as exc:  # noqa: BLE001 - any failure is the client's answer
        while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]  # the MCP client's task group: what failed inside it
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
