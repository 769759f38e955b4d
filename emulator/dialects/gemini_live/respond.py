"""A Live turn as a :class:`~emulator.dialects.speaker.Speaker` answers it: the session's ask
(its contents so far, its setup) read into a typed request, and the turn planned as the
API's messages. Pure."""

from __future__ import annotations

from typing import Any, NamedTuple

from ...engine.prepare import Prepared
from ...protocol.errors import BadRequest
from ...scenario.asked import Asked
from ...scenario.faults import Shapes
from ...scenario.model import Scenario
from ..google import MESSAGES
from ..google_read import asked_of_gemini
from ..speaker import DeltaSpeaker, Given, Incoming, Streamed, json_object, too_long
from .plan import planned_live
from .shapes import shapes
from .wire import LiveContext, calls_message

__all__ = ["LiveRequest", "LiveSpeaker"]


class LiveRequest(NamedTuple):
    """One turn the session asks for."""

    prompt: str
    turn: int
    model: str
    audio: bool
    transcribe: bool
    prompt_tokens: int
    transcribe_input: bool = False  # a spoken turn whose words the answer tells first
    stream: bool = True  # a turn is always its messages


class LiveSpeaker(DeltaSpeaker[LiveRequest, LiveContext]):
    failed = MESSAGES[500]

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, LiveRequest]:
        body = json_object(incoming, "the session's ask is not JSON")
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            raise BadRequest(400, "Request contains an invalid argument: no turns to answer.")
        model = str(body.get("model", "")).removeprefix("models/")
        asked = asked_of_gemini(body, model, given.strict)
        if too_long(asked.prompt, given.max_prompt):
            raise BadRequest(400, "The input token count exceeds the maximum number of tokens "
                             "allowed.")  # fmt: skip
        return asked, LiveRequest(asked.prompt, int(body.get("turn", 0)), model,
                                  bool(body.get("audio")), bool(body.get("transcribe")),
                                  asked.tokens, bool(body.get("transcribe_input")))  # fmt: skip

    def begin(
        self, parsed: LiveRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> LiveContext:
        return LiveContext(parsed.turn, parsed.model, parsed.audio, parsed.transcribe,
                           parsed.prompt_tokens, parsed.transcribe_input)  # fmt: skip

    def replay_shapes(self, context: LiveContext, given: Given) -> Shapes:
        return shapes()

    def whole(
        self, parsed: LiveRequest, context: LiveContext, scenario: Scenario, planned: Prepared
    ) -> Any:
        calls = scenario.reply.every_call(planned.text)
        if calls:
            return calls_message(context, calls)
        return {"serverContent": {"modelTurn": {"parts": [{"text": planned.text}]},
                                  "turnComplete": True}}  # fmt: skip

    def stream(
        self,
        parsed: LiveRequest,
        context: LiveContext,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        return Streamed(planned_live(scenario, context, planned))
