"""The client's errors.

Every error is a :class:`FakeGptError`, which is an :class:`aiohttp.ClientError`,
so code that already catches aiohttp's errors around a provider call keeps
working. Two keep older contracts as well:

* :class:`NoValidResponseError` is a :class:`RuntimeError` whose message
  contains ``"No valid response"``, as the original provider raised.
* :class:`UpstreamTimeoutError` is a :class:`TimeoutError`.
* :class:`UpstreamConnectionError` is a :class:`ConnectionError`.

::

    FakeGptError (aiohttp.ClientError)
    ├── UpstreamStatusError            non-2xx answer: .status, .detail, .endpoint
    │   ├── AuthenticationError        401 / 403 (after one fresh login and retry)
    │   │   └── CDNChallengeError      403 with an HTML page from the CDN
    │   ├── RateLimitedError           429: .retry_after
    │   └── MessageTooLongError        413
    ├── LoginError                     the login flow cannot go on
    │   ├── NoAccountsError            /api/loads listed no accounts
    │   └── NotLoggedInError           /api/auth/session answered {} (no token)
    ├── UnexpectedResponseError        an answer that is not what the protocol says
    │                                  (a redirect, a 200 that is no event stream, …)
    ├── UpstreamConnectionError        cannot connect, or the connection failed (ConnectionError)
    ├── StreamError                    the reply stream went wrong
    │   ├── UpstreamStreamError        the stream carried an "error": .detail
    │   ├── IncompleteStreamError      the stream ended before the reply did
    │   ├── SnapshotRewriteError       a snapshot rewrote text already yielded
    │   └── LineTooLongError           one SSE line exceeded max_line bytes
    ├── UpstreamTimeoutError           no bytes within a timeout (TimeoutError)
    └── NoValidResponseError           no text at all (RuntimeError)
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = [
    "AuthenticationError",
    "CDNChallengeError",
    "FakeGptError",
    "IncompleteStreamError",
    "LineTooLongError",
    "LoginError",
    "MessageTooLongError",
    "NoAccountsError",
    "NoValidResponseError",
    "NotLoggedInError",
    "RateLimitedError",
    "SnapshotRewriteError",
    "StreamError",
    "UnexpectedResponseError",
    "UpstreamConnectionError",
    "UpstreamStatusError",
    "UpstreamStreamError",
    "UpstreamTimeoutError",
]


class FakeGptError(aiohttp.ClientError):
    """Root of the client's errors."""


class UpstreamStatusError(FakeGptError):
    """The upstream answered with a non-2xx status.

    ``detail`` is the upstream's ``detail`` (a string, or a dict with
    ``message`` and ``code``), or the start of the body when it had none.
    """

    def __init__(
        self, endpoint: str, status: int, detail: Any, *, headers: dict[str, str] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        super().__init__(f"{endpoint} answered HTTP {status}: {describe_detail(detail)}")


class AuthenticationError(UpstreamStatusError):
    """401 or 403 that a fresh login did not cure."""


class CDNChallengeError(AuthenticationError):
    """A 403 carrying an HTML page (a CDN challenge) instead of JSON."""


class RateLimitedError(UpstreamStatusError):
    """429; ``retry_after`` is the ``Retry-After`` header in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class MessageTooLongError(UpstreamStatusError):
    """413: the prompt is longer than the upstream accepts."""


class LoginError(FakeGptError):
    """The login flow (loads, login, session) cannot go on."""


class NoAccountsError(LoginError):
    """``/api/loads`` listed no shared accounts to log in with."""


class NotLoggedInError(LoginError):
    """``/api/auth/session`` gave no access token: the login did not take."""


class UnexpectedResponseError(FakeGptError):
    """An answer that is not what the protocol says: a body of the wrong shape or
    type, a redirect (never followed: credentials stay with their origin), or
    an answer aiohttp could not parse (a header too large, say)."""


class UpstreamConnectionError(FakeGptError, ConnectionError):
    """The upstream could not be reached, or the connection failed before an answer."""


class StreamError(FakeGptError):
    """The reply stream went wrong."""


class UpstreamStreamError(StreamError):
    """The stream carried an ``error`` (the front end shows it and stops)."""

    def __init__(self, detail: Any) -> None:
        self.detail = detail
        super().__init__(
            f"the upstream reported an error in the stream: {describe_detail(detail)}"
        )


class IncompleteStreamError(StreamError):
    """The stream ended (or the connection dropped) before the reply was complete.

    ``text`` is what had been received; it is *not* the whole reply.
    """

    def __init__(self, message: str, text: str = "") -> None:
        self.text = text
        super().__init__(message)


class SnapshotRewriteError(StreamError):
    """A cumulative snapshot is not an extension of the text already yielded.

    Deltas cannot be taken back, so rather than yield text whose concatenation
    would differ from the upstream's, the stream stops here. ``yielded`` is
    what the caller has; ``snapshot`` is the text the upstream now sends.
    """

    def __init__(self, yielded: str, snapshot: str) -> None:
        self.yielded = yielded
        self.snapshot = snapshot
        super().__init__(
            "the upstream rewrote text already streamed "
            f"({len(yielded)} characters yielded, the new snapshot diverges "
            f"at character {_common_prefix(yielded, snapshot)})"
        )


class LineTooLongError(StreamError):
    """One SSE line grew past the client's ``max_line`` bytes (memory stays bounded)."""


class UpstreamTimeoutError(FakeGptError, TimeoutError):
    """No answer or no bytes within the connect or idle timeout, or past the deadline."""


class NoValidResponseError(FakeGptError, RuntimeError):
    """The upstream's reply held no text (the original provider's contract)."""

    def __init__(self, message: str = "No valid response") -> None:
        super().__init__(message)


def describe_detail(detail: Any) -> str:
    """The upstream's ``detail`` as one line of text."""
    if isinstance(detail, dict):
        message = detail.get("message")
        code = detail.get("code")
        if message is not None and code is not None:
            return f"{message} ({code})"
        if message is not None:
            return str(message)
    return str(detail)


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
