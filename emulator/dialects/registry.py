"""THE table of dialects: every API the emulator speaks, registered once.

Routes (:mod:`emulator.http.routes`), ``--list``, ``conform --dialect``,
``import`` and the docs read :data:`DIALECTS`. Adding a dialect is a folder
of its own (``wire.py`` its pure shapes, ``read.py`` its typed request,
``plan.py`` its stream, ``api.py`` its :class:`~.speaker.Speaker` and
:class:`~.dialect.Dialect` value; what it shares with another dialect lives
below both, in this package's own modules) and one line below. A dialect
that is not shipped (a test's, a user's) is added with :func:`register`
before a server is built, and taken back with :func:`unregister`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from ..scenario.parts import register_part, unregister_part
from .anthropic.api import DIALECT as ANTHROPIC
from .anthropic.bedrock import DIALECT as ANTHROPIC_BEDROCK
from .anthropic.vertex import DIALECT as ANTHROPIC_VERTEX
from .bedrock.api import DIALECT as BEDROCK
from .cohere.api import DIALECT as COHERE
from .dialect import Dialect
from .fakegpt.api import DIALECT as FAKEGPT
from .gemini.api import DIALECT as GEMINI
from .gemini.vertex import DIALECT as GEMINI_VERTEX
from .gemini_live.api import DIALECT as GEMINI_LIVE
from .mcp.api import DIALECT as MCP
from .ollama.api import DIALECT as OLLAMA
from .openai_chat.api import DIALECT as OPENAI_CHAT
from .openai_chat.azure import DIALECT as AZURE_OPENAI
from .openai_chat.presets import DIALECTS as COMPATIBLE
from .openai_realtime.api import DIALECT as OPENAI_REALTIME
from .openai_responses.api import DIALECT as OPENAI_RESPONSES

__all__ = ["DIALECTS", "dialect_named", "register", "registered", "unregister"]

#: Every dialect, by name, in the order the docs list them.
DIALECTS: Final[dict[str, Dialect]] = {
    d.name: d
    for d in (
        FAKEGPT,
        OPENAI_CHAT,
        ANTHROPIC,
        OPENAI_RESPONSES,
        GEMINI,
        BEDROCK,
        AZURE_OPENAI,
        ANTHROPIC_BEDROCK,
        ANTHROPIC_VERTEX,
        GEMINI_VERTEX,
        OLLAMA,
        COHERE,
        *COMPATIBLE,
        OPENAI_REALTIME,
        GEMINI_LIVE,
        MCP,
    )
}
_SHIPPED: Final = frozenset(DIALECTS)
for _dialect in DIALECTS.values():
    if _dialect.part is not None:
        register_part(_dialect.part)  # the loader reads its keys from now on


def dialect_named(name: str) -> Dialect:
    """The dialect called ``name``; a ``ValueError`` naming the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(DIALECTS)}") from None


def register(new: Dialect) -> None:
    """Add a dialect (servers built from now on serve it). Its name and paths must be new."""
    if new.name in DIALECTS:
        raise ValueError(f"a dialect named {new.name!r} is already registered")
    taken = {p: d.name for d in DIALECTS.values() for p in (*d.routes, *d.prefixes)}
    clash = sorted(p for p in (*new.routes, *new.prefixes) if p in taken)
    if clash:
        raise ValueError(
            f"dialect {new.name!r}: {', '.join(clash)} already served by {taken[clash[0]]!r}"
        )
    if new.part is not None:
        if new.part.dialect != new.name:
            raise ValueError(f"dialect {new.name!r}: its part is {new.part.dialect!r}'s")
        register_part(new.part)
    DIALECTS[new.name] = new


def unregister(name: str) -> None:
    """Take back a dialect :func:`register` added (the shipped ones stay)."""
    if name in _SHIPPED:
        raise ValueError(f"{name!r} is a shipped dialect; it cannot be taken back")
    gone = DIALECTS.pop(name, None)
    if gone is not None and gone.part is not None:
        unregister_part(gone.part.dialect)


@contextmanager
def registered(new: Dialect) -> Iterator[Dialect]:
    """``with registered(d):`` — ``d`` is served by servers built inside the block."""
    register(new)
    try:
        yield new
    finally:
        unregister(new.name)
