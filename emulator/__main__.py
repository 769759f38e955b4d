"""``python -m emulator``: the command line (:mod:`emulator.cli`)."""

import sys

from .cli.main import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    sys.exit(run())
