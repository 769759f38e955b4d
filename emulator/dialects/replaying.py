"""A recorded WebSocket session, replayed: the server's messages again, with their timing,
each run of them after the client message it followed in the recording. Pure.

A session's recording (a scenario's ``[recording]`` of a WebSocket dialect, as the journal
or ``python -m emulator import`` makes it) is the server's messages and the client's
(``heard``) in order. Replayed, what the server said before the client's first message is
the greeting; each message the client sends then plays the run that followed the next
recorded client message, at the recorded pace (scaled by the server's speed). What the
client sends is not compared with what was recorded: the replay is the server's side, as
a recording of an HTTP answer is. Past the recording's last run, messages are left
unanswered; a recording that ended with the connection cut or closed ends so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..core.endings import Label
from ..protocol.errors import BadRequest
from ..protocol.steps import Close, Drop, Message, Step, Wait
from ..scenario.model import Recording
from .session import Heard, Opened, Said, Talker
from .speaker import Given, Incoming, Speaker

__all__ = ["ReplayTalker", "runs"]

_PAUSE: Final = Label("pause", "recorded pause")
_REPLAYED: Final = Label("event", "replayed message")


def runs(recording: Recording) -> list[list[Step]]:
    """The recording's server messages in runs: the first before any client message, then
    one after each; each message after the wait that kept it from the run's start."""
    found: list[list[Step]] = [[]]
    last = 0.0  # when the run started, or its last message went
    for chunk in recording.chunks:
        if chunk.message == "heard":
            found.append([])
            last = chunk.at
            continue
        if chunk.message not in ("text", "binary"):
            continue  # an HTTP body's bytes: not a session's (refused when it is chosen)
        pause = chunk.at - last
        if pause > 0:
            found[-1].append(Wait(pause, what=_PAUSE))
        found[-1].append(Message(chunk.data, chunk.message == "binary", _REPLAYED))
        last = chunk.at
    ending = _ENDS.get(recording.ending)
    if ending is not None:
        found[-1].append(ending)
    return found


#: How a recorded session that did not end cleanly ends its last run.
_ENDS: Final[dict[str, Step]] = {
    "drop": Drop("abort"),
    "reset": Drop("reset"),
    "close": Close(1000, "the recording ends here"),
}


class ReplayTalker(Talker[int]):
    """Plays a recorded session; its state is how many runs have been played."""

    def __init__(self, recording: Recording, speaker: Speaker[Any, Any, Any]) -> None:
        self.speaker = speaker
        self.runs = runs(recording)

    def accept(self, incoming: Incoming, given: Given) -> Opened[int]:
        return Opened(1, tuple(self.runs[0]))

    def heard(self, state: int, message: Heard, incoming: Incoming) -> tuple[int, Said]:
        if state >= len(self.runs):
            return state, Said(())
        return state + 1, Said(tuple(self.runs[state]))

    def refused(self, state: int, error: BadRequest) -> Sequence[Step]:
        return ()
