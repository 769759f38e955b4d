"""A client for the FakeGpt upstream (a shared ChatGPT front end).

``FakeGpt`` keeps the original provider's interface; underneath it decodes the
stream with a WHATWG-conformant SSE decoder and reports every failure as one
of :mod:`client.errors`.
"""

from ._version import __version__
from .errors import (
    AuthenticationError,
    CDNChallengeError,
    FakeGptError,
    IncompleteStreamError,
    LineTooLongError,
    LoginError,
    MessageTooLongError,
    NoAccountsError,
    NotLoggedInError,
    NoValidResponseError,
    RateLimitedError,
    SnapshotRewriteError,
    StreamError,
    UnexpectedResponseError,
    UpstreamConnectionError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTimeoutError,
)
from .helpers import format_prompt, get_random_string
from .provider import AsyncGeneratorProvider, FakeGpt, ReplyStream
from .sse import ServerSentEvent, SSEDecoder
from .typing import AsyncResult, CreateResult, Messages

__all__ = [
    "AsyncGeneratorProvider",
    "AsyncResult",
    "AuthenticationError",
    "CDNChallengeError",
    "CreateResult",
    "FakeGpt",
    "FakeGptError",
    "IncompleteStreamError",
    "LineTooLongError",
    "LoginError",
    "MessageTooLongError",
    "Messages",
    "NoAccountsError",
    "NoValidResponseError",
    "NotLoggedInError",
    "RateLimitedError",
    "ReplyStream",
    "SSEDecoder",
    "ServerSentEvent",
    "SnapshotRewriteError",
    "StreamError",
    "UnexpectedResponseError",
    "UpstreamConnectionError",
    "UpstreamStatusError",
    "UpstreamStreamError",
    "UpstreamTimeoutError",
    "__version__",
    "format_prompt",
    "get_random_string",
]
