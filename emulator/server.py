"""Running the emulator: in the current event loop, or in a thread of its own.

Everything is configured by one :class:`~emulator.state.config.EmulatorConfig`
(where to listen, which scenarios, how to behave); :func:`serve` runs it in
the running loop, :class:`EmulatorServer` in a thread, the command line and
the pytest fixtures through these two. :class:`Emulator` is the handle tests
use either way: ``url``, ``use()``, ``queue()``, the journal (``requests``,
``calls()``), ``reset()`` and ``problems()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from .core.endings import Problem
from .http.app import make_server
from .http.tls import context
from .scenario import Scenario
from .scenario.builtin import builtin_scenarios, scenarios_dir
from .scenario.text import warm
from .state.config import EmulatorConfig
from .state.journal import CallList
from .state.sessions import SESSION_HEADER
from .state.store import EmulatorState, ScenarioRef

__all__ = [
    "Emulator",
    "EmulatorServer",
    "bind_socket",
    "builtin_scenarios",
    "make_state",
    "scenarios_dir",
    "serve",
    "serving",
]

_LOOPBACK = "127.0.0.1"


class Emulator:
    """A handle on a running emulator (or on one session of it: :meth:`session`)."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig, url: str) -> None:
        self.state = state
        self.config = config
        self.url = url

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        if port is None:
            raise RuntimeError("this emulator is not running")
        return port

    @property
    def session_id(self) -> str | None:
        """The session this handle acts in (None: the default session)."""
        return self.state.id

    @property
    def headers(self) -> dict[str, str]:
        """The headers that put a request in this handle's session (none for the default)."""
        return {SESSION_HEADER: self.state.id} if self.state.id is not None else {}

    def session(self, session: str | None = None) -> Emulator:
        """A handle on one session of this emulator: its own scenario, queue, rules,
        counters and journal. Its ``url`` ends in ``/_session/ID``, so a client
        that can only change its base URL talks in the session; others may
        send ``headers`` to the server's own URL instead. ``None``: a fresh id."""
        if not self.url:
            raise RuntimeError("start the emulator before opening a session on it")
        session = session or f"s-{secrets.token_hex(6)}"
        parts = urlsplit(self.url)
        base = f"{parts.scheme}://{parts.netloc}"
        return Emulator(self.state.session(session), self.config, f"{base}/_session/{session}")

    def drop(self) -> None:
        """End this handle's session (its calls leave the journal); the default session: reset."""
        if self.state.id is None:
            self.state.reset()
        else:
            self.state.drop_session(self.state.id)

    def use(self, scenario: ScenarioRef) -> Scenario:
        """Serve ``scenario`` (a name, a .toml path, a dict or a Scenario) from now on."""
        return self.state.use(scenario)

    def queue(self, *scenarios: ScenarioRef) -> list[Scenario]:
        """Serve these to the next conversations, one each, in order."""
        return self.state.enqueue(scenarios)

    def add_rule(self, pattern: str, scenario: ScenarioRef) -> None:
        """Serve ``scenario`` to conversations whose prompt matches ``pattern``."""
        self.state.add_rule(pattern, scenario)

    @property
    def requests(self) -> CallList:
        return self.state.requests

    def calls(self, path: str | None = None, method: str | None = None) -> CallList:
        return self.state.calls(path, method)

    @property
    def call_count(self) -> int:
        return len(self.state.requests)

    def reset(self) -> None:
        self.state.reset()

    def problems(
        self, *, allow_unmatched: bool = False, allow_unused: bool = False
    ) -> list[Problem]:
        """What went wrong on the server side since the last reset (``str()`` of each says
        it in words)."""
        found = [Problem("handler_error", p) for p in self.state.problems]
        if not allow_unmatched:
            found += [Problem("unmatched", u) for u in self.state.unmatched]
        if not allow_unused:
            found += [Problem("unused", s.name) for s in self.state.unused]
        return found


#: The listen backlog: room for a thousand clients connecting at once.
BACKLOG = 1024


def bind_socket(
    host: str, port: int, *, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A listening socket bound now, so the port is known and never guessed.

    ``reuse_port``: SO_REUSEPORT, so that other processes may bind the same
    port and the kernel spreads new connections among them. ``listen`` False:
    bound only, holding the port's number (the kernel hands no connection to a
    socket that does not listen).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6 and host == "::":
        # Every address, IPv4 too (dual-stack), as "0.0.0.0" would be for IPv4.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def make_state(config: EmulatorConfig) -> EmulatorState:
    """The state a server starts with: the config's scenarios (or the shipped ones)."""
    known = dict(builtin_scenarios() if config.scenarios is None else config.scenarios)
    default = config.default
    if default is None:
        default = known.get("default") or _fallback()
    return EmulatorState(known, default, limits=config.limits, chaos=config.chaos)


def _fallback() -> Scenario:
    return Scenario(name="default", description="A short reply, streamed token by token.")


@contextlib.asynccontextmanager
async def serving(
    config: EmulatorConfig, state: EmulatorState, url_host: str | None = None
) -> AsyncIterator[Emulator]:
    """Serve ``state`` in the running loop at ``config.host``/``config.port``.

    The one place that starts and stops a server. The socket is bound before
    the site starts, so the port is known (and never guessed); streams still
    in flight get half a second at shutdown.
    """
    warm(state.known.values())  # before the first request, not during it
    runner = web.ServerRunner(
        make_server(config, state), handle_signals=False, shutdown_timeout=0.5
    )
    await runner.setup()
    host = config.host
    sock = bind_socket(host, config.port, reuse_port=config.reuse_port)
    loop = asyncio.get_running_loop()
    if not isinstance(loop.get_exception_handler(), _AcceptErrors):
        # Left in place when serving ends: asyncio may still fire its retry
        # of accept() after the socket is gone (see _AcceptErrors); all else
        # goes to the handler that was there before.
        loop.set_exception_handler(_AcceptErrors(loop.get_exception_handler()))
    try:
        # The site listens again on the socket: with BACKLOG, not aiohttp's 128.
        secure = context(config.tls) if config.tls is not None else None
        await web.SockSite(runner, sock, backlog=BACKLOG, ssl_context=secure).start()
        shown = url_host or (f"[{host}]" if ":" in host else host)
        scheme = "https" if secure is not None else "http"
        yield Emulator(state, config, f"{scheme}://{shown}:{sock.getsockname()[1]}")
    finally:
        await runner.cleanup()
        sock.close()


_log = logging.getLogger("emulator")
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _AcceptErrors:
    """The loop's exception handler while serving: running out of descriptors is one line.

    asyncio logs a traceback for every failed ``accept()`` and retries a
    second later; for a server under load that is expected, not a crash. One
    warning (at most every 10 s) says what happens and what to do; anything
    else goes to the handler that was there before.
    """

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.last = 0.0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        handle = repr(context.get("handle", ""))
        if isinstance(exc, ValueError) and "_start_serving" in handle:
            # asyncio retries accept() a second after running out of
            # descriptors; when the server has stopped meanwhile, that retry
            # finds the socket closed. Nothing is lost: it was stopping.
            _log.debug("accept() retry after the server stopped: %s", exc)
            return
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            now = time.monotonic()
            if now - self.last >= 10.0:
                self.last = now
                soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
                _log.warning(
                    "cannot accept new connections: %s (open-file limit %d); they wait "
                    "until connections close; raise the limit with ulimit -n",
                    exc.strerror or exc,
                    soft,
                )
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


@contextlib.asynccontextmanager
async def serve(
    config: EmulatorConfig | None = None, *, url_host: str | None = None
) -> AsyncIterator[Emulator]:
    """Run an emulator in the running event loop for the ``async with`` block.

    ``url_host``: the host name its ``url`` gives clients (it must resolve to
    where the emulator listens: ``localhost`` for loopback); by default, the
    address itself.
    """
    config = config or EmulatorConfig()
    async with serving(config, make_state(config), url_host) as emulator:
        yield emulator


class EmulatorServer(Emulator):
    """An emulator in a background thread with its own event loop (sync and async tests alike).

    ``with EmulatorServer(config) as emulator: ...`` or ``start()`` / ``stop()``;
    ``start()`` after ``stop()`` starts it again (on a fresh port when the
    config's port is 0; the state, scenarios and journal are kept).
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        config = config or EmulatorConfig()
        super().__init__(make_state(config), config, "")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("this emulator is already started")
        self._forget_last_run()
        self._thread = threading.Thread(target=self._run, name="fakegpt-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            self._thread = None
            raise self._error
        if not self._ready.is_set():
            raise RuntimeError("the emulator did not start within 30 s")
        return self

    def _forget_last_run(self) -> None:
        self._ready.clear()
        self._error = None
        self.url = ""

    def stop(self) -> None:
        loop, thread, stopped = self._loop, self._thread, self._stopped
        if loop is None or thread is None or stopped is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may have closed already
            loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        self._thread = None
        self._loop = None
        self.url = ""

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serving(self.config, self.state) as running:
            self.url = running.url
            self._ready.set()
            await self._stopped.wait()


if TYPE_CHECKING:  # mypy checks that the in-process handle is a whole EmulatorHandle
    from .handle import EmulatorHandle

    _IS_A_HANDLE: type[EmulatorHandle] = Emulator
