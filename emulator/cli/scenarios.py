"""``python -m emulator list`` and ``check``: the scenarios, and the problems in a folder."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..dialects.registry import DIALECTS
from ..scenario import Scenario, ScenarioError
from ..scenario.builtin import scenarios_dir
from ..scenario.check import check_folder
from .options import add_scenarios_dir, scenarios_of

__all__ = ["add_check", "add_list", "not_served"]


def add_list(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "list",
        help="list the scenarios, each with its description and where it is not served",
        description="The scenarios (the shipped ones, and --scenarios-dir's), one a line: "
        "its name, what it does, and on which dialects it does not apply and why.",
    )
    add_scenarios_dir(p)
    p.add_argument("--dialects", action="store_true",
                   help="list the dialects instead: each API the emulator speaks, its "
                   "paths, and how many of the scenarios it serves")  # fmt: skip
    p.set_defaults(run=list_scenarios)


def add_check(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="check every scenario file of a folder; one line per problem",
        description="Check every file of the scenarios folder (--scenarios-dir, or the "
        "shipped ones): one line per problem, naming the file and the key; exit 1 if any.",
    )
    add_scenarios_dir(p)
    p.set_defaults(run=check)


def list_scenarios(args: argparse.Namespace) -> int:
    try:
        scenarios = scenarios_of(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "dialects", False):  # serve --list (the old spelling) has no such flag
        return list_dialects(scenarios)
    width = max((len(n) for n in scenarios), default=0)
    for name, scenario in sorted(scenarios.items()):
        print(f"{name:<{width}}  {scenario.description}{not_served(scenario)}")
    return 0


def list_dialects(scenarios: dict[str, Scenario]) -> int:
    """Each dialect: its name, what it is, how many scenarios it serves, and its paths
    (``{…}`` a part of the path it reads; ``…`` any path under a prefix)."""
    width = max(len(name) for name in DIALECTS)
    for dialect in DIALECTS.values():
        served = sum(dialect.not_applicable(s) is None for s in scenarios.values())
        print(f"{dialect.name:<{width}}  {dialect.title}: serves {served} of "
              f"{len(scenarios)} scenarios")  # fmt: skip
        paths = [(m, p) for p, ms in dialect.routes.items() for m in ms]
        paths += [(m, p + "…") for p, ms in dialect.prefixes.items() for m in ms]
        for method, path in paths:
            print(f"{'':<{width}}    {method} {path}")
    return 0


def check(args: argparse.Namespace) -> int:
    folder = args.scenarios_dir or scenarios_dir()
    checked, problems = check_folder(folder)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems in {folder}", file=sys.stderr)
        return 1
    print(f"{len(checked)} scenarios in {folder} are valid")
    return 0


def not_served(scenario: Scenario) -> str:
    """Where the scenario is not served, and why: `` [not on DIALECT, …: reason; …]``."""
    reasons: dict[str, list[str]] = {}
    for dialect in DIALECTS.values():
        reason = dialect.not_applicable(scenario)
        if reason is not None:
            reasons.setdefault(reason, []).append(dialect.name)
    if not reasons:
        return ""
    return " [" + "; ".join(f"not on {', '.join(d)}: {r}" for r, d in reasons.items()) + "]"
