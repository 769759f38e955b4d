"""``python -m emulator [serve]``: serve the emulator on localhost for offline work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Final

from .._version import __version__
from ..http.context import is_loopback
from ..http.tls import local_tls
from ..scenario import Scenario, ScenarioError, load_scenario
from ..scenario.chaos import Chaos, parse_chaos
from ..scenario.toxics import CHAOS_TOXICS
from ..server import bind_socket, make_state, serving
from ..state.config import ConfigError, EmulatorConfig, Limits, Tls
from ..state.store import SCENARIO_HEADER, EmulatorState
from .options import add_log_level, add_scenarios_dir, add_speed, scenarios_of
from .scenarios import check, list_scenarios
from .workers import supervise

log = logging.getLogger("emulator")

#: Where --tls keeps its local CA: made once, so a client trusts it once.
_TLS_DIR: Final = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "fakegpt-emulator/tls"
)


def add_serve(commands: Any) -> None:
    """``serve`` (the default subcommand), with its options."""
    p: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="serve every dialect's endpoints on localhost (the default)",
        description="Serve the emulator: every dialect's endpoints, the admin API and the "
        "inspector, with scripted streaming scenarios. 'python -m emulator' alone does this.",
    )
    add_serve_options(p)
    p.set_defaults(run=serve, parser=p)


def add_serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="localhost",
        help="address to listen on (default: localhost, loopback only)",
    )
    p.add_argument(
        "--port", type=int, default=8080, help="port (0 picks a free one; default 8080)"
    )
    p.add_argument(
        "--scenario",
        default="default",
        help="the scenario served by default (a name or a .toml file)",
    )
    add_scenarios_dir(p)
    add_speed(p, 1.0, "scenario pacing")
    p.add_argument("--seed", type=int, default=0, help="seed for account ids and counts")
    p.add_argument(
        "--token-ttl",
        type=float,
        default=3600.0,
        help="lifetime of credentials and access tokens, seconds",
    )
    p.add_argument(
        "--secret",
        default=None,
        help="HMAC secret for tokens (share it between processes); random by default",
    )
    p.add_argument(
        "--accounts", type=int, default=8, help="how many shared accounts /api/loads lists"
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name requests may be addressed to besides loopback ones (repeat it); on a "
        "server bound to loopback, a request whose Host is another name is refused (DNS "
        "rebinding). Bound to other machines (--host 0.0.0.0), any name is",
    )
    p.add_argument(
        "--journal-secrets",
        action="store_true",
        help="keep credentials (keys, tokens, cookies, signatures, passwords) as they came "
        "in the journal, the inspector, recordings and the access log; by default each is "
        "a marker with the first 8 hex digits of its SHA-256",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS and WSS on the same port, with a certificate for localhost, "
        "127.0.0.1 and ::1 signed by a local CA the emulator makes once (in --tls-dir); "
        "the start-up output names the CA's file: SSL_CERT_FILE=that file is all a client "
        "needs",
    )
    p.add_argument(
        "--tls-dir",
        type=Path,
        default=_TLS_DIR,
        metavar="FOLDER",
        help=f"where the local CA is kept (default {_TLS_DIR})",
    )
    p.add_argument("--tls-cert", default=None, metavar="PEM",
                   help="serve HTTPS with your own certificate chain (with --tls-key)")  # fmt: skip
    p.add_argument("--tls-key", default=None, metavar="PEM", help="the key of --tls-cert")
    p.add_argument(
        "--admin-token",
        default=None,
        help="require this token on the admin API (and allow it off loopback)",
    )
    p.add_argument(
        "--journal-size",
        type=int,
        default=1000,
        help="how many requests the journal keeps (the oldest go first; default 1000)",
    )
    p.add_argument(
        "--cors",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let a browser app on ORIGIN (repeatable, or *) stream from the four endpoints",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serve the port from N processes (SO_REUSEPORT; tokens work across them, "
        "the admin API's state and the journal are each worker's own)",
    )
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop: uvloop (pip install uvloop) spent from 5%% less to 1%% more "
        "CPU per stream in benchmarks/RESULTS.md's run",
    )
    p.add_argument(
        "--chaos",
        type=_chaos,
        default=None,
        metavar="rate=R,seed=S,kinds=K1,K2,...",
        help="seeded chaos: each conversation, with probability R, gets one fault drawn "
        f"from the kinds (any fault kind, http_NNN, {', '.join(CHAOS_TOXICS)}), "
        "reproducibly from S; endpoints=all spreads it to the login calls. "
        "The journal and the access log say what each request got",
    )
    p.add_argument(
        "--no-capture",
        action="store_true",
        help="keep no bytes in the journal's transcripts, only offsets, times and "
        "what each write carried (for load tests)",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="accept conversations the real APIs refuse (a tool result for no call, a "
        "dropped or altered thinking block, …); by default they get the API's 400 "
        "(one request: X-Emulator-Strict: off)",
    )
    # Before subcommands: kept for one release (see the CHANGELOG).
    p.add_argument("--list", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    add_log_level(p)


#: A configuration field, by the flag that sets it where their spellings differ.
_FLAGS: Final = {"limits.journal_calls": "journal-size"}


def _chaos(text: str) -> Chaos:
    try:
        return parse_chaos(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: glibc's mallopt parameters, and what the server sets them to.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_MMAP_THRESHOLD: Final = 4 * 1024 * 1024
_TRIM_THRESHOLD: Final = 32 * 1024 * 1024


def _keep_heap() -> None:
    """Let glibc's malloc serve the player's write batches (up to 256 KiB) from its heap.

    By default a block over 128 KiB is a fresh mmap, returned on free: every batch of
    a fast stream touched new pages (about 170 page faults for a 5 MB reply, a fifth
    of its CPU). Served from the heap, and the heap trimmed only past 32 MiB free, the
    same pages are used again (11 faults). Only in this process, which is the server's
    own; elsewhere (no glibc) nothing changes.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def serve(args: argparse.Namespace) -> int:
    """Serve until stopped (``--list`` and ``--check``: the old spellings of those commands)."""
    parser: argparse.ArgumentParser = args.parser
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    if args.check:
        return check(args)
    if args.list:
        return list_scenarios(args)
    try:
        scenarios = scenarios_of(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _keep_heap()
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401 - that it can be imported
        except ImportError:
            parser.error("--loop uvloop: uvloop is not installed (pip install uvloop)")
    if args.workers < 1:
        parser.error(f"--workers: must be 1 or more, got {args.workers}")
    # Several workers share one secret, so a token from one is good at all.
    secret = args.secret.encode() if args.secret else None
    if args.workers > 1 and secret is None:
        secret = secrets.token_bytes(32)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key: give both, or neither")
    try:
        tls = (Tls(args.tls_cert, args.tls_key) if args.tls_cert
               else local_tls(args.tls_dir) if args.tls else None)  # fmt: skip
    except OSError as exc:
        parser.error(f"--tls-dir: {exc}")
    try:
        # "localhost" is served on 127.0.0.1: loopback only, one address family.
        config = EmulatorConfig(
            speed=args.speed,
            seed=args.seed,
            secret=secret,
            token_ttl=args.token_ttl,
            accounts=args.accounts,
            admin_token=args.admin_token,
            allowed_hosts=tuple(args.allowed_host),
            journal_secrets=args.journal_secrets,
            tls=tls,
            capture_bytes=not args.no_capture,
            strict=not args.lenient,
            cors=tuple(args.cors),
            limits=Limits(journal_calls=args.journal_size),
            host="127.0.0.1" if args.host == "localhost" else args.host,
            port=args.port,
            reuse_port=args.workers > 1,
            scenarios=scenarios,
            default=_default(args.scenario),
            chaos=args.chaos,
        )
        state = make_state(config)
    except ScenarioError as exc:
        parser.error(str(exc))
    except ConfigError as exc:  # the config's own check carries the field
        parser.error(f"--{_FLAGS.get(exc.field, exc.field.replace('_', '-'))}: {exc}")
    if not is_loopback(args.host):
        log.warning("listening on %s: the emulator is reachable from other machines", args.host)
    try:
        url_host = "localhost" if args.host == "localhost" else None
        if args.workers > 1:
            return _serve_workers(config, state, url_host, args.workers, args.loop)
        _run(_serve(config, state, url_host), args.loop)
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def _default(name: str) -> Scenario | str:
    """``--scenario``: a shipped name, or a .toml file of one's own."""
    return load_scenario(name) if name.endswith(".toml") else name


def _run(main: Coroutine[Any, Any, None], loop: str) -> None:
    """Run ``main`` on an event loop of the kind ``--loop`` names."""
    if loop == "uvloop":
        import uvloop  # checked importable when the options were read

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
        return
    asyncio.run(main)


def _serve_workers(
    config: EmulatorConfig,
    state: EmulatorState,
    url_host: str | None,
    workers: int,
    loop: str = "asyncio",
) -> int:
    """Serve one port from ``workers`` supervised worker processes (:mod:`.workers`).

    Each worker binds the port with SO_REUSEPORT, and the kernel spreads new
    connections among them. The port (chosen here when it is 0) is held bound,
    never listening, by this process, which only supervises.
    """
    hold = bind_socket(config.host, config.port, reuse_port=True, listen=False)
    config = dataclasses.replace(config, port=hold.getsockname()[1])
    shown = url_host or (f"[{config.host}]" if ":" in config.host else config.host)
    url = f"{'https' if config.tls is not None else 'http'}://{shown}:{config.port}"

    def work(parent: int) -> None:
        _run(_serve(config, state, url_host, banner=False, parent=parent), loop)

    def ready() -> None:
        _answering(config.host, config.port)
        _banner(url, state, workers, config)

    return supervise(workers, work, ready, hold)


def _answering(host: str, port: int, seconds: float = 30.0) -> None:
    """Wait, bounded, until a worker accepts connections on the port."""
    wildcard = host in ("0.0.0.0", "")  # noqa: S104 - a name compared, nothing bound
    target = "127.0.0.1" if wildcard else "::1" if host == "::" else host
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((target, port), 0.5):
            return
        time.sleep(0.05)
    log.warning("no worker answered on port %d within %g s", port, seconds)


async def _serve(
    config: EmulatorConfig,
    state: EmulatorState,
    url_host: str | None,
    *,
    banner: bool = True,
    workers: int = 1,
    parent: int | None = None,
) -> None:
    async with serving(config, state, url_host) as running:
        # What start-up made (modules, scenarios, Faker's tables) lives as long as the
        # process: out of the collector's sight, so a full collection under load does not
        # walk it again each time (this process is ours; serve() in a caller's leaves it).
        gc.collect()
        gc.freeze()
        # Young collections rarer: a paced stream allocates a little per write, and a
        # thousand of them made the collector a tenth of the server's time.
        gc.set_threshold(50_000, 20, 20)
        if banner:
            _banner(running.url, state, workers, config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        # A worker stops when the process that forked it is gone.
        watchdog = loop.create_task(_orphaned(parent, stop)) if parent is not None else None
        await stop.wait()
        if watchdog is not None:
            watchdog.cancel()
        log.info("stopping")


async def _orphaned(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:  # noqa: ASYNC110 - no event tells of a parent's death
        await asyncio.sleep(0.5)
    stop.set()


def _banner(url: str, state: EmulatorState, workers: int, config: EmulatorConfig) -> None:
    """What the server says once it answers: its URL, its scenarios, the CA to trust."""
    processes = f" ({workers} worker processes)" if workers > 1 else ""
    print(
        f"FakeGpt emulator {__version__} listening on {url}{processes}\n"
        f"  active scenario: {state.active.name} - {state.active.description}\n"
        f"  scenarios: {len(state.scenarios)} (python -m emulator list); per request: "
        f"header {SCENARIO_HEADER} or '[scenario:NAME]' in the prompt\n"
        f"  admin API: {url}/_emulator; sessions: header X-Emulator-Session or "
        f"{url}/_session/ID/...\n"
        + (
            f"  chaos: rate {state.chaos.rate:g}, seed {state.chaos.seed}, kinds "
            f"{', '.join(state.chaos.kinds)}\n"
            if state.chaos is not None
            else ""
        )
        + f"Point the client at it:\n"
        f"  from client import FakeGpt\n"
        f'  FakeGpt.url = "{url}"\n'
        f"Stop with Ctrl-C.",
        flush=True,
    )
    if config.tls is not None and config.tls.ca:
        print(f"  TLS: clients trust {config.tls.ca} (SSL_CERT_FILE={config.tls.ca})",
              flush=True)  # fmt: skip
