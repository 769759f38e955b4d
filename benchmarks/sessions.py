"""The session-speaking dialects against their baselines, side by side: the Realtime
WebSocket against a bare aiohttp WebSocket handler sending the same messages (one long
response, and many sessions at once), and MCP's ``tools/call`` over Streamable HTTP against
a bare handler answering the same bytes and against the ``mcp`` SDK's own server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import aiohttp
from aiohttp import web

from emulator import EmulatorConfig, serve

from .cases import Sizes, scenario_of
from .harness import Result, compare, serving_app

__all__ = ["mcp_vs_bare", "realtime_vs_bare"]

_TEXT_SESSION: Final = {"type": "session.update",
                        "session": {"type": "realtime", "output_modalities": ["text"]}}  # fmt: skip
_ASK: Final = (
    json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "benchmark"}]}}),
    json.dumps({"type": "response.create"}),
)  # fmt: skip


async def _realtime(http: aiohttp.ClientSession, url: str) -> int:
    """One session: text output, one user item, one response, read to ``response.done``."""
    received = 0
    ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    async with http.ws_connect(ws_url, headers={"Authorization": "Bearer sk-bench"},
                               max_msg_size=0) as ws:  # fmt: skip
        await ws.send_str(json.dumps(_TEXT_SESSION))
        for message in _ASK:
            await ws.send_str(message)
        async for msg in ws:
            received += len(msg.data)
            if '"response.done"' in msg.data[:64]:
                break
    return received


@asynccontextmanager
async def _bare_ws(messages: list[str]) -> AsyncIterator[str]:
    """A bare aiohttp WebSocket handler: ``session.created``, then for each client message
    what the emulator said to it, pre-encoded (the last one: the whole response)."""
    greeting, answers = messages[0], messages[1:]

    async def answer(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(greeting)
        heard = 0
        async for _ in ws:
            heard += 1
            if heard == 1:
                await ws.send_str(answers[0])  # session.updated
            elif heard == len(_ASK) + 1:
                for each in answers[1:]:
                    await ws.send_str(each)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    async with serving_app(app) as url:
        yield url


async def _recorded(http: aiohttp.ClientSession, url: str) -> list[str]:
    """What the emulator says in one session: the greeting, the ack, the response's."""
    said: list[str] = []
    ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    async with http.ws_connect(ws_url, headers={"Authorization": "Bearer sk-bench"},
                               max_msg_size=0) as ws:  # fmt: skip
        said.append((await ws.receive()).data)
        await ws.send_str(json.dumps(_TEXT_SESSION))
        said.append((await ws.receive()).data)
        for message in _ASK:
            await ws.send_str(message)
        async for msg in ws:
            said.append(msg.data)
            if '"response.done"' in msg.data[:64]:
                break
    return said


async def realtime_vs_bare(sizes: Sizes) -> list[Result]:
    """A long text response on one session, and many sessions at once (one short response
    each), against a bare WebSocket handler sending the emulator's own messages."""
    results = []
    for tokens, sessions in ((sizes.emulator_tokens, 1), (20, max(sizes.concurrency))):
        config = EmulatorConfig(speed=0, scenarios={"bench": scenario_of(tokens)},
                                default="bench")  # fmt: skip
        connector = aiohttp.TCPConnector(limit=0)
        async with serve(config) as emu, aiohttp.ClientSession(connector=connector) as http:
            messages = await _recorded(http, emu.url)
            async with _bare_ws(messages) as bare_url:

                async def many(url: str, sessions: int = sessions) -> int:
                    done = await asyncio.gather(*(_realtime(http, url) for _ in range(sessions)))
                    return sum(done)

                async def from_bare(url: str = bare_url) -> int:
                    return await many(url)

                async def from_emulator() -> int:
                    return await many(emu.url)

                what = (f"one {tokens}-token text response" if sessions == 1
                        else f"{sessions} sessions at once, a {tokens}-token response each")  # fmt: skip
                result = await compare(
                    f"Realtime WebSocket, speed 0: {what}",
                    "the emulator within 10x a bare aiohttp WebSocket handler sending the same "
                    "pre-encoded messages (its planning, its journal of both directions)",
                    {"bare aiohttp WebSocket handler (the same messages)": from_bare,
                     "emulator (openai-realtime)": from_emulator},
                    repeats=sizes.repeats,
                )  # fmt: skip
            result.notes.append(f"{len(messages):,} server messages a session, "
                                f"{sum(map(len, messages)):,} bytes")  # fmt: skip
            results.append(result)
    return results


# -- MCP -------------------------------------------------------------------------------------

_HEADERS: Final = {"Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json"}  # fmt: skip


def _call(n: int) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": f"call {n}"}}})  # fmt: skip


async def _opened(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """A session (initialized) and the headers its calls carry."""
    hello = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"}}})  # fmt: skip
    async with http.post(url, data=hello, headers=_HEADERS) as r:
        await r.read()
        named = {**_HEADERS, "Mcp-Session-Id": r.headers.get("Mcp-Session-Id", "none"),
                 "MCP-Protocol-Version": "2025-11-25"}  # fmt: skip
    done = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    async with http.post(url, data=done, headers=named) as r:
        await r.read()
    return named


async def _calls(http: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int) -> int:
    """``n`` echo calls, one after another, each read to the end of its answer."""
    got = 0
    for i in range(n):
        async with http.post(url, data=_call(i + 1), headers=headers) as r:
            body = await r.read()
            if r.status != 200 or b"call " not in body:
                raise RuntimeError(f"{url} answered {r.status}: {body[:200]!r}")
            got += len(body)
    return got


@asynccontextmanager
async def _bare_mcp(body: bytes) -> AsyncIterator[str]:
    """A bare aiohttp handler answering any POST with one pre-encoded answer's bytes."""

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Mcp-Session-Id": "bare"})  # fmt: skip
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/mcp", answer)
    async with serving_app(app) as url:
        yield url + "/mcp"


_SDK_SERVER: Final = """
import sys
from mcp.server.mcpserver import MCPServer
app = MCPServer("bench", log_level="WARNING")

@app.tool()
def echo(text: str) -> str:
    return text

app.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


@asynccontextmanager
async def _sdk_server() -> AsyncIterator[str | None]:
    """The ``mcp`` SDK's own server (``MCPServer`` on uvicorn) with an echo tool, in a
    process of its own (None: the SDK is not installed)."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", _SDK_SERVER, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def mcp_vs_bare(sizes: Sizes) -> Result:
    """``tools/call`` of echo, one after another on one session, over Streamable HTTP."""
    calls = sizes.fixture_rounds
    async with (
        serve(EmulatorConfig(speed=0)) as emu,
        aiohttp.ClientSession() as http,
        _sdk_server() as sdk_url,
    ):
        mcp_url = emu.url + "/mcp"
        named = await _opened(http, mcp_url)
        async with http.post(mcp_url, data=_call(1), headers=named) as r:
            body = await r.read()
        async with _bare_mcp(body) as bare_url:
            variants: dict[str, Any] = {}

            async def from_bare() -> int:
                return await _calls(http, bare_url, dict(_HEADERS), calls)

            async def from_emulator() -> int:
                return await _calls(http, mcp_url, named, calls)

            variants = {"bare aiohttp handler (the same answer's bytes)": from_bare,
                        "emulator (mcp)": from_emulator}  # fmt: skip
            if sdk_url is not None:
                sdk_named = await _opened(http, sdk_url)

                async def from_sdk() -> int:
                    return await _calls(http, sdk_url, sdk_named, calls)

                variants["the mcp SDK's own server (MCPServer on uvicorn)"] = from_sdk
            result = await compare(
                f"MCP tools/call over Streamable HTTP, {calls} calls one after another",
                "the emulator within 5x a bare handler answering the same bytes, and faster "
                "than the mcp SDK's own server on the same calls",
                variants,
                repeats=sizes.repeats,
            )
    for label, timings in result.timings.items():
        best = min(timings) if timings else 0.0
        if best > 0:
            result.figures[f"{label}: calls a second (best run)"] = calls / best
    result.notes.append(f"{len(body):,} bytes an answer (priming event and result)")
    return result
