"""``serve --workers N``: N worker processes on one port, supervised as gunicorn's arbiter does.

This process binds the port (SO_REUSEPORT: held bound, never listening, so
the number stays ours while workers come and go), forks the workers and
then only supervises, with no event loop and no thread of its own, so each
fork starts clean:

- a worker that dies is logged and replaced; one that dies again within
  :data:`SHORT_LIFE` seconds of its start waits twice as long as the last
  time before it is replaced (from :data:`FIRST_BACKOFF` up to
  :data:`MAX_BACKOFF`), so a worker that cannot start does not spin;
- SIGTERM or SIGINT stops every worker (each finishes its streams, as a
  single server does) and waits for them, at most :data:`STOP_SECONDS`;
- a worker stops by itself once this process is gone (it watches its
  parent), so a supervisor killed outright leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Final

__all__ = ["FIRST_BACKOFF", "MAX_BACKOFF", "SHORT_LIFE", "STOP_SECONDS", "supervise"]

log = logging.getLogger("emulator")

#: A worker that lives less than this is one that may keep dying: its backoff grows.
SHORT_LIFE: Final = 5.0
FIRST_BACKOFF: Final = 0.1
MAX_BACKOFF: Final = 10.0
#: How long stopping waits for the workers before it kills them.
STOP_SECONDS: Final = 10.0
_TICK: Final = 0.05


def _fork(work: Callable[[int], None]) -> int:
    """A worker running ``work(parent pid)``; its pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        # Not the supervisor's handlers: until the worker's loop sets its own, a stop
        # signal ends it as it would any process.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        code = 0
        try:
            work(parent)
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            code = 1
        os._exit(code)
    return pid


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with {os.waitstatus_to_exitcode(status)}"


def supervise(
    workers: int,
    work: Callable[[int], None],
    ready: Callable[[], None],
    port: socket.socket,
) -> int:
    """Run ``workers`` forks of ``work`` until asked to stop; ``ready()`` once one answers.

    ``port`` is the bound socket held for the workers' port (closed at the end).
    """
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    started: dict[int, float] = {}  # pid -> when it was forked
    backoff = FIRST_BACKOFF
    due: list[float] = []  # when each worker still to replace is to be forked
    try:
        for _ in range(workers):
            started[_fork(work)] = time.monotonic()
        ready()
        while not stopping:
            now = time.monotonic()
            for when in [w for w in due if w <= now]:
                due.remove(when)
                started[_fork(work)] = time.monotonic()
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid in started:
                lived = time.monotonic() - started.pop(pid)
                backoff = min(backoff * 2, MAX_BACKOFF) if lived < SHORT_LIFE else FIRST_BACKOFF
                log.warning("worker %d %s after %.1f s; a new one starts in %.1f s",
                            pid, _how(status), lived, backoff)  # fmt: skip
                due.append(time.monotonic() + backoff)
                continue
            time.sleep(_TICK)
        log.info("stopping %d workers", len(started))
        return _stopped(started)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        port.close()


def _stopped(started: dict[int, float]) -> int:
    """Stop every worker: SIGTERM, then SIGKILL for one still there after STOP_SECONDS."""
    for pid in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    left = set(started)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            left.discard(pid)
        time.sleep(_TICK)
    for pid in left:
        log.warning("worker %d did not stop within %g s: killed", pid, STOP_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return 0
