"""What happened to an answer, as values: how a stream ended, what a write was, a problem.

Nothing here is parsed back from a sentence: each value says what it is in
fields, and becomes words only at the edges (a log line, the journal's JSON,
the inspector) through ``str()``. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

__all__ = [
    "COMPLETED",
    "Ending",
    "EndingKind",
    "Label",
    "LabelKind",
    "Problem",
    "ProblemKind",
    "end_label",
    "event_label",
]

#: How an answer ended.
EndingKind = Literal[
    "completed",  # every byte sent, the body ended
    "dropped",  # the scenario cut the connection (a drop fault)
    "closed",  # the scenario closed it (a FIN) with the body unfinished
    "reset",  # the scenario reset it (an RST)
    "client_gone",  # the client left first
    "shutdown",  # the server stopped
    "cut",  # the scenario's transport cut it (cut_after)
    "short_length",  # the body stopped at a Content-Length shorter than it
    "no_headers",  # the headers were never sent
    "never_sent",  # a fault kept a whole (not streamed) answer from going out
    "close_code",  # the scenario closed a WebSocket with a close code
    "too_slow",  # the client took nothing for too long (limits.reader_seconds): cut
]

_WORDS: Final[dict[str, str]] = {
    "dropped": "dropped by the scenario",
    "closed": "closed by the scenario",
    "reset": "reset by the scenario",
    "client_gone": "client gone",
    "cut": "cut by the transport",
    "short_length": "cut by the Content-Length",
    "no_headers": "headers never sent",
    "close_code": "closed with a close code",
    "too_slow": "cut: the client read too slowly",
}


@dataclass(frozen=True, slots=True)
class Ending:
    """How an answer ended, where (``at_bytes`` sent) and when (``at_ms`` after it arrived).

    ``str()`` words it for the journal and the log: ``completed``, ``client gone at 812 B
    after 40 ms``, ``stopped by shutdown at 9 B``, ``drop (the whole answer was never
    sent)``.
    """

    kind: EndingKind
    at_bytes: int = 0
    at_ms: float | None = None
    #: The fault kind that kept a whole answer from going out (``never_sent``).
    fault: str = ""

    def __eq__(self, other: object) -> bool:
        """Equal to another ending with the same fields, or to its kind's text
        (``call.ending == "completed"``)."""
        if isinstance(other, str):
            return self.kind == other
        if not isinstance(other, Ending):
            return NotImplemented
        return (self.kind, self.at_bytes, self.at_ms, self.fault) == (
            other.kind, other.at_bytes, other.at_ms, other.fault)  # fmt: skip

    def __hash__(self) -> int:
        return hash(self.kind)  # equal endings (and a kind's text) share it

    @property
    def early(self) -> bool:
        """Whether the answer stopped before its end."""
        return self.kind != "completed"

    def __str__(self) -> str:
        if self.kind == "completed":
            return "completed"
        if self.kind == "shutdown":
            return f"stopped by shutdown at {self.at_bytes:,} B"
        if self.kind == "never_sent":
            return f"{self.fault} (the whole answer was never sent)"
        return f"{_WORDS[self.kind]} at {self.at_bytes:,} B after {self.at_ms or 0.0:.0f} ms"


#: The ending of an answer sent whole and to its end.
COMPLETED: Final = Ending("completed")

#: What a write (or wait) of a stream is.
LabelKind = Literal[
    "event",  # an event of the reply (or a run of them)
    "end",  # the stream's end marker ([DONE], message_stop, response.completed)
    "fault",  # written by a fault
    "pause",  # a wait: pacing, a recorded pause, a split's pause
    "recorded",  # a chunk of a recording
    "body",  # a whole answer
    "received",  # a message the client sent (on a WebSocket)
]


class Label(NamedTuple):
    """What a write or a wait is: its kind, its name, and for a fault, where it stands.

    ``str()`` words it for the transcript (``messages 1-9``, ``[DONE]``,
    ``fault drop at 3``, ``fault stall at 2: 20 s``).
    """

    kind: LabelKind
    name: str = ""  # the event's name ("messages 1-9", "[DONE]"); a fault's kind
    at: int = 0  # a fault's event (its ``at``)
    note: str = ""  # said after it: " (split)", ": 20 s"

    def __str__(self) -> str:
        said = f"fault {self.name} at {self.at}" if self.kind == "fault" else self.name
        return said + self.note

    def noted(self, note: str) -> Label:
        """This label with ``note`` said after it."""
        return self._replace(note=self.note + note)


def event_label(name: str) -> Label:
    """The label of an event of the reply called ``name``."""
    return Label("event", name)


def end_label(name: str) -> Label:
    """The label of a stream's end marker called ``name``."""
    return Label("end", name)


#: What went wrong on the server's side, that a test should hear of.
ProblemKind = Literal[
    "handler_error",  # a handler raised (a bug of the emulator), or a rule timed out
    "unmatched",  # a request matched no route
    "unused",  # a queued scenario was never used
]

_PROBLEM_WORDS: Final[dict[str, str]] = {
    "handler_error": "handler raised",
    "unmatched": "request matched no route",
    "unused": "queued scenario never used",
}


class Problem(NamedTuple):
    """A problem the emulator saw: its kind and what it says (``str()``: both, in words)."""

    kind: ProblemKind
    text: str

    def __str__(self) -> str:
        return f"{_PROBLEM_WORDS[self.kind]}: {self.text}"
