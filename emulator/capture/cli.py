"""``python -m emulator import FILE [-o scenarios/NAME.toml]``: a capture becomes a scenario."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from ..cli.options import add_output, add_speed
from ..dialects.registry import DIALECTS
from ..scenario import ScenarioError, load_scenario
from ..scenario.dump import scenario_to_toml
from .fixture_formats import imported_fixtures
from .fixtures import Imported, scenario_toml
from .imports import import_capture
from .proxy import recording_proxy


def add_record(commands: Any) -> None:
    """``record``, with its options."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "record",
        help="a proxy in front of a FakeGpt upstream that writes what passes as scenarios",
        description="A proxy in front of an upstream that speaks this protocol: it forwards "
        "every request and writes each conversation it passes on as a scenario that "
        "replays it (tokens and cookies are never written).",
    )
    parser.set_defaults(run=record, parser=parser)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port (0: a free one)")
    add_output(parser, "the folder the scenarios go to (default: ./recorded)", Path("recorded"))
    parser.add_argument("--replay", action="store_true",
                        help="answer a prompt recorded before from its recording; pass the "
                        "others through to the upstream and record them")  # fmt: skip
    add_speed(parser, 1.0, "replays (1 as recorded)")


def record(args: argparse.Namespace) -> int:
    """``python -m emulator record --upstream URL``: the recording proxy, until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with recording_proxy(args.upstream, args.output, host=args.host,
                                   port=args.port, replay=args.replay, speed=args.speed) as proxy:  # fmt: skip
            print(f"recording proxy on {proxy.url} -> {args.upstream}; scenarios go to "
                  f"{args.output}/. Point the client at {proxy.url}. Stop with Ctrl-C.",
                  flush=True)  # fmt: skip
            await stop.wait()
            print(f"wrote {len(proxy.written)} scenarios", flush=True)

    asyncio.run(serve())
    return 0


def add_import(commands: Any) -> None:
    """``import``, with its options."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "import",
        help="turn a capture (HAR, JSON lines, a raw body), or another mock's fixtures, into "
        "a scenario",
        description="Turn another mock's fixtures (aimock's JSON, mock-llm's or llmposter's "
        "YAML, a VidaiMock provider or template: recognized by content) into a scenario "
        "that answers the same requests the same way on every dialect, naming what has no "
        "equivalent; or a capture into a scenario that replays it byte for byte: a HAR "
        'file (the browser\'s export), JSON lines of timed chunks ({"at": s, "text": …}, '
        "as GET /_emulator/journal/ID/recording gives), or a raw SSE body (curl -N). "
        "Cookies, tokens and passwords are left out, and the command says so.",
    )
    parser.add_argument("file", type=Path, help="the capture")
    parser.add_argument(
        "--dialect",
        choices=list(DIALECTS),
        default="fakegpt",
        help="the API a raw body or JSON lines were captured from (default fakegpt; a HAR "
        "says it by its paths): "
        + ", ".join(f"{d.name} ({d.answered_at})" for d in DIALECTS.values()),
    )
    add_output(parser, "the scenario file to write (default: print it); its stem is the "
               "scenario's name")  # fmt: skip
    parser.set_defaults(run=import_, parser=parser)


def import_(args: argparse.Namespace) -> int:
    """``python -m emulator import FILE``: the capture as a scenario."""
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        args.parser.error(f"{args.file}: {exc.strerror or exc}")
    name = args.output.stem if args.output is not None else args.file.stem
    try:
        fixtures = imported_fixtures(raw, args.file, name)
        if fixtures is not None:
            return _fixtures_written(fixtures, args.output)
        imported = import_capture(raw, str(args.file), name, args.dialect)
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


def _fixtures_written(imported: Imported, output: Path | None) -> int:
    """Another mock's fixtures, as a scenario: printed or written, with what was left out
    (or read otherwise), each named."""
    text = scenario_toml(imported.table)
    for line in imported.dropped:
        print(f"not as in {imported.tool}: {line}", file=sys.stderr)
    turns = len(imported.scenario.turns)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        load_scenario(output)  # what was written reads back
    where = f", written to {output}" if output else ""
    print(f"{imported.tool}'s fixtures: {turns} turn(s){where}; {len(imported.dropped)} "
          "thing(s) not as there (above)", file=sys.stderr)  # fmt: skip
    return 0
