"""What one API's scenarios say that no other API has: an API's own part of a scenario. Pure.

The scenario model speaks of answers: a reply, its timing, its faults, the
network. What only one API has (FakeGpt's login calls, its delta_v1 stream,
its body switches) is that API's :class:`ApiPart`, declared in its dialect's
folder and registered with the dialect (:func:`register_part`, called by the
dialect registry). The loader reads each registered part's keys where files
have always written them (the top level and ``[wire]``), so existing files
load unchanged; a part left at its defaults is not kept. A scenario that
carries another API's part means nothing on an API that has not that part,
for the reason the part gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Final, Protocol

if TYPE_CHECKING:
    from typing import Self

    from .table import Table

__all__ = [
    "ANSWER",
    "ApiPart",
    "FaultTraits",
    "call_path",
    "endpoints",
    "parts",
    "register_part",
    "unregister_part",
]

#: The call that answers (every API has it; FakeGpt's ``/api/conversation``): what
#: ``[[http_errors]] endpoint`` and ``[transport] endpoints`` name when they mean the answer.
ANSWER: Final = "conversation"


class FaultTraits(Protocol):
    """What a part may ask of a fault kind (a :class:`~.faults.FaultSpec` says it)."""

    @property
    def kind(self) -> str: ...
    @property
    def cumulative_only(self) -> bool: ...


class ApiPart:
    """Base of an API's own part of a scenario: a frozen dataclass whose every field has
    a default (the API's usual behaviour), read from and written to a scenario file's
    top level and ``[wire]`` table."""

    __slots__ = ()

    #: The dialect whose scenarios say it (a name in the dialect registry).
    dialect: ClassVar[str]
    #: The API's calls beside the answer, and their paths (FakeGpt's ``login``:
    #: ``/auth/login``): ``[[http_errors]]`` and ``[transport]`` may name them.
    calls: ClassVar[Mapping[str, str]] = {}
    #: Why a scenario that acts on those calls means nothing on another API.
    calls_elsewhere: ClassVar[str] = ""

    @classmethod
    def read(cls, top: Table, wire: Table) -> Self:
        """Its keys read from a scenario's top-level table and its ``[wire]`` table (each
        read marks its key known; the loader rejects the rest)."""
        raise NotImplementedError

    def lines(self) -> tuple[list[str], list[str]]:
        """Its keys that differ from the defaults, as TOML lines: (top level, ``[wire]``)."""
        raise NotImplementedError

    def elsewhere(self) -> str | None:
        """Why a scenario saying this means nothing on another API (None: it means the
        same there, or is ignored)."""
        return None

    def unfit(self, spec: FaultTraits) -> str | None:
        """Why a fault of this kind cannot happen under it (None: it can)."""
        return None

    @property
    def streams(self) -> bool:
        """Whether the answer streams its events at all (so that faults can happen)."""
        return True

    def problems(self, faulted: bool, replies: bool) -> list[tuple[str, str]]:
        """(key, problem) for what it makes of a scenario that cannot do what it says: one
        with faults (``faulted``), one whose client should get the reply (``replies``)."""
        return []

    def effects(self) -> list[str]:
        """What it does to the calls beside the answer, in words (empty: nothing)."""
        return []


_PARTS: dict[str, type[ApiPart]] = {}


def register_part(part: type[ApiPart]) -> None:
    """Make the loader read ``part``'s keys (the dialect registry calls it). Its calls and
    keys must be new; registering the same part again does nothing."""
    known = _PARTS.get(part.dialect)
    if known is part:
        return
    if known is not None:
        raise ValueError(f"dialect {part.dialect!r} already has a scenario part")
    taken = {call for p in _PARTS.values() for call in p.calls}
    clash = sorted(c for c in part.calls if c in taken or c == ANSWER)
    if clash:
        raise ValueError(f"dialect {part.dialect!r}: the call {clash[0]!r} is already named")
    _PARTS[part.dialect] = part


def unregister_part(dialect: str) -> None:
    """Forget ``dialect``'s part (its dialect was taken back): its keys are unknown again."""
    _PARTS.pop(dialect, None)


def parts() -> tuple[type[ApiPart], ...]:
    """Every registered part, in the order they were registered."""
    return tuple(_PARTS.values())


def endpoints() -> tuple[str, ...]:
    """Every call a scenario may name: the registered APIs' calls, then the answer."""
    return (*(c for p in _PARTS.values() for c in p.calls), ANSWER)


def call_path(endpoint: str) -> str:
    """The path of a call (``/auth/login``); the answer's is ``/api/conversation``'s
    generic name, ``/conversation``."""
    for part in _PARTS.values():
        if endpoint in part.calls:
            return part.calls[endpoint]
    return f"/{endpoint}"
