"""pytest fixtures for the FakeGpt emulator (registered through the ``pytest11`` entry point).

Fixtures:

``emulator``
    A session of its own on a running emulator that the test run shares (one
    server per xdist worker, on a port the OS picked): its ``url`` ends in
    ``/_session/ID``, so whatever the test points at it sees only this
    test's scenario, queue, rules, counters and journal, and tests running
    at once (threads, several event loops) do not interfere. The session is
    dropped after the test. Strict: the
    test fails at teardown when a handler raised, a request matched no route,
    or a queued scenario was never served. Opt out per test with
    ``@pytest.mark.emulator_allow(unmatched=True, unused=True, errors=True)``.
``emulator_config``
    The :class:`~emulator.EmulatorConfig` of the shared server (``speed=0``);
    override it in a ``conftest.py`` (session scope).
``emulator_factory``
    ``await emulator_factory(config)`` starts a fresh emulator in the
    test's event loop; all are closed last-in-first-out after the test.
    Needs pytest-asyncio.
``fakegpt``
    The ``client.FakeGpt`` class pointed at ``emulator``, with its cached
    login cleared before and after the test.

Marker: ``@pytest.mark.emulator_scenario("name")`` (or a path, a dict, a
``Scenario``) picks the scenario the ``emulator`` fixture serves. A relative
``.toml`` path is looked up in the ``emulator_scenarios_dir`` folder, then
beside the test file, never in the working directory.

Ini option ``emulator_url`` (or the ``EMULATOR_URL`` environment variable,
with ``EMULATOR_ADMIN_TOKEN`` if the server has one): use an emulator already
running there instead of starting one, each test in a session of its own,
so that xdist workers and other suites share one server. The handle is a
:class:`~emulator.remote.RemoteEmulator`: the same methods, through the
admin API, but no ``state``.

Ini option ``emulator_scenarios_dir``: a folder of your own scenario files
(relative to the ini file), added to the shipped ones, so markers and the
``X-Emulator-Scenario`` header can name them.

Where the shared emulator runs: in a thread of its own, so that sync tests
and async tests of any event loop reach it. With the ini option
``emulator_in_test_loop = true``, async tests that run in pytest-asyncio's
session-scoped loop are served by a second server in that very loop (same
scenarios, same journal): no thread hop per request, 14-29% off a short
reply in our benchmark runs. Such a test must not block its loop (a synchronous HTTP call, a
``subprocess.run``) while it waits for the emulator: the loop that would
answer is the one blocked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .handle import EmulatorHandle
from .remote import RemoteEmulator
from .scenario import ScenarioError, load_scenarios
from .server import _LOOPBACK, Emulator, EmulatorServer, builtin_scenarios, serve, serving
from .state.config import EmulatorConfig
from .state.store import ScenarioRef

if TYPE_CHECKING:
    from client import FakeGpt

__all__ = ["EmulatorFactory"]


class EmulatorFactory(Protocol):
    """The type of the ``emulator_factory`` fixture, for annotations."""

    async def __call__(self, config: EmulatorConfig | None = None) -> Emulator: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "emulator_scenarios_dir",
        "a folder of your own scenario files (relative to the ini file's folder), added to "
        "the shipped ones for the emulator fixture; relative .toml paths in "
        "emulator_scenario markers are found there too",
        default="",
    )
    parser.addini(
        "emulator_url",
        "use the emulator already running at this URL (each test in a session of its own) "
        "instead of starting one; the EMULATOR_URL environment variable overrides it",
        default="",
    )
    parser.addini(
        "emulator_in_test_loop",
        "serve async tests running in pytest-asyncio's session loop from that loop "
        "(faster; such tests must not block the loop while the emulator answers)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator_scenario(scenario): the scenario the emulator fixture serves in this test "
        "(a name, a .toml path, a dict or a Scenario)",
    )
    config.addinivalue_line(
        "markers",
        "emulator_allow(unmatched=False, unused=False, errors=False): let this test pass even "
        "though requests matched no route, queued scenarios went unused, or handlers raised",
    )


@pytest.fixture(scope="session")
def emulator_config() -> EmulatorConfig:
    """The shared emulator's configuration; override in a conftest.py."""
    return EmulatorConfig(speed=0.0)


def _scenarios_dir(config: pytest.Config) -> Path | None:
    """The ``emulator_scenarios_dir`` ini option, resolved against the ini file's folder."""
    value = str(config.getini("emulator_scenarios_dir") or "")
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / value).resolve()


@pytest.fixture(scope="session")
def _emulator_server(
    emulator_config: EmulatorConfig, pytestconfig: pytest.Config
) -> Iterator[EmulatorServer]:
    if emulator_config.secret is None:
        # One secret for the session, so a second server in the test loop
        # (emulator_in_test_loop) accepts the same tokens.
        emulator_config = dataclasses.replace(emulator_config, secret=secrets.token_bytes(32))
    folder = _scenarios_dir(pytestconfig)
    if folder is not None:
        scenarios = dict(emulator_config.scenarios or builtin_scenarios())
        try:
            scenarios.update(load_scenarios(folder))
        except ScenarioError as exc:
            raise pytest.UsageError(f"emulator_scenarios_dir: {exc}") from exc
        emulator_config = dataclasses.replace(emulator_config, scenarios=scenarios)
    with EmulatorServer(emulator_config) as server:
        yield server


def _marker_scenario(request: pytest.FixtureRequest, ref: ScenarioRef) -> ScenarioRef:
    """A relative .toml path of a marker, found in the scenarios folder or beside the test."""
    if isinstance(ref, str) and ref.endswith(".toml") and not Path(ref).is_absolute():
        folder = _scenarios_dir(request.config)
        candidates = [folder / ref] if folder is not None else []
        candidates.append(request.path.parent / ref)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        tried = ", ".join(str(c) for c in candidates)
        raise pytest.UsageError(f"emulator_scenario({ref!r}): no such file (looked in {tried})")
    return ref


def _in_session_loop(request: pytest.FixtureRequest) -> bool:
    """Whether this test is async and runs in pytest-asyncio's session-scoped loop."""
    function = getattr(request.node, "function", None)
    if function is None or not inspect.iscoroutinefunction(function):
        return False
    marker = request.node.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") if marker is not None else None
    if scope is None:
        try:
            scope = request.config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # an older pytest-asyncio: tests run in their own loops
            return False
    return bool(scope == "session")


def _remote_url(config: pytest.Config) -> str:
    return os.environ.get("EMULATOR_URL") or str(config.getini("emulator_url") or "")


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    """A session of its own on the shared emulator, for this test (see the module docstring)."""
    remote = _remote_url(request.config)
    shared: EmulatorHandle
    if remote:
        shared = RemoteEmulator(remote, admin_token=os.environ.get("EMULATOR_ADMIN_TOKEN"))
    elif request.config.getini("emulator_in_test_loop") and _in_session_loop(request):
        shared = request.getfixturevalue("_emulator_in_session_loop")
    else:
        shared = request.getfixturevalue("_emulator_server")
    server = shared.session()
    marker = request.node.get_closest_marker("emulator_scenario")
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError("emulator_scenario takes exactly one scenario")
        server.use(_marker_scenario(request, marker.args[0]))
    yield server
    allow = request.node.get_closest_marker("emulator_allow")
    options: dict[str, Any] = dict(allow.kwargs) if allow is not None else {}
    problems = server.problems(
        allow_unmatched=bool(options.get("unmatched")), allow_unused=bool(options.get("unused"))
    )
    if options.get("errors"):
        problems = [p for p in problems if p.kind != "handler_error"]
    server.drop()
    if problems:
        __tracebackhide__ = True
        listing = "\n".join(f"  - {p}" for p in problems)
        pytest.fail(
            f"the emulator saw problems during this test:\n{listing}\n"
            "If they are expected, mark the test with "
            "@pytest.mark.emulator_allow(unmatched=True, unused=True, errors=True) "
            "(only the kinds you need).",
            pytrace=False,
        )


@pytest.fixture
def fakegpt(emulator: EmulatorHandle) -> Iterator[type[FakeGpt]]:
    """``client.FakeGpt`` aimed at the emulator, with no login cached across tests."""
    from client import FakeGpt

    saved = FakeGpt.url
    FakeGpt.url = emulator.url
    FakeGpt.reset()
    try:
        yield FakeGpt
    finally:
        FakeGpt.url = saved
        FakeGpt.reset()


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the factory needs pytest-asyncio
    pass
else:
    # pytest-asyncio 0.24 added loop scopes; without them there is no session
    # loop to serve from, and emulator_in_test_loop never applies.
    _LOOP_SCOPES = "loop_scope" in inspect.signature(pytest_asyncio.fixture).parameters
    _session_loop: dict[str, Any] = {"loop_scope": "session"} if _LOOP_SCOPES else {}

    @pytest_asyncio.fixture(scope="session", **_session_loop)
    async def _emulator_in_session_loop(
        _emulator_server: EmulatorServer,
    ) -> AsyncIterator[Emulator]:
        """A second server on the shared state, in the session loop (emulator_in_test_loop)."""
        config = dataclasses.replace(_emulator_server.config, host=_LOOPBACK, port=0)
        async with serving(config, _emulator_server.state) as in_loop:
            yield in_loop

    @pytest_asyncio.fixture
    async def emulator_factory() -> AsyncIterator[EmulatorFactory]:
        """Start fresh emulators in the test's loop; closed last-in-first-out."""
        async with contextlib.AsyncExitStack() as stack:

            async def factory(config: EmulatorConfig | None = None) -> Emulator:
                return await stack.enter_async_context(serve(config))

            yield factory
