"""``python -m benchmarks.paced``: thousands of paced streams at once, measured from outside.

N conversations (``paced_50_tps``: a 200 ms first event, then 50 tokens/s with 10 %
jitter) all start at once against four servers, one after another for each N:

- **bare**: a bare aiohttp handler in a process of its own, writing the same bytes on the
  same schedule (absolute deadlines, as the emulator's player keeps them), listening with
  the same backlog: what pacing costs with nothing else;
- **bare, timer callbacks**: the same bytes written by timer callbacks straight to the
  socket (no task woken for a write, no response writer): the floor of pacing in Python
  on this machine, the way the emulator's pacer writes;
- **emulator**: ``python -m emulator --scenario paced_50_tps`` as a user starts it;
- **emulator, 2 workers**: the same with ``--workers 2``.

The load generator is a raw asyncio protocol (no HTTP library: it notes when bytes arrive
and counts the events in them), so the client's own cost stays small. For each N and
server it reports the delivered rate against the schedule (p50 and p1 over streams),
the first event's latency (p50, p99), how late events came against the server's own plan
(jitter included) from the stream's first event (p99 over every write), the kernel's
listen overflows, errors, the server's CPU seconds per stream and its peak RSS. Its
table goes into ``RESULTS.md`` (between the ``paced`` markers) and its plot beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .outside import (
    Server,
    access_token,
    listen_overflows,
    percentile,
    request_bytes,
    serve_app,
    start,
    write_section,
)

HERE = Path(__file__).resolve().parent
SCENARIO: Final = "paced_50_tps"
SIZES: Final = (100, 250, 500, 750, 1000, 1500, 2000)
#: How long one round may take at most (streams last ~5 s when on time).
ROUND_SECONDS: Final = 120.0


# -- the servers ----------------------------------------------------------------------


def _schedule() -> tuple[list[bytes], list[float]]:
    """The writes the emulator plans for one request of the scenario at speed 1, and the
    wait before each (the bare server sends the same bytes on the same schedule)."""
    from emulator import builtin_scenarios
    from emulator.dialects.fakegpt.plan import plan
    from emulator.dialects.fakegpt.wire import StreamContext
    from emulator.protocol.steps import Wait, Write

    scenario = builtin_scenarios()[SCENARIO]
    ctx = StreamContext("Hi", str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()),
                        time.time(), "text-davinci-002-render-sha", "modr-1")  # fmt: skip
    writes: list[bytes] = []
    waits: list[float] = []
    pending: list[bytes] = []
    wait = 0.0
    for step in plan(scenario, ctx):
        if isinstance(step, Write):
            pending.append(step.data)
        elif isinstance(step, Wait) and step.seconds > 0:
            if pending:
                writes.append(b"".join(pending))
                waits.append(wait)
                pending, wait = [], 0.0
            wait += step.seconds
    writes.append(b"".join(pending))
    waits.append(wait)
    return writes, waits


def bare_server() -> None:
    """The bare handler: the scenario's bytes on its schedule, nothing else."""
    from aiohttp import web

    from emulator.engine.play import STREAM_HEADERS

    writes, waits = _schedule()

    async def handler(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time()  # from the request's arrival, as the emulator's schedule
        await request.read()
        response = web.StreamResponse(headers=STREAM_HEADERS)
        await response.prepare(request)
        for data, wait in zip(writes, waits, strict=True):
            if wait > 0:
                deadline = max(deadline, loop.time() - 0.5) + wait
                await asyncio.sleep(deadline - loop.time())
            await response.write(data)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/api/conversation", handler)
    serve_app(app)


def timer_server() -> None:
    """The bare handler with its writes made by timer callbacks (no task wakes for a
    write, no response writer): the same bytes on the same schedule, its own head and
    chunks straight to the socket. What pacing costs in Python with nothing else."""
    from email.utils import formatdate

    from aiohttp import web
    from aiohttp.http import SERVER_SOFTWARE

    from emulator.engine.play import STREAM_HEADERS

    writes, waits = _schedule()
    chunks = [b"%x\r\n%b\r\n" % (len(w), w) for w in writes]
    chunks[-1] += b"0\r\n\r\n"
    lines = "".join(f"{k}: {v}\r\n" for k, v in STREAM_HEADERS.items())

    class Sent(web.StreamResponse):
        """A response already on the socket (aiohttp closes the connection after it)."""

        @property
        def keep_alive(self) -> bool:
            return False

        async def prepare(self, request: web.BaseRequest) -> None:
            return None

        async def write_eof(self, data: bytes = b"") -> None:
            return None

    async def handler(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        await request.read()
        transport = request.transport
        assert transport is not None
        transport.write(f"HTTP/1.1 200 OK\r\n{lines}Transfer-Encoding: chunked\r\nDate: "
                        f"{formatdate(usegmt=True)}\r\nServer: {SERVER_SOFTWARE}\r\n"
                        "Connection: close\r\n\r\n".encode())  # fmt: skip
        done = loop.create_future()
        i = 0

        def due() -> None:
            nonlocal i, deadline
            while not done.done():
                if transport.is_closing():
                    done.set_result(None)
                    return
                transport.write(chunks[i])
                i += 1
                if i == len(chunks):
                    done.set_result(None)
                elif waits[i] > 0:
                    deadline = max(deadline, loop.time() - 0.5) + waits[i]
                    loop.call_at(deadline, due)
                    return

        if waits[0] > 0:
            deadline += waits[0]
            loop.call_at(deadline, due)
        else:
            due()
        await done
        return Sent()

    app = web.Application()
    app.router.add_post("/api/conversation", handler)
    serve_app(app)


def servers() -> dict[str, list[str]]:
    emulator = ["-m", "emulator", "--port", "0", "--scenario", SCENARIO, "--log-level",
                "WARNING"]  # fmt: skip
    return {
        "bare": ["-m", "benchmarks.paced", "--bare-server"],
        "bare, timer callbacks": ["-m", "benchmarks.paced", "--timer-server"],
        "emulator": emulator,
        "emulator, 2 workers": [*emulator, "--workers", "2"],
    }


# -- the load -------------------------------------------------------------------------


class Stream(asyncio.Protocol):
    """One conversation: when each piece of the body came, and how many events it held."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.sent = time.perf_counter()  # set again just before connecting
        self.arrivals: list[tuple[float, int]] = []  # (time, events so far)
        self.events = 0
        self.head = b""
        self.in_body = False
        self.done = asyncio.get_running_loop().create_future()
        self.complete = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.in_body = True
            data = self.head[end + 4 :]
        count = data.count(b"\n\n")
        if count:
            self.events += count
            self.arrivals.append((now, self.events))
        if b"[DONE]" in data:
            self.complete = True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


@dataclass
class Round:
    server: str
    n: int
    streams: list[Stream] = field(default_factory=list)
    errors: int = 0
    overflows: int = 0
    cpu: float = 0.0
    rss: float = 0.0
    client_cpu: float = 0.0
    seconds: float = 0.0


async def one_round(server: Server, n: int) -> Round:
    host, port = server.url.removeprefix("http://").split(":")
    token = await access_token(server.url)
    loop = asyncio.get_running_loop()
    result = Round(server.name, n)
    overflows, cpu = listen_overflows(), server.cpu_seconds()
    used = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()

    async def stream() -> Stream | None:
        protocol = Stream(request_bytes(f"{host}:{port}", token))
        protocol.sent = time.perf_counter()  # a connection the accept queue dropped counts
        try:
            await loop.create_connection(lambda: protocol, host, int(port))
            await protocol.done
        except OSError:
            return None
        return protocol

    found = await asyncio.wait_for(asyncio.gather(*(stream() for _ in range(n))), ROUND_SECONDS)
    result.seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    result.cpu = server.cpu_seconds() - cpu
    result.overflows = listen_overflows() - overflows
    result.rss = server.rss_mib()
    result.streams = [s for s in found if s is not None and s.complete]
    result.errors = n - len(result.streams)
    return result


# -- figures --------------------------------------------------------------------------


def figures(r: Round, writes: list[bytes], waits: list[float]) -> dict[str, float]:
    """The round's figures: rates, first event, lateness against the plan, costs."""
    # When each event is planned, from the first write (its events come at once).
    plan: list[float] = []
    at = -waits[0]  # from the first write, as the lateness is counted
    per_write = [w.count(b"\n\n") for w in writes]
    tokens = sum(per_write) - 4  # message 0, the final one, moderation, [DONE]
    for wait, events in zip(waits, per_write, strict=True):
        at += wait
        plan += [at] * events
    rates, firsts, late = [], [], []
    for s in r.streams:
        t0 = s.arrivals[0][0]
        firsts.append(t0 - s.sent)
        span = s.arrivals[-1][0] - t0
        if span > 0:
            rates.append((tokens - 1) / span)
        late += [t - t0 - plan[min(count, len(plan)) - 1] for t, count in s.arrivals]
    return {
        "rate p50": percentile(rates, 50),
        "rate p1": percentile(rates, 1),
        "first p50 ms": percentile(firsts, 50) * 1000,
        "first p99 ms": percentile(firsts, 99) * 1000,
        "late p99 ms": percentile(late, 99) * 1000,
        "overflows": r.overflows,
        "errors": r.errors,
        "cpu ms/stream": r.cpu / r.n * 1000,
        "rss MiB": r.rss,
        "load cpu %": 100 * r.client_cpu / r.seconds if r.seconds else float("nan"),
    }


def table(rows: list[tuple[str, int, dict[str, float]]], planned_rate: float) -> str:
    out = [
        f"Streams of `{SCENARIO}` (planned {planned_rate:.1f} tokens/s with its jitter, "
        "first event at 200 ms), all started at once; one round per server and N, in turn.",
        "",
        "| N | server | rate p50 | rate p1 | first p50 | first p99 | late p99 | overflows | "
        "errors | CPU ms/stream | vs bare | RSS MiB | load gen CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    bare = {n: f["cpu ms/stream"] for name, n, f in rows if name == "bare"}
    for name, n, f in rows:
        vs = f["cpu ms/stream"] / bare[n] if bare.get(n) else float("nan")
        out.append(
            f"| {n:,} | {name} | {f['rate p50']:.1f} | {f['rate p1']:.1f} | "
            f"{f['first p50 ms']:.0f} ms | {f['first p99 ms']:.0f} ms | "
            f"{f['late p99 ms']:.0f} ms | {f['overflows']:.0f} | {f['errors']:.0f} | "
            f"{f['cpu ms/stream']:.1f} | {vs:.2f}x | {f['rss MiB']:.0f} | "
            f"{f['load cpu %']:.0f} % |"
        )
    return "\n".join(out)


def plot(rows: list[tuple[str, int, dict[str, float]]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [(n, f) for s, n, f in rows if s == name]
        ns = [n for n, _ in mine]
        left.plot(ns, [f["rate p1"] for _, f in mine], marker="o", label=name)
        right.plot(ns, [f["late p99 ms"] for _, f in mine], marker="o", label=name)
    left.set_xlabel("streams at once")
    left.set_ylabel("delivered rate, slowest 1 % (tokens/s)")
    right.set_xlabel("streams at once")
    right.set_ylabel("pacing lateness p99 (ms)")
    right.set_yscale("symlog")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("Paced streams at scale (2 cores; server and load generator share them)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def run(sizes: tuple[int, ...], out: Path) -> str:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    writes, waits = _schedule()
    tokens = sum(w.count(b"\n\n") for w in writes) - 4  # but message 0, final, moderation, [DONE]
    planned = (tokens - 1) / sum(waits[1:])
    rows: list[tuple[str, int, dict[str, float]]] = []
    running = {name: start(name, argv) for name, argv in servers().items()}
    try:
        for server in running.values():
            await one_round(server, 20)  # warm: first requests fill caches and templates
        for n in sizes:
            for name, server in running.items():
                r = await one_round(server, n)
                f = figures(r, writes, waits)
                rows.append((name, n, f))
                print(f"{n:>5} {name:<20} " + ", ".join(f"{k} {v:.1f}" for k, v in f.items()),
                      flush=True)  # fmt: skip
                await asyncio.sleep(1.0)  # let the server settle between rounds
    finally:
        for server in running.values():
            server.stop()
    plotted = plot(rows, out / "paced_load.png")
    section = "\n".join([
        "## Paced streams at scale (`python -m benchmarks.paced`)",
        "",
        "Goal: at 1,000 streams 0 listen overflows and first-event p99 <= 700 ms (1.1 s at "
        "2,000); at 1,500 streams rate p1 >= 47.5 tokens/s and lateness p99 <= 100 ms; "
        "CPU per paced stream <= 1.25x the bare handler's.",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        "cores; the load generator (a raw asyncio protocol) runs on the same cores: its CPU "
        "share of the round is the last column",
        "- rate: tokens per second from a stream's first event to its last; late: how long "
        "after the server's own plan (jitter included) each write arrived, counted from the "
        "stream's first event; first: from the request sent to the first event (planned 200 ms)",
        "",
        table(rows, planned),
        "",
        "![paced streams at scale](paced_load.png)" if plotted else "(no matplotlib: no plot)",
    ])  # fmt: skip
    write_section("paced", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paced", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="how many streams at once, per round (comma-separated)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md and the plot go")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timer-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server()
        return 0
    if args.timer_server:
        timer_server()
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    print(asyncio.run(run(sizes, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
