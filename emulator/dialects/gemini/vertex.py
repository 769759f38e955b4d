"""Gemini on Google Cloud's Vertex AI: the Gemini API's bodies at Vertex's paths.

``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}
:streamGenerateContent`` (and ``:generateContent``, and the same under ``/v1beta1/``,
which google-genai asks for), and express mode's ``/v1beta1/publishers/google/models/
{model}:…``, keyed by an API key. A key is a Google access token
(``Authorization: Bearer …``) or an API key (``x-goog-api-key``, ``?key=``), any
non-empty one; none is Google's 401 ``UNAUTHENTICATED``. The same scenarios, shapes and
errors as the Gemini API.
"""

from __future__ import annotations

import json
from typing import Final

from ...protocol.errors import BadRequest
from ..dialect import Capture, Conversation, Dialect, Route
from ..google import ERRORS
from ..google_read import STRICT_RULES
from ..speaker import Incoming
from .api import GeminiSpeaker
from .capture import read_capture
from .plan import not_applicable
from .shapes import FAULT_SHAPES

__all__ = ["DIALECT", "VertexGeminiSpeaker"]

NAME: Final = "gemini-vertex"
TITLE: Final = "Gemini on Vertex AI"
_METHODS: Final = ("generateContent", "streamGenerateContent")
_PROJECT: Final = "/projects/{project}/locations/{location}"
_MODELS: Final = "/publishers/google/models/{model}"


class VertexGeminiSpeaker(GeminiSpeaker):
    """The Gemini API as Vertex AI serves it: the model in a publisher's path."""

    def called(self, incoming: Incoming) -> tuple[str, str]:
        method = incoming.path.rpartition(":")[2]
        if method not in _METHODS:
            raise BadRequest(404, f"Method not found: {incoming.path}")
        return incoming.params["model"], method

    def keyed(self, incoming: Incoming) -> None:
        headers = incoming.headers
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if (
            (scheme.lower() == "bearer" and token.strip())
            or headers.get("x-goog-api-key")
            or (incoming.query.get("key"))
        ):
            return
        message = ("Request is missing required authentication credential. Expected OAuth 2 "
                   "access token, login cookie or other valid authentication credential.")  # fmt: skip
        body = {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED"}}
        raise BadRequest(401, message, body=json.dumps(body).encode())


_ROUTE: Final[dict[str, Route]] = {"POST": Conversation(VertexGeminiSpeaker)}

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/publishers/google/models/",
    routes={
        f"/{version}{project}{_MODELS}:{method}": _ROUTE
        for version in ("v1", "v1beta1")
        for project in (_PROJECT, "")
        for method in _METHODS
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="Gemini on Vertex AI (a publisher model's :streamGenerateContent?alt=sse, with a "
    "project and location or in express mode: the Gemini API's chunks)",
)
