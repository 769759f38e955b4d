"""Fair and bounded streams: the costliest shipped scenario, chosen by many clients at once,
never stalls a small request for others, and clients that read slowly (or not at all) cannot
grow the server's memory. One emulator process, real sockets on loopback, every loop bounded
in count and time.

``long_line`` is a 1.2 MiB reply in two pieces of 700,000 bytes: before this was fixed,
200 clients of it at once kept a probe of ``/api/loads`` waiting 5.4 s (its text was cut a
character at a time, per request), and 300 clients reading a byte a second grew the
server's RSS by 604 MiB (each held its plan and its unsent bytes).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import sys
import time
from typing import Any

import aiohttp
import pytest

from emulator import EmulatorConfig, Limits, builtin_scenarios, serve
from emulator.scenario.text import reply_text
from tests.helpers import conversation, login, serving
from tests.reliability.test_load import proc_figures

CHAT = "/v1/chat/completions"
HEADERS = {"X-Emulator-Scenario": "long_line", "Authorization": "Bearer sk-test"}
BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}
TEXT = reply_text(builtin_scenarios()["long_line"].reply, "")


#: A process of its own that asks for ``/api/loads`` every 10 ms until its input closes (at
#: most 30 s) and prints each latency: what a small request waits, measured apart from the
#: busy clients' own event loop.
PROBE = """
import http.client, json, select, sys, time
host, port = sys.argv[1], int(sys.argv[2])
latencies, deadline = [], time.monotonic() + 30
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0)[0]:
    started = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", "/api/loads")
    assert c.getresponse().read() and c.close() is None
    latencies.append(time.perf_counter() - started)
    time.sleep(0.01)
print(json.dumps(latencies))
"""


async def _long_line(http: aiohttp.ClientSession, url: str) -> int:
    """One client of long_line, read whole: how many characters of the text it got."""
    async with http.post(url + CHAT, json=BODY, headers=HEADERS) as r:
        assert r.status == 200
        body = await r.read()
    return body.count(b"All work and no play") * len(
        "All work and no play makes a very long line. "
    )


@pytest.mark.xdist_group("load")
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_200_clients_of_the_costliest_scenario_never_stall_a_small_request() -> None:
    with serving("--speed", "0", log=False) as (_proc, url):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        probe = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROBE, host, port,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(0.2)  # the probe's first requests: before the load
        # 200 clients at once, three times over (each wave once the last has its answers).
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            answers = [
                await asyncio.gather(*(_long_line(http, url) for _ in range(200)))
                for _wave in range(3)
            ]
        assert probe.stdin is not None
        probe.stdin.close()  # the load is over: the probe stops and says what it saw
        out, _ = await asyncio.wait_for(probe.communicate(), 30)
        latencies = sorted(json.loads(out))
    got = [n for each in answers for n in each]
    assert got == [len(TEXT)] * 600  # every stream whole
    worst, p90 = latencies[-1], statistics.quantiles(latencies, n=10)[-1]
    assert len(latencies) >= 10
    print(f"{len(got)} streams; {len(latencies)} probes: worst {worst * 1000:.0f} ms, "
          f"p90 {p90 * 1000:.0f} ms")  # fmt: skip
    assert worst < 1.0, f"a probe waited {worst * 1000:.0f} ms (p90 {p90 * 1000:.0f} ms)"
    assert p90 < 0.3, f"p90 {p90 * 1000:.0f} ms (worst {worst * 1000:.0f} ms)"


async def _slow_reader(url: str, seconds: float) -> int:
    """A client of long_line that reads one byte a second for ``seconds``, then leaves."""
    async with aiohttp.ClientSession() as http, http.post(url + CHAT, json=BODY,
                                                          headers=HEADERS) as r:  # fmt: skip
        assert r.status == 200
        taken = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            taken += len(await r.content.read(1))
            await asyncio.sleep(1)
        return taken


@pytest.mark.xdist_group("load")
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_300_slow_readers_grow_the_server_under_200_mib() -> None:
    with serving("--speed", "0", log=False) as (proc, url):
        before, _ = proc_figures(proc.pid)
        peak = before
        readers = asyncio.gather(*(_slow_reader(url, 6) for _ in range(300)))
        while not readers.done():
            peak = max(peak, proc_figures(proc.pid)[0])
            await asyncio.sleep(0.2)
        taken = await readers
    assert all(n >= 1 for n in taken)
    print(f"300 slow readers: RSS {before:.0f} -> {peak:.0f} MiB (+{peak - before:.0f})")
    assert peak - before < 200, f"RSS grew {peak - before:.0f} MiB ({before:.0f} -> {peak:.0f})"


async def test_a_client_that_takes_nothing_is_cut_as_too_slow() -> None:
    # A stream far larger than what the kernel's buffers hold for a reader that reads
    # nothing (its receive buffer set small): FakeGpt's cumulative snapshots of a 1 MB text
    # cut every 50,000 characters, 10 MB in all. The server's writes wait on the reader,
    # until reader_seconds.
    scenario = {
        "description": "a big stream",
        "reply": {"text": "x" * 1_000_000, "cut": "char", "cut_size": 50_000},
    }
    config = EmulatorConfig(speed=0, limits=Limits(reader_seconds=0.5))
    jar = aiohttp.CookieJar(unsafe=True)
    async with serve(config) as emulator, aiohttp.ClientSession(cookie_jar=jar) as http:
        emulator.state.register("big", scenario)
        token = await login(http, emulator.url)
        host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, int(port)))
        payload = json.dumps(conversation("hi")).encode()
        await loop.sock_sendall(
            sock,
            f"POST /api/conversation HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nX-Emulator-Scenario: big\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload,
        )
        try:
            for _ in range(100):  # at most 10 s
                calls = [c for c in emulator.requests if c.path == "/api/conversation"]
                if calls and calls[0].ending is not None and calls[0].ending.early:
                    break
                await asyncio.sleep(0.1)
        finally:
            sock.close()
        ending = calls[0].ending
        assert ending is not None and ending.kind == "too_slow", ending
        assert 0 < ending.at_bytes < 10_000_000
        assert "took nothing for 0.5 s" in (calls[0].detail or "")
        # ... and the server goes on serving everyone else.
        async with http.get(emulator.url + "/api/loads") as r:
            assert r.status == 200
