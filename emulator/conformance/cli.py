"""``python -m emulator conform``: judge any client against the scenarios; a report card."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from ..cli.options import add_output, add_scenarios_dir, add_speed, scenarios_of
from ..dialects.registry import DIALECTS
from ..http.tls import local_tls
from ..scenario import ScenarioError
from .clients import Client, command_client, python_client
from .report import as_json, as_junit, as_markdown, as_table
from .runner import DEFAULT_HOST, DEFAULT_SPEED, cases, matches, run_all, skipped

__all__ = ["add_conform", "conform"]

#: A report's format, by the suffix of ``-o``'s file.
_BY_SUFFIX: Final = {".json": as_json, ".xml": as_junit, ".md": as_markdown, ".txt": as_table}


def add_conform(commands: Any) -> None:
    """``conform``, with its options."""
    p: argparse.ArgumentParser = commands.add_parser(
        "conform",
        help="judge a client (Python or any program) against every scenario; a report card",
        description="Run a client against every scenario and report how it did.",
    )
    p.set_defaults(run=conform, parser=p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--python",
        metavar="MODULE:FUNCTION",
        help="a callable (url, prompt[, timeout]) returning text, awaitable or not, or an "
        "(async) iterator of pieces; raising is failing",
    )
    which.add_argument(
        "--cmd",
        metavar="TEMPLATE",
        help="a program in any language: {url}, {prompt}, {timeout} are filled in; stdout is "
        "the reply, a non-zero exit a failure (stderr kept)",
    )
    p.add_argument(
        "--dialect",
        choices=list(DIALECTS),
        default="fakegpt",
        help="the API the client speaks: "
        + ", ".join(f"{d.name} ({d.answered_at})" for d in DIALECTS.values())
        + "; scenarios that mean nothing on it are skipped, with why",
    )
    p.add_argument("--loop", action="store_true", help="the client runs a tool loop (answers "
                   "each call, asks again until the model answers): judge a scripted "
                   "conversation by its last turn, not its first")  # fmt: skip
    p.add_argument("-k", dest="select", help="only scenarios whose name matches (glob or part)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="scenarios run at once (default 1)")
    add_speed(p, DEFAULT_SPEED, "scenario pacing (fault waits keep their real time)")
    p.add_argument("--host", default=DEFAULT_HOST, help="the host name in the URL handed to the "
                   "client; it must resolve to the loopback address (default localhost)")  # fmt: skip
    p.add_argument("--tls", action="store_true", help="serve each case over HTTPS and WSS with "
                   "a local CA, SSL_CERT_FILE and NODE_EXTRA_CA_CERTS set to it for the client "
                   "(google-genai's Live client and the Node openai Realtime client dial only "
                   "wss://)")  # fmt: skip
    add_scenarios_dir(p)
    add_output(p, "write the report to FILE too, in the format of its suffix: "
               + ", ".join(_BY_SUFFIX))  # fmt: skip
    p.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    p.add_argument("--junit-xml", type=Path, metavar="FILE", help="write JUnit XML")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown table")


def conform(args: argparse.Namespace) -> int:
    if args.output is not None and args.output.suffix not in _BY_SUFFIX:
        args.parser.error(f"-o: {args.output} ends in none of {', '.join(_BY_SUFFIX)}")
    try:
        known = scenarios_of(args)
        client: Client = python_client(args.python) if args.python else command_client(args.cmd)
    except (ScenarioError, ValueError, ImportError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = cases(args.select, scenarios=known, dialect=args.dialect, loop=args.loop)
    not_tried = [(name, reason) for name, reason in skipped(args.dialect, known, loop=args.loop)
                 if matches(name, args.select)]  # fmt: skip
    for name, reason in not_tried:
        print(f"skipped {name}: {reason}")
    if not chosen:
        print(f"error: no scenario matches {args.select!r}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="conform-tls-") as folder:
        tls = None
        if args.tls:
            tls = local_tls(Path(folder))
            # The client (and its children) trust it: Python's ssl and OpenSSL read
            # SSL_CERT_FILE, Node adds NODE_EXTRA_CA_CERTS to its own.
            os.environ["SSL_CERT_FILE"] = os.environ["NODE_EXTRA_CA_CERTS"] = tls.ca
        results = asyncio.run(
            run_all(
                chosen,
                client,
                jobs=args.jobs,
                speed=args.speed,
                progress=sys.stdout.isatty(),
                host=args.host,
                tls=tls,
            )
        )
    print(as_table(results, not_tried))
    for path, render in (
        (args.json, as_json),
        (args.junit_xml, as_junit),
        (args.markdown, as_markdown),
        (args.output, _BY_SUFFIX[args.output.suffix] if args.output else as_table),
    ):
        if path is not None:
            path.write_text(render(results, not_tried), encoding="utf-8")
    return 0 if all(r.verdict.passed for r in results) else 1
