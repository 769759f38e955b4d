"""Resource attacks on a real ``python -m emulator`` process: memory, loop stalls, slow peers.

Each runs the emulator in a process of its own, as a user would, and looks
at it from outside: its RSS in ``/proc``, how fast it answers ``/api/loads``
while another client attacks it, what it logs.
"""

from __future__ import annotations

import asyncio
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from emulator import EmulatorConfig, Limits
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import CONVERSATION, conversation, login, serving

MiB = 1024 * 1024
pytestmark = pytest.mark.slow


def rss(pid: int) -> int:
    """The process's resident set size in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS")


async def bounded(count: int, width: int, one: Callable[[int], Awaitable[Any]]) -> None:
    """``one(i)`` for i in range(count), ``width`` at a time."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(width)))


def test_unauthenticated_floods_grow_the_server_by_under_50_mib() -> None:
    async def flood(url: str, pid: int) -> tuple[int, int, dict[str, int]]:
        statuses: dict[str, int] = {}
        big = b"x" * 1_000_000
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:

            async def miss(i: int) -> None:
                async with http.get(f"{url}/nowhere/{i}") as r:
                    await r.read()
                    statuses[f"404s: {r.status}"] = statuses.get(f"404s: {r.status}", 0) + 1

            async def post(i: int) -> None:
                async with http.post(
                    f"{url}/api/conversation",
                    data=big,
                    headers={"Content-Type": "application/json"},
                ) as r:
                    await r.read()
                    key = f"1 MB posts: {r.status}"
                    statuses[key] = statuses.get(key, 0) + 1

            async def queue(i: int) -> None:
                async with http.post(
                    f"{url}/_emulator/queue", json={"scenarios": ["default"] * 45_000}
                ) as r:
                    await r.read()
                    key = f"queue floods: {r.status}"
                    statuses[key] = statuses.get(key, 0) + 1

            # Warm-up: what any server allocates once (buffers, arenas, imports).
            await bounded(2_000, 64, miss)
            await bounded(100, 8, post)
            await bounded(2, 2, queue)
            before = rss(pid)
            statuses.clear()
            await bounded(30_000, 64, miss)
            await bounded(1_200, 8, post)
            await bounded(10, 2, queue)
            return before, rss(pid), statuses

    with serving("--speed", "0", "--log-level", "WARNING") as (proc, url):
        before, after, statuses = asyncio.run(flood(url, proc.pid))
    growth = (after - before) / MiB
    print(f"RSS {before / MiB:.1f} -> {after / MiB:.1f} MiB (+{growth:.1f}); {statuses}")
    assert statuses == {
        "404s: 404": 30_000,
        "1 MB posts: 400": 1_200,
        "queue floods: 409": 10,
    }
    assert growth < 50, f"the emulator grew by {growth:.1f} MiB"


# -- the event loop stays free for everyone else ------------------------------------


class Probe:
    """Asks ``/api/loads`` every 20 ms and keeps how long each answer took."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url
        self.times: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            async with self.http.get(f"{self.url}/api/loads") as r:
                await r.read()
            self.times.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    async def during(self, attack: Awaitable[Any]) -> list[float]:
        self.times = []
        task = asyncio.create_task(self._run())
        try:
            await attack
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return self.times


@pytest.mark.xdist_group("load")
def test_no_request_stalls_the_loop_for_others() -> None:
    async def attacks(url: str) -> dict[str, list[float]]:
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
            aiohttp.ClientSession() as probing,
        ):
            token = await login(http, url)
            auth = {"X-Authorization": f"Bearer {token}"}
            probe = Probe(probing, url)
            found: dict[str, list[float]] = {}

            async def register(name: str, scenario: dict[str, Any]) -> int:
                async with http.post(
                    f"{url}/_emulator/scenarios", json={"name": name, "scenario": scenario}
                ) as r:
                    await r.read()
                    return r.status

            async def stream(name: str, prompt: str = "hi") -> tuple[int, int]:
                async with http.post(
                    f"{url}/api/conversation",
                    json=conversation(prompt),
                    headers={**auth, "X-Emulator-Scenario": name},
                ) as r:
                    size = 0
                    async for chunk in r.content.iter_any():
                        size += len(chunk)
                    return r.status, size

            async def redos() -> None:
                for pattern in ("^(a+)+$", "^(a|aa)+$"):
                    async with http.post(
                        f"{url}/_emulator/rules", json={"pattern": pattern, "name": "default"}
                    ) as r:
                        assert r.status == 200
                for _ in range(10):
                    async with http.post(
                        f"{url}/api/conversation",
                        json=conversation("a" * 40 + "b"),
                        headers=auth,
                    ) as r:
                        body = await r.json()
                        assert r.status == 400 and "took longer than 50 ms" in body["detail"]

            async def comments() -> None:
                flood = {
                    "description": "d",
                    "faults": [{"kind": "comment", "count": 100_000}] * 10,
                }
                assert await register("comments", flood) == 200
                status, size = await stream("comments")
                assert status == 200 and size > 10 * MiB

            async def huge() -> None:
                text = {"text": "word ", "repeat": 800_000, "cut": "word"}
                ok = {"description": "d", "reply": {**text, "cut_size": 100_000}}
                refused = {"description": "d", "reply": {**text, "cut_size": 1}}
                assert await register("huge", ok) == 200
                assert await register("too_huge", refused) == 200
                status, size = await stream("huge")
                assert status == 200 and size > 10 * MiB
                status, _ = await stream("too_huge")
                assert status == 400

            for name, attack in (
                ("a catastrophic prompt rule", redos()),
                ("1,000,000 comments", comments()),
                ("a 4 M-character reply", huge()),
            ):
                found[name] = await probe.during(attack)
            return found

    with serving("--speed", "0", "--log-level", "ERROR") as (_, url):
        found = asyncio.run(attacks(url))
    for name, times in found.items():
        median, worst = statistics.median(times), max(times)
        print(
            f"{name}: /api/loads {len(times)} times, median {median * 1000:.1f} ms, "
            f"max {worst * 1000:.1f} ms"
        )
        assert len(times) >= 3, name
        assert median < 0.1, f"{name}: /api/loads took {median * 1000:.0f} ms (median)"
        assert worst < 1.0, f"{name}: /api/loads once took {worst * 1000:.0f} ms"


# -- slow and too many peers ---------------------------------------------------------


async def test_a_silent_partial_request_head_is_closed(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(EmulatorConfig(header_timeout=0.5))
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    writer.write(b"GET /api/loads HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    started = time.monotonic()
    rest = await asyncio.wait_for(reader.read(), 5)
    waited = time.monotonic() - started
    writer.close()
    assert rest == b""  # closed, with nothing sent
    assert 0.4 < waited < 3


async def test_a_stream_longer_than_the_header_timeout_is_not_cut(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(EmulatorConfig(header_timeout=0.3))
    emu.use({"description": "slow", "faults": [{"kind": "stall", "seconds": 1.0, "at": 1}]})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emu.url)
        async with http.post(
            f"{emu.url}/api/conversation",
            json=CONVERSATION,
            headers={"X-Authorization": f"Bearer {token}"},
        ) as r:
            body = await r.read()
    assert body.endswith(b"data: [DONE]\n\n")


@contextmanager
def emulator_with_few_descriptors(limit: int) -> Iterator[tuple[subprocess.Popen[str], int]]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lower,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        yield proc, int(banner.split("listening on ")[1].split(":")[2].split()[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_at_the_descriptor_limit_new_clients_wait_and_one_line_is_logged() -> None:
    with emulator_with_few_descriptors(64) as (proc, port):
        held = []
        for _ in range(90):  # past the limit: the kernel queues them, accept() fails
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.append(sock)
        time.sleep(1.5)
        for sock in held:
            sock.close()
        answer = b""
        deadline = time.monotonic() + 10
        while not answer.startswith(b"HTTP/1.1 200") and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
                    sock.sendall(
                        b"GET /api/loads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    )
                    answer = sock.recv(100)
            except OSError:
                time.sleep(0.2)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert err.count("cannot accept new connections: Too many open files") == 1, err[-2000:]
    assert "open-file limit 64" in err
    assert "Traceback" not in err, err


def test_a_stream_cut_by_shutdown_is_logged() -> None:
    with serving("--scenario", "stall_silent") as (proc, url):

        async def start_stream() -> None:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                token = await login(http, url)
                async with http.post(
                    f"{url}/api/conversation",
                    json=CONVERSATION,
                    headers={"X-Authorization": f"Bearer {token}"},
                ) as r:
                    await r.content.readany()  # the stream has begun, then stalls
                    proc.send_signal(signal.SIGTERM)
                    with pytest.raises(aiohttp.ClientError):
                        await asyncio.wait_for(r.read(), 10)

        asyncio.run(start_stream())
        _, err = proc.communicate(timeout=10)
    assert re.search(
        r"POST /api/conversation 200 stopped by shutdown at [\d,]+ B scenario=stall_silent", err
    ), err[-1000:]


async def test_a_body_that_dribbles_in_is_cut_with_a_408(
    emulator_factory: EmulatorFactory,
) -> None:
    # One byte a second would hold a handler for as long as the client likes.
    emu = await emulator_factory(EmulatorConfig(speed=0, limits=Limits(body_seconds=0.5)))
    host, port = emu.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = asyncio.get_running_loop().time()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")  # fmt: skip
    await writer.drain()
    got = b""
    for _ in range(40):  # at most 4 s of a byte every 0.1 s
        try:
            got += await asyncio.wait_for(reader.read(65536), 0.1)
        except TimeoutError:
            if not writer.is_closing():
                writer.write(b" ")
            continue
        if got.endswith(b"}") or reader.at_eof():
            break
    writer.close()
    took = asyncio.get_running_loop().time() - started
    assert got.startswith(b"HTTP/1.1 408") and b"not all there 0.5 s after its head" in got
    assert took < 2.0
    # In the API's own shape: it is a Chat Completions route.
    assert b'"error": {"message"' in got


async def test_a_huge_request_head_is_journaled_within_its_bound(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0))
    headers = {f"X-Pad-{i}": "x" * 8000 for i in range(100)}  # about 800 KB of head
    async with aiohttp.ClientSession() as http, http.get(f"{emu.url}/api/loads",
                                                         headers=headers) as r:  # fmt: skip
        assert r.status == 200
    kept = emu.calls("/api/loads").last.headers
    assert sum(len(k) + len(v) for k, v in kept.items()) < 16 * 1024 + 200
    # Two 8 KB pads fit beside the usual headers; the other 98 are counted, not kept.
    assert kept["X-Emulator-Omitted"].startswith("98 headers (")
    assert kept["X-Emulator-Omitted"].endswith(" bytes) past the first 16,384 bytes")
