"""A Realtime response as a :class:`~emulator.dialects.speaker.Speaker` answers it: the
session's ask (its conversation's items, its settings, the ids the session chose) read
into a typed request, and its response planned as events. Pure but for its ids."""

from __future__ import annotations

from typing import Any, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ...scenario.model import Scenario
from ..speaker import DeltaSpeaker, Given, Incoming, Streamed, json_object, too_long
from .plan import output_items, planned_realtime
from .read import asked_of_items
from .shapes import shapes
from .wire import RealtimeContext, response_object

__all__ = ["RealtimeRequest", "RealtimeSpeaker"]


class RealtimeRequest(NamedTuple):
    """One ``response.create``, as the session asks it."""

    prompt: str
    response_id: str
    conversation_id: str
    audio: bool
    voice: str
    input_tokens: int
    metadata: Any = None
    transcribe_item: str = ""  # the user audio item the response brings the transcript of
    stream: bool = True  # a response is always its events


class RealtimeSpeaker(DeltaSpeaker[RealtimeRequest, RealtimeContext]):
    failed = "The server had an error while processing your request. Sorry about that!"

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, RealtimeRequest]:
        body = json_object(incoming, "the session's ask is not JSON")
        items = body.get("items")
        if not isinstance(items, list):
            raise BadRequest(400, "Missing required parameter: 'items'.")
        asked = asked_of_items(items, str(body.get("model", "")),
                               str(body.get("instructions", "")),
                               tuple(str(t) for t in body.get("tools") or ()), body)  # fmt: skip
        if too_long(asked.prompt, given.max_prompt):
            raise BadRequest(400, "The conversation is too long for this model.")
        metadata = body.get("metadata")
        return asked, RealtimeRequest(
            asked.prompt,
            str(body["response_id"]),
            str(body.get("conversation_id") or ""),
            bool(body.get("audio")),
            str(body.get("voice", "marin")),
            asked.tokens,
            metadata if isinstance(metadata, dict) else None,
            str(body.get("transcribe_item") or ""),
        )

    def begin(
        self, parsed: RealtimeRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> RealtimeContext:
        return RealtimeContext(parsed.response_id, parsed.conversation_id or None,
                               parsed.audio, parsed.voice, parsed.input_tokens,
                               parsed.metadata, parsed.transcribe_item)  # fmt: skip

    def replay_shapes(self, context: RealtimeContext, given: Given) -> Shapes:
        return shapes(context)

    def whole(
        self,
        parsed: RealtimeRequest,
        context: RealtimeContext,
        scenario: Scenario,
        planned: Prepared,
    ) -> Any:
        output = output_items(scenario.reply, planned.text, context)
        return response_object(context, "completed", output, len(planned.ends))

    def stream(
        self,
        parsed: RealtimeRequest,
        context: RealtimeContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_realtime(scenario, context, planned))
