"""An answer that is one write, sent in one: its head, its body as one chunk, and the end of
the chunked body go to the socket together, written here rather than by aiohttp's
response writer.

What :func:`~emulator.engine.play.play` does with a stream that is a single write with
nothing around it (a stream asked for again at speed 0: a :class:`~emulator.protocol.steps.Run`,
a template's :class:`~emulator.protocol.steps.Write`). aiohttp's ``prepare`` and
``write_eof`` cost about 17 us a request here for what is, on the wire, the same bytes.
The bytes are those aiohttp writes: the status line, the answer's headers in their order,
then ``Transfer-Encoding``, ``Date`` and ``Server`` as aiohttp adds them; the body is one
chunk, as aiohttp's ``write_eof(body)`` sends it, then the last chunk. Anything else (a
request that is not HTTP/1.1, a HEAD, a status but 200, a header aiohttp would
set or drop itself, a large body, a connection closing or busy) is left to aiohttp:
:func:`head_of` says None. A client that sends ``Connection: close`` gets it back, and
the connection closes after the answer, as aiohttp closes it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import formatdate
from typing import Final, NamedTuple

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11

__all__ = ["DIRECT_BYTES", "Head", "Written", "head_of", "sent_head", "sent_whole", "writable",
           "written"]  # fmt: skip

#: A body of at most this many bytes is sent in one write (a larger one goes through
#: aiohttp in pieces, each waiting for the reader: :data:`~.body.WRITE_BYTES`).
DIRECT_BYTES: Final = 64 * 1024

#: Headers aiohttp sets, replaces or drops itself: an answer carrying one is left to it.
_ITS_OWN: Final = frozenset({"transfer-encoding", "content-length", "date", "server",
                             "connection"})  # fmt: skip


class Head(NamedTuple):
    """The head aiohttp writes for a chunked answer, around its Date's value."""

    before: str  # the status line and the answer's headers, to the Date's value
    after: str  # the rest: Server, and Connection when the client closes
    keep_alive: bool  # whether the connection stays open for the next request


class Written(web.StreamResponse):
    """The response of an answer already on the socket (:func:`sent_whole`, the pacer):
    aiohttp, finishing the request, prepares and ends it, and both are done; the
    connection stays open for the next request, or closes, as aiohttp would have it."""

    def __init__(self, *, keep_alive: bool, headers: Mapping[str, str]) -> None:
        super().__init__(headers=headers)
        self._kept_alive = keep_alive

    @property
    def prepared(self) -> bool:
        return True

    @property
    def keep_alive(self) -> bool:
        return self._kept_alive

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def head_of(request: web.BaseRequest, status: int, headers: Mapping[str, str]) -> Head | None:
    """The head aiohttp would write for a chunked answer with ``headers``; None when this
    answer is aiohttp's to write (see the module's docstring)."""
    if status != 200 or request.version != HttpVersion11 or request.method == "HEAD":
        return None
    if "Content-Type" not in headers:
        return None
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    n = len(headers)
    # A line break inside a name or value, which aiohttp refuses; a name it sets itself.
    if lines.count("\r") != n or lines.count("\n") != n:
        return None
    if any(name.lower() in _ITS_OWN for name in headers):
        return None
    keep_alive = request.keep_alive
    return Head(
        f"HTTP/1.1 200 OK\r\n{lines}Transfer-Encoding: chunked\r\nDate: ",
        f"\r\nServer: {SERVER_SOFTWARE}\r\n\r\n"
        if keep_alive
        else f"\r\nServer: {SERVER_SOFTWARE}\r\nConnection: close\r\n\r\n",
        keep_alive,
    )


def writable(request: web.BaseRequest) -> bool:
    """Whether :func:`sent_whole` may write now: the connection is open and has nothing
    still unsent (else the caller answers as usual)."""
    transport = request.transport
    return not (transport is None or transport.is_closing() or transport.get_write_buffer_size())


def sent_whole(
    request: web.BaseRequest, head: Head, headers: Mapping[str, str], body: bytes
) -> Written:
    """Write the answer (``head`` from :func:`head_of`, ``body`` as one chunk and the end)
    in one write, when :func:`writable` says it may; its response, with the headers
    sent."""
    transport = request.transport
    assert transport is not None  # writable() said so
    date = _date()
    start = f"{head.before}{date}{head.after}"
    transport.write(
        b"".join(((f"{start}{len(body):x}\r\n").encode(), body, b"\r\n0\r\n\r\n"))
        if body
        else f"{start}0\r\n\r\n".encode()
    )
    return written(head, headers, date)


def sent_head(request: web.BaseRequest, head: Head) -> str | None:
    """Write the head alone (``head`` from :func:`head_of`), as aiohttp's ``prepare`` does:
    its Date; None: nothing was written (:func:`writable` said no). The body is the
    caller's to write, chunked."""
    if not writable(request):
        return None
    transport = request.transport
    assert transport is not None  # writable() said so
    date = _date()
    transport.write(f"{head.before}{date}{head.after}".encode())
    return date


def written(head: Head, headers: Mapping[str, str], date: str, *, whole: bool = True) -> Written:
    """The response of an answer written with ``head`` (its headers as they were sent);
    not ``whole``, it was cut short, and its connection is not kept."""
    response = Written(keep_alive=head.keep_alive and whole, headers=headers)
    more = response.headers
    more["Transfer-Encoding"] = "chunked"
    more["Date"] = date
    more["Server"] = SERVER_SOFTWARE
    if not head.keep_alive:
        more["Connection"] = "close"
    return response


def _date() -> str:
    """The Date header's value (RFC 9110's IMF-fixdate), made once a second."""
    now = int(time.time())
    second, text = _dated[0]
    if now != second:
        text = formatdate(now, usegmt=True)
        _dated[0] = (now, text)
    return text


#: The second the Date was last made for, and its text (one item: replaced whole).
_dated: list[tuple[int, str]] = [(0, "")]
