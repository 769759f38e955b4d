"""Hostile input: the emulator under random and broken requests, the client under a hostile upstream."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import (
    LineTooLongError,
    UnexpectedResponseError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from emulator import Emulator
from emulator.http.context import is_loopback
from tests.helpers import endless, event, hostile, run_client, upstream

PATHS = [
    "/api/loads",
    "/auth/login",
    "/api/auth/session",
    "/api/conversation",
    "/",
    "/_emulator/scenario",
]
token = st.text(
    st.characters(
        min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=':()<>@,;\\"/[]?={}'
    ),
    min_size=1,
    max_size=12,
)
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(
        st.sampled_from(["action", "messages", "parent_message_id", "model", "conversation_id"]),
        json_values,
    ).map(lambda v: json.dumps(v).encode())
    | st.just(b"[" * 50_000)
    | st.just(b"token_key=x&session_password=\xff")
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(PATHS) | token.map(lambda t: "/api/" + t),
    query=st.dictionaries(token, header_value, max_size=3),
    headers=st.dictionaries(token, header_value, max_size=4),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
            "",
        ]
    ),
    auth=st.none() | header_value,
    cookie=st.none() | header_value,
    body=bodies,
)
@pytest.mark.emulator_allow(unmatched=True)
def test_random_requests_never_get_a_5xx(
    emulator: Emulator,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    content_type: str,
    auth: str | None,
    cookie: str | None,
    body: bytes,
) -> None:
    headers = {
        k: v.strip()
        for k, v in headers.items()
        if k.lower()
        not in (
            "content-length",
            "transfer-encoding",
            "host",
            "x-emulator-scenario",
            "expect",
            "connection",
        )
    }
    if content_type:
        headers["Content-Type"] = content_type
    if auth is not None:
        headers["X-Authorization"] = auth.strip()
    if cookie is not None:
        headers["Cookie"] = "credential=" + cookie.strip().replace(";", "")

    async def send() -> tuple[int, str, bytes]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method, emulator.url + path, params=query, headers=headers, data=body
            ) as r,
        ):
            return r.status, r.content_type, await r.read()

    status, ctype, raw = asyncio.run(send())
    assert status < 500
    if status >= 400:
        assert ctype == "application/json"
        assert "detail" in json.loads(raw)
    assert list(emulator.state.problems) == []


def raw_exchange(
    port: int,
    data: bytes,
    *,
    pause: float = 0.0,
    chunk: int = 0,
    read: bool = True,
    half_close: bool = True,
) -> bytes:
    """Send bytes over a plain socket (optionally slowly), return what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        if chunk:
            for i in range(0, len(data), chunk):
                sock.sendall(data[i : i + chunk])
                time.sleep(pause)
        else:
            sock.sendall(data)
        if not read:
            return b""
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            out += piece
        return out


@pytest.mark.emulator_allow(unmatched=True)
def test_broken_http_is_refused_and_the_emulator_keeps_serving(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    port = emulator.port
    cases = {
        "truncated body": b'POST /api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"action"',
        "huge declared body": b"POST /api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{",
        "not http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        "bad header": b"GET /api/loads HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
    }
    answers = {
        name: raw_exchange(port, data, half_close=name == "truncated body")
        for name, data in cases.items()
    }
    assert answers["huge declared body"].startswith(b"HTTP/1.1 413")
    assert b'"detail": "request body is larger than' in answers["huge declared body"]
    for name in ("not http", "bad header"):
        # Malformed HTTP framing is answered by aiohttp's own parser, before
        # any handler runs: a plain 400, not JSON (a documented divergence).
        assert answers[name].startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), name
    # A slow sender: one byte every 10 ms for a bounded 0.5 s, then gone.
    raw_exchange(
        port,
        b"POST /api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n",
        chunk=1,
        pause=0.01,
        read=False,
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /api/loads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    assert list(emulator.state.problems) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.emulator_allow(unmatched=True)
@pytest.mark.parametrize(
    ("request_line", "path"),
    [("OPTIONS * HTTP/1.1", "*"), ("CONNECT example.com:443 HTTP/1.1", "")],
)
def test_requests_no_route_can_match_get_a_json_404_and_are_journaled(
    emulator: Emulator, request_line: str, path: str
) -> None:
    answer = raw_exchange(
        emulator.port,
        # No path to put a session in: the header names the test's session.
        f"{request_line}\r\nHost: 127.0.0.1\r\nX-Emulator-Session: {emulator.session_id}\r\n"
        "Connection: close\r\n\r\n".encode(),
        half_close=False,
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404") and b"Content-Type: application/json" in head
    method = request_line.split()[0]
    assert json.loads(body) == {"detail": f"Not Found: no route for {method} {path}"}
    assert emulator.requests.last.method == method and emulator.requests.last.status == 404
    assert list(emulator.state.unmatched) == [f"{method} {path}"]


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("", False),
        (None, False),
        ("not-an-ip", False),
    ],
)
def test_only_loopback_reaches_the_admin_api_without_a_token(
    remote: str | None, loopback: bool
) -> None:
    assert is_loopback(remote) is loopback


# -- the client against a hostile upstream --------------------------------------------


async def test_a_gigantic_line_stops_at_max_line() -> None:
    async with hostile(lambda r: endless(r, b"data: " + b"x" * 65536, 0.0)) as url:
        with pytest.raises(LineTooLongError, match="max_line=1,048,576"):
            await run_client(url, max_line=1024 * 1024)


@pytest.mark.parametrize(
    ("name", "piece", "pause"),
    [
        ("events without [DONE]", event("Hello"), 0.01),
        ("endless pings", b"event: ping\ndata: 1\n\n", 0.01),
        ("a trickle of one byte", b":", 0.1),
    ],
)
async def test_endless_streams_end_at_the_deadline(name: str, piece: bytes, pause: float) -> None:
    async with hostile(lambda r: endless(r, piece, pause)) as url:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError):
            await run_client(url, total_timeout=1.0, idle_timeout=0.5)
        assert time.monotonic() - started < 3


async def test_invalid_utf8_and_deep_json_are_skipped_and_the_text_is_exact() -> None:
    async def stream(r: web.StreamResponse) -> None:
        await r.write(event("Hel"))
        await r.write(b'data: \xff\xfe{"message\n\n')
        await r.write(b"data: " + b"[" * 100_000 + b"\n\n")
        await r.write(b"data: {" + b'"a":{' * 50_000 + b"\n\n")
        await r.write(event("Hello"))
        await r.write(b"data: [DONE]\n\n")

    async with hostile(stream) as url:
        assert await run_client(url) == "Hello"


@pytest.mark.parametrize(
    ("status", "content_type", "body", "error", "match"),
    [
        (500, "application/json", b'{"detail": ' + b"[" * 100_000, UpstreamStatusError, "500"),
        (
            200,
            "text/plain",
            b"<!DOCTYPE html><title>Just a moment...</title>",
            UnexpectedResponseError,
            "HTML page",
        ),
        (200, "application/json", b"[" * 100_000, UnexpectedResponseError, "not JSON"),
    ],
    ids=["deep-json-error-body", "html-as-text-plain", "deep-json-success-body"],
)
async def test_hostile_login_answers_get_the_clients_errors(
    status: int, content_type: str, body: bytes, error: type[Exception], match: str
) -> None:
    async def loads(_: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type=content_type)

    async with upstream({("GET", "/api/loads"): loads}) as url:
        with pytest.raises(error, match=match):
            await run_client(url)
