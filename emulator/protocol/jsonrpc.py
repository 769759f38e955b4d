"""JSON-RPC 2.0 envelopes, as MCP carries them: one message read (a request, a notification
or a response), and the messages a server writes. Pure.

Batches are not read: MCP took them out in its 2025-06-18 revision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RequestId",
    "RpcError",
    "RpcMessage",
    "error_response",
    "notification",
    "read_message",
    "response",
]

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

#: What a message's id may be.
RequestId = str | int


class RpcError(Exception):
    """A message that cannot be taken: its JSON-RPC error code and message, and the id of
    the request it answers (None: it has none, or it could not be read)."""

    def __init__(self, code: int, message: str, id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.id = code, message, id


@dataclass(frozen=True, slots=True)
class RpcMessage:
    """One message: a request (a method and an id), a notification (a method, no id) or a
    response (an id and a result or an error)."""

    method: str | None
    id: RequestId | None = None
    params: Any = None
    result: Any = None
    error: Any = None

    @property
    def request(self) -> bool:
        return self.method is not None and self.id is not None

    @property
    def notification(self) -> bool:
        return self.method is not None and self.id is None


def read_message(body: bytes) -> RpcMessage:
    """The one message ``body`` holds; an :class:`RpcError` saying what is wrong."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: {exc}") from exc
    if isinstance(obj, list):
        raise RpcError(INVALID_REQUEST, "Invalid Request: batches are not supported (MCP took "
                       "them out in 2025-06-18)")  # fmt: skip
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'Invalid Request: a message is an object with '
                       '"jsonrpc": "2.0"')  # fmt: skip
    id_ = obj.get("id")
    if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, (str, int))):
        raise RpcError(INVALID_REQUEST, "Invalid Request: an id is a string or an integer")
    method = obj.get("method")
    if method is None:
        if id_ is None or ("result" in obj) == ("error" in obj):
            raise RpcError(INVALID_REQUEST, "Invalid Request: a response has an id and a "
                           "result or an error", id_)  # fmt: skip
        return RpcMessage(None, id_, result=obj.get("result"), error=obj.get("error"))
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "Invalid Request: method is a string", id_)
    params = obj.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        raise RpcError(INVALID_REQUEST, "Invalid Request: params is an object", id_)
    return RpcMessage(method, id_, params)


def response(id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "result": result}


def error_response(
    id: RequestId | None, code: int, message: str, data: Any = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": id, "error": error}


def notification(method: str, params: Any = None) -> dict[str, Any]:
    said: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        said["params"] = params
    return said
