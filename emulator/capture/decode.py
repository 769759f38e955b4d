"""What a correct client makes of a recorded stream: the outcome an imported scenario states.

The recorded dialect's own capture reader (the emulator never imports the
client) reads the body; here its reading and how the capture ended become
the outcome a correct client reaches.
"""

from __future__ import annotations

from collections.abc import Callable

from ..scenario.model import Expect, Recording
from ..scenario.outcomes import Reading

__all__ = ["expected_outcome"]


def expected_outcome(
    recording: Recording, read: Callable[[bytes], Reading], idle_timeout: float = 5.0
) -> Expect:
    """The outcome a correct client reaches on ``recording``, whose body ``read`` (its
    dialect's capture reader) reads."""
    if recording.status >= 400:
        return Expect("failure", failure="http_status", status=recording.status,
                      idle_timeout=idle_timeout)  # fmt: skip
    if any(c.message for c in recording.chunks):  # a WebSocket session: the server's messages
        body = b"\n".join(c.data for c in recording.chunks if c.message in ("text", "binary"))
    else:
        body = b"".join(c.data for c in recording.chunks)
    text, done, finished, failure, message = read(body)
    if failure is not None:
        return Expect("failure", failure=failure, message=message, idle_timeout=idle_timeout)
    complete = done or (finished and recording.ending == "complete")
    if not complete:
        failure = "idle_timeout" if recording.ending == "hold" else "incomplete_stream"
        if recording.ending == "complete":
            failure = "incomplete_stream" if text else "no_reply"
        return Expect("failure", failure=failure, idle_timeout=idle_timeout)
    if not text:
        return Expect("failure", failure="no_reply", idle_timeout=idle_timeout)
    return Expect("text", text=text, idle_timeout=idle_timeout)
