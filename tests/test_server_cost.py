"""What the server process costs per reply, read from ``/proc`` (counts, never times)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from benchmarks.cases import scenario_of
from benchmarks.outside import access_token, request_bytes
from emulator.scenario.dump import scenario_to_toml
from tests.helpers import serving

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def minor_faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


async def replies(url: str, count: int) -> int:
    host, port = url.removeprefix("http://").split(":")
    raw = request_bytes(f"{host}:{port}", await access_token(url))
    size = 0
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        while chunk := await reader.read(1 << 20):
            size += len(chunk)
        writer.close()
        await writer.wait_closed()
    return size


def test_a_fast_reply_touches_few_fresh_pages(tmp_path: Path) -> None:
    """At speed 0 the player's write batches (up to 256 KiB) come from malloc's heap, not
    a fresh mmap each: a 1,000-token reply (3.4 MB) makes ~11 page faults, not ~170."""
    scenario = scenario_of(1000)
    (tmp_path / f"{scenario.name}.toml").write_text(scenario_to_toml(scenario))
    with serving("--speed", "0", "--scenarios-dir", str(tmp_path), "--scenario",
                 scenario.name, "--log-level", "WARNING") as (proc, url):  # fmt: skip
        asyncio.run(replies(url, 5))  # warm: caches, templates, the heap's high water
        before = minor_faults(proc.pid)
        size = asyncio.run(replies(url, 20))
        faults = (minor_faults(proc.pid) - before) / 20
    assert size > 20 * 3_000_000
    assert faults < 50, f"{faults:.0f} page faults per reply"
