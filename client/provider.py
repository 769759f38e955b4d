"""``FakeGpt``: log in to the shared front end and stream a reply.

With :mod:`client.transport` (its one request helper), the client's only I/O.

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
import random
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, Coroutine, Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from aiohttp.abc import AbstractCookieJar

from .errors import (
    NoAccountsError,
    NotLoggedInError,
    UnexpectedResponseError,
)
from .helpers import format_prompt, get_random_string
from .options import DEFAULT_MAX_LINE, DEFAULT_TOTAL_TIMEOUT, Options
from .transport import json_body, raise_for_status, read_reply, request, require_event_stream
from .typing import AsyncResult, CreateResult, Messages

__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_TOTAL_TIMEOUT",
    "AsyncGeneratorProvider",
    "FakeGpt",
    "ReplyStream",
]

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

    @_cookie_jar.setter
    def _cookie_jar(cls, jar: AbstractCookieJar | None) -> None:
        # Code written for the original provider forgets a login with
        # ``FakeGpt._cookie_jar = None``: it still does (for the current url).
        if jar is not None:
            raise TypeError(
                f"{cls.__name__}._cookie_jar is the login's own jar and cannot be replaced; "
                "assign None to forget the login for the current url"
            )
        _LOGINS.get(cls, {}).pop(_base(cls.url), None)  # type: ignore[attr-defined]


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
        options = Options.from_kwargs(kwargs)
        return ReplyStream(cls._stream(prompt, proxy, options))

    @classmethod
    def reset(cls) -> None:
        """Forget this class's logins, for every URL (the next call logs in)."""
        _LOGINS.pop(cls, None)

    @classmethod
    async def _stream(
        cls, prompt: str, proxy: str | None, options: Options
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
                async with request(
                    session,
                    "POST",
                    base,
                    "/api/conversation",
                    proxy=proxy,
                    check=False,  # a 401 or 403 first gets one fresh login
                    json=_conversation_body(prompt),
                    headers={
                        "Content-Type": "application/json",
                        "Accept": "text/event-stream",
                        "X-Authorization": f"Bearer {token}",
                    },
                ) as response:
                    if response.status in (401, 403) and attempt == 1:
                        cls._forget(base, token)
                        continue
                    await raise_for_status(response, "/api/conversation")
                    await require_event_stream(response, "/api/conversation")
                    async for delta in read_reply(response, options):
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
    params = {"t": str(int(time.time()))}
    async with request(session, "GET", url, "/api/loads", proxy=proxy, params=params) as answer:
        body = await json_body(answer, "/api/loads")
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
    async with request(session, "POST", url, "/auth/login", proxy=proxy, data=form):
        pass
    async with request(session, "GET", url, "/api/auth/session", proxy=proxy) as answer:
        session_body = await json_body(answer, "/api/auth/session")
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
