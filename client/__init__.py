"""A client for the FakeGpt upstream (a shared ChatGPT front end).

``FakeGpt`` keeps the original provider's interface; underneath it decodes the
stream with a WHATWG-conformant SSE decoder and reports every failure as one
of :mod:`client.errors`.
"""

from . import errors
from ._version import __version__
from .errors import *  # noqa: F403 - the error tree, exactly as errors.__all__ lists it
from .helpers import format_prompt, get_random_string
from .provider import AsyncGeneratorProvider, FakeGpt, ReplyStream
from .sse import ServerSentEvent, SSEDecoder
from .typing import AsyncResult, CreateResult, Messages

__all__ = [
    *errors.__all__,
    "AsyncGeneratorProvider",
    "AsyncResult",
    "CreateResult",
    "FakeGpt",
    "Messages",
    "ReplyStream",
    "SSEDecoder",
    "ServerSentEvent",
    "__version__",
    "format_prompt",
    "get_random_string",
]
