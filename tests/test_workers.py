"""``serve --workers N`` supervised (emulator/cli/workers.py): a worker killed outright is
replaced while the port keeps serving; a supervisor stopped stops its workers; one killed
outright leaves none behind. Real processes, real sockets on loopback, bounded in time."""

from __future__ import annotations

import http.client
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import serving


def _children(parent: int) -> set[int]:
    """The processes whose parent is ``parent`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(url: str) -> int:
    """How many sockets listen on ``url``'s port (from /proc/net/tcp: state 0A)."""
    port = f"{int(url.rsplit(':', 1)[1]):04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(f":{port}") and r.split()[3] == "0A")


def _get(url: str, path: str = "/api/loads") -> int:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def _until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_worker_is_replaced_while_the_port_keeps_serving() -> None:
    with serving("--workers", "3", "--speed", "0") as (proc, url):
        # Every worker listening (a forked one binds its own socket a moment later).
        assert _until(lambda: len(_children(proc.pid)) == 3 and _listening(url) == 3)
        first = _children(proc.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # Once it is gone (a connection queued on its own socket at the instant of the
        # kill is reset, as on any SO_REUSEPORT server), every request is answered: the
        # kernel sends new connections to the workers still listening, while a new worker
        # takes the dead one's place.
        assert _until(lambda: not _alive(victim))
        statuses = [_get(url) for _ in range(60)]
        assert statuses == [200] * 60
        assert _until(lambda: len(_children(proc.pid)) == 3 and victim not in _children(proc.pid))
        assert (_children(proc.pid) - first) and _get(url) == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        said = proc.stderr.read()
    assert f"worker {victim} killed by SIGKILL after" in said
    assert "a new one starts in 0.2 s" in said  # it had lived under 5 s: the backoff doubled


def test_a_supervisor_killed_outright_leaves_no_worker_behind() -> None:
    with serving("--workers", "2", "--speed", "0") as (proc, _url):
        assert _until(lambda: len(_children(proc.pid)) == 2)
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # Each worker sees its parent gone and stops by itself, within a second or so.
        assert _until(lambda: not any(_alive(pid) for pid in workers), seconds=10)
