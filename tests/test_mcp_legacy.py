"""The MCP server over the legacy HTTP+SSE transport (revision 2024-11-05: GET ``/sse``,
POST ``/messages``), judged by the official client's ``sse_client``: the same core checks
as over Streamable HTTP, and a drop that nothing resumes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from mcp import ClientSession, MCPError
from mcp.client.sse import sse_client

from emulator import Emulator, EmulatorConfig, serve

TEXT = "Grüße, 世界 👋!"


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with serve(EmulatorConfig(speed=0)) as running:
        yield running


async def _echoed(url: str, scenario: str | None = None) -> tuple[int, str]:
    headers = {"X-Emulator-Scenario": scenario} if scenario else None
    try:
        async with (
            sse_client(url + "/sse", headers=headers, sse_read_timeout=5) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("echo", {"text": TEXT})
    except BaseExceptionGroup as group:
        while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
            group = group.exceptions[0]
        raise group from None
    text = result.content[0]
    assert text.type == "text"
    return len(tools.tools), text.text


@pytest.mark.parametrize(
    "name", [None, "crlf_line_endings", "split_every_byte", "pings_and_comments",
             "mcp_notification_flood"],
)  # fmt: skip
async def test_the_client_lists_tools_and_gets_echo_s_exact_text(
    emulator: Emulator, name: str | None
) -> None:
    assert await _echoed(emulator.url, name) == (5, TEXT)
    stream = next(c for c in emulator.requests if c.path == "/sse")
    assert stream.status == 200 and stream.detail.startswith("MCP session ")
    posts = [c.detail for c in emulator.requests if c.path == "/messages"]
    assert posts[:2] == ["initialize", "notifications/initialized"]


async def test_a_drop_ends_the_session_and_nothing_resumes_it(emulator: Emulator) -> None:
    with pytest.raises(MCPError, match="Connection closed"):
        await _echoed(emulator.url, "drop_mid_stream")
    stream = next(c for c in emulator.requests if c.path == "/sse")
    assert stream.ending is not None and stream.ending.kind == "dropped"


async def test_the_endpoint_names_the_session_and_a_stranger_is_refused(
    emulator: Emulator,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(emulator.url + "/messages?session_id=nope", data="{}") as r:
            assert r.status == 404 and "nope" in (await r.json())["error"]["message"]
        async with http.get(emulator.url + "/_session/s1/sse") as r:
            first = await r.content.readuntil(b"\n\n")
    assert first.startswith(b"event: endpoint\ndata: /_session/s1/messages?session_id=")
