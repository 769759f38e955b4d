"""What the real APIs refuse in a conversation, declared once per dialect.

Each dialect lists its :class:`StrictRule` values (``Dialect.strict_rules``):
what the rule refuses, the API's own message, and where that comes from. Its
reader refuses with :func:`refuse`, which is a 400 in the dialect's error
shape. The docs' table is made from these lists. Rules marked ``switchable``
are the conversation rules a client may knowingly break: ``--lenient`` (or a
request's ``X-Emulator-Strict: off``) lets them through.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ..protocol.errors import BadRequest

__all__ = ["STRICT_HEADER", "StrictRule", "refuse", "strict_asked"]

#: A request header that turns the switchable rules off for that request ("off").
STRICT_HEADER: Final = "X-Emulator-Strict"


class StrictRule(NamedTuple):
    """One thing an API answers 400 to."""

    #: Its name, for the docs and tests (``openai_chat.unknown_call_id``).
    name: str
    #: What it refuses, in words.
    refuses: str
    #: The API's message; ``{…}`` fields are filled in from the request.
    message: str
    #: Where the rule and its wording come from (the provider's docs, a report quoting
    #: the API's answer).
    source: str
    #: Whether ``--lenient`` lets it through (the conversation rules do).
    switchable: bool = True


def strict_asked(strict: bool, headers: Any) -> bool:
    """Whether a request gets the switchable rules: the server's ``strict`` unless the
    request's header turns them off."""
    return strict and str(headers.get(STRICT_HEADER, "")).lower() not in ("off", "0")


def refuse(rule: StrictRule, status: int = 400, **fields: Any) -> BadRequest:
    """The 400 ``rule`` answers, its message filled in."""
    return BadRequest(status, rule.message.format(**fields))
