"""A Realtime session as a state machine: each client event and the session so far in, what
to say (or a response to ask for) and the new session out. No I/O. Pure.

The session keeps its settings and its conversation's items (as the API keeps them, with
no audio bytes); ``response.create`` asks for a response over those items, and once it is
answered, its output items join the conversation (:meth:`RealtimeTalker.answered`), so a
function call's output on the next turn finds its call.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ...core.endings import event_label
from ...protocol.audio import BYTES_PER_MS
from ...protocol.errors import BadRequest
from ...protocol.steps import Message, Step
from ...scenario.asked import Asked
from ...scenario.model import Scenario
from ...scenario.text import reply_text
from .. import vad
from ..openai import check_key
from ..session import Ask, Heard, Opened, Said, Talker, choosing_headers
from ..speaker import Given, Incoming
from .plan import output_items
from .respond import RealtimeSpeaker
from .wire import (
    DEFAULT_SESSION,
    RealtimeContext,
    error_event,
    event,
    fresh_id,
    response_object,
    said,
    session_object,
)

__all__ = ["RealtimeTalker", "Session"]

#: A session lasts this long (its ``expires_at``).
_LIFETIME: Final = 30 * 60
#: The label of the speech_stopped that server VAD says: the turn it ends is committed.
_TURN_ENDED: Final = event_label("input_audio_buffer.speech_stopped (turn ended)")


@dataclass(frozen=True, slots=True)
class Session:
    """One connection's session: its settings, its conversation, its input audio."""

    session_id: str
    model: str
    conversation_id: str
    expires_at: int
    settings: Mapping[str, Any]
    items: tuple[Mapping[str, Any], ...] = ()
    buffered_ms: float = 0.0  # input audio appended since the last commit
    speech_item: str = ""  # the user item that audio becomes
    speaking: bool = False  # server VAD heard speech in it, not yet ended
    quiet_ms: float = 0.0  # ... and the quiet since the speech, so far
    asked: str = ""  # the response asked for, not yet answered
    asked_audio: bool = False
    asked_into: bool = True  # its output joins the conversation (conversation "auto")
    playing: str = ""  # the response answered last (which a cancel while it plays stops)
    playing_audio: bool = False
    transcribing: str = ""  # the user audio item whose transcription the next response brings

    def object(self) -> dict[str, Any]:
        return session_object(self.session_id, self.model, self.expires_at, self.settings)


def _error(message: str, code: str | None = None, param: str | None = None,
           client: Any = None) -> Said:  # fmt: skip
    event_id = client if isinstance(client, str) else None
    return Said((said(error_event(message, code, param, event_id=event_id),
                      event_label("error")),))  # fmt: skip


def _merged(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``new`` laid over it, table by table (a partial session.update)."""
    out = dict(base)
    for key, value in new.items():
        old = out.get(key)
        out[key] = (
            _merged(old, value)
            if isinstance(old, Mapping) and isinstance(value, Mapping)
            else value
        )
    return out


class RealtimeTalker(Talker[Session]):
    """OpenAI's Realtime API (GA), one per server."""

    def __init__(self) -> None:
        self.speaker = RealtimeSpeaker()

    def accept(self, incoming: Incoming, given: Given) -> Opened[Session]:
        check_key(incoming)
        model = incoming.query.get("model") or "gpt-realtime"
        session = Session(fresh_id("sess"), model, fresh_id("conv"),
                          int(time.time()) + _LIFETIME, DEFAULT_SESSION)  # fmt: skip
        created = event("session.created", session=session.object())
        return Opened(session, (said(created),))

    def heard(
        self, state: Session, message: Heard, incoming: Incoming
    ) -> tuple[Session, Said | Ask]:
        if message.binary:
            return state, _error("The server expects text messages, each one JSON event.",
                                 "invalid_request_error")  # fmt: skip
        try:
            sent = json.loads(message.data)
        except ValueError as exc:
            return state, _error(f"Invalid JSON: {exc}", "invalid_json")
        if not isinstance(sent, dict):
            return state, _error("Each event must be a JSON object.", "invalid_value")
        kind = sent.get("type")
        client = sent.get("event_id")
        if not isinstance(kind, str):
            return state, _error("Missing required parameter: 'type'.",
                                 "missing_required_parameter", "type", client)  # fmt: skip
        if kind == "response.create":
            return self._respond(state, sent, incoming)
        if kind == "input_audio_buffer.append":
            return self._listened(state, sent, incoming)
        handler = _HANDLERS.get(kind)
        if handler is None:
            return state, _error(f"Invalid value: '{kind}'. Supported values are: "
                                 + ", ".join(f"'{k}'" for k in _SUPPORTED) + ".",
                                 "invalid_value", "type", client)  # fmt: skip
        return handler(state, sent)

    def _listened(self, state: Session, sent: Mapping[str, Any],
                  incoming: Incoming) -> tuple[Session, Said | Ask]:  # fmt: skip
        """Appended audio; with server VAD, a turn it ends is committed, and answered when
        ``create_response`` says so (as the API does, with no event from the client)."""
        state, spoken = _audio_append(state, sent)
        if not _turn_ended(spoken):
            return state, spoken
        state, committed = _audio_commit(state, {})
        steps = (*spoken.steps, *committed.steps)
        if not _detection(state).get("create_response", True):
            return state, Said(steps)
        state, asked = self._respond(state, {}, incoming)
        if isinstance(asked, Ask):
            return state, Ask(asked.incoming, before=steps)
        return state, Said((*steps, *asked.steps))

    def refused(self, state: Session, error: BadRequest) -> Sequence[Step]:
        detail = error.detail if isinstance(error.detail, str) else json.dumps(error.detail)
        return _error(
            detail, "invalid_request_error" if error.status < 500 else "server_error"
        ).steps

    def answered(self, state: Session, scenario: Scenario, asked: Asked) -> Session:
        """The response asked for is answered: its output items join the conversation."""
        if not state.asked:
            return state
        done = replace(
            state,
            asked="",
            playing=state.asked,
            playing_audio=state.asked_audio,
            items=_transcribed(state.items, scenario.reply.heard),
        )
        if not state.asked_into:
            return done
        ctx = RealtimeContext(state.asked, state.conversation_id, state.asked_audio, "", 0)
        text = reply_text(scenario.reply, asked.prompt)
        return replace(done, items=(*done.items, *output_items(scenario.reply, text, ctx)))

    def interrupts(self, state: Session, message: Heard) -> tuple[Session, Sequence[Step]] | None:
        """While a response plays: ``response.cancel`` stops it (``client_cancelled``), and
        so does the user's audio with server VAD that interrupts (``turn_detected``, after
        ``speech_started``); anything else waits its turn."""
        try:
            sent = json.loads(message.data)
        except ValueError:
            return None
        kind = sent.get("type") if isinstance(sent, dict) else None
        if not state.playing or kind not in ("response.cancel", "input_audio_buffer.append"):
            return None
        before: Sequence[Step] = ()
        reason = "client_cancelled"
        if kind == "input_audio_buffer.append":
            if not _detection(state).get("interrupt_response"):
                return None
            state, spoken = _audio_append(state, sent)
            before, reason = spoken.steps, "turn_detected"
        ctx = RealtimeContext(state.playing, state.conversation_id, state.playing_audio, "", 0)
        details = {"type": "cancelled", "reason": reason}
        done = said(event("response.done", response=response_object(ctx, "cancelled",
                                                                     details=details)))  # fmt: skip
        return replace(state, playing=""), (*before, done)

    def _respond(self, state: Session, sent: Mapping[str, Any],
                 incoming: Incoming) -> tuple[Session, Said | Ask]:  # fmt: skip
        asked = sent.get("response") or {}
        if not isinstance(asked, Mapping):
            return state, _error("Invalid type for 'response': expected an object.",
                                 "invalid_type", "response", sent.get("event_id"))  # fmt: skip
        settings = _merged(state.settings, {k: v for k, v in asked.items()
                                            if k in ("output_modalities", "instructions",
                                                     "tools", "audio")})  # fmt: skip
        into = asked.get("conversation", "auto") != "none"
        given = asked.get("input")
        items: Sequence[Any] = given if isinstance(given, list) else state.items
        modalities = settings.get("output_modalities") or ["audio"]
        voice = settings.get("audio", {}).get("output", {}).get("voice", "marin")
        response_id = fresh_id("resp")
        body = {
            "model": state.model,
            "instructions": settings.get("instructions") or "",
            "tools": [t.get("name") for t in settings.get("tools") or ()
                      if isinstance(t, Mapping) and isinstance(t.get("name"), str)],
            "items": list(items),
            "audio": "audio" in modalities,
            "voice": voice if isinstance(voice, str) else "marin",
            "response_id": response_id,
            "conversation_id": state.conversation_id if into else None,
            "metadata": asked.get("metadata"),
            "transcribe_item": state.transcribing,
        }  # fmt: skip
        ask = Incoming("MESSAGE", incoming.path, incoming.query,
                       {"Content-Type": "application/json", **choosing_headers(incoming)},
                       json.dumps(body).encode())  # fmt: skip
        return replace(state, asked=response_id, asked_audio="audio" in modalities,
                       asked_into=into, transcribing=""), Ask(ask)  # fmt: skip


def _session_update(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    new = sent.get("session")
    if not isinstance(new, Mapping):
        return state, _error("Missing required parameter: 'session'.",
                             "missing_required_parameter", "session", sent.get("event_id"))  # fmt: skip
    settings = _merged(state.settings, {k: v for k, v in new.items() if k not in ("model", "id")})
    updated = replace(state, settings=settings)
    return updated, Said((said(event("session.updated", session=updated.object())),))


def _item_create(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    item = sent.get("item")
    client = sent.get("event_id")
    if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
        return state, _error("Missing required parameter: 'item'.",
                             "missing_required_parameter", "item", client)  # fmt: skip
    kind = item["type"]
    for needed in {"function_call_output": ("call_id", "output"),
                   "function_call": ("name", "arguments")}.get(kind, ()):  # fmt: skip
        if not isinstance(item.get(needed), str):
            return state, _error(f"Missing required parameter: 'item.{needed}'.",
                                 "missing_required_parameter", f"item.{needed}", client)  # fmt: skip
    stored = {"id": item.get("id") or fresh_id("item"), "object": "realtime.item",
              "status": "completed", **{k: v for k, v in item.items() if k != "id"}}  # fmt: skip
    previous = sent.get("previous_item_id", state.items[-1]["id"] if state.items else None)
    at = len(state.items)
    if previous == "root":
        at, previous = 0, None
    elif previous is not None:
        ids = [i["id"] for i in state.items]
        if previous not in ids:
            return state, _error(f"Previous item with id '{previous}' not found.",
                                 "item_not_found", "previous_item_id", client)  # fmt: skip
        at = ids.index(previous) + 1
    items = (*state.items[:at], stored, *state.items[at:])
    return replace(state, items=items), Said((
        said(event("conversation.item.added", previous_item_id=previous, item=stored)),
        said(event("conversation.item.done", previous_item_id=previous, item=stored)),
    ))  # fmt: skip


def _find(state: Session, sent: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((i for i in state.items if i["id"] == sent.get("item_id")), None)


def _not_found(sent: Mapping[str, Any]) -> Said:
    return _error(f"Item with item_id not found: {sent.get('item_id')}", "item_not_found",
                  "item_id", sent.get("event_id"))  # fmt: skip


def _item_delete(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    found = _find(state, sent)
    if found is None:
        return state, _not_found(sent)
    items = tuple(i for i in state.items if i is not found)
    return replace(state, items=items), Said((
        said(event("conversation.item.deleted", item_id=found["id"])),))  # fmt: skip


def _item_retrieve(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    found = _find(state, sent)
    if found is None:
        return state, _not_found(sent)
    return state, Said((said(event("conversation.item.retrieved", item=found)),))


def _item_truncate(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    found = _find(state, sent)
    if found is None:
        return state, _not_found(sent)
    if found.get("role") != "assistant":
        return state, _error("Only assistant messages can be truncated.", "invalid_value",
                             "item_id", sent.get("event_id"))  # fmt: skip
    return state, Said((said(event("conversation.item.truncated", item_id=found["id"],
                                   content_index=sent.get("content_index", 0),
                                   audio_end_ms=sent.get("audio_end_ms", 0))),))  # fmt: skip


def _audio_append(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    audio = sent.get("audio")
    try:
        pcm = base64.b64decode(audio, validate=True) if isinstance(audio, str) else None
    except (binascii.Error, ValueError):
        pcm = None
    if pcm is None:
        return state, _error("Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 "
                             "at 24kHz) but got an invalid value.", "invalid_value", "audio",
                             sent.get("event_id"))  # fmt: skip
    started = state.buffered_ms
    item = state.speech_item or fresh_id("item")
    updated = replace(state, buffered_ms=started + len(pcm) / BYTES_PER_MS, speech_item=item)
    detection = _detection(state)
    if not detection or detection.get("type") != "server_vad":
        return updated, Said(())
    now = vad.heard(pcm, state.speaking, state.quiet_ms, detection, BYTES_PER_MS)
    updated = replace(updated, speaking=now.speaking, quiet_ms=now.quiet_ms)
    if now.started:
        return updated, Said((said(event("input_audio_buffer.speech_started",
                                         audio_start_ms=int(started), item_id=item)),))  # fmt: skip
    if now.ended:
        return updated, Said((said(event("input_audio_buffer.speech_stopped",
                                         audio_end_ms=int(updated.buffered_ms), item_id=item),
                                   _TURN_ENDED),))  # fmt: skip
    return updated, Said(())


def _detection(state: Session) -> Mapping[str, Any]:
    """The session's turn detection (empty: none)."""
    found = state.settings.get("audio", {}).get("input", {}).get("turn_detection")
    return found if isinstance(found, Mapping) else {}


def _transcribed(items: tuple[Mapping[str, Any], ...],
                 heard: str) -> tuple[Mapping[str, Any], ...]:  # fmt: skip
    """The conversation with its user audio items that await a transcript given ``heard``
    (what the scenario says the spoken turn said)."""
    if not heard:
        return items
    return tuple({**item, "content": [{**part, "transcript": heard}
                                      if part.get("type") == "input_audio"
                                      and part.get("transcript") is None else part
                                      for part in item["content"]]}
                 if item.get("role") == "user" and isinstance(item.get("content"), list)
                 else item for item in items)  # fmt: skip


def _turn_ended(spoken: Said) -> bool:
    return any(isinstance(step, Message) and step.what is _TURN_ENDED for step in spoken.steps)


def _audio_commit(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    if state.buffered_ms < 100:
        return state, _error(
            "Error committing input audio buffer: buffer too small. Expected at least 100ms "
            f"of audio, but buffer only has {state.buffered_ms:.2f}ms of audio.",
            "input_audio_buffer_commit_empty", None, sent.get("event_id"))  # fmt: skip
    previous = state.items[-1]["id"] if state.items else None
    item = {"id": state.speech_item, "object": "realtime.item", "type": "message",
            "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}  # fmt: skip
    stopped = [said(event("input_audio_buffer.speech_stopped", audio_end_ms=int(state.buffered_ms),
                          item_id=item["id"]))] if state.speaking else []  # fmt: skip
    transcribes = isinstance(state.settings.get("audio", {}).get("input", {}).get("transcription"),
                             Mapping)  # fmt: skip
    updated = replace(state, items=(*state.items, item), buffered_ms=0.0, speech_item="",
                      speaking=False, quiet_ms=0.0,
                      transcribing=state.speech_item if transcribes else state.transcribing)  # fmt: skip
    return updated, Said((
        *stopped,
        said(event("input_audio_buffer.committed", previous_item_id=previous,
                   item_id=item["id"])),
        said(event("conversation.item.added", previous_item_id=previous, item=item)),
        said(event("conversation.item.done", previous_item_id=previous, item=item)),
    ))  # fmt: skip


def _audio_clear(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    return replace(state, buffered_ms=0.0, speech_item="", speaking=False, quiet_ms=0.0), Said((
        said(event("input_audio_buffer.cleared")),))  # fmt: skip


def _cancel(state: Session, sent: Mapping[str, Any]) -> tuple[Session, Said]:
    # Read between responses: none is active (one that plays is stopped by interrupts()).
    return state, _error("Cancellation failed: no active response found",
                         "response_cancel_not_active", None, sent.get("event_id"))  # fmt: skip


#: The client events answered by the session alone (``response.create`` and
#: ``input_audio_buffer.append`` may ask for a response: RealtimeTalker answers them).
_HANDLERS: Final = {
    "session.update": _session_update,
    "input_audio_buffer.commit": _audio_commit,
    "input_audio_buffer.clear": _audio_clear,
    "conversation.item.create": _item_create,
    "conversation.item.retrieve": _item_retrieve,
    "conversation.item.truncate": _item_truncate,
    "conversation.item.delete": _item_delete,
    "response.cancel": _cancel,
}
#: Every client event it takes, in the order its error lists them.
_SUPPORTED: Final = ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                     "input_audio_buffer.clear", "conversation.item.create",
                     "conversation.item.retrieve", "conversation.item.truncate",
                     "conversation.item.delete", "response.create", "response.cancel")  # fmt: skip
