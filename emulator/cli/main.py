"""The command line: one parser, a subcommand each (``serve`` when none is named)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Final

from .._version import __version__
from ..capture.cli import add_import, add_record
from ..conformance.cli import add_conform
from ..dialects.registry import DIALECTS
from .mcp import add_mcp
from .scenarios import add_check, add_list
from .serve import add_serve

__all__ = ["COMMANDS", "main", "parser", "run"]

#: Every subcommand, in the order ``--help`` lists them.
COMMANDS: Final = ("serve", "list", "check", "conform", "import", "record", "mcp")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emulator",
        description="A local emulator of streaming LLM APIs ("
        + ", ".join(d.title for d in DIALECTS.values())
        + ") with scripted streaming faults. With no command, or with serve's options alone, "
        "it serves.",
        epilog="'python -m emulator COMMAND --help' tells each command's options.",
    )
    p.add_argument("--version", action="version", version=f"fakegpt-emulator {__version__}")
    commands = p.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    for add in (add_serve, add_list, add_check, add_conform, add_import, add_record, add_mcp):
        add(commands)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (``serve`` when it names none); its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


def run(argv: list[str] | None = None) -> int:
    """:func:`main`, quiet when the reader of its output goes away."""
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at devnull first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
