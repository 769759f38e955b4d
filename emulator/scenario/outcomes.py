"""Client-neutral outcomes: what any correct client reaches, in any language. Pure.

A scenario expects either text (exactly the reply, or an exact prefix where
the stream ends early) or a failure of one of these kinds. A client reports
a failure however its language does (an exception, a non-zero exit); the
conformance judge (:mod:`emulator.conformance`) holds it to the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

__all__ = ["FAILURES", "Reading"]

#: Each failure kind, and what a correct client does to meet it.
FAILURES: Final[Mapping[str, str]] = {
    "http_status": "fails on a non-2xx answer; the failure mentions the status",
    "incomplete_stream": "fails when the stream is cut before the reply is complete",
    "connection": "fails when the connection breaks before a whole answer arrives (a reset, "
    "a body cut short of its length) outside the reply stream",
    "idle_timeout": "gives up within its idle timeout (plus a margin) when the upstream goes "
    "silent; never hangs",
    "no_reply": "fails on an empty or [DONE]-only reply instead of returning ''",
    "upstream_error": "fails with the error an event in the stream carries",
    "corrupt_stream": "fails when a frame of a binary event stream is corrupt (a checksum or "
    "a length that does not hold) instead of reading past it",
    "rejected_login": "fails when the login flow cannot go on (no accounts, no token)",
    "rewritten_reply": "fails when a snapshot rewrites text already delivered, rather than "
    "deliver text that differs from the upstream's",
    "refused": "reports the model's refusal (OpenAI's refusal field, not content) as a "
    "refusal, instead of returning '' or the refusal's words as the answer",
}


class Reading(NamedTuple):
    """What a correct client makes of a captured body of one API (a dialect's capture
    reader says): the text, how the body ended, or the failure it carries."""

    text: str
    #: The API's end marker was read ([DONE], message_stop, response.completed).
    done: bool = False
    #: The reply said it was whole (a finished message, a finish or stop reason).
    finished: bool = False
    #: A kind of :data:`FAILURES` the body itself carries (an error event, a rewrite).
    failure: str | None = None
    #: What the failure says (an error event's message).
    message: str = ""
