"""A Gemini Live turn as the API plays it: the model's turn in pieces (text, or audio with
its words), then either its calls in one ``toolCall`` (the turn goes on once the client
answers them) or ``generationComplete`` and ``turnComplete`` with the usage. Pure.

Numbered as faults count events, as every dialect's: 0 opens the turn (nothing is said for
it), one per piece of the reply, the calls' events (said at the end, whole), the closing
one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Final

from ...core.endings import end_label, event_label
from ...engine.prepare import Prepared
from ...engine.stream import Events, delta_events, dialect_stream
from ...protocol.audio import speech
from ...protocol.steps import Close, Message, Step
from ...scenario.faults import FAULTS
from ...scenario.model import Scenario
from ..common import session_not_applicable
from .shapes import MISSING, shapes
from .wire import LiveContext, calls_message, content_message, said, usage

__all__ = ["NAME", "TITLE", "not_applicable", "planned_live"]

NAME: Final = "gemini-live"
TITLE: Final = "Gemini Live"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    return session_not_applicable(scenario, NAME, TITLE, MISSING)


def planned_live(scenario: Scenario, ctx: LiveContext, prepared: Prepared) -> Iterator[Step]:
    """The turn's messages, one a frame, with the scenario's faults; a close the scenario
    scripts is told first with ``goAway``, as the API tells a session it is ending."""
    steps = dialect_stream(scenario, _events(scenario, ctx, prepared), prepared, shapes,
                           _closing(scenario, ctx, prepared))  # fmt: skip
    ending = any(FAULTS[f.kind].websocket for f in scenario.faults)  # a close it scripts
    if ctx.transcribe_input:  # what the spoken turn said, as the scenario scripts it
        heard = {"serverContent": {"inputTranscription": {"text": scenario.reply.heard}}}
        steps = itertools.chain((said(heard, event_label("inputTranscription")),), steps)
    return _going_away(steps) if ending else steps


def _going_away(steps: Iterator[Step]) -> Iterator[Step]:
    """``goAway`` before each close of the socket (the session's end, scripted)."""
    for step in steps:
        if isinstance(step, Close):
            yield said({"goAway": {"timeLeft": "0s"}}, event_label("goAway"))
        yield step


def _closing(scenario: Scenario, ctx: LiveContext, prepared: Prepared) -> list[Message]:
    tokens = len(prepared.ends) + len(scenario.reply.calls)
    calls = scenario.reply.every_call(prepared.text)
    if calls:  # the turn waits for the client's toolResponse
        return [said(calls_message(ctx, calls), event_label("toolCall")),
                said({"usageMetadata": usage(ctx, tokens)}, end_label("usageMetadata"))]  # fmt: skip
    return [
        said({"serverContent": {"generationComplete": True}}),
        said({"serverContent": {"turnComplete": True}, "usageMetadata": usage(ctx, tokens)},
             end_label("turnComplete")),
    ]  # fmt: skip


def _events(scenario: Scenario, ctx: LiveContext, prepared: Prepared) -> Events:
    tool = bool(scenario.reply.tool)

    def piece(number: int, text: str) -> list[Step]:
        if tool:  # a call's arguments are said whole, with the call
            return []
        return list(content_message(ctx, text, speech(text) if ctx.audio else None))

    return delta_events(scenario, prepared, list, piece, lambda text, pieces: [],
                        lambda each: [])  # fmt: skip
