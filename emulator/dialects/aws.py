"""What AWS's Bedrock APIs share (ConverseStream, and Claude's own body on InvokeModel):
the signature every request carries, and the errors: ``{"message": …}`` with its type in
``x-amzn-ErrorType`` (what botocore raises by name). Pure.

Both dialect folders import this module; neither imports the other.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Final

from ..protocol.errors import BadRequest
from ..scenario import HttpError
from .dialect import Errors, top_message
from .speaker import Incoming, Whole, scripted_answer

__all__ = [
    "ERRORS",
    "ERROR_TYPES",
    "MESSAGES",
    "check_signed",
    "error_body",
    "error_headers",
    "request_id",
    "scripted_error",
]

_IDS: Final = random.Random()

#: The ``x-amzn-ErrorType`` of an HTTP error, by status (what botocore raises by name).
ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "ServiceUnavailableException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
MESSAGES: Final = {
    400: "Malformed input request, please reformat your input and try again.",
    403: "You don't have access to the model with the specified model ID.",
    429: "Too many requests, please wait before trying again.",
    500: "The system encountered an unexpected error during processing. Try your request again.",
    503: "Bedrock is unable to process your request.",
}


def request_id() -> str:
    raw = f"{_IDS.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def error_body(status: int, message: str) -> bytes:
    """An HTTP error's body (its type is the ``x-amzn-ErrorType`` header)."""
    return json.dumps({"message": message}).encode()


def error_headers(status: int) -> Mapping[str, str]:
    """The headers of an HTTP error: its type (what botocore raises by name), an id."""
    return {
        "x-amzn-ErrorType": ERROR_TYPES.get(status, "InternalServerException"),
        "x-amzn-RequestId": request_id(),
    }


def scripted_error(error: HttpError) -> Whole:
    message = error.detail or MESSAGES.get(error.status, f"HTTP {error.status}")
    return scripted_answer(error, error_body(error.status, message), error_headers(error.status))


def check_signed(incoming: Incoming) -> None:
    """A request signed (SigV4, from any access key) or with a Bedrock API key (a bearer
    token); else the API's 403."""
    authorization = incoming.headers.get("Authorization", "")
    if not authorization:
        raise BadRequest(403, "Missing Authentication Token",
                         {"x-amzn-ErrorType": "MissingAuthenticationTokenException"})  # fmt: skip
    if not authorization.startswith(("AWS4-HMAC-SHA256 ", "Bearer ")):
        raise BadRequest(403, "The security token included in the request is invalid.",
                         {"x-amzn-ErrorType": "UnrecognizedClientException"})  # fmt: skip


#: How Bedrock's errors look.
ERRORS: Final = Errors(error_body, scripted_error, top_message("message"), error_headers)
