"""Claude on Google Cloud's Vertex AI: Anthropic's Messages, at a publisher model's path.

``POST /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}
:streamRawPredict`` streams (``:rawPredict`` answers whole) Anthropic's own events and
bodies. The model is the path's, not the body's; the body names its
``anthropic_version`` (``vertex-2023-10-16``); the key is a Google access token, sent as
``Authorization: Bearer …`` (any non-empty one; none is Google's 401
``UNAUTHENTICATED``). Errors are Anthropic's, as Vertex passes them on. The same
scenarios as Anthropic's Messages.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ...protocol.errors import BadRequest
from ..dialect import Capture, Conversation, Dialect
from ..speaker import Incoming
from .api import ERRORS, MessagesSpeaker
from .capture import read_capture
from .plan import not_applicable
from .read import STRICT_RULES
from .shapes import FAULT_SHAPES

__all__ = ["DIALECT", "VertexMessagesSpeaker"]

NAME: Final = "anthropic-vertex"
TITLE: Final = "Claude on Vertex AI"
MODELS: Final = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}"


def check_token(incoming: Incoming) -> None:
    """A bearer token, any non-empty one; else Google's 401."""
    scheme, _, token = incoming.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        body = {"error": {"code": 401, "status": "UNAUTHENTICATED",
                          "message": "Request is missing required authentication credential. "
                          "Expected OAuth 2 access token, login cookie or other valid "
                          "authentication credential."}}  # fmt: skip
        raise BadRequest(401, body["error"]["message"], body=json.dumps(body).encode())


class VertexMessagesSpeaker(MessagesSpeaker):
    """Anthropic's Messages as Vertex AI serves them: the model in the path."""

    def keyed(self, incoming: Incoming) -> None:
        check_token(incoming)

    def model_of(self, incoming: Incoming, body: dict[str, Any]) -> str:
        if not isinstance(body.get("anthropic_version"), str):
            raise BadRequest(400, "anthropic_version: Field required")
        method = incoming.path.rpartition(":")[2]
        if (method == "streamRawPredict") != (body.get("stream") is True):
            raise BadRequest(400, f"stream: {method} wants stream "
                             f"{'true' if method == 'streamRawPredict' else 'false or none'}")  # fmt: skip
        return incoming.params["model"]


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=MODELS + ":streamRawPredict",
    routes={
        f"{MODELS}:streamRawPredict": {"POST": Conversation(VertexMessagesSpeaker)},
        f"{MODELS}:rawPredict": {"POST": Conversation(VertexMessagesSpeaker)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="Claude on Vertex AI (a publisher model's :streamRawPredict: Anthropic's "
    "message_start … message_stop events)",
)
