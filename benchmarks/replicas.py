"""``python -m benchmarks.replicas``: two emulator containers behind nginx, as
docs/deploy.md sets them up, measured from outside.

The image (``podman build -t fakegpt-emulator .``, as ``.ci/container`` builds it) runs
twice with one ``--secret``; nginx (Debian's) balances on ``X-Emulator-Session``
(``hash … consistent``). It checks that a FakeGpt login made on one replica is accepted
by the other, then sends N paced Chat Completions streams at once through nginx, each
in a session of its own: how many completed, the first bytes' p99, how the sessions
spread over the two replicas (each one's journal), and each replica's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Final

from .outside import access_token, percentile, write_section
from .outside import request_bytes as fakegpt_request
from .peer_apis import APIS, RawStream, request_bytes

HERE = Path(__file__).resolve().parent
IMAGE: Final = "localhost/fakegpt-emulator"
SIZES: Final = (200, 1000)
_NOFILE: Final = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
#: What podman needs in this sandbox (as .ci/container runs it).
_PODMAN: Final = ["--runtime", "runc", "--cgroup-manager", "cgroupfs",
                  "--ulimit", f"nofile={_NOFILE}:{_NOFILE}", "--ulimit", "nproc=4096:4096"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _replica(name: str, port: int, folder: Path) -> None:
    scenario = folder / "paced.toml"
    scenario.write_text('description = "50 tokens, 20 ms apart."\n\n[reply]\ntext = "'
                        + ("tok " * 50).strip() + '"\ncut = "word"\n\n[timing]\n'
                        "tokens_per_second = 50\n", encoding="utf-8")  # fmt: skip
    folder.chmod(0o755)  # the container's user (10001) reads it
    scenario.chmod(0o644)
    subprocess.run(["podman", "run", "-d", "--name", name, *_PODMAN, "-p",
                    f"127.0.0.1:{port}:8080", "-v", f"{folder}:/scenarios:ro", IMAGE,
                    "serve", "--host", "0.0.0.0", "--port", "8080", "--scenarios-dir",
                    "/scenarios", "--scenario", "paced", "--secret", "shared-secret",
                    "--admin-token", "bench"],
                   check=True, capture_output=True)  # fmt: skip


def _get(url: str, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def _wait(url: str, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _get(f"{url}/api/loads")
            return
        except OSError:
            time.sleep(0.2)
    logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True, check=False)
    raise RuntimeError(f"{name} did not answer within 60 s: {logs.stderr[-2000:]}")


def _login_crosses(first: str, second: str) -> bool:
    """A FakeGpt login made on ``first``: is its access token good on ``second``? (The
    conversation request, sent as it is, with ``Connection: close``: read to its end.)"""
    token = asyncio.run(access_token(first))
    host, port = second.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(fakegpt_request(f"{host}:{port}", token))
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    return answer.startswith(b"HTTP/1.1 200 ") and b"[DONE]" in answer


def _cpu(name: str) -> float:
    """The CPU seconds a replica's processes have spent, read from this host's ``/proc``
    (each thread's ``schedstat``)."""
    pid = subprocess.run(["podman", "inspect", "--format", "{{.State.Pid}}", name],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


async def _through(port: int, n: int) -> list[RawStream]:
    loop = asyncio.get_running_loop()
    api = APIS["chat"]

    async def one(i: int) -> RawStream:
        request = request_bytes(api, f"127.0.0.1:{port}", "hi",
                                {"X-Emulator-Session": f"s{i}"})  # fmt: skip
        stream = RawStream(request, api.done)
        try:
            await loop.create_connection(lambda: stream, "127.0.0.1", port)
            await stream.finished
        except OSError:
            pass
        return stream

    return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), 120)


def _answered(url: str) -> int:
    """How many Chat Completions a replica answered (its metrics, with the admin token)."""
    request = urllib.request.Request(f"{url}/_emulator/metrics",
                                     headers={"X-Emulator-Admin-Token": "bench"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as r:
        text = r.read().decode()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith('fakegpt_requests_total{path="/v1/chat/completions"'))  # fmt: skip


def run(sizes: tuple[int, ...], out: Path) -> str:
    if shutil.which("podman") is None or shutil.which("nginx", path="/usr/sbin:/usr/bin") is None:
        raise SystemExit("needs podman and nginx (apt-get install podman runc nginx), and the "
                         "image: podman build -t fakegpt-emulator .")  # fmt: skip
    rows = ["| N | completed | errors | first bytes p99 | wall | streams each replica answered | "
            "CPU per stream, each replica |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ports = [_free_port(), _free_port()]
        names = ["fakegpt-replica-a", "fakegpt-replica-b"]
        front = _free_port()
        conf = work / "nginx.conf"
        conf.write_text(
            f"worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
            "events { worker_connections 8192; }\n"
            f"http {{ access_log off; client_body_temp_path {work}/body;\n"
            "  upstream emulators { hash $http_x_emulator_session consistent;\n"
            + "".join(f"    server 127.0.0.1:{p};\n" for p in ports)
            + "    keepalive 64; }\n"
            f"  server {{ listen 127.0.0.1:{front}; location / {{ proxy_pass http://emulators;\n"
            "    proxy_http_version 1.1; proxy_buffering off; proxy_read_timeout 1h;\n"
            '    proxy_set_header Connection ""; } } }\n',
            encoding="utf-8",
        )
        try:
            for name, port in zip(names, ports, strict=True):
                _replica(name, port, work)
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            for url, name in zip(urls, names, strict=True):
                _wait(url, name)
            crosses = _login_crosses(urls[0], urls[1]) and _login_crosses(urls[1], urls[0])
            subprocess.run(["/usr/sbin/nginx", "-c", str(conf)], check=True)
            for n in sizes:
                for name in names:  # a fresh journal: restart counts per round
                    subprocess.run(["podman", "restart", name], check=True,
                                   capture_output=True)  # fmt: skip
                for url, name in zip(urls, names, strict=True):
                    _wait(url, name)
                before = [_cpu(name) for name in names]
                started = time.perf_counter()
                streams = asyncio.run(_through(front, n))
                wall = time.perf_counter() - started
                time.sleep(0.2)
                cpu = [(_cpu(name) - b) / n * 1000 for name, b in zip(names, before, strict=True)]
                firsts = [s.first for s in streams if s.first == s.first]
                done = sum(s.complete for s in streams)
                spread = " / ".join(str(_answered(u)) for u in urls)
                rows.append(f"| {n} | {done} / {n} | {n - done} | "
                            f"{percentile(firsts, 99) * 1000:.0f} ms | {wall:.2f} s | {spread} | "
                            + " / ".join(f"{c:.2f} ms" for c in cpu) + " |")  # fmt: skip
                print(rows[-1], flush=True)
        finally:
            pid = work / "nginx.pid"
            if pid.exists():
                subprocess.run(["kill", pid.read_text().strip()], check=False)
            subprocess.run(["podman", "rm", "-f", *names], capture_output=True, check=False)
    section = "\n".join([
        "## Two replicas behind nginx (`python -m benchmarks.replicas`)",
        "",
        "Goal: stated, not asserted: a login on one replica accepted by the other, and every "
        "stream complete through the balancer, the sessions spread over both (each replica "
        "restarted before a round: its counts are the round's).",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        "cores: two containers of the image (podman, one `--secret`), Debian's nginx with "
        "`hash $http_x_emulator_session consistent`; Chat Completions streams of 50 chunks, "
        "20 ms apart, each in a session of its own; the load generator shares the cores",
        f"- a FakeGpt login on either replica is accepted by the other: {crosses}",
        "",
        *rows,
    ])  # fmt: skip
    write_section("replicas", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    print(run(tuple(int(s) for s in args.sizes.split(",")), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
