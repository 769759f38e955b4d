"""Options several subcommands share, spelled and explained once."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scenario import Scenario, load_scenarios
from ..scenario.builtin import builtin_scenarios

__all__ = ["add_log_level", "add_output", "add_scenarios_dir", "add_speed", "scenarios_of"]


def add_scenarios_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenarios-dir",
        type=Path,
        default=None,
        help="a folder of your own scenario files, added to the shipped ones "
        "(yours win on a name both have)",
    )


def add_speed(p: argparse.ArgumentParser, default: float, what: str) -> None:
    p.add_argument(
        "--speed",
        type=float,
        default=default,
        help=f"time scale of {what}: 1 real time, 0 no waiting (default {default:g})",
    )


def add_output(p: argparse.ArgumentParser, what: str, default: Path | None = None) -> None:
    """``-o/--output``: everywhere, where the command writes what it makes."""
    p.add_argument("-o", "--output", type=Path, default=default, help=what)


def add_log_level(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def scenarios_of(args: argparse.Namespace) -> dict[str, Scenario]:
    """The shipped scenarios, with ``--scenarios-dir``'s (a ``ScenarioError`` if bad)."""
    known = builtin_scenarios()
    if args.scenarios_dir is not None:
        known.update(load_scenarios(args.scenarios_dir))
    return known
