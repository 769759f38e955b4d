"""What a handle on a running emulator offers, wherever the emulator runs.

:class:`~emulator.server.Emulator` (in this process) and
:class:`~emulator.remote.RemoteEmulator` (another one, through the admin API)
both implement :class:`EmulatorHandle`, in full: no attribute of it raises on
either. Only the in-process handle has more (``state``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .core.endings import Problem
    from .scenario import Scenario
    from .state.config import EmulatorConfig
    from .state.journal import CallList
    from .state.store import ScenarioRef

__all__ = ["EmulatorHandle"]


class EmulatorHandle(Protocol):
    """A running emulator, or one session of it."""

    #: Where clients reach it (ends in ``/_session/ID`` for a session).
    url: str
    #: How it was configured (a remote handle's: the defaults; the server has its own).
    config: EmulatorConfig

    @property
    def port(self) -> int: ...

    @property
    def session_id(self) -> str | None: ...

    @property
    def headers(self) -> dict[str, str]: ...

    def session(self, session: str | None = None) -> EmulatorHandle: ...

    def drop(self) -> None: ...

    def use(self, scenario: ScenarioRef) -> Scenario: ...

    def queue(self, *scenarios: ScenarioRef) -> list[Scenario]: ...

    def add_rule(self, pattern: str, scenario: ScenarioRef) -> None: ...

    @property
    def requests(self) -> CallList: ...

    def calls(self, path: str | None = None, method: str | None = None) -> CallList: ...

    @property
    def call_count(self) -> int: ...

    def reset(self) -> None: ...

    def problems(
        self, *, allow_unmatched: bool = False, allow_unused: bool = False
    ) -> list[Problem]: ...
