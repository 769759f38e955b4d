"""The shipped scenarios: the folder they live in, parsed once per process."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from .load import load_scenarios
from .model import Scenario

__all__ = ["builtin_scenarios", "scenarios_dir"]


def scenarios_dir() -> Path:
    """The folder of shipped scenarios (the installed copy, or the checkout's)."""
    try:
        return Path(str(resources.files("emulator.scenarios")))
    except ModuleNotFoundError:
        # Run from a checkout (``python -m emulator`` in the clone): the local
        # emulator/ package comes first on sys.path, and the scenario files
        # are mapped into it only when installed; they sit beside it.
        checkout = Path(__file__).resolve().parent.parent.parent / "scenarios"
        if not (checkout / "default.toml").is_file():
            raise
        return checkout


def builtin_scenarios() -> dict[str, Scenario]:
    """The shipped scenarios, parsed once per process (they are frozen values)."""
    return dict(_builtin_scenarios())


@lru_cache(maxsize=1)
def _builtin_scenarios() -> dict[str, Scenario]:
    return load_scenarios(scenarios_dir())
