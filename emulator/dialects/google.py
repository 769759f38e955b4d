"""What Google's two Gemini APIs (generateContent and Live) share: the key, the errors, a
call's arguments. Pure.

Both dialect folders import this module; neither imports the other.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ..protocol.errors import BadRequest
from ..scenario import HttpError
from .dialect import Errors, json_error_message
from .speaker import Incoming, Whole, scripted_answer

__all__ = ["ERRORS", "MESSAGES", "STATUS_NAMES", "call_arguments", "check_key", "error_body",
           "error_object", "scripted_error", "signed_call"]  # fmt: skip

#: The ``status`` Google's errors carry for each HTTP status.
STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


#: The message each status's error carries, as the API words it.
MESSAGES: Final = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The model is overloaded. Please try again later.",
}


def call_arguments(text: str) -> Any:
    """A call's arguments as the object Gemini sends (text that is not one: under "input")."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"input": text}
    return value if isinstance(value, dict) else {"input": value}


def error_object(status: int, message: str, name: str = "") -> dict[str, Any]:
    """Google's error; ``name`` (a status such as ``RESOURCE_EXHAUSTED``) sets its HTTP code
    where it is one of :data:`STATUS_NAMES`."""
    if name:
        status = next((code for code, known in STATUS_NAMES.items() if known == name), status)
    return {
        "error": {
            "code": status,
            "message": message,
            "status": name or STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def error_body(status: int, message: str) -> bytes:
    return json.dumps(error_object(status, message), indent=2).encode()


def signed_call(name: str, arguments: Any) -> str:
    """What a functionCall part's thought signature covers: its name and its arguments."""
    return f"{name}\0{json.dumps(arguments, sort_keys=True, separators=(',', ':'))}"


def scripted_error(error: HttpError) -> Whole:
    message = error.detail or MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message))


def check_key(incoming: Incoming) -> None:
    """The API's 403 when the request names no key (the ``x-goog-api-key`` header or
    ``?key=``; any non-empty one is taken)."""
    if not (incoming.headers.get("x-goog-api-key") or incoming.query.get("key")):
        raise BadRequest(
            403,
            "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
        )


#: How both APIs' errors look.
ERRORS: Final = Errors(error_body, scripted_error, json_error_message)
