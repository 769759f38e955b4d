"""``python -m emulator import FILE [-o scenarios/NAME.toml]``: a capture becomes a scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..scenario import ScenarioError, load_scenario
from ..scenario.dump import scenario_to_toml
from .imports import import_capture


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator import",
        description="Turn a capture into a scenario that replays it byte for byte: a HAR "
        'file (the browser\'s export), JSON lines of timed chunks ({"at": s, "text": …}, '
        "as GET /_emulator/journal/ID/recording gives), or a raw SSE body (curl -N). "
        "Cookies, tokens and passwords are left out, and the command says so.",
    )
    parser.add_argument("file", type=Path, help="the capture")
    parser.add_argument(
        "-o", "--output", type=Path, default=None,
        help="the scenario file to write (default: print it); its stem is the scenario's name",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        parser.error(f"{args.file}: {exc.strerror or exc}")
    name = args.output.stem if args.output is not None else args.file.stem
    try:
        imported = import_capture(raw, str(args.file), name)
    except ScenarioError as exc:
        print(f"cannot import: {exc}", file=sys.stderr)
        return 1
    text = scenario_to_toml(imported.scenario)
    for line in imported.removed:
        print(f"left out: {line}", file=sys.stderr)
    for line in imported.changed:
        print(f"changed: {line}", file=sys.stderr)
    expect = imported.scenario.expect
    outcome = (
        f"a {expect.failure} failure"
        if expect.outcome == "failure"
        else f"{len(expect.text)} characters of text"
    )
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        load_scenario(args.output)  # what was written reads back
        print(f"wrote {args.output}: {len(imported.scenario.recording.chunks if imported.scenario.recording else ())} "
              f"writes, expecting {outcome}", file=sys.stderr)  # fmt: skip
    return 0
