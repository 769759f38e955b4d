"""Which scenarios mean something on the MCP server, and why the rest do not. Pure.

A scenario's faults, wire quirks and HTTP errors act on the server's answers (the faults on
a ``tools/call``'s event stream, an HTTP error on the first request: ``initialize``); its
reply (the turn a prompt gets, in a scripted conversation) is what the ``reply`` tool
answers: all a client is told, its text then its calls' arguments. A reply's finish of
its own, a refusal, or a count of tokens is a model's, which a tool's result does not
say.
"""

from __future__ import annotations

from typing import Final

from ...scenario.faults import FAULTS
from ...scenario.model import Expect, Scenario
from ..common import keyed_api_not_applicable
from .shapes import MISSING

__all__ = ["NAME", "TITLE", "expects", "not_applicable"]

NAME: Final = "mcp"
TITLE: Final = "MCP (Streamable HTTP)"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on this dialect (None: it applies)."""
    reason = keyed_api_not_applicable(scenario, NAME, MISSING)
    if reason is not None:
        return reason
    if scenario.wire.finish_type != "stop":
        return f"its reply ends at {scenario.wire.finish_type}, which a tool's result does not"
    if scenario.reply.cached_tokens or scenario.rate_limit.tokens:
        return "it counts a model's tokens, which a tool server does not"
    if scenario.expect.failure == "no_reply":
        return "it expects a reply with no text to fail; a tool's empty text is a result"
    return None


#: The bytes of an answer's priming event, at least (the id a client resumes from).
_PRIMED: Final = 16


def expects(scenario: Scenario) -> Expect | None:
    """What a correct client ends with where MCP says otherwise than the scenario: a
    stream cut or stalled after its priming event (a drop, a reset, a close, a body cut
    short, a silence past the client's read timeout) is resumed with ``Last-Event-ID``,
    and the client gets the result once."""
    if scenario.expect.failure not in ("incomplete_stream", "idle_timeout"):
        return None
    transport = scenario.transport
    cut_late = transport.cut_after >= _PRIMED or transport.length_error < 0
    faulted = [FAULTS[f.kind] for f in scenario.faults if f.at != 0]
    if cut_late or (faulted and all(s.cut is not None or s.waits for s in faulted)):
        return Expect(idle_timeout=scenario.expect.idle_timeout)
    return None
