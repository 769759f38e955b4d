"""The benchmarks the issues ask for, each against a baseline run side by side."""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web

from client import FakeGpt
from client.sse import SSEDecoder
from emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    Reply,
    Scenario,
    Timing,
    builtin_scenarios,
    serve,
)
from emulator.dialects.fakegpt.part import FakeGptPart
from emulator.dialects.fakegpt.plan import plan
from emulator.dialects.fakegpt.wire import StreamContext
from emulator.protocol.steps import Write
from emulator.scenario.text import cut_points, reply_text
from emulator.server import serving

from .harness import Result, compare, run_sync

MESSAGES = [{"role": "user", "content": "benchmark"}]
TOKEN = "bench-token"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is (the smoke run uses tiny ones)."""

    repeats: int
    decoder_tokens: int
    client_tokens: int
    emulator_tokens: int
    lengths: tuple[int, ...]
    concurrency: tuple[int, ...]
    fidelity_seconds: float
    fixture_rounds: int


FULL = Sizes(9, 2000, 8000, 2000, (500, 2000, 8000), (1, 10, 100, 1000), 5.0, 200)
SMOKE = Sizes(2, 50, 100, 50, (20, 50), (1, 5), 0.5, 5)


def scenario_of(tokens: int) -> Scenario:
    """A cumulative reply of exactly ``tokens`` tokens of Faker text."""
    text = reply_text(Reply(text=None, faker_sentences=max(8, tokens // 8), faker_seed=1), "")
    while len(cut_points(text, "token", 1)) < tokens:
        text += " " + text
    text = text[: cut_points(text, "token", 1)[tokens - 1]]
    return Scenario(
        name=f"tokens_{tokens}", description=f"{tokens} tokens", reply=Reply(text=text)
    )


#: Ids and a time of the lengths the emulator sends (the parent id is the request's).
PARENT_ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
_CONTEXT = StreamContext(
    prompt="benchmark",
    message_id="6fa459ea-ee8a-4ca4-894e-db77e160355e",
    conversation_id="16fd2706-8baf-433b-82eb-8c7fada847da",
    parent_id=PARENT_ID,
    create_time=1700000000.123456,
    model="text-davinci-002-render-sha",
    moderation_id="modr-0123456789abcdef01234567",
)


def encoded(scenario: Scenario) -> bytes:
    """The bytes the emulator sends for ``scenario``, with ids of the same lengths."""
    return b"".join(s.data for s in plan(scenario, _CONTEXT) if isinstance(s, Write))


# -- a bare aiohttp upstream that writes pre-encoded bytes -------------------------------


def bare_app(body: bytes) -> web.Application:
    async def loads(_: web.Request) -> web.Response:
        return web.json_response({"loads": [{"token_id": "0" * 32, "count": 1}]})

    async def login(_: web.Request) -> web.Response:
        response = web.json_response({"code": 0, "url": "/"})
        response.set_cookie("credential", "c")
        return response

    async def session(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": TOKEN})

    async def conversation(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        # In 256 KiB slices of one view, as the emulator writes: one write of
        # 100+ MB would measure a giant transport buffer, not the I/O floor.
        view = memoryview(body)
        for i in range(0, len(body), 256 * 1024):
            await response.write(view[i : i + 256 * 1024])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api/loads", loads)
    app.router.add_post("/auth/login", login)
    app.router.add_get("/api/auth/session", session)
    app.router.add_post("/api/conversation", conversation)
    return app


@asynccontextmanager
async def bare_server(body: bytes) -> AsyncIterator[str]:
    runner = web.AppRunner(bare_app(body), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def threaded_bare_server(body: bytes) -> AsyncIterator[str]:
    """The bare upstream in a thread with its own loop, as the session fixture runs the emulator."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"], box["stop"] = asyncio.get_running_loop(), stop
        async with bare_server(body) as url:
            box["url"] = url
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


async def read_floor(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> int:
    """The I/O floor: read the body with iter_any() and parse nothing."""
    n = 0
    async with http.post(f"{url}/api/conversation", json={"a": 1}, headers=headers) as r:
        async for chunk in r.content.iter_any():
            n += len(chunk)
    return n


async def fresh_floor(url: str) -> int:
    """The I/O floor with a session of its own per call, as the client opens one."""
    async with aiohttp.ClientSession() as http:
        return await read_floor(http, url)


async def fresh_seed_way(url: str) -> str:
    """The seed's approach with a session of its own per call, as the seed's code does."""
    async with aiohttp.ClientSession(read_bufsize=2**20) as http:
        return await read_seed_way(http, url)


async def read_seed_way(http: aiohttp.ClientSession, url: str) -> str:
    """The seed's approach: readline() and json.loads() per line."""
    last = ""
    async with http.post(f"{url}/api/conversation", json={"a": 1}) as r:
        async for line in r.content:
            if line.startswith(b"data: "):
                try:
                    obj = json.loads(line[6:])
                    if obj["message"]["metadata"]["message_type"] == "next":
                        last = obj["message"]["content"]["parts"][0]
                except Exception:  # the seed's bare except
                    continue
    return last


async def read_ours(url: str) -> str:
    FakeGpt.url = url
    return await FakeGpt.create_async("m", MESSAGES)


# -- the cases ---------------------------------------------------------------------------


async def decoder_vs_httpx_sse(sizes: Sizes) -> Result:
    from httpx_sse._decoders import SSEDecoder as HttpxDecoder
    from httpx_sse._decoders import SSELineDecoder

    data = encoded(scenario_of(sizes.decoder_tokens))
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]

    def ours() -> int:
        decoder = SSEDecoder()
        return sum(len(decoder.feed(c)) for c in chunks)

    def httpx_sse() -> int:
        text = codecs.getincrementaldecoder("utf-8")()
        lines = SSELineDecoder()
        events = HttpxDecoder()
        n = 0
        for c in chunks:
            for line in lines.decode(text.decode(c)):
                if events.decode(line) is not None:
                    n += 1
        return n

    if ours() != httpx_sse():
        raise AssertionError("the two decoders disagree on the benchmark buffer")
    result = await compare(
        "SSE decoder throughput",
        "ours at least 1.5x faster than httpx-sse (ratio <= 0.67)",
        {"httpx-sse": run_sync(httpx_sse), "ours": run_sync(ours)},
        repeats=sizes.repeats * 3,
    )
    result.notes.append(
        f"{len(data):,} bytes, {sizes.decoder_tokens} cumulative snapshots, 64 KiB chunks"
    )
    return result


async def client_vs_floor(sizes: Sizes, tokens: int | None = None) -> Result:
    tokens = tokens or sizes.client_tokens
    scenario = scenario_of(tokens)
    body = encoded(scenario)
    want = reply_text(scenario.reply, "")
    async with bare_server(body) as url:
        FakeGpt.reset()
        if await read_ours(url) != want or await fresh_seed_way(url) != want:
            raise AssertionError("a reader got the wrong text")
        result = await compare(
            f"Whole client, {tokens}-token cumulative reply",
            "ours at most 2x the I/O floor; the seed's approach for comparison",
            {
                "I/O floor (iter_any, no parsing)": lambda: fresh_floor(url),
                "ours (FakeGpt)": lambda: read_ours(url),
                "seed approach (readline + json.loads)": lambda: fresh_seed_way(url),
            },
            repeats=sizes.repeats,
        )
    FakeGpt.reset()
    result.notes.append(f"{len(body):,} bytes on the wire for {len(want):,} characters of text")
    return result


async def emulator_vs_bare(sizes: Sizes) -> Result:
    scenario = scenario_of(sizes.emulator_tokens)
    body = encoded(scenario)
    config = EmulatorConfig(
        speed=0, secret=b"bench", scenarios={"bench": scenario}, default="bench"
    )
    async with (
        bare_server(body) as bare_url,
        serve(config) as emu,
        # The same emulator keeping no bytes in its transcripts (--no-capture).
        serve(replace(config, capture_bytes=False)) as quiet,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        FakeGpt.url = emu.url
        FakeGpt.reset()
        await FakeGpt.create_async("m", MESSAGES)
        auth = {
            "X-Authorization": f"Bearer {FakeGpt._access_token}",
            "Content-Type": "application/json",
        }
        body_json = json.dumps(
            {
                "action": "next",
                "messages": [{"author": {"role": "user"}, "content": {"parts": ["benchmark"]}}],
                "parent_message_id": "p",
            }
        )

        async def emulator_read(url: str = emu.url) -> int:
            n = 0
            async with http.post(f"{url}/api/conversation", data=body_json, headers=auth) as r:
                async for chunk in r.content.iter_any():
                    n += len(chunk)
            return n

        sent = await emulator_read()
        result = await compare(
            f"Emulator throughput, {sizes.emulator_tokens}-token reply, speed 0",
            "emulator at least 0.8x the bare handler's throughput (ratio <= 1.25); "
            "transcripts with bytes within 10% of transcripts without",
            {
                "bare aiohttp handler (pre-encoded)": lambda: read_floor(http, bare_url),
                "emulator (transcript with bytes, the default)": emulator_read,
                "emulator (transcript without bytes, --no-capture)": lambda: emulator_read(
                    quiet.url
                ),
            },
            repeats=sizes.repeats,
        )
    FakeGpt.reset()
    result.notes.append(f"emulator sent {sent:,} bytes, the bare handler {len(body):,}")
    return result


async def fixture_cost(sizes: Sizes) -> Result:
    """Per-test cost of the session fixture: what it does around one streamed reply.

    The ``emulator`` fixture resets the shared emulator before a test and, after
    it, lists problems and resets again; the test streams one reply. Every
    variant is sent exactly the same request.
    """
    scenario = builtin_scenarios()["default"]
    body = encoded(scenario)
    with EmulatorServer(EmulatorConfig(speed=0, secret=b"bench")) as server:
        async with (
            bare_server(body) as bare_url,
            threaded_bare_server(body) as threaded_url,
            # As the fixture serves async tests in pytest-asyncio's session loop
            # with emulator_in_test_loop = true: a second server, same state.
            serving(server.config, server.state) as in_loop,
            aiohttp.ClientSession() as http,
        ):
            FakeGpt.url = server.url
            FakeGpt.reset()
            await FakeGpt.create_async("m", MESSAGES)
            headers = {"X-Authorization": f"Bearer {FakeGpt._access_token}"}
            request = {
                "action": "next",
                "messages": [{"author": {"role": "user"}, "content": {"parts": ["x"]}}],
                "parent_message_id": PARENT_ID,
            }

            async def reply(url: str) -> None:
                async with http.post(
                    f"{url}/api/conversation", json=request, headers=headers
                ) as r:
                    await r.read()

            def fixture_test(handle: Emulator) -> Any:
                async def test() -> None:
                    handle.reset()
                    await reply(handle.url)
                    if handle.problems():
                        raise AssertionError(handle.problems())
                    handle.reset()

                return test

            def bare_test(url: str) -> Any:
                async def test() -> None:
                    await reply(url)

                return test

            def rounds(one: Any) -> Any:
                async def run() -> None:
                    for _ in range(sizes.fixture_rounds):
                        await one()

                return run

            result = await compare(
                "Per-test cost of the session emulator fixture (its reset and checks + one "
                "streamed reply)",
                "at most 1.25x a bare AppRunner serving the same reply",
                {
                    "bare AppRunner (in the test's loop)": rounds(bare_test(bare_url)),
                    "bare AppRunner in a thread": rounds(bare_test(threaded_url)),
                    "emulator fixture (default: its server in a thread)": rounds(
                        fixture_test(server)
                    ),
                    "emulator fixture with emulator_in_test_loop": rounds(fixture_test(in_loop)),
                },
                repeats=sizes.repeats,
            )
    FakeGpt.reset()
    result.notes.append(f"each timing is {sizes.fixture_rounds} tests")
    result.notes.append(
        "a session fixture that serves sync tests and async tests of any loop must run its "
        "server in a thread; compare the default with the bare AppRunner in a thread"
    )
    return result


async def start_stop(sizes: Sizes) -> Result:

    async def bare() -> None:
        runner = web.AppRunner(web.Application(), access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await runner.cleanup()

    async def factory() -> None:
        # As the emulator_factory fixture starts one: the shipped scenarios
        # are parsed once per process and shared.
        async with serve(EmulatorConfig(speed=0)):
            pass

    variants = {"bare AppRunner start/stop": bare, "emulator factory start/stop": factory}
    try:
        from pytest_httpserver import HTTPServer

        def httpserver() -> None:
            server = HTTPServer(host="127.0.0.1", port=0)
            server.start()
            server.stop()

        variants["pytest-httpserver start/stop"] = run_sync(httpserver)
    except ImportError:
        pass

    return await compare(
        "Function-scoped factory: start + stop",
        "emulator at most 1.5x a bare AppRunner; pytest-httpserver stated",
        variants,
        repeats=sizes.repeats * 3,
    )


async def client_v1(sizes: Sizes) -> Result:
    """The 2024 delta_encoding v1 stream: the client's time is linear in the reply's length."""
    n = sizes.client_tokens
    bodies = {}
    for tokens in (n, 4 * n):
        scenario = replace(scenario_of(tokens), parts=(FakeGptPart(encoding="delta_v1"),))
        bodies[tokens] = (encoded(scenario), reply_text(scenario.reply, ""))
    async with bare_server(bodies[n][0]) as short, bare_server(bodies[4 * n][0]) as long:
        FakeGpt.reset()
        for url, (_, want) in ((short, bodies[n]), (long, bodies[4 * n])):
            if await read_ours(url) != want:
                raise AssertionError("the client got the wrong text")
        result = await compare(
            f"Whole client, delta_encoding v1, {n} and {4 * n} tokens",
            "linear: 4x the tokens takes at most 5x the time (quadratic would be 16x)",
            {
                f"ours, {n} tokens": lambda: read_ours(short),
                f"ours, {4 * n} tokens": lambda: read_ours(long),
            },
            repeats=sizes.repeats,
        )
    FakeGpt.reset()
    result.notes.append(
        f"{len(bodies[n][0]):,} and {len(bodies[4 * n][0]):,} bytes on the wire; "
        "before the fix each append joined the whole text (0.22 s -> 3.70 s for 4k -> 16k events)"
    )
    return result


async def growth(sizes: Sizes) -> list[Result]:
    return [await client_vs_floor(sizes, n) for n in sizes.lengths]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def concurrency(sizes: Sizes) -> Result:
    """N concurrent streams from one emulator process: time, errors, server peak RSS."""
    _raise_fd_limit()
    result = Result(
        "Concurrent streams from one emulator process",
        "no errors, every reply exact, server peak RSS < 150 MiB",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--speed",
            "0",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].strip()
        want = "Hello! How can I help you today?"
        FakeGpt.url = url
        FakeGpt.reset()
        await FakeGpt.create_async("m", MESSAGES)
        for n in sizes.concurrency:
            tracemalloc.start()
            started = time.perf_counter()
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    *(FakeGpt.create_async("m", MESSAGES, timeout=60) for _ in range(n)),
                    return_exceptions=True,
                ),
                300,
            )
            elapsed = time.perf_counter() - started
            _, client_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            errors = [o for o in outcomes if not isinstance(o, str)]
            wrong = [o for o in outcomes if isinstance(o, str) and o != want]
            rss = _peak_rss_mib(proc.pid)
            result.figures[f"{n} streams: ms"] = elapsed * 1000
            result.figures[f"{n} streams: errors + wrong"] = len(errors) + len(wrong)
            result.figures[f"{n} streams: server peak RSS MiB"] = rss
            result.notes.append(
                f"{n} streams: {elapsed * 1000:.0f} ms, {len(errors)} errors, {len(wrong)} wrong replies, "
                f"server peak RSS {rss:.1f} MiB, client peak Python heap {client_peak / 2**20:.1f} MiB"
            )
    finally:
        FakeGpt.reset()
        proc.terminate()
        proc.wait(10)
    return result


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def timing_fidelity(sizes: Sizes) -> Result:
    """A 50 tokens/s scenario against its rate; a 200 ms first event against its delay."""
    scenario = Scenario(
        name="paced",
        description="paced",
        reply=Reply(text=reply_text(Reply(text=None, faker_sentences=200, faker_seed=2), "")),
        timing=Timing(first_event=0.2, tokens_per_second=50),
    )
    result = Result(
        "Timing fidelity (speed 1)",
        "rate within 5% of 50 tokens/s over the window; first event within 20 ms of 200 ms",
    )
    quick = Scenario(name="quick", description="quick")
    async with serve(
        EmulatorConfig(speed=1.0, scenarios={"paced": scenario, "quick": quick}, default="paced")
    ) as emu:
        FakeGpt.url = emu.url
        FakeGpt.reset()
        # Log in first (the prompt marker picks a quick reply), so the
        # measured request is the conversation alone.
        await FakeGpt.create_async("m", [{"role": "user", "content": "[scenario:quick]"}])
        stream = FakeGpt.create_async_generator("m", MESSAGES)
        started = time.perf_counter()
        first: float | None = None
        count = 0
        async with stream:
            async for _ in stream:
                now = time.perf_counter()
                if first is None:
                    first = now
                    continue
                count += 1
                if now - first >= sizes.fidelity_seconds:
                    break
        window = time.perf_counter() - (first or started)
    FakeGpt.reset()
    rate = count / window
    assert first is not None
    # The login round trips precede the first event; they are measured apart.
    result.figures = {"rate (tokens/s)": rate, "first delta (ms)": 1000 * (first - started)}
    result.notes.append(
        f"{count} tokens in {window:.3f} s: {rate:.2f} tokens/s ({(rate / 50 - 1) * 100:+.1f}% vs 50)"
    )
    result.notes.append(
        f"first delta {1000 * (first - started):.1f} ms after the request started (goal 200 ms)"
    )
    return result


async def conformance_run(sizes: Sizes) -> Result:
    """Every scenario against this project's client, as ``python -m emulator conform`` runs it."""
    from emulator.conformance import cases as conformance_cases
    from emulator.conformance import fakegpt, python_client, run_all

    chosen = conformance_cases("default" if sizes is SMOKE else None)
    client = python_client(fakegpt)
    result = Result(
        f"Conformance run: {len(chosen)} scenarios against this project's client",
        "under 30 s on 2 cores, one scenario at a time",
    )
    for jobs in (1, 4):
        started = time.perf_counter()
        results = await run_all(chosen, client, jobs=jobs)
        result.figures[f"-j {jobs}: seconds"] = time.perf_counter() - started
        result.figures[f"-j {jobs}: not passed"] = sum(not r.verdict.passed for r in results)
    result.notes.append(
        "each scenario on an emulator of its own; the stall scenarios wait the client's 0.5 s "
        "idle timeout, and stall_with_pings its 1.5 s of pings"
    )
    return result
