"""``FakeGpt``: log in to the shared front end and stream a reply. The only I/O.

The flow (``/api/loads`` → ``/auth/login`` → ``/api/auth/session`` →
``/api/conversation``) is the original provider's; what changed is how it
fails: every non-2xx answer, stall and dropped connection raises one of
:mod:`client.errors`, the access token is fetched once under a lock and
refreshed once on a 401/403, and the stream is decoded by
:class:`client.sse.SSEDecoder` from raw chunks, so there is no line limit and
``[DONE]`` ends the reply at once even if the server keeps the connection.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import aiohttp
from aiohttp.abc import AbstractCookieJar

from .conversation import ReplyAssembler
from .errors import (
    AuthenticationError,
    CDNChallengeError,
    FakeGptError,
    LineTooLongError,
    MessageTooLongError,
    NoAccountsError,
    NotLoggedInError,
    RateLimitedError,
    UnexpectedResponseError,
    UpstreamConnectionError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from .helpers import format_prompt, get_random_string
from .sse import SSEDecoder, SSELineTooLong
from .typing import AsyncResult, CreateResult, Messages

__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_TOTAL_TIMEOUT",
    "AsyncGeneratorProvider",
    "FakeGpt",
    "ReplyStream",
]

#: The longest SSE line the client buffers (64 MiB): a reply's cumulative
#: snapshot is one line, and ~16 million characters of reply is far past any
#: real one, while an endless line from a hostile server stops here.
DEFAULT_MAX_LINE = 64 * 1024 * 1024
#: The deadline for one whole call (seconds), as openai-python's default: a
#: stream that never ends (pings forever) stops here. ``total_timeout=None``
#: turns it off.
DEFAULT_TOTAL_TIMEOUT = 600.0
_ERROR_BODY_LIMIT = 64 * 1024

_BROWSER_HEADERS = {
    "Accept-Language": "en-US",
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/117.0.0.0 Safari/537.36"
    ),
    "Referer": "https://chat-shared2.zhile.io/?v=2",
    "sec-ch-ua": '"Google Chrome";v="117", "Not;A=Brand";v="8", "Chromium";v="117"',
    "sec-ch-ua-platform": '"Linux"',
    "sec-ch-ua-mobile": "?0",
}


class ReplyStream(AsyncGenerator[str, None]):
    """The async generator of deltas that ``create_async_generator`` returns.

    It is an ordinary async generator (``async for``, ``aclose()``), and it
    can also be awaited (giving itself), so code written after the original
    provider's documentation, ``stream = await create_async_generator(…)``,
    works too. ``async with`` closes it deterministically.
    """

    __slots__ = ("_agen",)

    def __init__(self, agen: AsyncGenerator[str, None]) -> None:
        self._agen = agen

    def __aiter__(self) -> ReplyStream:
        return self

    def __anext__(self) -> Coroutine[Any, Any, str]:
        # The generator's own awaitable, not a coroutine around it: one frame
        # less for every delta.
        return self._agen.__anext__()

    async def asend(self, value: None) -> str:
        return await self._agen.asend(value)

    async def athrow(self, *args: Any) -> str:
        return await self._agen.athrow(*args)

    async def aclose(self) -> None:
        await self._agen.aclose()

    def __await__(self) -> Generator[Any, None, ReplyStream]:
        return self._itself().__await__()

    async def _itself(self) -> ReplyStream:
        return self

    async def __aenter__(self) -> ReplyStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncGeneratorProvider:
    """The provider interface (as g4f's): subclasses implement ``create_async_generator``."""

    url: ClassVar[str] = ""
    working: ClassVar[bool] = False
    supports_stream: ClassVar[bool] = True
    supports_gpt_35_turbo: ClassVar[bool] = False
    supports_gpt_4: ClassVar[bool] = False
    supports_message_history: ClassVar[bool] = False

    @classmethod
    def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncResult:
        raise NotImplementedError(f"{cls.__name__} does not implement create_async_generator")

    @classmethod
    async def create_async(cls, model: str, messages: Messages, **kwargs: Any) -> str:
        """The whole reply as one string."""
        stream = cls.create_async_generator(model, messages, **kwargs)
        try:
            return "".join([delta async for delta in stream])
        finally:
            await stream.aclose()

    @classmethod
    def create_completion(
        cls, model: str, messages: Messages, stream: bool = True, **kwargs: Any
    ) -> CreateResult:
        """A synchronous iterator of deltas (or one whole reply when ``stream`` is false).

        It runs its own event loop, so it cannot be called from a coroutine.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "create_completion runs its own event loop and cannot be called from a "
                "running one; use create_async_generator or create_async there"
            )
        return _run_sync(cls, model, messages, stream, kwargs)


def _run_sync(
    cls: type[AsyncGeneratorProvider],
    model: str,
    messages: Messages,
    stream: bool,
    kwargs: dict[str, Any],
) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    agen = cls.create_async_generator(model, messages, **kwargs)
    try:
        if not stream:
            yield loop.run_until_complete(_join(agen))
            return
        while True:
            try:
                delta = loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
            yield delta
    finally:
        try:
            loop.run_until_complete(agen.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _join(agen: AsyncGenerator[str, None]) -> str:
    return "".join([delta async for delta in agen])


@dataclass(frozen=True, slots=True)
class _Options:
    timeout: float | None
    idle_timeout: float | None
    total_timeout: float | None
    max_line: int | None
    headers: dict[str, str]

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> _Options:
        timeout = _seconds("timeout", kwargs.get("timeout", 60.0))
        idle = _seconds("idle_timeout", kwargs.get("idle_timeout", timeout))
        total = _seconds("total_timeout", kwargs.get("total_timeout", DEFAULT_TOTAL_TIMEOUT))
        max_line = kwargs.get("max_line", DEFAULT_MAX_LINE)
        if max_line is not None and (not isinstance(max_line, int) or max_line < 1):
            raise ValueError(f"max_line must be a positive int or None, got {max_line!r}")
        headers = kwargs.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError(f"headers must map strings to strings, got {headers!r:.80}")
        return cls(timeout, idle, total, max_line, dict(headers))

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total_timeout,
            connect=self.timeout,
            sock_connect=self.timeout,
            sock_read=self.idle_timeout,
        )


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class _Login:
    """One login's result: the access token, and the cookies the login set."""

    token: str
    cookie_jar: AbstractCookieJar | None = None


#: Logins by provider class (its own, never inherited), then by base URL:
#: a token goes back only to the server that issued it, to the class that
#: asked for it.
_LOGINS: weakref.WeakKeyDictionary[type, dict[str, _Login]] = weakref.WeakKeyDictionary()


def _base(url: str) -> str:
    return url.rstrip("/")


class _LoginCache(type):
    """The metaclass of :class:`FakeGpt`: ``_access_token`` and ``_cookie_jar`` as views.

    The original provider kept one token in a class attribute, so changing
    ``url`` sent the old server's token to the new one, and a subclass
    inherited its parent's. These attributes now read (and write) the login
    of this very class for its current ``url``.
    """

    @property
    def _access_token(cls) -> str | None:
        login = _LOGINS.get(cls, {}).get(_base(cls.url))  # type: ignore[attr-defined]
        return login.token if login is not None else None

    @_access_token.setter
    def _access_token(cls, token: str | None) -> None:
        logins = _LOGINS.setdefault(cls, {})
        base = _base(cls.url)  # type: ignore[attr-defined]
        if token is None:
            logins.pop(base, None)
        else:
            logins[base] = _Login(token)

    @property
    def _cookie_jar(cls) -> AbstractCookieJar | None:
        login = _LOGINS.get(cls, {}).get(_base(cls.url))  # type: ignore[attr-defined]
        return login.cookie_jar if login is not None else None


class FakeGpt(AsyncGeneratorProvider, metaclass=_LoginCache):
    """The shared ChatGPT front end, as the original provider reached it.

    Options (keywords of ``create_async_generator``): ``proxy``; ``timeout``
    (seconds to connect, and the default idle time allowed between bytes,
    60); ``idle_timeout``; ``total_timeout`` (a deadline for one whole call,
    :data:`DEFAULT_TOTAL_TIMEOUT`; None: none); ``max_line`` (bytes,
    :data:`DEFAULT_MAX_LINE`); ``headers`` (sent with every request to
    ``url``, e.g. ``{"X-Emulator-Scenario": "stall_silent"}``).

    ``url`` defaults to the original front end, which is gone: point it at
    the emulator (``python -m emulator``, then ``FakeGpt.url =
    "http://localhost:8080"``).

    The access token is cached per class and per ``url``
    (``FakeGpt._access_token`` shows the one for the current ``url``), and
    never sent anywhere else: redirects are not followed.
    """

    #: The original shared front end (offline since 2024); set the emulator's URL.
    url: ClassVar[str] = "https://chat-shared2.zhile.io"
    supports_gpt_35_turbo: ClassVar[bool] = True
    working: ClassVar[bool] = True
    # One login at a time per event loop (an asyncio.Lock belongs to one loop).
    _login_locks: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> ReplyStream:
        """Deltas of the reply; their concatenation is exactly the reply's text."""
        prompt = format_prompt(messages)  # bad messages fail here, not mid-iteration
        options = _Options.from_kwargs(kwargs)
        return ReplyStream(cls._stream(prompt, proxy, options))

    @classmethod
    def reset(cls) -> None:
        """Forget this class's logins, for every URL (the next call logs in)."""
        _LOGINS.pop(cls, None)

    @classmethod
    async def _stream(
        cls, prompt: str, proxy: str | None, options: _Options
    ) -> AsyncGenerator[str, None]:
        base = _base(cls.url)  # the server this call talks to, whatever happens to cls.url
        async with aiohttp.ClientSession(
            headers={**_BROWSER_HEADERS, **options.headers},
            timeout=options.client_timeout(),
            # unsafe=True: the default jar drops cookies from IP-address hosts,
            # so with http://127.0.0.1:PORT the login cookie was never sent back.
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        ) as session:
            for attempt in (1, 2):
                token = await cls._ensure_token(session, base, proxy)
                async with _guard(
                    session.post(
                        f"{base}/api/conversation",
                        json=_conversation_body(prompt),
                        headers={
                            "Content-Type": "application/json",
                            "Accept": "text/event-stream",
                            "X-Authorization": f"Bearer {token}",
                        },
                        proxy=proxy,
                        allow_redirects=False,
                    ),
                    "/api/conversation",
                    session.timeout,
                ) as response:
                    if response.status in (401, 403) and attempt == 1:
                        cls._forget(base, token)
                        continue
                    await _raise_for_status(response, "/api/conversation")
                    await _require_event_stream(response, "/api/conversation")
                    async for delta in _read_reply(response, options):
                        yield delta
                    return

    @classmethod
    async def _ensure_token(
        cls, session: aiohttp.ClientSession, base: str, proxy: str | None
    ) -> str:
        logins = _LOGINS.setdefault(cls, {})
        login = logins.get(base)
        if login is not None:
            return login.token
        loop = asyncio.get_running_loop()
        lock = cls._login_locks.setdefault(loop, asyncio.Lock())
        async with lock:
            login = logins.get(base)
            if login is not None:  # another task logged in while this one waited
                return login.token
            token = await _login(base, session, proxy)
            logins[base] = _Login(token, session.cookie_jar)
            return token

    @classmethod
    def _forget(cls, base: str, token: str) -> None:
        # Only the token that failed: a concurrent task may have replaced it.
        logins = _LOGINS.get(cls, {})
        login = logins.get(base)
        if login is not None and login.token == token:
            del logins[base]


async def _login(url: str, session: aiohttp.ClientSession, proxy: str | None) -> str:
    async with _guard(
        session.get(
            f"{url}/api/loads",
            params={"t": str(int(time.time()))},
            proxy=proxy,
            allow_redirects=False,
        ),
        "/api/loads",
        session.timeout,
    ) as response:
        await _raise_for_status(response, "/api/loads")
        body = await _json_body(response, "/api/loads")
    loads = body.get("loads") if isinstance(body, dict) else None
    if not isinstance(loads, list):
        raise UnexpectedResponseError(f"/api/loads answered without a 'loads' list: {body!r:.200}")
    token_ids = [
        item["token_id"]
        for item in loads
        if isinstance(item, dict) and isinstance(item.get("token_id"), str)
    ]
    if not token_ids:
        raise NoAccountsError("/api/loads listed no shared accounts to log in with")
    form = {"token_key": random.choice(token_ids), "session_password": get_random_string()}
    async with _guard(
        session.post(f"{url}/auth/login", data=form, proxy=proxy, allow_redirects=False),
        "/auth/login",
        session.timeout,
    ) as response:
        await _raise_for_status(response, "/auth/login")
    async with _guard(
        session.get(f"{url}/api/auth/session", proxy=proxy, allow_redirects=False),
        "/api/auth/session",
        session.timeout,
    ) as response:
        await _raise_for_status(response, "/api/auth/session")
        session_body = await _json_body(response, "/api/auth/session")
    token = session_body.get("accessToken") if isinstance(session_body, dict) else None
    if not isinstance(token, str) or not token:
        raise NotLoggedInError(
            "not logged in: /api/auth/session gave no accessToken after /auth/login "
            "(the login cookie was not accepted)"
        )
    return token


def _conversation_body(prompt: str) -> dict[str, Any]:
    return {
        "action": "next",
        "messages": [
            {
                "id": str(uuid.uuid4()),
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
                "metadata": {},
            }
        ],
        "parent_message_id": str(uuid.uuid4()),
        "model": "text-davinci-002-render-sha",
        "plugin_ids": [],
        "timezone_offset_min": -120,
        "suggestions": [],
        "history_and_training_disabled": True,
        "arkose_token": "",
        "force_paragen": False,
    }


async def _read_reply(
    response: aiohttp.ClientResponse, options: _Options
) -> AsyncGenerator[str, None]:
    decoder = SSEDecoder(max_line=options.max_line)
    assembler = ReplyAssembler()
    dropped: BaseException | None = None
    chunks = response.content.iter_any().__aiter__()
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError as exc:
            raise _timeout(
                exc, "/api/conversation", len(assembler.text), options.client_timeout()
            ) from exc
        except aiohttp.ClientError as exc:  # payload cut short, connection reset
            dropped = exc
            break
        try:
            events = decoder.feed(chunk)
        except SSELineTooLong as exc:
            raise LineTooLongError(
                f"an SSE line exceeded max_line={options.max_line:,} bytes; "
                "raise max_line if replies this long are expected"
            ) from exc
        # The deltas of one network chunk go out as one: the caller would
        # receive them at the same moment anyway, and the concatenation is the
        # same. Text that came before an error is still delivered first.
        parts: list[str] = []
        try:
            for event in events:
                delta = assembler.feed(event)
                if delta:
                    parts.append(delta)
        except FakeGptError:
            if parts:
                yield "".join(parts)
            raise
        if parts:
            yield parts[0] if len(parts) == 1 else "".join(parts)
        if assembler.done:
            break  # [DONE]: read no further, even if the server keeps the stream open
    decoder.close()
    assembler.finish(dropped=dropped)


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


async def _raise_for_status(response: aiohttp.ClientResponse, endpoint: str) -> None:
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


async def _require_event_stream(response: aiohttp.ClientResponse, endpoint: str) -> None:
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


async def _read_limited(response: aiohttp.ClientResponse, endpoint: str) -> bytes:
    try:
        return await response.content.read(_ERROR_BODY_LIMIT)
    except TimeoutError as exc:
        raise _timeout(exc, endpoint, 0) from exc
    except aiohttp.ClientError:
        return b""


async def _body_text(response: aiohttp.ClientResponse, endpoint: str) -> tuple[str, bool]:
    """The answer's text (at most 64 KiB) and whether it is an HTML page, however labelled."""
    text = (await _read_limited(response, endpoint)).decode("utf-8", "replace")
    is_html = "html" in response.content_type or text.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    )
    return text, is_html


async def _json_body(response: aiohttp.ClientResponse, endpoint: str) -> Any:
    text, is_html = await _body_text(response, endpoint)
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
