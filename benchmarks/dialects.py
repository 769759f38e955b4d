"""Each API dialect's stream against a bare handler writing the same bytes, side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from emulator import EmulatorConfig, serve

from .cases import Sizes, scenario_of
from .harness import Result, compare, serving_app

__all__ = ["REQUESTS", "dialects_vs_bare"]


class Request(NamedTuple):
    """One streamed request of a dialect, as its SDK sends it."""

    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


_USER = [{"role": "user", "content": "benchmark"}]
#: A streamed request on each API dialect.
REQUESTS: Mapping[str, Request] = {
    "openai-chat": Request(
        "/v1/chat/completions",
        {"Authorization": "Bearer sk-bench"},
        {"model": "gpt-4o-mini", "messages": _USER, "stream": True},
    ),
    "anthropic": Request(
        "/v1/messages",
        {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01"},
        {
            "model": "claude-3-5-haiku-latest",
            "max_tokens": 4096,
            "messages": _USER,
            "stream": True,
        },
    ),
    "openai-responses": Request(
        "/v1/responses",
        {"Authorization": "Bearer sk-bench"},
        {"model": "gpt-4o-mini", "input": "benchmark", "stream": True},
    ),
    "gemini": Request(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        {"x-goog-api-key": "bench"},
        {"contents": [{"role": "user", "parts": [{"text": "benchmark"}]}]},
    ),
    "bedrock": Request(
        "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream",
        {"Authorization": "Bearer bench"},
        {"messages": [{"role": "user", "content": [{"text": "benchmark"}]}]},
    ),
}


@asynccontextmanager
async def _bare(body: bytes, content_type: str) -> AsyncIterator[str]:
    """A bare aiohttp handler answering any POST with ``body``, pre-encoded, in 256 KiB
    slices (as the emulator writes)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        view = memoryview(body)
        for i in range(0, len(body), 256 * 1024):
            await response.write(view[i : i + 256 * 1024])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    async with serving_app(app) as url:
        yield url


async def _read(http: aiohttp.ClientSession, url: str, request: Request) -> tuple[bytes, str]:
    got = bytearray()
    async with http.post(url + request.path, json=request.body, headers=request.headers) as r:
        if r.status != 200:
            raise RuntimeError(f"{request.path} answered {r.status}: {await r.text()}")
        async for chunk in r.content.iter_any():
            got += chunk
        return bytes(got), r.headers.get("Content-Type", "")


async def dialects_vs_bare(sizes: Sizes) -> list[Result]:
    """One table per dialect: the emulator's stream of a reply of ``emulator_tokens``
    tokens against a bare handler writing the bytes the emulator sent for it."""
    scenario = scenario_of(sizes.emulator_tokens)
    config = EmulatorConfig(speed=0, scenarios={"bench": scenario}, default="bench")
    results = []
    async with serve(config) as emu, aiohttp.ClientSession() as http:
        for name, request in REQUESTS.items():
            body, content_type = await _read(http, emu.url, request)
            async with _bare(body, content_type) as bare_url:

                async def from_bare(request: Request = request, url: str = bare_url) -> int:
                    return len((await _read(http, url, request))[0])

                async def from_emulator(request: Request = request) -> int:
                    return len((await _read(http, emu.url, request))[0])

                result = await compare(
                    f"Dialect throughput, {sizes.emulator_tokens}-token stream, speed 0: {name}",
                    "the emulator at most 2.5x a bare handler writing the same pre-encoded "
                    "bytes (a stream asked for again is filled in from its plan, kept as "
                    "bytes with holes)",
                    {
                        "bare aiohttp handler (the same bytes, pre-encoded)": from_bare,
                        f"emulator ({name})": from_emulator,
                    },
                    repeats=sizes.repeats,
                )
            result.notes.append(f"{len(body):,} bytes a stream ({content_type})")
            results.append(result)
    return results
