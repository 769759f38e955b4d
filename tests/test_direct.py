"""An answer that is one write goes out in one, written by the emulator (:mod:`emulator.engine.direct`),
not by aiohttp's response writer: the same bytes on the wire, byte for byte but the Date and
each request's own ids, and the connection kept for the next request. Anything aiohttp must
write itself (HTTP/1.0, a connection the client closes, HEAD, another status, a header it
sets itself) is left to it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Final

import pytest
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion10, HttpVersion11
from aiohttp.test_utils import make_mocked_request
from hypothesis import example, given
from hypothesis import strategies as st
from multidict import CIMultiDict

from emulator import EmulatorConfig, serve
from emulator.engine.direct import head_of, sent_whole, writable
from emulator.engine.flat import FLATS

from .test_flat import ASKED, Asked

#: An HTTP date (IMF-fixdate), the one value two answers a second apart may differ in.
_DATE: Final = re.compile(
    rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"
)
#: A request id an answer's headers carry (Anthropic's, AWS's): each request's own.
_REQUEST_ID: Final = re.compile(rb"(?i)\r\n((?:x-amzn-)?request-?id): [^\r]*")
_READ_SECONDS: Final = 10.0


def _request(asked: Asked, version: str = "1.1", extra: str = "") -> bytes:
    body = json.dumps(asked.body).encode()
    headers = "".join(f"{k}: {v}\r\n" for k, v in asked.headers.items())
    return (
        f"POST {asked.path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{headers}{extra}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """One whole answer as it came (head and chunked body, or a body read to its close),
    bounded in time."""
    deadline = time.monotonic() + _READ_SECONDS
    received = bytearray()

    async def more() -> bytes:
        part = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
        received.extend(part)
        return part

    while b"\r\n\r\n" not in received:
        assert await more(), "the connection closed before the head"
    head = bytes(received).partition(b"\r\n\r\n")[0]
    if b"Transfer-Encoding: chunked" in head:
        while not received.endswith(b"\r\n0\r\n\r\n"):
            assert await more(), "the connection closed inside the chunked body"
    else:
        while await more():
            pass
    return bytes(received)


@pytest.mark.parametrize("dialect", ASKED)
async def test_an_answer_sent_in_one_write_is_the_bytes_aiohttp_writes(dialect: str) -> None:
    asked = ASKED[dialect]
    anew = re.compile(asked.anew.encode()) if asked.anew else None

    def normalized(answer: bytes) -> bytes:
        answer = _REQUEST_ID.sub(rb"\r\n\1: ~", _DATE.sub(b"\r\nDate: ~\r\n", answer))
        return anew.sub(b"~", answer) if anew else answer

    async with serve(EmulatorConfig(speed=0)) as emulator:
        reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
        try:
            FLATS.clear()  # this worker's earlier tests may have asked the same
            reused = FLATS.reused
            answers = []
            for _ in range(3):  # one connection, kept: each answer ends where the next begins
                writer.write(_request(asked))
                answers.append(await _answer(reader))
        finally:
            writer.close()
        # The first is planned (aiohttp writes it); the others come from its flat, whole.
        assert FLATS.reused - reused == 2
        calls = list(emulator.calls(asked.path.partition("?")[0]))
    planned, *again = answers
    assert planned.startswith(b"HTTP/1.1 200 OK\r\n")
    for answer in again:
        assert normalized(answer) == normalized(planned)
    assert [c.status for c in calls] == [200, 200, 200]
    assert len({c.bytes_sent for c in calls}) == 1
    # The journal keeps the same answer headers and the same notes of each write.
    first, last = (c.transcript for c in (calls[0], calls[-1]))
    assert first is not None and last is not None
    assert set(last.headers) == set(first.headers)
    assert last.headers["Transfer-Encoding"] == "chunked"
    assert [(w.offset, w.size, w.what) for w in last.writes] == [
        (w.offset, w.size, w.what) for w in first.writes
    ]
    assert str(last.ending) == str(first.ending) == "completed"


@pytest.mark.parametrize(
    ("version", "extra", "closes"),
    [("1.0", "", True), ("1.1", "Connection: close\r\n", True)],
)
async def test_a_closing_client_gets_the_answer_aiohttp_writes_and_the_close(
    version: str, extra: str, closes: bool
) -> None:
    """HTTP/1.0 has no chunked body (it ends at the close): aiohttp writes it, a flat's
    too. A client that sends ``Connection: close`` gets it back and the close, from our
    one write (a flat's) as from aiohttp's writer (the first)."""
    asked = ASKED["openai-chat"]
    async with serve(EmulatorConfig(speed=0)) as emulator:
        answers = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
            try:
                writer.write(_request(asked, version, extra))
                answers.append(await _answer(reader))
                assert closes and await asyncio.wait_for(reader.read(1), _READ_SECONDS) == b""
            finally:
                writer.close()
    pattern = re.compile(asked.anew.encode())
    shapes = {pattern.sub(b"~", _DATE.sub(b"\r\nDate: ~\r\n", a)) for a in answers}
    assert len(shapes) == 1
    (shape,) = shapes
    head, _, body = shape.partition(b"\r\n\r\n")
    if version == "1.0":
        assert head.startswith(b"HTTP/1.0 200 OK") and b"Transfer-Encoding" not in head
        assert body.startswith(b"data: ") and body.endswith(b"data: [DONE]\n\n")
    else:
        assert b"\r\nConnection: close" in head and body.endswith(b"\r\n0\r\n\r\n")


_STREAM: Final = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


def _asked(
    method: str = "POST", version: str = "1.1", closing: bool = False, **headers: str
) -> web.Request:
    """A request as aiohttp parsed it (``closing``: the client said Connection: close)."""
    return make_mocked_request(method, "/v1/chat/completions", headers=CIMultiDict(headers),
                               version=HttpVersion10 if version == "1.0" else HttpVersion11,
                               closing=closing)  # fmt: skip


@pytest.mark.parametrize("closing", [False, True])
def test_the_head_is_aiohttp_s_for_an_http_1_1_stream(closing: bool) -> None:
    head = head_of(_asked(closing=closing), 200, _STREAM)
    assert head is not None
    assert head.before == (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nDate: "
    )
    close = "Connection: close\r\n" if closing else ""
    assert head.after == f"\r\nServer: {SERVER_SOFTWARE}\r\n{close}\r\n"
    assert head.keep_alive is not closing


@pytest.mark.parametrize(
    ("request_", "status", "headers"),
    [
        (_asked(version="1.0"), 200, _STREAM),
        (_asked(method="HEAD"), 200, _STREAM),
        (_asked(), 201, _STREAM),
        (_asked(), 200, {**_STREAM, "Content-Length": "10"}),
        (_asked(), 200, {**_STREAM, "date": "Mon, 01 Jan 2024 00:00:00 GMT"}),
        (_asked(), 200, {**_STREAM, "Connection": "keep-alive"}),
        (_asked(), 200, {**_STREAM, "X-Split": "a\r\nInjected: yes"}),
        (_asked(), 200, {"Cache-Control": "no-cache"}),
    ],
    ids=[
        "http-1.0",
        "head",
        "201",
        "length",
        "date",
        "connection",
        "crlf",
        "no-type",
    ],
)
def test_what_aiohttp_must_write_itself_has_no_head_of_ours(
    request_: web.Request, status: int, headers: dict[str, str]
) -> None:
    assert head_of(request_, status, headers) is None


_TOKEN: Final = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~",
                        min_size=1, max_size=20)  # fmt: skip
_VALUE: Final = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@given(
    headers=st.dictionaries(
        _TOKEN.filter(lambda name: name.lower() not in _OWN), _VALUE, max_size=6
    ),
    body=st.binary(max_size=3000),
    closing=st.booleans(),
)
@example(headers={}, body=b"", closing=False)
@example(headers={"content-type": "x", "X-A": "1", "x-a": "2"}, body=b"data: %s\r\n\n",
         closing=True)  # fmt: skip
def test_the_direct_write_is_what_aiohttp_writes_for_any_headers_and_body(
    headers: dict[str, str], body: bytes, closing: bool
) -> None:
    """Any answer head (but a header aiohttp sets itself) and body, to a client that
    keeps its connection or closes it: our one write is aiohttp's ``prepare`` and
    ``write_eof(body)``, byte for byte but the Date, and the connection is kept or
    closed as aiohttp keeps or closes it."""
    stream = {"Content-Type": "text/event-stream; charset=utf-8", **headers}
    ours, theirs = asyncio.run(_both_ways(stream, body, closing))
    assert _DATE.sub(b"\r\nDate: ~\r\n", ours) == _DATE.sub(b"\r\nDate: ~\r\n", theirs)


_OWN: Final = {"transfer-encoding", "content-length", "date", "server", "connection"}


async def _both_ways(headers: dict[str, str], body: bytes, closing: bool) -> tuple[bytes, bytes]:
    """The same answer from a bare aiohttp handler, written by us, then by aiohttp (on one
    connection, or with ``closing`` on one each, closed after its answer)."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await request.read()
        head = head_of(request, 200, headers)
        if request.path == "/ours":
            assert head is not None and writable(request)
            return sent_whole(request, head, headers, body)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        await response.write_eof(body)
        return response

    runner = web.ServerRunner(web.Server(handler, access_log=None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    close = "Connection: close\r\n" if closing else ""
    answers = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path in ("/ours", "/theirs"):  # one connection: kept after our answer
                if closing and answers:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{close}\r\n".encode())
                answers.append(await _answer(reader))
                if closing:  # and then the close
                    assert await asyncio.wait_for(reader.read(1), _READ_SECONDS) == b""
        finally:
            writer.close()
    finally:
        await runner.cleanup()
    return answers[0], answers[1]
