"""``python -m benchmarks.peers``: the emulator beside a peer users would pick instead,
``@dwmkerr/mock-llm`` (an OpenAI-compatible mock server on npm, ``npm ci --prefix
benchmarks``), on the same machine, in one run, on the same Chat Completions requests.

1. One streamed completion of 2,000 tokens (each a 4-character word), as fast as each
   server streams: the time to read it whole and the server's CPU for it. mock-llm
   writes one chunk per ``setInterval`` tick, which Node holds to at least 1 ms.
2. N = 100, 500 and 1,000 streamed completions at once, each 50 chunks 20 ms apart
   (the pace both can keep): how many completed (``[DONE]`` read), errors, the p99 of
   the first chunk's arrival, the wall time, and the server's peak RSS.

Each server runs in a process of its own; its CPU and RSS are read from ``/proc``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp

from emulator.scenario.faults import FAULTS

from .outside import Server, percentile, start, start_process, write_section

HERE = Path(__file__).resolve().parent
MOCK_LLM: Final = HERE / "node_modules" / "@dwmkerr" / "mock-llm" / "dist" / "main.js"
TOKEN: Final = "tok "
SIZES: Final = (100, 500, 1000)


def _emulator(folder: Path, text: str, tokens_per_second: float) -> Server:
    scenario = folder / f"peer_{int(tokens_per_second)}.toml"
    scenario.write_text(
        f'description = "A peer benchmark reply."\n\n[reply]\ntext = "{text}"\ncut = "word"\n\n'
        f"[timing]\ntokens_per_second = {tokens_per_second}\n",
        encoding="utf-8",
    )
    speed = "1" if tokens_per_second else "0"
    server = start("emulator", ["-m", "emulator", "--port", "0", "--scenario", str(scenario),
                                "--speed", speed, "--log-level", "WARNING"])  # fmt: skip
    # It names localhost; connect where it listens (the same family every time).
    server.url = server.url.replace("localhost", "127.0.0.1")
    return server


def _mock_llm(folder: Path, interval_ms: int) -> Server:
    config = folder / f"mock-llm-{interval_ms}.yaml"
    # Its default rule (echo the last user message), streamed in chunks of one token.
    config.write_text(
        f"streaming:\n  chunkSize: {len(TOKEN)}\n  chunkIntervalMs: {interval_ms}\n"
        "rules:\n"
        '  - path: "/v1/chat/completions"\n    method: "POST"\n    match: "@"\n'
        "    response:\n      status: 200\n      content: |\n"
        '        {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "created": 1,\n'
        '         "choices": [{"index": 0, "message": {"role": "assistant",\n'
        '          "content": "{{jmes request body.messages[-1].content}}"},\n'
        '          "finish_reason": "stop"}]}\n',
        encoding="utf-8",
    )
    port = _free_port()
    return start_process("mock-llm", ["node", str(MOCK_LLM), "--config", str(config)],
                         "running on ", env={"PORT": str(port), "HOST": "127.0.0.1"},
                         url=f"http://127.0.0.1:{port}")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(text: str) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}],
            "stream": True}  # fmt: skip


@dataclass
class Read:
    first: float = float("nan")  # seconds from the request to the first chunk
    done: bool = False
    error: str = ""


async def _stream(http: aiohttp.ClientSession, url: str, text: str) -> Read:
    got = Read()
    started = time.perf_counter()
    try:
        async with http.post(f"{url}/v1/chat/completions", json=_body(text),
                             headers={"Authorization": "Bearer sk-bench"}) as r:  # fmt: skip
            if r.status != 200:
                got.error = f"HTTP {r.status}"
                return got
            tail = b""
            async for chunk in r.content.iter_any():
                if got.first != got.first:  # nan: the first piece
                    got.first = time.perf_counter() - started
                tail = (tail + chunk)[-64:]
            got.done = b"[DONE]" in tail
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        got.error = type(exc).__name__
    return got


async def single(servers: list[Server], text: str, repeats: int) -> list[str]:
    """Rows of the one-completion table: median time, CPU per completion, ratio."""
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    cpu: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        for server in servers:  # warm
            await _stream(http, server.url, text)
        before = {s.name: s.cpu_seconds() for s in servers}
        for _ in range(repeats):  # interleaved
            for server in servers:
                started = time.perf_counter()
                read = await _stream(http, server.url, text)
                if not read.done:
                    raise RuntimeError(
                        f"{server.name}: the stream did not complete ({read.error})"
                    )
                times[server.name].append(time.perf_counter() - started)
        for server in servers:
            cpu[server.name] = (server.cpu_seconds() - before[server.name]) / repeats
    base = statistics.median(times[servers[0].name])
    rows = ["| server | median | min – max | server CPU per completion | ratio |",
            "|---|---|---|---|---|"]  # fmt: skip
    for server in servers:
        t = times[server.name]
        rows.append(f"| {server.name} | {statistics.median(t) * 1000:.1f} ms | "
                    f"{min(t) * 1000:.1f} – {max(t) * 1000:.1f} ms | "
                    f"{cpu[server.name] * 1000:.1f} ms | {statistics.median(t) / base:.2f}x |")  # fmt: skip
    return rows


@dataclass
class Load:
    server: str
    n: int
    reads: list[Read] = field(default_factory=list)
    seconds: float = 0.0
    rss: float = 0.0


async def load(server: Server, n: int, text: str) -> Load:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.perf_counter()
        reads = await asyncio.gather(*(_stream(http, server.url, text) for _ in range(n)))
        seconds = time.perf_counter() - started
    return Load(server.name, n, list(reads), seconds, server.rss_mib())


def load_rows(loads: list[Load]) -> list[str]:
    rows = ["| N | server | completed | errors | first chunk p99 | wall time | server peak RSS |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in loads:
        firsts = [x.first for x in r.reads if x.first == x.first]
        done = sum(x.done for x in r.reads)
        errors = sum(bool(x.error) for x in r.reads)
        rows.append(f"| {r.n} | {r.server} | {done} / {r.n} | {errors} | "
                    f"{percentile(firsts, 99) * 1000:.0f} ms | {r.seconds:.2f} s | "
                    f"{r.rss:.0f} MiB |")  # fmt: skip
    return rows


CAN: Final = [
    "| | emulator | mock-llm |",
    "|---|---|---|",
    "| streams Chat Completions | yes | yes (fixed chunk size and interval) |",
    "| other APIs | Responses, Messages, Gemini, Bedrock ConverseStream, FakeGpt | no "
    "(MCP and A2A mocks besides) |",
    f"| faults mid-stream (drop, stall, malformed line, error event, …) | {len(FAULTS)} kinds, "
    "at any event | none: an error rule is one `data:` line with a 200 |",
    "| faults on the connection (reset, half-open, bandwidth, a lying Content-Length) | yes "
    "| no |",
    "| pacing | tokens/s with seeded jitter, first-event wait | one interval (Node holds it "
    "to >= 1 ms) |",
    "| choosing a reply by the request | prompt rules, header, marker, queue | JMESPath "
    "rules on the body |",
]


async def run(sizes: tuple[int, ...], tokens: int, repeats: int, out: Path) -> str:
    if not MOCK_LLM.is_file() or shutil.which("node") is None:
        raise SystemExit("mock-llm is not installed: npm ci --prefix benchmarks (needs node)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        long_text, short_text = TOKEN * tokens, TOKEN * 50
        fast = [_emulator(work, long_text.rstrip(), 0), _mock_llm(work, 0)]
        try:
            one = await single(fast, long_text, repeats)
        finally:
            for server in fast:
                server.stop()
        loads: list[Load] = []
        for n in sizes:
            # A fresh server per round: its peak RSS is this round's.
            for make in (lambda: _emulator(work, short_text.rstrip(), 50),
                         lambda: _mock_llm(work, 20)):  # fmt: skip
                server = make()
                try:
                    loads.append(await load(server, n, short_text))
                finally:
                    server.stop()
                print(load_rows(loads)[-1], flush=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)  # noqa: ASYNC221 - once, before the section is written
    section = "\n".join([
        "## Beside a peer: `@dwmkerr/mock-llm` (`python -m benchmarks.peers`)",
        "",
        "Goal: stated, not asserted (a different tool); the emulator no slower than the peer "
        "on one stream, and every stream complete at every N.",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        "cores; mock-llm 0.1.29 on Node " + node.stdout.strip() + "; the load generator "
        "(aiohttp) shares the cores",
        "",
        f"### One streamed completion, {tokens:,} tokens, as fast as each streams",
        "",
        *one,
        "",
        "mock-llm's chunks come one per `setInterval` tick (at least 1 ms): its time is its "
        "design, not its CPU; the CPU column is each server's own work.",
        "",
        "### Streams at once: 50 chunks each, 20 ms apart",
        "",
        *load_rows(loads),
        "",
        "### What each can do",
        "",
        *CAN,
        "",
        "`openai-responses` (the pytest plugin that mocks OpenAI in-process) is not measured "
        "here: it requires `openai<3`, and the test extra holds `openai` 3.x.",
    ])  # fmt: skip
    write_section("peers", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="how many streams at once, per round (comma-separated)")  # fmt: skip
    parser.add_argument("--tokens", type=int, default=2000, help="the one stream's tokens")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md goes")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(asyncio.run(run(sizes, args.tokens, args.repeats, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
