"""The scenario layer's errors: a scenario that cannot be read, or cannot be played. Pure."""

from __future__ import annotations

__all__ = ["PlanError", "ScenarioError"]


class PlanError(ValueError):
    """The scenario cannot be played for this request (e.g. it would be too large)."""


class ScenarioError(ValueError):
    """A scenario file (or dict) is invalid: names the source, the key, the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f" [{key}]" if key else ""
        super().__init__(f"{source}:{where} {problem}")
