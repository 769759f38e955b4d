"""What OpenAI's two APIs (Chat Completions and Responses) share: the key, the errors,
the token budget's words, how a message's content and the tools read. Pure.

Both dialect folders import this module; neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from ..protocol.errors import BadRequest
from ..scenario import HttpError
from .dialect import BudgetShape, Errors, json_error_message
from .speaker import Incoming, Whole, scripted_answer
from .strict import StrictRule

__all__ = [
    "BUDGET",
    "ERRORS",
    "MESSAGES",
    "OPENAI_CODES",
    "ROLES",
    "STREAM_TYPE",
    "UNREADABLE",
    "check_key",
    "content_text",
    "duration_text",
    "error_body",
    "error_object",
    "scripted_error",
    "token_headers",
    "token_limit_message",
    "tool_names",
]

ROLES: Final = ("system", "developer", "user", "assistant", "tool")
UNREADABLE: Final = "We could not parse the JSON body of your request"

STREAM_TYPE: Final = StrictRule(
    "openai_chat.stream_type",
    '`stream` that is not a boolean (the string "true")',
    "Invalid type for 'stream': expected a boolean, but got a {kind} instead.",
    "https://platform.openai.com/docs/api-reference/chat/create",
    switchable=False,
)

MESSAGES: Final = {
    401: "Incorrect API key provided.",
    403: "Country, region, or territory not supported.",
    413: "Request too large for this model. Please reduce the length of the messages.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}

#: OpenAI's error code, by an error fault's cause (none: its usual server_error).
OPENAI_CODES: Final[Mapping[str, str]] = {
    "": "server_error",
    "internal": "server_error",
    "overloaded": "server_is_overloaded",
    "rate_limited": "rate_limit_exceeded",
}

#: Each status's error ``type`` and ``code``, as the API answers them.
_ERRORS: Final[dict[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "context_length_exceeded"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "overloaded"),
}


def check_key(incoming: Incoming) -> None:
    header = incoming.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise BadRequest(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if scheme.lower() != "bearer" or not key.strip().startswith("sk-"):
        raise BadRequest(401, f"Incorrect API key provided: {key.strip()[:8]}***.")


def tool_names(tools: Any) -> tuple[str, ...]:
    """The names of the tools a request offers (OpenAI's ``{"type": "function", …}``, with
    the name in ``function`` for Chat and beside it for Responses)."""
    if not isinstance(tools, list):
        return ()
    names = []
    for tool in tools:
        if isinstance(tool, dict):
            inner = tool.get("function")
            name = inner.get("name") if isinstance(inner, dict) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return tuple(names)


def content_text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)  # type: ignore[arg-type]
    if content is None:
        return ""
    raise BadRequest(400, f"Invalid 'messages[{i}].content': expected a string or text parts.")


def error_object(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind, code = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_body(status: int, message: str, param: str | None = None) -> bytes:
    return json.dumps(error_object(status, message, param)).encode()


def scripted_error(error: HttpError) -> Whole:
    """A scenario's HTTP error in the API's shape (with Retry-After, as the API sends it)."""
    limits = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0"}
    message = error.detail or MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message),
                           limits if error.status == 429 else {})  # fmt: skip


def duration_text(seconds: float) -> str:
    """A wait as OpenAI's ``x-ratelimit-reset-*`` headers write it: ``6m0s``, ``1.5s``,
    ``20ms``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    minutes, rest = divmod(seconds, 60)
    whole = f"{rest:.0f}" if rest == int(rest) else f"{rest:.3g}"
    return f"{int(minutes)}m{whole}s" if minutes else f"{whole}s"


def token_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    """A token budget as OpenAI's headers tell it."""
    return {
        "x-ratelimit-limit-tokens": str(limit),
        "x-ratelimit-remaining-tokens": str(remaining),
        "x-ratelimit-reset-tokens": duration_text(reset),
    }


def token_limit_message(limit: int, remaining: int, reset: float, asked: int, model: str) -> str:
    """The 429's message when a token budget cannot cover a request, in OpenAI's words."""
    return (
        f"Rate limit reached for {model or 'this model'} on tokens per min (TPM): Limit "
        f"{limit}, Used {limit - remaining}, Requested {asked}. Please try again in "
        f"{duration_text(reset)}. Visit https://platform.openai.com/account/rate-limits to "
        "learn more."
    )


#: A token budget in OpenAI's headers and words.
BUDGET: Final = BudgetShape(
    lambda b: token_headers(b.limit, b.remaining, b.reset),
    lambda b, asked, model: token_limit_message(b.limit, b.remaining, b.reset, asked, model),
)

#: How OpenAI's errors look, on both APIs.
ERRORS: Final = Errors(error_body, scripted_error, json_error_message, budget=BUDGET)
