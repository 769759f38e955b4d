"""The recording proxy: forwards everything to an upstream and writes each conversation
it passes on as a scenario that replays it (``python -m emulator record``).

Any server that speaks this protocol can be the upstream (in the tests, a
second emulator). The client's requests go on unchanged but for hop-by-hop
headers and ``Accept-Encoding`` (the body is recorded as sent, uncompressed);
answers come back as they arrive, write by write. A recorded scenario holds
only the conversation's status, content headers and body with its times;
what the capture carried besides (tokens, cookies) is never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from ..core.clock import REAL_CLOCK
from ..dialects.fakegpt.read import parse_conversation
from ..dialects.fakegpt.shapes import shapes as fakegpt_shapes
from ..dialects.fakegpt.wire import StreamContext
from ..dialects.registry import DIALECTS
from ..engine.play import play
from ..engine.replay import replayed
from ..protocol.errors import BadRequest
from ..scenario import load_scenario
from ..scenario.dump import scenario_to_toml
from ..scenario.model import Chunk, Ending, Recording, Scenario
from ..server import bind_socket
from ..state.journal import Call
from .decode import expected_outcome
from .imports import content_headers

__all__ = ["RecordingProxy", "recording_proxy"]

log = logging.getLogger("emulator.record")

#: Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1).
_HOP: Final = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", "accept-encoding", "content-encoding",
    }
)  # fmt: skip


@dataclass
class RecordingProxy:
    """A running proxy: its ``url``, and the scenario files written so far."""

    url: str
    written: list[Path] = field(default_factory=list)
    replayed: list[Path] = field(default_factory=list)


@contextlib.asynccontextmanager
async def recording_proxy(
    upstream: str,
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    prefix: str = "recorded",
    replay: bool = False,
    speed: float = 1.0,
) -> AsyncIterator[RecordingProxy]:
    """Serve a proxy to ``upstream`` that writes ``folder/PREFIX-KEY.toml`` per conversation.

    KEY is a digest of the prompt (the prompt itself is never written).
    ``replay``: a conversation whose prompt has a recording in ``folder`` is
    answered from it (at ``speed``), without the upstream; the others pass
    through and are recorded.
    """
    numbers = itertools.count(_first_number(folder, prefix))  # before serving: may block
    base = upstream.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
    async with aiohttp.ClientSession(
        timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        proxy = RecordingProxy("")

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            key = None
            if request.method == "POST" and request.path.endswith("/api/conversation"):
                key = _key(await request.read()) or f"n{next(numbers)}"
                found = folder / f"{prefix}-{key}.toml"
                if replay and found.is_file():
                    return await _replay(request, found, speed, proxy)
            return await _forward(request, session, base, proxy, folder / f"{prefix}-{key}.toml")

        runner = web.ServerRunner(web.Server(handle), handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        sock = bind_socket(host, port)
        try:
            await web.SockSite(runner, sock).start()
            proxy.url = f"http://{host}:{sock.getsockname()[1]}"
            yield proxy
        finally:
            await runner.cleanup()
            sock.close()


def _first_number(folder: Path, prefix: str) -> int:
    """The number the next file whose prompt cannot be read gets."""
    folder.mkdir(parents=True, exist_ok=True)
    return 1 + len(list(folder.glob(f"{prefix}-*.toml")))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _key(body: bytes) -> str | None:
    """A digest of a conversation's prompt: what a recording is found by."""
    try:
        prompt = parse_conversation(body, "application/json").prompt
    except BadRequest:
        return None
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


async def _replay(
    request: web.BaseRequest, path: Path, speed: float, proxy: RecordingProxy
) -> web.StreamResponse:
    """Answer from the recording at ``path``, as the emulator would replay it."""
    scenario = await asyncio.to_thread(load_scenario, path)
    recording = scenario.recording
    if recording is None:
        return web.json_response({"detail": f"{path} holds no recording"}, status=500)
    loop = asyncio.get_running_loop()
    call = Call(request.method, request.path, {}, request.headers, b"", arrived=loop.time())
    # A recording of the FakeGpt stream: its faults in FakeGpt's look.
    ctx = StreamContext("", "replayed", "replayed", "replayed", time.time(), "-", "-")
    proxy.replayed.append(path)
    log.info("replayed %s", path)
    return await play(request, replayed(scenario, fakegpt_shapes(ctx)), REAL_CLOCK, speed, call, None, None,
                      recording.status, dict(recording.headers))  # fmt: skip


async def _forward(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    base: str,
    proxy: RecordingProxy,
    path: Path,
) -> web.StreamResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    headers["Accept-Encoding"] = "identity"
    body = await request.read()
    loop = asyncio.get_running_loop()
    started = loop.time()
    recording = request.path.endswith("/api/conversation") and request.method == "POST"
    try:
        upstream = await session.request(
            request.method, base + request.path_qs, headers=headers, data=body or None,
            allow_redirects=False,
        )  # fmt: skip
    except aiohttp.ClientError as exc:
        return web.json_response(
            {"detail": f"the upstream {base} cannot be reached: {exc}"}, status=502
        )
    chunks: list[Chunk] = []
    ending: Ending = "hold"  # until the body is through: the client left, or we stopped
    response = web.StreamResponse(
        status=upstream.status,
        reason=upstream.reason,
        headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
    )
    try:
        await response.prepare(request)
        async for data in upstream.content.iter_any():
            if recording:
                chunks.append(Chunk(loop.time() - started, data))
            await response.write(data)
        await response.write_eof()
        ending = "complete"
    except aiohttp.ClientPayloadError:
        ending = "drop"  # the upstream cut the body
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass  # the client left first: what came after is unknown ("hold")
    finally:
        upstream.release()
        if recording:
            removed: list[str] = []
            made = Recording(
                chunks=tuple(chunks),
                status=upstream.status,
                headers=content_headers(dict(upstream.headers), removed) or Recording().headers,
                ending=ending,
            )
            when = time.strftime("%Y-%m-%d %H:%M:%S")
            scenario = Scenario(
                name=path.stem,
                description=f"Recorded from {base} at {when}: HTTP {made.status}, "
                f"{len(made.chunks)} writes, {made.size:,} bytes, ending {ending}.",
                recording=made,
                expect=expected_outcome(made, DIALECTS[made.dialect].capture.read),
            )
            _write(path, scenario_to_toml(scenario))  # small; also when cancelled
            proxy.written.append(path)
            log.info("recorded %s (%d writes); left out: %s", path, len(chunks),
                     ", ".join(removed) or "nothing")  # fmt: skip
    return response
