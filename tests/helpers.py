"""Scaffolding shared by the tests (one place, not copied per module)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import client
from client import FakeGpt

PROMPT = "Tell me something."
MESSAGES = [{"role": "user", "content": PROMPT}]


async def collect(provider: type[FakeGpt], **kwargs: Any) -> list[str]:
    """Every delta of one reply, with a hard cap so no test can hang."""
    deltas: list[str] = []

    async def run() -> None:
        async with provider.create_async_generator(
            "text-davinci-002-render-sha", kwargs.pop("messages", MESSAGES), **kwargs
        ) as stream:
            deltas.extend([delta async for delta in stream])

    await asyncio.wait_for(run(), 30)
    return deltas


def error_class(name: str) -> type[BaseException]:
    """The client error class a scenario names."""
    cls = getattr(client, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise LookupError(f"the client has no error class {name!r}")
    return cls


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running ``python -m emulator`` on a free port, and its URL from the banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", first)
        assert match, first + (proc.stderr.read() if proc.stderr else "")
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
