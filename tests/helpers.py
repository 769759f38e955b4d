"""Scaffolding shared by the tests (one place, not copied per module)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiohttp import web

import client
from client import FakeGpt
from emulator import Expect
from emulator.conformance.clients import failure_kind

_Client = TypeVar("_Client")

if TYPE_CHECKING:
    import anthropic
    import openai

PROMPT = "Tell me something."
#: SDK clients a test opened, closed after it (``conftest``): their connections with them.
OPENED: list[Any] = []


def kept(sdk_client: _Client) -> _Client:
    """``sdk_client``, closed once the test is over."""
    OPENED.append(sdk_client)
    return sdk_client


def named(scenario: str) -> dict[str, str]:
    """The header that names the scenario a request gets."""
    return {"X-Emulator-Scenario": scenario}


def openai_client(url: str) -> openai.OpenAI:
    """The official ``openai`` client of the emulator at ``url`` (no retries), closed once
    the test is over."""
    import openai

    return kept(openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0))


def anthropic_client(url: str) -> anthropic.Anthropic:
    """The official ``anthropic`` client of the emulator at ``url`` (no retries), closed
    once the test is over."""
    import anthropic

    return kept(anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0))


def bedrock_client(url: str, scenario: str) -> Any:
    """``boto3``'s Bedrock runtime client of the emulator at ``url`` (no retries), every
    request naming ``scenario``, closed once the test is over."""
    import boto3
    from botocore.config import Config

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=url,
                          aws_access_key_id="k", aws_secret_access_key="s",
                          config=Config(retries={"total_max_attempts": 1}))  # fmt: skip

    def naming(request: Any, **_: Any) -> None:
        for header, value in named(scenario).items():  # botocore's headers have no update
            request.headers[header] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", naming)
    return kept(client)


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


def assert_failure(expect: Expect, exc: BaseException) -> None:
    """``exc`` (from this project's client) is the failure ``expect`` states."""
    assert failure_kind(exc) == expect.failure, f"{type(exc).__name__}: {exc}"
    if expect.status is not None:
        assert isinstance(exc, client.UpstreamStatusError) and exc.status == expect.status
    assert expect.message in str(exc)


@contextmanager
def serving(*args: str, log: bool = True) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A running ``python -m emulator`` on a free port, and its URL from the banner; its log
    in ``proc.stderr`` (with ``log`` false, dropped: a test that makes many requests and
    reads no log would fill the pipe, and the server would wait on it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if log else subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"listening on (https?://\S+)", first)
        assert match, first + (proc.stderr.read() if proc.stderr else "")
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


# -- upstreams of our own making, for the client's tests --------------------------------

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StreamWriter = Callable[[web.StreamResponse], Awaitable[None]]


@asynccontextmanager
async def upstream(routes: Mapping[tuple[str, str], RouteHandler]) -> AsyncIterator[str]:
    """A bare aiohttp server on loopback with these ``{(method, path): handler}`` routes."""
    app = web.Application()
    for (method, path), handler in routes.items():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _loads(_: web.Request) -> web.Response:
    return web.json_response({"loads": [{"token_id": "a" * 32, "count": 0}]})


async def _login(_: web.Request) -> web.Response:
    return web.json_response({"code": 0})


def login_routes(token: str = "t") -> dict[tuple[str, str], RouteHandler]:
    """The three login endpoints of an upstream that lets anyone in with ``token``."""

    async def session(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": token})

    return {
        ("GET", "/api/loads"): _loads,
        ("POST", "/auth/login"): _login,
        ("GET", "/api/auth/session"): session,
    }


@asynccontextmanager
async def hostile(stream: StreamWriter) -> AsyncIterator[str]:
    """An upstream that logs in normally, then streams whatever ``stream`` writes."""

    async def conversation(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await stream(response)
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    async with upstream({**login_routes(), ("POST", "/api/conversation"): conversation}) as url:
        yield url


def event(text: str) -> bytes:
    """One cumulative message event carrying ``text``."""
    obj = {
        "message": {
            "author": {"role": "assistant"},
            "content": {"parts": [text]},
            "status": "in_progress",
            "metadata": {"message_type": "next"},
        },
        "error": None,
    }
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def endless(
    response: web.StreamResponse, piece: bytes, pause: float, limit: float = 20.0
) -> None:
    """Write ``piece`` every ``pause`` seconds: bounded at ``limit`` seconds, as every loop here."""
    until = time.monotonic() + limit
    while time.monotonic() < until:
        await response.write(piece)
        await asyncio.sleep(pause)


async def run_client(url: str, **options: Any) -> str:
    """``FakeGpt.create_async`` against ``url`` with no login cached before or after."""
    FakeGpt.url = url
    FakeGpt.reset()
    try:
        return await asyncio.wait_for(
            FakeGpt.create_async("m", [{"role": "user", "content": "x"}], **options), 15
        )
    finally:
        FakeGpt.reset()


# -- talking to the emulator as a browser would -----------------------------------------

#: A valid /api/conversation body, as the front end sends it.
CONVERSATION = {
    "action": "next",
    "messages": [
        {
            "id": str(uuid.uuid4()),
            "author": {"role": "user"},
            "content": {"content_type": "text", "parts": ["Hi"]},
            "metadata": {},
        }
    ],
    "parent_message_id": str(uuid.uuid4()),
    "model": "text-davinci-002-render-sha",
}


def conversation(prompt: str) -> dict[str, Any]:
    """A valid /api/conversation body carrying ``prompt`` (a fresh copy)."""
    body: dict[str, Any] = json.loads(json.dumps(CONVERSATION))
    body["messages"][0]["content"]["parts"] = [prompt]
    return body


async def login(http: aiohttp.ClientSession, url: str, password: str = "pw") -> str:
    """Log in as a browser would; returns the access token."""
    async with http.get(f"{url}/api/loads", params={"t": "1"}) as r:
        token_key = (await r.json())["loads"][0]["token_id"]
    async with http.post(
        f"{url}/auth/login", data={"token_key": token_key, "session_password": password}
    ) as r:
        assert r.status == 200
    async with http.get(f"{url}/api/auth/session") as r:
        return str((await r.json())["accessToken"])


async def answer(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, str, Any, dict[str, str]]:
    async with http.request(method, url, **kwargs) as r:
        raw = await r.read()
        body = (
            json.loads(raw)
            if r.content_type == "application/json"
            else raw.decode("utf-8", "replace")
        )
        return r.status, r.content_type, body, dict(r.headers)


async def converse(
    http: aiohttp.ClientSession, url: str, token: str, body: Any = None
) -> tuple[int, str, Any, dict[str, str]]:
    """POST /api/conversation with a bearer token; the answer, read whole."""
    return await answer(
        http,
        "POST",
        f"{url}/api/conversation",
        json=CONVERSATION if body is None else body,
        headers={"X-Authorization": f"Bearer {token}"},
    )


# -- report cards in the README ------------------------------------------------------------


README = Path(__file__).resolve().parent.parent / "README.md"


async def assert_report_card(
    marker: str,
    dialect: str,
    client: Any,
    *,
    doc: Path = README,
    command: bool = False,
    tls: Any = None,
    loop: bool = False,
    select: str | None = None,
) -> None:
    """The card in ``doc`` between ``<!-- MARKER`` and ``<!-- /MARKER`` is what a run finds:
    the same scenarios not passing, with the same verdicts, and the same counts.
    ``client`` is a Python callable, or (``command``) a ``--cmd`` template; ``tls``: the
    cases served over HTTPS and WSS with it; ``loop``: the client runs tool loops;
    ``select``: only the scenarios it names (as ``conform -k`` does)."""
    from emulator.conformance import cases, command_client, python_client, run_all
    from emulator.conformance.runner import matches, skipped

    text = doc.read_text(encoding="utf-8")  # noqa: ASYNC240 - a small file, once
    card = text[text.index(f"<!-- {marker}") : text.index(f"<!-- /{marker}")]
    stated = dict(re.findall(r"^\| `(\w+)` \| ([a-z ]+) \|", card, re.M))
    judged = command_client(client) if command else python_client(client)
    results = await run_all(cases(select, dialect=dialect, loop=loop), judged, jobs=4,
                            speed=0.05, tls=tls)  # fmt: skip
    found = {r.case.name: r.verdict.kind for r in results if not r.verdict.passed}
    assert found == stated, {n: r.verdict.detail for n, r in
                             ((r.case.name, r) for r in results) if n in found}  # fmt: skip
    passes = sum(r.verdict.passed for r in results)
    na = sum(matches(name, select) for name, _ in skipped(dialect, loop=loop))
    assert f"{passes} pass" in card and f"{na} not applicable" in card, (
        f"a run finds {passes} pass, {na} not applicable"
    )
