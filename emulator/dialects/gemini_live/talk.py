"""A Gemini Live session as a state machine: each client message and the session so far in,
what to say (or a turn to ask for) and the new session out. No I/O. Pure.

The first message must be ``setup`` (answered ``setupComplete``); then ``clientContent``
with ``turnComplete``, ``realtimeInput`` text, a spoken turn (audio that server VAD, an
``activityEnd`` or ``audioStreamEnd`` ends) and a ``toolResponse`` that answers every
pending call each ask for the model's turn. The session keeps its contents as the API
does (no audio bytes), so an agent loop's turns are chosen by what it has said. A client
message the API cannot read closes the socket with 1007 and the reason, as the API does.
Keys are read in either spelling (google-genai sends ``client_content``, the API's own
documents ``clientContent``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ...core.endings import Label
from ...protocol.errors import BadRequest
from ...protocol.steps import Close, Step
from ...scenario.asked import Asked
from ...scenario.model import Scenario
from ...scenario.text import reply_text
from .. import vad
from ..google import call_arguments, check_key
from ..session import Ask, Heard, Opened, Said, Talker, choosing_headers
from ..speaker import Given, Incoming
from .respond import LiveSpeaker
from .wire import call_id, said

__all__ = ["LiveSession", "LiveTalker"]

#: The close code of a client message the API cannot read, and of a server error.
INVALID: Final = 1007
INTERNAL: Final = 1011
#: The quiet that ends a spoken turn, unless the setup says another.
_SILENCE_MS: Final = 500
#: The sample rate of input audio whose MIME type names none (the API's 16 kHz).
_INPUT_RATE: Final = 16_000


@dataclass(frozen=True, slots=True)
class LiveSession:
    """One connection's session: its setup, its contents, its input audio."""

    set_up: bool = False
    model: str = ""
    audio: bool = False  # the model speaks (responseModalities AUDIO)
    transcribe: bool = False  # ... and its words come beside the audio
    transcribe_input: bool = False  # a spoken turn's words are told (inputTranscription)
    system: Any = None
    tools: Any = None
    vad: bool = True  # automatic activity detection
    silence_ms: float = _SILENCE_MS
    contents: tuple[Mapping[str, Any], ...] = ()
    pending: tuple[str, ...] = ()  # the calls that await their responses
    turn: int = 0
    speaking: bool = False  # speech heard in the input audio, its turn not ended
    quiet_ms: float = 0.0
    heard_ms: float = 0.0  # input audio since the last spoken turn


def _either(obj: Mapping[str, Any], snake: str) -> Any:
    """``obj``'s value under ``snake`` or its camelCase spelling."""
    if snake in obj:
        return obj[snake]
    head, *rest = snake.split("_")
    return obj.get(head + "".join(w.title() for w in rest))


def _closed(reason: str, code: int = INVALID) -> Said:
    return Said((Close(code, reason, Label("end", f"close {code}")),))


class LiveTalker(Talker[LiveSession]):
    """Google's Gemini Live API, one per server."""

    def __init__(self) -> None:
        self.speaker = LiveSpeaker()

    def accept(self, incoming: Incoming, given: Given) -> Opened[LiveSession]:
        if not incoming.headers.get("Authorization", "").startswith(("Token ", "Bearer ")):
            check_key(incoming)
        return Opened(LiveSession())

    def heard(
        self, state: LiveSession, message: Heard, incoming: Incoming
    ) -> tuple[LiveSession, Said | Ask]:
        try:
            sent = json.loads(message.data)
        except ValueError:
            return state, _closed("Invalid JSON payload received.")
        if not isinstance(sent, dict) or len(sent) != 1:
            return state, _closed("Invalid JSON payload received: a message has one field.")
        ((key, value),) = sent.items()
        if not isinstance(value, dict):
            return state, _closed(f"Invalid JSON payload received: {key} must be an object.")
        if not state.set_up:
            if key != "setup":
                return state, _closed("Invalid JSON payload received: setup must come first.")
            return _setup(value)
        if key in ("client_content", "clientContent"):
            return self._content(state, value, incoming)
        if key in ("realtime_input", "realtimeInput"):
            return self._realtime(state, value, incoming)
        if key in ("tool_response", "toolResponse"):
            return self._tool_response(state, value, incoming)
        return state, _closed(f'Invalid JSON payload received. Unknown name "{key}".')

    def refused(self, state: LiveSession, error: BadRequest) -> Sequence[Step]:
        detail = error.detail if isinstance(error.detail, str) else json.dumps(error.detail)
        return _closed(detail, INVALID if error.status < 500 else INTERNAL).steps

    def answered(self, state: LiveSession, scenario: Scenario, asked: Asked) -> LiveSession:
        """The turn is answered: the model's content joins the session's (its calls, with
        the ids the client must answer them by)."""
        text = reply_text(scenario.reply, asked.prompt)
        calls = scenario.reply.every_call(text)
        contents = state.contents
        if scenario.reply.heard and contents and _spoken(contents[-1]):
            # What the spoken turn said (as the scenario scripts it), kept for later turns.
            contents = (
                *contents[:-1],
                {"role": "user", "parts": [{"text": scenario.reply.heard}]},
            )
        ids = tuple(call_id(state.turn, i) for i in range(len(calls)))
        parts = ([{"functionCall": {"id": i, "name": tool, "args": call_arguments(arguments)}}
                  for i, (tool, arguments) in zip(ids, calls, strict=True)]
                 if calls else [{"text": text}])  # fmt: skip
        return replace(state, contents=(*contents, {"role": "model", "parts": parts}),
                       pending=ids, turn=state.turn + 1)  # fmt: skip

    def interrupts(
        self, state: LiveSession, message: Heard
    ) -> tuple[LiveSession, Sequence[Step]] | None:
        """While the model speaks, the user's speech (server VAD heard it start, or an
        ``activityStart``) stops it: ``interrupted``."""
        try:
            sent = json.loads(message.data)
        except ValueError:
            return None
        if not isinstance(sent, dict):
            return None
        given = _either(sent, "realtime_input")
        if not isinstance(given, dict):
            return None
        if _either(given, "activity_start") is not None:
            return state, (said({"serverContent": {"interrupted": True}}),)
        try:
            audio = _audio(given)
        except ValueError:
            return None
        if audio is None or not state.vad:
            return None
        pcm, rate = audio
        now = _heard(state, pcm, rate)
        if not now.started:
            return None
        heard = replace(state, speaking=True, quiet_ms=0.0,
                        heard_ms=len(pcm) / _per_ms(rate))  # fmt: skip
        return heard, (said({"serverContent": {"interrupted": True}}),)

    def _ask(self, state: LiveSession, incoming: Incoming) -> tuple[LiveSession, Ask]:
        spoken = bool(state.contents) and _spoken(state.contents[-1])
        body = {"model": state.model, "contents": list(state.contents),
                "systemInstruction": state.system, "tools": state.tools,
                "audio": state.audio, "transcribe": state.transcribe, "turn": state.turn,
                "transcribe_input": spoken and state.transcribe_input}  # fmt: skip
        ask = Incoming("MESSAGE", incoming.path, incoming.query,
                       {"Content-Type": "application/json", **choosing_headers(incoming)},
                       json.dumps(body).encode())  # fmt: skip
        return state, Ask(ask)

    def _content(self, state: LiveSession, given: Mapping[str, Any],
                 incoming: Incoming) -> tuple[LiveSession, Said | Ask]:  # fmt: skip
        turns = given.get("turns", [])
        turns = [turns] if isinstance(turns, dict) else turns
        if not isinstance(turns, list) or not all(
            isinstance(t, dict) and isinstance(t.get("parts"), list) for t in turns
        ):
            return state, _closed("Invalid JSON payload received: turns must be Content "
                                  "objects with parts.")  # fmt: skip
        contents = (*state.contents, *({"role": t.get("role") or "user", "parts": t["parts"]}
                                       for t in turns))  # fmt: skip
        state = replace(state, contents=contents)
        if not _either(given, "turn_complete") or not contents:
            return state, Said(())
        return self._ask(state, incoming)

    def _tool_response(self, state: LiveSession, given: Mapping[str, Any],
                       incoming: Incoming) -> tuple[LiveSession, Said | Ask]:  # fmt: skip
        responses = _either(given, "function_responses")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
            return state, _closed("Invalid JSON payload received: functionResponses must be "
                                  "a list.")  # fmt: skip
        parts = [{"functionResponse": {"id": r.get("id"), "name": r.get("name"),
                                       "response": r.get("response", {})}}
                 for r in responses]  # fmt: skip
        answered = {r.get("id") for r in responses}
        pending = tuple(i for i in state.pending if i not in answered)
        state = replace(state, contents=(*state.contents, {"role": "user", "parts": parts}),
                        pending=pending)  # fmt: skip
        if pending:  # the turn goes on once every call is answered
            return state, Said(())
        return self._ask(state, incoming)

    def _realtime(self, state: LiveSession, given: Mapping[str, Any],
                  incoming: Incoming) -> tuple[LiveSession, Said | Ask]:  # fmt: skip
        text = given.get("text")
        if isinstance(text, str):
            turn = {"role": "user", "parts": [{"text": text}]}
            return self._ask(replace(state, contents=(*state.contents, turn)), incoming)
        ended = (_either(given, "activity_end") is not None
                 or bool(_either(given, "audio_stream_end")))  # fmt: skip
        try:
            audio = _audio(given)
        except ValueError:
            return state, _closed("Invalid JSON payload received: audio data is not base64.")
        if audio is not None:
            pcm, rate = audio
            state = replace(state, heard_ms=state.heard_ms + len(pcm) / _per_ms(rate))
            if state.vad:
                now = _heard(state, pcm, rate)
                state = replace(state, speaking=now.speaking, quiet_ms=now.quiet_ms)
                ended = ended or now.ended
            else:
                state = replace(state, speaking=True)
        if not ended or state.heard_ms <= 0:
            return state, Said(())
        turn = {"role": "user", "parts": [{"inlineData": {"mimeType": "audio/pcm", "data": ""}}]}
        state = replace(state, contents=(*state.contents, turn), speaking=False, quiet_ms=0.0,
                        heard_ms=0.0)  # fmt: skip
        return self._ask(state, incoming)


def _spoken(content: Mapping[str, Any]) -> bool:
    """Whether a turn of the session's contents is the user's audio (a spoken turn)."""
    parts = content.get("parts")
    return (content.get("role") == "user" and isinstance(parts, list) and len(parts) == 1
            and "inlineData" in parts[0])  # fmt: skip


def _per_ms(rate: int) -> float:
    """Bytes of PCM16 mono a millisecond at ``rate``."""
    return rate * 2 / 1000


def _heard(state: LiveSession, pcm: bytes, rate: int) -> vad.Heard:
    """Server VAD on one chunk of input audio, under the session's silence."""
    return vad.heard(pcm, state.speaking, state.quiet_ms,
                     {"silence_duration_ms": state.silence_ms}, _per_ms(rate))  # fmt: skip


def _setup(given: Mapping[str, Any]) -> tuple[LiveSession, Said]:
    model = given.get("model")
    if not isinstance(model, str) or not model:
        return LiveSession(), _closed("Invalid JSON payload received: setup.model is required.")
    config = _either(given, "generation_config") or {}
    modalities = _either(config, "response_modalities") if isinstance(config, dict) else None
    realtime = _either(given, "realtime_input_config") or {}
    detection = _either(realtime, "automatic_activity_detection") or {}
    silence = _either(detection, "silence_duration_ms")
    state = LiveSession(
        set_up=True,
        model=model,
        audio=isinstance(modalities, list) and "AUDIO" in (str(m).upper() for m in modalities),
        transcribe=_either(given, "output_audio_transcription") is not None,
        transcribe_input=_either(given, "input_audio_transcription") is not None,
        system=_either(given, "system_instruction"),
        tools=given.get("tools"),
        vad=not detection.get("disabled", False),
        silence_ms=float(silence) if isinstance(silence, (int, float)) else _SILENCE_MS,
    )
    return state, Said((said({"setupComplete": {}}),))


def _audio(given: Mapping[str, Any]) -> tuple[bytes, int] | None:
    """The input audio a ``realtimeInput`` carries, and its sample rate (None: none); a
    ``ValueError`` for data that is not base64."""
    blob = given.get("audio")
    if not isinstance(blob, dict):
        chunks = _either(given, "media_chunks")
        blob = next((c for c in chunks if isinstance(c, dict)), None) if isinstance(
            chunks, list) else None  # fmt: skip
    if blob is None or not isinstance(blob.get("data"), str):
        return None
    mime = str(_either(blob, "mime_type") or "")
    if mime and not mime.startswith("audio/pcm"):
        return None  # an image or a video frame: nothing heard
    rate = _INPUT_RATE
    for param in mime.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name == "rate" and value.isdigit():
            rate = int(value) or _INPUT_RATE
    data = blob["data"].replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True), rate
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
