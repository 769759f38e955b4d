"""Scaffolding shared by the tests (one place, not copied per module)."""

from __future__ import annotations

import asyncio
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
