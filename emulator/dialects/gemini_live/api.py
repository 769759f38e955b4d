"""Google's Gemini Live API at ``/ws/google.ai.generativelanguage.{v1,v1beta,v1alpha}.
GenerativeService.BidiGenerateContent`` (and ``…Constrained``, an ephemeral token's),
upgraded to a WebSocket (a key in ``x-goog-api-key`` or ``?key=``; none is the API's 403
at the handshake): the session's :class:`~.talk.LiveTalker` reads each client message;
each turn gets a scenario (and turn of an agent loop) of its own, played as the API's
messages. google-genai dials ``wss://`` whatever the base URL says: serve with ``--tls``.
What a captured session says: one server message a line."""

from __future__ import annotations

from typing import Final

from ...scenario.outcomes import Reading
from ..common import json_lines
from ..dialect import Capture, Dialect, Session
from ..google import ERRORS
from .plan import NAME, TITLE, not_applicable
from .shapes import FAULT_SHAPES
from .talk import LiveTalker

__all__ = ["DIALECT", "PATHS", "read_messages"]

#: Every path it answers: the API's three versions, each with its ephemeral-token twin.
PATHS: Final = tuple(
    f"/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent{tail}"
    for version in ("v1beta", "v1", "v1alpha")
    for tail in ("", "Constrained")
)


def read_messages(body: bytes) -> Reading:
    """What a correct client makes of a session's server messages (one JSON message a
    line): the model's text (or its audio's transcription), ``turnComplete``'s end."""
    text, spoken = "", ""
    for sent in json_lines(body):
        content = sent.get("serverContent")
        if not isinstance(content, dict):
            continue
        turn = content.get("modelTurn") or {}
        text += "".join(p.get("text", "") for p in turn.get("parts", []) if isinstance(p, dict))
        spoken += str((content.get("outputTranscription") or {}).get("text", ""))
        if content.get("turnComplete"):
            return Reading(text or spoken, done=True, finished=True)
    return Reading(text or spoken)


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=PATHS[0],
    routes={path: {"GET": Session(LiveTalker)} for path in PATHS},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_messages, headers=(("Content-Type", "application/jsonl"),)),
    doc="Google's Gemini Live API over a WebSocket (BidiGenerateContent: text, or "
    "synthesized 24 kHz PCM audio with its transcription; tool calls; a session's turns)",
)
