"""``python -m benchmarks.peers``: the emulator beside the mocks users would pick instead,
on the same machine, in one run, on the same requests: aimock (``@copilotkit/aimock``,
the field's leader, every API both serve) and ``@dwmkerr/mock-llm`` (Chat Completions
only), both installed by ``npm ci --prefix benchmarks``.

1. One stream of 2,000 tokens (each a 4-character word, in 4-character chunks) on each
   API, as fast as each server streams: the median time to read it whole, and the
   server's CPU per stream (over many streams: ``/proc`` counts in ticks).
2. N = 100, 500, 1,000 and 2,000 streams at once on each API, 50 chunks each, 20 ms
   apart: how many completed, errors, the p99 of the first bytes' arrival, the wall
   time, the server's CPU per stream and its peak RSS, and the load generator's own CPU
   beside the server's.

The Realtime API is a session over a WebSocket (its asks as frames, read to
``response.done``): a stream of it is one session.

Each server runs in a process of its own; its CPU and RSS are read from ``/proc``. The
load generator is a raw asyncio protocol (:mod:`.peer_apis`): no HTTP or WebSocket
library between the bytes and the clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from emulator.scenario.faults import FAULTS

from .outside import Server, percentile, start, start_process, write_section
from .peer_apis import APIS, REALTIME, RawSession, RawStream, request_bytes

HERE = Path(__file__).resolve().parent
MOCK_LLM: Final = HERE / "node_modules" / "@dwmkerr" / "mock-llm" / "dist" / "main.js"
AIMOCK: Final = HERE / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
TOKEN: Final = "tok "
SIZES: Final = (100, 500, 1000, 2000)
#: How long one round of streams at once may take.
ROUND_SECONDS: Final = 120.0
#: How long a server is left before its CPU is read (a thread's time is counted when it
#: leaves the CPU).
SETTLE: Final = 0.05


def _emulator(folder: Path, text: str, tokens_per_second: float, loop: str = "asyncio") -> Server:
    scenario = folder / f"peer_{int(tokens_per_second)}.toml"
    scenario.write_text(
        f'description = "A peer benchmark reply."\n\n[reply]\ntext = "{text}"\ncut = "word"\n\n'
        f"[timing]\ntokens_per_second = {tokens_per_second}\n",
        encoding="utf-8",
    )
    speed = "1" if tokens_per_second else "0"
    name = "emulator" if loop == "asyncio" else f"emulator, {loop}"
    server = start(name, ["-m", "emulator", "--port", "0", "--scenario", str(scenario),
                          "--speed", speed, "--log-level", "WARNING", "--loop", loop])  # fmt: skip
    # It names localhost; connect where it listens (the same family every time).
    server.url = server.url.replace("localhost", "127.0.0.1")
    return server


def _aimock(folder: Path, text: str, latency_ms: int) -> Server:
    """aimock with one fixture that answers every prompt (they all hold "tok") with
    ``text``, in chunks of one token, ``latency_ms`` apart."""
    fixtures = folder / f"aimock-{latency_ms}.json"
    fixtures.write_text(json.dumps({"fixtures": [
        {"match": {"userMessage": TOKEN.strip()}, "response": {"content": text}}]}),
        encoding="utf-8")  # fmt: skip
    port = _free_port()
    # At its quiet log level (as it would run under load) it says nothing on start: its
    # port is polled.
    proc = subprocess.Popen(["node", str(AIMOCK), "-p", str(port), "-f", str(fixtures),
                             "--chunk-size", str(len(TOKEN)), "--latency", str(latency_ms),
                             "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server("aimock", proc, f"http://127.0.0.1:{port}")
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("aimock did not start within 30 s")


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


@dataclass
class Round:
    """N streams at once on one API of one server: what each stream read, and the costs."""

    api: str
    server: str
    n: int
    streams: list[RawStream] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0  # the server's
    client_cpu: float = 0.0  # the load generator's
    rss: float = 0.0


async def streams_at_once(server: Server, api: str, n: int, prompt: str) -> Round:
    """``n`` streams of ``api`` from ``server``, all started at once."""
    host, port = server.url.removeprefix("http://").split(":")
    request = request_bytes(APIS[api], f"{host}:{port}", prompt)
    loop = asyncio.get_running_loop()
    found = Round(api, server.name, n)
    cpu, used = server.cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()

    async def one() -> RawStream:
        if api == REALTIME:
            stream: RawStream = RawSession(f"{host}:{port}", prompt)
        else:
            stream = RawStream(request, APIS[api].done)
        try:
            await loop.create_connection(lambda: stream, host, int(port))
            await stream.finished
        except OSError:
            pass
        return stream

    found.streams = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))),
                                           ROUND_SECONDS)  # fmt: skip
    found.seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    found.client_cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    await asyncio.sleep(SETTLE)  # a thread's CPU is counted once it leaves the CPU
    found.cpu = server.cpu_seconds() - cpu
    found.rss = server.rss_mib()
    return found


async def single(servers: list[Server], api: str, text: str, repeats: int) -> list[str]:
    """Rows of the one-stream table for ``api``: the median time to read it whole, the
    server's CPU per stream, and each against aimock's."""
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    for server in servers:  # warm
        await streams_at_once(server, api, 1, text)
    before = {s.name: s.cpu_seconds() for s in servers}
    for _ in range(repeats):  # interleaved; the CPU counted over them all
        for server in servers:
            one = await streams_at_once(server, api, 1, text)
            if not one.streams[0].complete:
                raise RuntimeError(f"{server.name}: the {api} stream did not complete")
            times[server.name].append(one.seconds)
    cpu = {s.name: (s.cpu_seconds() - before[s.name]) / repeats for s in servers}
    peer = next((s.name for s in servers if s.name == "aimock"), servers[0].name)
    rows = []
    for server in servers:
        t = times[server.name]
        rows.append(f"| {APIS[api].title} | {server.name} | {statistics.median(t) * 1000:.1f} ms "
                    f"| {cpu[server.name] * 1000:.2f} ms | "
                    f"{_ratio(cpu[server.name], cpu[peer])} |")  # fmt: skip
    return rows


def _ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}x" if theirs > 0 else "-"


ONE_HEAD: Final = [
    "| API | server | median time | server CPU per stream | CPU against aimock's |",
    "|---|---|---|---|---|",
]
LOAD_HEAD: Final = [
    "| API | N | server | completed | errors | first bytes p99 | wall | server CPU per "
    "stream | CPU against aimock's | peak RSS | load generator's CPU |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]


def load_row(r: Round, peer: Round | None) -> str:
    firsts = [s.first for s in r.streams if s.first == s.first]
    done = sum(s.complete for s in r.streams)
    per = r.cpu / r.n
    against = _ratio(per, peer.cpu / peer.n) if peer is not None else "-"
    share = r.client_cpu / (r.client_cpu + r.cpu) if r.client_cpu + r.cpu else 0.0
    return (f"| {APIS[r.api].title} | {r.n} | {r.server} | {done} / {r.n} | {r.n - done} | "
            f"{percentile(firsts, 99) * 1000:.0f} ms | {r.seconds:.2f} s | {per * 1000:.2f} ms "
            f"| {against} | {r.rss:.0f} MiB | {share:.0%} of the two |")  # fmt: skip


CAN: Final = [
    "| | emulator | aimock | mock-llm |",
    "|---|---|---|---|",
    "| APIs streamed | Chat Completions, Responses, Messages, Gemini, Bedrock ConverseStream "
    "(binary frames), Azure, Claude and Gemini on the clouds, Ollama, Cohere, the "
    "OpenAI-compatible servers' presets, Realtime and Gemini Live over a WebSocket, MCP "
    "| most of the same, and more media APIs (images, speech, video) | Chat Completions |",
    f"| faults mid-stream (drop, stall, malformed line, error event, …) | {len(FAULTS)} kinds, "
    "at any event | truncation after N chunks, a disconnect after a time, chaos rates "
    "(a 500, malformed JSON) | none: an error rule is one `data:` line with a 200 |",
    "| faults on the connection (reset, half-open, bandwidth, a lying Content-Length) | yes "
    "| no | no |",
    "| judging a client (`conform`) | every scenario, with the outcome a correct client "
    "reaches | no | no |",
]


async def run(apis: tuple[str, ...], sizes: tuple[int, ...], tokens: int, repeats: int,
              out: Path, uvloop: bool = False) -> str:  # fmt: skip
    for path, name in ((MOCK_LLM, "mock-llm"), (AIMOCK, "aimock")):
        if not path.is_file() or shutil.which("node") is None:
            raise SystemExit(f"{name} is not installed: npm ci --prefix benchmarks (needs node)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    one: list[str] = []
    loads: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        long_text, short_text = TOKEN * tokens, TOKEN * 50
        fast = [_emulator(work, long_text.rstrip(), 0), _aimock(work, long_text, 0)]
        if uvloop:
            fast.append(_emulator(work, long_text.rstrip(), 0, "uvloop"))
        fast.append(_mock_llm(work, 0))
        try:
            for api in apis:
                servers = fast if api == "chat" else fast[:-1]  # mock-llm: Chat only
                one += await single(servers, api, long_text, repeats)
        finally:
            for server in fast:
                server.stop()
        for api in apis:
            for n in sizes:
                rounds: list[Round] = []
                makers = [lambda: _emulator(work, short_text.rstrip(), 50),
                          lambda: _aimock(work, short_text, 20)]  # fmt: skip
                if uvloop:
                    makers.append(lambda: _emulator(work, short_text.rstrip(), 50, "uvloop"))
                if api == "chat":
                    makers.append(lambda: _mock_llm(work, 20))
                for make in makers:  # a fresh server per round: its peak RSS is this round's
                    server = make()
                    try:
                        rounds.append(await streams_at_once(server, api, n, short_text))
                    finally:
                        server.stop()
                peer = next((r for r in rounds if r.server == "aimock"), None)
                for r in rounds:
                    loads.append(load_row(r, peer))
                    print(loads[-1], flush=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)  # noqa: ASYNC221 - once, before the section is written
    section = "\n".join([
        "## Beside the peers: aimock and mock-llm (`python -m benchmarks.peers`)",
        "",
        "Goal: the emulator's server CPU per stream at most 0.5x aimock's on every API "
        "both serve, at every N, and every stream complete at 2,000 at once (a ratio from "
        "one run, never a timed test).",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        f"cores; aimock 1.43.0 and mock-llm 0.1.29 on Node {node.stdout.strip()}; the load "
        "generator is a raw asyncio protocol in this process, sharing the cores (its CPU "
        "beside the server's in the last column)",
        "",
        f"### One stream, {tokens:,} tokens in 4-character chunks, as fast as each streams",
        "",
        *ONE_HEAD,
        *one,
        "",
        "mock-llm's chunks come one per `setInterval` tick (at least 1 ms): its time is its "
        "design, not its CPU; the CPU column is each server's own work.",
        "",
        "### Streams at once: 50 chunks each, 20 ms apart",
        "",
        *LOAD_HEAD,
        *loads,
        "",
        "### What each can do",
        "",
        *CAN,
    ])  # fmt: skip
    write_section("peers", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--apis", default=",".join(APIS),
                        help=f"which APIs (comma-separated, of {', '.join(APIS)})")  # fmt: skip
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="how many streams at once, per round (comma-separated)")  # fmt: skip
    parser.add_argument("--tokens", type=int, default=2000, help="the one stream's tokens")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md goes")
    parser.add_argument("--uvloop", action="store_true",
                        help="the emulator on uvloop too (serve --loop uvloop), a row beside")  # fmt: skip
    args = parser.parse_args(argv)
    apis = tuple(args.apis.split(","))
    unknown = [a for a in apis if a not in APIS]
    if unknown:
        parser.error(f"unknown APIs: {', '.join(unknown)}")
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(asyncio.run(run(apis, sizes, args.tokens, args.repeats, args.out, args.uvloop)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
