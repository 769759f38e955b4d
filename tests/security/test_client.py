"""The client never hands its credentials to anyone but the upstream that issued them.

Each case here is an attack that worked before: a redirect that carried the
bearer token (and the prompt) to another origin, a login cache shared across
servers and classes, raw aiohttp errors and vague answers for hostile bodies,
a stream that could run forever, a quadratic ``delta_encoding v1`` decoder.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest
from aiohttp import web

from client import (
    FakeGpt,
    FakeGptError,
    UnexpectedResponseError,
    UpstreamConnectionError,
)
from client.conversation import ReplyAssembler
from client.options import DEFAULT_TOTAL_TIMEOUT, Options
from client.sse import ServerSentEvent
from tests.helpers import event, login_routes, run_client, upstream


class Sink:
    """Another origin: records the headers and bodies of everything it is sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, dict(request.headers), await request.read()))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(event("stolen reply") + b"data: [DONE]\n\n")
        return response


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_never_carries_the_token_to_another_origin(status: int) -> None:
    sink = Sink()
    async with upstream(
        {("POST", "/collect"): sink.handle, ("GET", "/collect"): sink.handle}
    ) as elsewhere:

        async def redirect(_: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": f"{elsewhere}/collect"})

        routes = {**login_routes("secret-token"), ("POST", "/api/conversation"): redirect}
        async with upstream(routes) as url:
            with pytest.raises(UnexpectedResponseError) as caught:
                await run_client(url)
    assert f"{elsewhere}/collect" in str(caught.value)
    assert str(status) in str(caught.value)
    assert sink.seen == []  # nothing at all reached the other origin


async def test_a_redirect_loop_is_one_of_the_clients_errors() -> None:
    async def loop(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/api/loads"})

    async with upstream({("GET", "/api/loads"): loop}) as url:
        with pytest.raises(UnexpectedResponseError, match="redirect"):
            await run_client(url)


async def test_the_token_of_one_server_is_never_sent_to_another() -> None:
    seen: list[str] = []

    def conversation_for(name: str) -> Any:
        async def conversation(request: web.Request) -> web.StreamResponse:
            seen.append(f"{name}:{request.headers.get('X-Authorization')}")
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(event(f"from {name}") + b"data: [DONE]\n\n")
            return response

        return conversation

    routes_a = {**login_routes("token-a"), ("POST", "/api/conversation"): conversation_for("a")}
    routes_b = {**login_routes("token-b"), ("POST", "/api/conversation"): conversation_for("b")}
    messages = [{"role": "user", "content": "x"}]
    FakeGpt.reset()
    saved = FakeGpt.url
    try:
        async with upstream(routes_a) as url_a, upstream(routes_b) as url_b:
            FakeGpt.url = url_a
            assert await FakeGpt.create_async("m", messages) == "from a"
            FakeGpt.url = url_b
            assert await FakeGpt.create_async("m", messages) == "from b"
            FakeGpt.url = url_a  # back to A: its own token is still good
            assert await FakeGpt.create_async("m", messages) == "from a"
    finally:
        FakeGpt.url = saved
        FakeGpt.reset()
    assert seen == ["a:Bearer token-a", "b:Bearer token-b", "a:Bearer token-a"]


async def test_a_subclass_never_inherits_its_parents_token() -> None:
    seen: list[str | None] = []

    async def conversation(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("X-Authorization"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(event("ok") + b"data: [DONE]\n\n")
        return response

    routes_a = {**login_routes("parent-token"), ("POST", "/api/conversation"): conversation}
    routes_b = {**login_routes("child-token"), ("POST", "/api/conversation"): conversation}
    messages = [{"role": "user", "content": "x"}]
    async with upstream(routes_a) as url_a, upstream(routes_b) as url_b:

        class Mirror(FakeGpt):
            url: ClassVar[str] = url_b

        saved = FakeGpt.url
        FakeGpt.url = url_a
        FakeGpt.reset()
        try:
            await FakeGpt.create_async("m", messages)
            assert FakeGpt._access_token == "parent-token"
            assert Mirror._access_token is None
            await Mirror.create_async("m", messages)
            assert Mirror._access_token == "child-token"
            assert FakeGpt._access_token == "parent-token"
        finally:
            FakeGpt.url = saved
            FakeGpt.reset()
    assert seen == ["Bearer parent-token", "Bearer child-token"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", b"\x00\x01binary"),
        ("text/html", b"<!DOCTYPE html><title>Welcome</title><p>hi"),
        ("application/json", b'{"detail": "not a stream"}'),
    ],
)
async def test_a_200_that_is_not_an_event_stream_names_its_content_type(
    content_type: str, body: bytes
) -> None:
    async def conversation(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    async with upstream({**login_routes(), ("POST", "/api/conversation"): conversation}) as url:
        with pytest.raises(UnexpectedResponseError, match=f"Content-Type {content_type!r}"):
            await run_client(url)


async def test_a_huge_response_header_is_one_of_the_clients_errors() -> None:
    async def loads(_: web.Request) -> web.Response:
        return web.json_response({"loads": []}, headers={"X-Huge": "x" * 1_000_000})

    async with upstream({("GET", "/api/loads"): loads}) as url:
        with pytest.raises(UnexpectedResponseError, match="/api/loads"):
            await run_client(url)


async def test_an_unreachable_upstream_is_one_of_the_clients_errors() -> None:
    with pytest.raises(UpstreamConnectionError, match="cannot connect") as caught:
        await run_client("http://127.0.0.1:9", timeout=2)  # the discard port: nobody listens
    assert isinstance(caught.value, FakeGptError) and isinstance(caught.value, ConnectionError)


def test_an_endless_stream_ends_by_default() -> None:
    options = Options.from_kwargs({})
    assert DEFAULT_TOTAL_TIMEOUT == 600.0
    assert options.total_timeout == DEFAULT_TOTAL_TIMEOUT
    assert options.client_timeout().total == DEFAULT_TOTAL_TIMEOUT
    assert Options.from_kwargs({"total_timeout": None}).total_timeout is None  # opt out


def _v1_seconds(events: int) -> float:
    stream = [
        ServerSentEvent(data='"v1"', event="delta_encoding"),
        ServerSentEvent(
            data='{"p": "", "o": "add", "v": {"message": {"author": {"role": "assistant"}, '
            '"content": {"parts": [""]}, "status": "in_progress", "metadata": {}}}}',
            event="delta",
        ),
        ServerSentEvent(
            data='{"p": "/message/content/parts/0", "o": "append", "v": "word "}', event="delta"
        ),
    ]
    stream += [ServerSentEvent(data='{"v": "word "}', event="delta")] * events
    best = float("inf")
    for _ in range(3):
        assembler = ReplyAssembler()
        started = time.perf_counter()
        for e in stream:
            assembler.feed(e)
        best = min(best, time.perf_counter() - started)
        assert assembler.text == "word " * (events + 1)
    return best


def test_delta_encoding_v1_appends_in_linear_time() -> None:
    # Four times the events: about four times the time when linear, sixteen
    # when quadratic (before: 0.22 s -> 3.70 s for 4k -> 16k events).
    ratio = _v1_seconds(32_000) / _v1_seconds(8_000)
    assert ratio < 8, f"32k events took {ratio:.1f}x the time of 8k"
