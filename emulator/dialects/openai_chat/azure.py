"""Azure OpenAI: Chat Completions and embeddings on a deployment, as Azure serves them.

``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (and
``…/embeddings``), and the v1 paths that need no ``api-version``
(``/openai/v1/chat/completions``, ``/openai/v1/embeddings``, ``GET /openai/v1/models``).
A key is the ``api-key`` header or a bearer token (Entra ID), any non-empty one; none is
Azure's 401. A deployment's path without ``api-version`` is Azure's 404 ``Resource not
found``, one it does not know (``2023-13-45``) its 400. Every stream carries Azure's
content filter results: a first chunk with no choices (the prompt's), then every choice
with its own (a client that reads ``choices[0]`` of every chunk fails on the first).
The gateway's errors (401, 404, 429, 5xx) are ``{"error": {"code", "message"}}``, with
``DeploymentNotFound`` on a scripted 404; a request the model refuses is OpenAI's
shape, as Azure passes it on. The same scenarios as OpenAI's Chat Completions.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Final

from ...protocol.errors import BadRequest
from ...scenario import HttpError, Scenario
from ..dialect import Capture, Conversation, Dialect, Errors, Plain, json_error_message
from ..openai import BUDGET, error_body
from ..openai_embeddings import embeddings_call, model_in_body
from ..speaker import Answer, Given, Incoming, Whole, scripted_answer
from .api import ChatRequest, ChatSpeaker
from .capture import read_capture
from .plan import not_applicable
from .read import STRICT_RULES
from .shapes import FAULT_SHAPES
from .wire import models_body

__all__ = ["DIALECT", "AzureChatSpeaker"]

NAME: Final = "azure-openai"
TITLE: Final = "Azure OpenAI"
DEPLOYMENTS: Final = "/openai/deployments/{deployment}"
_VERSION: Final = re.compile(r"\A(?:20\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                             r"(?:-preview)?|preview|latest)\Z")  # fmt: skip
_DENIED: Final = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)
_NOT_DEPLOYED: Final = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)
#: The gateway's own answers: its code and message, by status.
_GATEWAY: Final[dict[int, tuple[str, str]]] = {
    401: ("401", _DENIED),
    404: ("DeploymentNotFound", _NOT_DEPLOYED),
    429: ("429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
          "have exceeded token rate limit of your current OpenAI S0 pricing tier. Please "
          "retry after {wait} seconds."),
    500: ("InternalServerError", "The server had an error processing your request."),
    503: ("ServiceUnavailable", "The service is temporarily unable to process your request. "
          "Please try again later."),
}  # fmt: skip


def _gateway_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_body_of(status: int, detail: Any) -> bytes:
    """An error the emulator answers on Azure's routes: the gateway's shape for the
    gateway's statuses, OpenAI's for a request the model's API refuses."""
    if status in (401, 404) or status >= 500:
        code = _GATEWAY.get(status, (str(status), ""))[0]
        return _gateway_body("404" if status == 404 else code, str(detail))
    return error_body(status, str(detail))


def scripted_error(error: HttpError) -> Whole:
    """A scenario's HTTP error as Azure answers it (a 429 with its retry headers)."""
    code, message = _GATEWAY.get(error.status, (str(error.status), f"HTTP {error.status}"))
    wait = error.retry_after if error.retry_after is not None else 1
    message = error.detail or message.replace("{wait}", f"{wait:g}")
    body = (_gateway_body(code, message) if error.status in _GATEWAY
            else error_body(error.status, message))  # fmt: skip
    limits = {"retry-after-ms": f"{wait * 1000:.0f}",
              "x-ratelimit-remaining-requests": "0"}  # fmt: skip
    return scripted_answer(error, body, limits if error.status == 429 else {})


def gateway_message(body: bytes) -> str | None:
    """The message of an Azure error body (either shape)."""
    return json_error_message(body)


ERRORS: Final = Errors(error_body_of, scripted_error, gateway_message, budget=BUDGET,
                       overloaded=503)  # fmt: skip


def check_key(incoming: Incoming) -> None:
    """An ``api-key`` or a bearer token (any non-empty); else Azure's 401."""
    scheme, _, token = incoming.headers.get("Authorization", "").partition(" ")
    if incoming.headers.get("api-key", "").strip():
        return
    if scheme.lower() == "bearer" and token.strip():
        return
    raise BadRequest(401, _DENIED)


def _deployment(incoming: Incoming, body: dict[str, Any]) -> str:
    """The deployment the path names (its ``api-version`` checked); on a v1 path, the
    body's ``model``."""
    deployment = incoming.params.get("deployment")
    if deployment is None:
        return model_in_body(incoming, body)
    version = incoming.query.get("api-version")
    if version is None:
        raise BadRequest(404, "Resource not found")
    if not _VERSION.match(version):
        raise BadRequest(400, "API version not supported")
    return deployment


class AzureChatSpeaker(ChatSpeaker):
    """OpenAI's Chat Completions as an Azure deployment answers them."""

    def keyed(self, incoming: Incoming) -> None:
        check_key(incoming)

    def model_of(self, incoming: Incoming, body: dict[str, Any]) -> str:
        return _deployment(incoming, body)

    async def answer(self, parsed: ChatRequest, scenario: Scenario, given: Given) -> Answer:
        return await super().answer(parsed, _filtered(scenario), given)


def _filtered(scenario: Scenario) -> Scenario:
    """``scenario`` with Azure's content filter results, as every Azure answer has them."""
    if scenario.wire.azure_filters:
        return scenario
    return dataclasses.replace(scenario, wire=dataclasses.replace(scenario.wire,
                                                                   azure_filters=True))  # fmt: skip


def answer_models(incoming: Incoming, given: Given) -> Whole:
    check_key(incoming)
    return Whole(models_body())


_EMBEDDINGS: Final = embeddings_call(check_key, _deployment, "Invalid JSON body")

DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at="/chat/completions",
    routes={
        f"{DEPLOYMENTS}/chat/completions": {"POST": Conversation(AzureChatSpeaker)},
        f"{DEPLOYMENTS}/embeddings": {"POST": _EMBEDDINGS},
        "/openai/v1/chat/completions": {"POST": Conversation(AzureChatSpeaker)},
        "/openai/v1/embeddings": {"POST": _EMBEDDINGS},
        "/openai/v1/models": {"GET": Plain(answer_models)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_capture),
    strict_rules=STRICT_RULES,
    doc="Azure OpenAI (a deployment's chat/completions?api-version=…, and /openai/v1/: "
    "OpenAI's chunks with Azure's content filter results, then [DONE])",
)
