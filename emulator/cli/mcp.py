"""``python -m emulator mcp --stdio``: the MCP server on standard input and output, for a
client that launches its servers (Claude Desktop's, Cursor's, the ``mcp`` SDKs'
``stdio_client``).

One JSON-RPC message a line each way (MCP's stdio transport), one session, the same
server as ``/mcp`` (:class:`~emulator.dialects.mcp.serve.McpServer`) under one scenario:
its tools, its reply (the ``reply`` tool's, each prompt choosing its turn) and its
``[mcp]`` part (notifications, a slow tool, a stray or duplicate result, a scripted
error, a protocol version). Its ``[wire]`` splits of writes and ASCII escaping
apply to each line; what only a stream over HTTP can carry (its faults, SSE framing,
network, HTTP errors) does not: such a scenario is refused at the start, with the
reason. Nothing but protocol messages goes to standard output; the log goes to
standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ..dialects.common import sse_framing
from ..dialects.mcp.part import McpPart
from ..dialects.mcp.serve import McpServer, McpSession
from ..dialects.rpc import Played
from ..protocol.jsonrpc import RpcError, error_response, read_message
from ..scenario import Scenario, ScenarioError
from ..scenario.model import Wire
from ..state.config import LIMITS
from ..state.matching import NoTurnError, turn_of
from .options import add_scenarios_dir, scenarios_of

__all__ = ["add_mcp", "not_on_stdio"]

#: The longest line (message) read from the client.
MAX_LINE = 16 * 1024 * 1024


def add_mcp(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "mcp",
        help="serve the MCP server on stdin and stdout, for a client that launches it",
        description="Serve the emulator's MCP server over MCP's stdio transport: one JSON-RPC "
        "message a line on standard input and output, under one scenario (its tools' answers, "
        "its reply, its [mcp] part).",
    )
    p.add_argument("--stdio", action="store_true", required=True,
                   help="the transport: standard input and output (the only one here; "
                   "Streamable HTTP is /mcp on a running server)")  # fmt: skip
    p.add_argument("--scenario", default="default", help="the scenario it answers under")
    add_scenarios_dir(p)
    p.set_defaults(run=mcp)


def not_on_stdio(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing over stdio (None: it applies)."""
    part = scenario.part(McpPart) or McpPart()
    if scenario.faults:
        return f"its {scenario.faults[0].kind} fault is played on an event stream over HTTP"
    if scenario.http_errors:
        return "its HTTP errors need HTTP"
    if scenario.transport.shapes:
        return "its network faults ([transport]) act on an HTTP connection"
    framed = sse_framing(scenario, "stdio")
    if framed is not None:
        return framed
    if scenario.recording is not None:
        return "its recording is of an HTTP answer"
    if part.json_response or part.session_expires_after:
        return "its [mcp] part acts on HTTP (JSON bodies, session ids)"
    return None


def mcp(args: argparse.Namespace) -> int:
    try:
        known = scenarios_of(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scenario = known.get(args.scenario)
    if scenario is None:
        print(f"error: unknown scenario {args.scenario!r} (see python -m emulator list)",
              file=sys.stderr)  # fmt: skip
        return 2
    reason = not_on_stdio(scenario)
    if reason is not None:
        print(f"error: scenario {scenario.name!r} does not apply over stdio: {reason}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"MCP over stdio, scenario {scenario.name!r}", file=sys.stderr)
    asyncio.run(_serve(scenario))
    return 0


async def _write(message: Any, wire: Wire) -> None:
    """One message, a line; split into writes where the scenario's [wire] says so (a
    client must put a line together from pieces), escaped to ASCII where it says so."""
    line = json.dumps(message, ensure_ascii=wire.ensure_ascii).encode() + b"\n"
    size = wire.chunk_size or len(line)
    for start in range(0, len(line), size):
        if start:
            await asyncio.sleep(wire.split_pause)
        sys.stdout.buffer.write(line[start : start + size])
        sys.stdout.buffer.flush()


async def _serve(scenario: Scenario) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    server = McpServer()
    session: McpSession | None = None
    while line := await reader.readline():
        if not line.strip():
            continue
        try:
            message = read_message(line)
        except RpcError as exc:
            await _write(error_response(exc.id, exc.code, exc.message), scenario.wire)
            continue
        asked = server.asked(message)
        served = scenario
        if asked is not None and scenario.turns:
            try:
                served, _ = turn_of(scenario, asked, LIMITS.rule_seconds)
            except NoTurnError as exc:
                await _write(error_response(message.id, -32602, str(exc)), scenario.wire)
                continue
        state, said = server.handle(session, message, served)
        session = state if state is not None else session
        if not isinstance(said, Played):
            if said.message is not None:
                await _write(said.message, served.wire)
            continue
        for told in server.told(served, said):
            if told.wait:
                await asyncio.sleep(told.wait)
            if told.message is not None:
                await _write(told.message, served.wire)
