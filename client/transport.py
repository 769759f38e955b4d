"""The client's HTTP plumbing: one request helper, its errors, reading a reply stream.

:func:`request` is how the provider talks to the upstream: it builds the
URL, follows no redirect, turns aiohttp's timeouts and errors into the
client's own, and raises by status. The provider (:mod:`client.provider`)
and this module are the client's only I/O.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import aiohttp

from .errors import (
    AuthenticationError,
    CDNChallengeError,
    FakeGptError,
    LineTooLongError,
    MessageTooLongError,
    RateLimitedError,
    UnexpectedResponseError,
    UpstreamConnectionError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from .options import Options
from .reader import ReplyReader
from .sse import SSELineTooLong

__all__ = ["json_body", "raise_for_status", "read_reply", "request", "require_event_stream"]

_ERROR_BODY_LIMIT = 64 * 1024


@asynccontextmanager
async def request(
    session: aiohttp.ClientSession,
    method: str,
    base: str,
    endpoint: str,
    *,
    proxy: str | None,
    check: bool = True,
    **kwargs: Any,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """``method base+endpoint``: the answer, with the client's errors for everything else.

    Redirects are never followed (credentials stay with their origin); with
    ``check`` a non-2xx answer raises (:func:`raise_for_status`).
    """
    async with _guard(
        session.request(method, base + endpoint, proxy=proxy, allow_redirects=False, **kwargs),
        endpoint,
        session.timeout,
    ) as response:
        if check:
            await raise_for_status(response, endpoint)
        yield response


async def read_reply(
    response: aiohttp.ClientResponse, options: Options
) -> AsyncGenerator[str, None]:
    reader = ReplyReader(max_line=options.max_line)
    dropped: BaseException | None = None
    chunks = response.content.iter_any().__aiter__()
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError as exc:
            raise _timeout(
                exc, "/api/conversation", len(reader.assembler.text), options.client_timeout()
            ) from exc
        except aiohttp.ClientError as exc:  # payload cut short, connection reset
            dropped = exc
            break
        # The deltas of one network chunk go out as one: the caller would
        # receive them at the same moment anyway, and the concatenation is the
        # same. Text that came before an error is still delivered first.
        parts: list[str] = []
        try:
            reader.feed(chunk, parts)
        except (SSELineTooLong, FakeGptError) as exc:
            if parts:
                yield "".join(parts)
            if isinstance(exc, SSELineTooLong):
                raise LineTooLongError(
                    f"an SSE line exceeded max_line={options.max_line:,} bytes; "
                    "raise max_line if replies this long are expected"
                ) from exc
            raise
        if parts:
            yield parts[0] if len(parts) == 1 else "".join(parts)
        if reader.assembler.done:
            break  # [DONE]: read no further, even if the server keeps the stream open
    reader.finish(dropped=dropped)


class _guard:
    """Enter a request context, turning timeouts and refused connections into ours."""

    __slots__ = ("_ctx", "_endpoint", "_limits")

    def __init__(
        self, ctx: Any, endpoint: str, limits: aiohttp.ClientTimeout | None = None
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._limits = limits

    async def __aenter__(self) -> aiohttp.ClientResponse:
        endpoint = self._endpoint
        try:
            response: aiohttp.ClientResponse = await self._ctx.__aenter__()
        except TimeoutError as exc:
            raise _timeout(exc, endpoint, 0, self._limits) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamConnectionError(
                f"{endpoint}: cannot connect to {exc.host}:{exc.port}: {exc.os_error}"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            raise UpstreamConnectionError(
                f"{endpoint}: the connection failed before an answer: {exc!r}"
            ) from exc
        except aiohttp.ClientError as exc:
            # What aiohttp's parser refused (a header too large, a bad status line).
            raise UnexpectedResponseError(f"{endpoint}: the answer cannot be read: {exc}") from exc
        return response

    async def __aexit__(self, *exc: Any) -> None:
        await self._ctx.__aexit__(*exc)


_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    getattr(aiohttp, name) for name in ("ConnectionTimeoutError",) if hasattr(aiohttp, name)
)


def _timeout(
    exc: BaseException,
    endpoint: str,
    received: int,
    limits: aiohttp.ClientTimeout | None = None,
) -> UpstreamTimeoutError:
    """The timeout error, saying which limit was hit and what it was set to."""
    if _CONNECT_TIMEOUT and isinstance(exc, _CONNECT_TIMEOUT):
        what = "no connection within the connect timeout"
        value = limits.connect if limits else None
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        what = "no bytes within the idle timeout"
        value = limits.sock_read if limits else None
    else:
        what = "the call's deadline passed (total_timeout)"
        value = limits.total if limits else None
    limit = f" of {value:g} s" if value is not None else ""
    return UpstreamTimeoutError(
        f"{endpoint}: {what}{limit} ({received} characters of reply received)"
    )


async def raise_for_status(response: aiohttp.ClientResponse, endpoint: str) -> None:
    if 200 <= response.status < 300:
        return
    if 300 <= response.status < 400:
        location = response.headers.get("Location", "")
        raise UnexpectedResponseError(
            f"{endpoint} answered a redirect (HTTP {response.status}) to {location!r}; the "
            f"client follows no redirects, so the access token and the prompt stay with "
            f"{response.url.origin()}"
        )
    text, is_html = await _body_text(response, endpoint)
    headers = dict(response.headers.items())
    detail: Any
    if is_html:
        detail = f"an HTML page instead of JSON (a CDN challenge?): {_html_title(text)!r}"
    else:
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
        detail = body.get("detail", body) if isinstance(body, dict) else text[:500]
    _raise_status(endpoint, response.status, detail, headers, is_html)


async def require_event_stream(response: aiohttp.ClientResponse, endpoint: str) -> None:
    """Refuse to decode a body that is not ``text/event-stream`` (as httpx-sse does)."""
    if response.content_type == "text/event-stream":
        return
    text, is_html = await _body_text(response, endpoint)
    shown = f"an HTML page {_html_title(text)!r}" if is_html else repr(text[:200])
    raise UnexpectedResponseError(
        f"{endpoint} answered HTTP {response.status} with Content-Type "
        f"{response.content_type!r}, not an event stream: {shown}"
    )


def _raise_status(
    endpoint: str, status: int, detail: Any, headers: dict[str, str], is_html: bool
) -> NoReturn:
    kind: Callable[..., UpstreamStatusError]
    if status == 403 and is_html:
        kind = CDNChallengeError
    elif status in (401, 403):
        kind = AuthenticationError
    elif status == 429:
        kind = RateLimitedError
    elif status == 413:
        kind = MessageTooLongError
    else:
        kind = UpstreamStatusError
    raise kind(endpoint, status, detail, headers=headers)


async def _read_limited(
    response: aiohttp.ClientResponse, endpoint: str, *, whole: bool = False
) -> bytes:
    """The body up to 64 KiB, read to its end (one ``read()`` may return only a part).

    ``whole``: a body cut short (the connection ended before its length, or
    before the end of its chunks) raises :class:`UpstreamConnectionError`;
    otherwise what arrived is kept (an error's body is only its detail).
    """
    parts: list[bytes] = []
    size = 0
    try:
        while size < _ERROR_BODY_LIMIT:
            part = await response.content.read(_ERROR_BODY_LIMIT - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
    except TimeoutError as exc:
        raise _timeout(exc, endpoint, 0) from exc
    except aiohttp.ClientError as exc:
        if whole:
            raise UpstreamConnectionError(
                f"{endpoint}: the connection ended before the answer was complete "
                f"({size} bytes received): {exc!r}"
            ) from exc
    return b"".join(parts)


async def _body_text(
    response: aiohttp.ClientResponse, endpoint: str, *, whole: bool = False
) -> tuple[str, bool]:
    """The answer's text (at most 64 KiB) and whether it is an HTML page, however labelled."""
    text = (await _read_limited(response, endpoint, whole=whole)).decode("utf-8", "replace")
    is_html = "html" in response.content_type or text.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    )
    return text, is_html


async def json_body(response: aiohttp.ClientResponse, endpoint: str) -> Any:
    text, is_html = await _body_text(response, endpoint, whole=True)
    if is_html:
        raise UnexpectedResponseError(
            f"{endpoint} answered an HTML page instead of JSON (a CDN challenge?): "
            f"{_html_title(text)!r}"
        )
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UnexpectedResponseError(
            f"{endpoint} answered a body that is not JSON: {text[:200]!r}"
        ) from exc


def _html_title(text: str) -> str:
    lower = text.lower()
    start = lower.find("<title>")
    end = lower.find("</title>", start)
    if start >= 0 and end > start:
        return text[start + 7 : end].strip()
    return text[:80].strip()
