"""The MCP server over stdio (``python -m emulator mcp --stdio``), launched by the official
client's ``stdio_client`` as a client launches its servers: the same core checks as over
Streamable HTTP, and a scenario stdio cannot carry refused with its reason."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from emulator import builtin_scenarios
from emulator.scenario.text import reply_text

TEXT = "Grüße, 世界 👋!"


async def _session(scenario: str) -> tuple[list[str], str, str]:
    """The tools listed, echo's text, and the reply tool's text for "hi"."""
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "emulator", "mcp", "--stdio", "--scenario", scenario])  # fmt: skip
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        echoed = await session.call_tool("echo", {"text": TEXT})
        replied = await session.call_tool("reply", {"prompt": "hi"})
    text: Any = echoed.content[0]
    said: Any = replied.content[0] if replied.content else None
    return [t.name for t in tools.tools], text.text, said.text if said is not None else ""


@pytest.mark.parametrize(
    "name", ["default", "unicode_text", "split_every_byte", "mcp_notification_flood",
             "mcp_duplicate_result"],
)  # fmt: skip
async def test_the_client_lists_tools_and_gets_exact_text(name: str) -> None:
    tools, echoed, replied = await _session(name)
    assert tools[:2] == ["echo", "reply"]
    assert echoed == TEXT
    assert replied == reply_text(builtin_scenarios()[name].reply, "hi")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scenario", "drop_mid_stream"], "its drop fault is played on an event stream"),
        (["--scenario", "crlf_line_endings"], "SSE framing, which stdio has not"),
        (["--scenario", "http_429_rate_limited"], "its HTTP errors need HTTP"),
        (["--scenario", "nope"], "unknown scenario 'nope'"),
    ],
)
def test_what_stdio_cannot_carry_is_refused_with_its_reason(args: list[str], says: str) -> None:
    done = subprocess.run([sys.executable, "-m", "emulator", "mcp", "--stdio", *args],
                          input="", capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 2 and says in done.stderr and done.stdout == ""


def test_a_bad_line_gets_its_json_rpc_error_and_the_server_goes_on() -> None:
    lines = "{not json\n" + '{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n'
    done = subprocess.run([sys.executable, "-m", "emulator", "mcp", "--stdio"], input=lines,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    out = done.stdout.splitlines()
    assert '"code": -32700' in out[0]
    assert out[1] == '{"jsonrpc": "2.0", "id": 1, "error": {"code": -32600, "message": "Bad ' \
        'Request: no session: initialize first"}}'  # fmt: skip
