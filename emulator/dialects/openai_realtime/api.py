"""OpenAI's Realtime API (GA) at ``GET /v1/realtime?model=…``, upgraded to a WebSocket (a
Bearer key, refused at the handshake as the API refuses it): the session's
:class:`~.talk.RealtimeTalker` reads each client event; each ``response.create`` gets a
scenario (and turn) of its own, played as the API's events. What a captured session says:
one server event a line."""

from __future__ import annotations

from typing import Final

from ...scenario.outcomes import Reading
from ..common import json_lines
from ..dialect import Capture, Dialect, Session
from ..openai import ERRORS
from .plan import NAME, TITLE, not_applicable
from .shapes import FAULT_SHAPES
from .talk import RealtimeTalker

__all__ = ["DIALECT", "PATH", "read_events"]

PATH: Final = "/v1/realtime"


def read_events(body: bytes) -> Reading:
    """What a correct client makes of a session's server events (one JSON event a line):
    the text (or the audio's transcript), an error event's failure, ``response.done``'s
    end."""
    text = ""
    for sent in json_lines(body):
        named = sent.get("type")
        if named in ("response.output_text.delta", "response.output_audio_transcript.delta"):
            text += str(sent.get("delta", ""))
        elif named == "error":
            error = sent.get("error") or {}
            return Reading(text, failure="upstream_error", message=str(error.get("message", "")))
        elif named == "response.done":
            status = (sent.get("response") or {}).get("status")
            return Reading(text, done=True, finished=status == "completed")
    return Reading(text)


DIALECT: Final = Dialect(
    name=NAME,
    title=TITLE,
    answered_at=PATH,
    routes={PATH: {"GET": Session(RealtimeTalker)}},
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=ERRORS,
    capture=Capture(read_events, headers=(("Content-Type", "application/jsonl"),)),
    doc="OpenAI's Realtime API over a WebSocket (GA events: text, or synthesized PCM16 audio "
    "with its transcript; function calls; a conversation kept per connection)",
)
