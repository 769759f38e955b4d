"""The OpenAI-compatible servers people run, each as a preset of Chat Completions at a
path of its own: the same wire with that server's known quirks and its error shape.

| preset | base URL here | what differs |
|---|---|---|
| ``openrouter`` | ``/openrouter/api/v1`` | ``: OPENROUTER PROCESSING`` before the first chunk, ``provider`` on each chunk, the usage chunk always, errors ``{"error": {"code": 429, "message", "metadata"}}`` |
| ``vllm`` | ``/vllm/v1`` | ``stream_options.continuous_usage_stats``: the usage so far on every chunk; errors with ``"type": "BadRequestError"`` and a numeric ``code`` |
| ``llama-cpp`` | ``/llama-cpp/v1`` | no ``data: [DONE]`` (the body just ends after the finish), ``timings`` on the final chunk; no key needed |
| ``mistral`` | ``/mistral/v1`` | each tool call whole in one chunk, the usage chunk always; errors ``{"object": "error", "message", "type", "code"}`` (at the top, not in ``error``) |
| ``groq`` | ``/groq/openai/v1`` | ``x_groq`` with the request's id on the first chunk; errors with a string ``code`` |

A key is any bearer token (none needed on vLLM and llama.cpp, as they run by default).
The same scenarios as OpenAI's Chat Completions, but Azure's content filter results and,
where the server has no ``refusal`` field (all but OpenRouter), a refusal. A recording of
Chat Completions replays on each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Final, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario import HttpError, Scenario
from ..common import keyed_api_not_applicable
from ..dialect import (
    Capture,
    Conversation,
    Dialect,
    Errors,
    Plain,
    json_error_message,
    top_message,
)
from ..openai import MESSAGES
from ..speaker import Given, Incoming, Whole, scripted_answer
from .api import ChatRequest, ChatSpeaker
from .capture import read_capture
from .plan import NAME
from .read import STRICT_RULES
from .shapes import FAULT_SHAPES, MISSING
from .wire import ChatContext, Quirks, models_body

__all__ = ["PRESETS", "Preset"]

_TIMINGS: Final = {"prompt_n": 8, "prompt_ms": 12.5, "predicted_n": 9, "predicted_ms": 90.1,
                   "predicted_per_second": 99.9}  # fmt: skip


#: The message of an error body that says it at the top (Mistral's).
_TOP_MESSAGE: Final = top_message("message")


class Preset(NamedTuple):
    """One OpenAI-compatible server: its name, its base path here, how its stream and its
    errors differ from OpenAI's, and whether it asks for a key."""

    name: str
    title: str
    base: str
    quirks: Quirks
    error: Callable[[int, str], dict[str, Any]]
    keyed: bool = True
    #: Each chunk may carry the usage so far, when the request asks.
    continuous_usage: bool = False
    #: It passes OpenAI's ``refusal`` field on (OpenRouter, in front of OpenAI's models).
    refusal: bool = False


def _openrouter_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "metadata": {}}}


def _vllm_error(status: int, message: str) -> dict[str, Any]:
    kind = "BadRequestError" if status < 500 else "InternalServerError"
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _llama_cpp_error(status: int, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"code": status, "message": message, "type": kind}}


def _mistral_error(status: int, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "internal_server_error"
    return {"object": "error", "message": message, "type": kind, "param": None,
            "code": str(status)}  # fmt: skip


def _groq_error(status: int, message: str) -> dict[str, Any]:
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status, "server_error")
    kind = "invalid_request_error" if status < 500 else "internal_server_error"
    return {"error": {"message": message, "type": kind, "code": code}}


PRESETS: Final = (
    Preset("openrouter", "OpenRouter", "/openrouter/api/v1",
           Quirks(comment=" OPENROUTER PROCESSING", usage=True,
                  fields=(("provider", "OpenAI"),)), _openrouter_error, refusal=True),
    Preset("vllm", "vLLM", "/vllm/v1", Quirks(), _vllm_error, keyed=False,
           continuous_usage=True),
    Preset("llama-cpp", "llama.cpp server", "/llama-cpp/v1",
           Quirks(done=False, final=(("timings", _TIMINGS),)), _llama_cpp_error, keyed=False),
    Preset("mistral", "Mistral", "/mistral/v1", Quirks(usage=True, whole_calls=True),
           _mistral_error),
    Preset("groq", "Groq", "/groq/openai/v1",
           Quirks(first=(("x_groq", {"id": "req_emulator"}),)), _groq_error),
)  # fmt: skip


def _errors(preset: Preset) -> Errors:
    def body(status: int, detail: Any) -> bytes:
        return json.dumps(preset.error(status, str(detail))).encode()

    def scripted(error: HttpError) -> Whole:
        message = error.detail or MESSAGES.get(error.status, f"HTTP {error.status}")
        return scripted_answer(error, body(error.status, message))

    return Errors(body, scripted, lambda raw: json_error_message(raw) or _TOP_MESSAGE(raw))


def _speaker(preset: Preset) -> type[ChatSpeaker]:
    """Chat Completions as ``preset``'s server answers them."""

    class PresetSpeaker(ChatSpeaker):
        chosen: ClassVar[Preset] = preset

        def keyed(self, incoming: Incoming) -> None:
            scheme, _, token = incoming.headers.get("Authorization", "").partition(" ")
            if self.chosen.keyed and (scheme.lower() != "bearer" or not token.strip()):
                raise BadRequest(401, "No auth credentials found")

        def begin(
            self, parsed: ChatRequest, scenario: Scenario, planned: Prepared, given: Given
        ) -> ChatContext:
            context = super().begin(parsed, scenario, planned, given)
            every = self.chosen.continuous_usage and parsed.continuous_usage
            return context._replace(quirks=self.chosen.quirks, every_usage=every)

    PresetSpeaker.__name__ = PresetSpeaker.__qualname__ = f"{preset.title.title()}Speaker"
    return PresetSpeaker


def _dialect(preset: Preset) -> Dialect:
    def models(incoming: Incoming, given: Given) -> Whole:
        return Whole(models_body())

    return Dialect(
        name=preset.name,
        title=preset.title,
        answered_at=f"{preset.base}/chat/completions",
        routes={
            f"{preset.base}/chat/completions": {"POST": Conversation(_speaker(preset))},
            f"{preset.base}/models": {"GET": Plain(models)},
        },
        why_not=partial(
            keyed_api_not_applicable, dialect=NAME, missing=MISSING, refusal=preset.refusal
        ),
        shapes=FAULT_SHAPES,
        errors=_errors(preset),
        capture=Capture(read_capture),
        strict_rules=STRICT_RULES,
        doc=f"{preset.title}'s OpenAI-compatible Chat Completions (at {preset.base}: "
        "OpenAI's chunks with its server's quirks)",
    )


#: Each preset's dialect, in :data:`PRESETS`' order.
DIALECTS: Final = tuple(_dialect(p) for p in PRESETS)
