"""What the benchmarks that measure a server from outside share: a server in a process of
its own (its CPU seconds, page faults and peak RSS read from ``/proc``), a token from the
emulator's login, a raw conversation request, and a section of ``RESULTS.md`` of their own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

__all__ = [
    "Server",
    "access_token",
    "listen_overflows",
    "percentile",
    "request_bytes",
    "serve_app",
    "start",
    "start_process",
    "write_section",
]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[str]
    url: str

    def pids(self) -> list[int]:
        """This server's processes: the one started and any it forked."""
        found = [self.proc.pid]
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            found += [int(p) for p in children.split()]
        except OSError:
            pass
        return found

    def _stat(self, index: int) -> int:
        """A field of ``/proc/PID/stat`` (counted after the command), summed over processes."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[index])
        return total

    def cpu_seconds(self) -> float:
        """CPU time so far, to the nanosecond: each live thread's ``schedstat``.

        ``/proc/PID/stat`` counts in clock ticks (10 ms), too coarse for a
        request of 1 ms; a thread that ended is left out (the servers keep
        theirs). Without schedstat, the ticks.
        """
        total = 0
        try:
            for pid in self.pids():
                for task in Path(f"/proc/{pid}/task").iterdir():
                    total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return (self._stat(11) + self._stat(12)) / os.sysconf("SC_CLK_TCK")  # utime, stime
        return total / 1e9

    def page_faults(self) -> int:
        """Minor page faults so far (a fresh page touched)."""
        return self._stat(7)

    def rss_mib(self) -> float:
        total = 0.0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def serve_app(app: web.Application) -> None:
    """Serve ``app`` on a free loopback port (backlog 1,024, as the emulator's), say where
    as the emulator's banner does, and run until stopped: a bare server to compare with."""

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start(name: str, argv: list[str]) -> Server:
    """A Python server (``python ARGV``) that says where it listens as the emulator does."""
    return start_process(name, [sys.executable, *argv])


def start_process(
    name: str,
    argv: list[str],
    ready: str = "listening on ",
    env: dict[str, str] | None = None,
    url: str = "",
) -> Server:
    """A server in a process of its own, started once a line of its output holds ``ready``
    (within 30 s): at ``url``, or where that line says. Its output is read to its end in a
    thread from then on, so a full pipe never stalls it."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if ready in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return Server(name, proc, url or line.split(ready, 1)[1].split()[0].strip())
    proc.kill()
    raise RuntimeError(f"{name} did not start: {line!r}")


async def access_token(url: str) -> str:
    """A token from the emulator's login flow (the bare server takes any)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/api/loads", params={"t": "1"}) as r:
            if r.status != 200:
                return "bare"
            key = (await r.json())["loads"][0]["token_id"]
        async with http.post(
            f"{url}/auth/login", data={"token_key": key, "session_password": "pw"}
        ) as r:
            r.raise_for_status()
        async with http.get(f"{url}/api/auth/session") as r:
            return str((await r.json())["accessToken"])


def request_bytes(host: str, token: str) -> bytes:
    body = json.dumps({
        "action": "next",
        "messages": [{"id": str(uuid.uuid4()), "author": {"role": "user"},
                      "content": {"content_type": "text", "parts": ["Hi"]}, "metadata": {}}],
        "parent_message_id": str(uuid.uuid4()),
        "model": "text-davinci-002-render-sha",
    }).encode()  # fmt: skip
    head = (
        f"POST /api/conversation HTTP/1.1\r\nHost: {host}\r\n"
        f"X-Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def listen_overflows() -> int:
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", 0))
    return 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def write_section(name: str, section: str, results: Path) -> None:
    """Put ``section`` between the ``name`` markers of RESULTS.md (added at its end)."""
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(text, encoding="utf-8")
