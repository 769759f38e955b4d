"""pytest fixtures for the FakeGpt emulator (registered through the ``pytest11`` entry point).

Fixtures:

``emulator``
    A running emulator, shared by the session (one server per xdist worker,
    on a port the OS picked), reset before and after each test. Strict: the
    test fails at teardown when a handler raised, a request matched no route,
    or a queued scenario was never served. Opt out per test with
    ``@pytest.mark.emulator_allow(unmatched=True, unused=True, errors=True)``.
``emulator_config``
    The :class:`~emulator.EmulatorConfig` of the shared server (``speed=0``);
    override it in a ``conftest.py`` (session scope).
``emulator_factory``
    ``await emulator_factory(config, ...)`` starts a fresh emulator in the
    test's event loop; all are closed last-in-first-out after the test.
    Needs pytest-asyncio.
``fakegpt``
    The ``client.FakeGpt`` class pointed at ``emulator``, with its cached
    login cleared before and after the test.

Marker: ``@pytest.mark.emulator_scenario("name")`` (or a path, a dict, a
``Scenario``) picks the scenario the ``emulator`` fixture serves.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .app import EmulatorConfig
from .scenario import Scenario
from .server import Emulator, EmulatorServer, serve
from .state import ScenarioRef

if TYPE_CHECKING:
    from client import FakeGpt

__all__ = ["EmulatorFactory"]


class EmulatorFactory(Protocol):
    """The type of the ``emulator_factory`` fixture, for annotations."""

    async def __call__(
        self,
        config: EmulatorConfig | None = None,
        *,
        scenarios: Mapping[str, Scenario] | None = None,
        default: ScenarioRef | None = None,
        host: str = "127.0.0.1",
    ) -> Emulator: ...


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


@pytest.fixture(scope="session")
def _emulator_server(emulator_config: EmulatorConfig) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config) as server:
        yield server


@pytest.fixture
def emulator(
    _emulator_server: EmulatorServer, request: pytest.FixtureRequest
) -> Iterator[Emulator]:
    """The session's emulator, reset for this test (see the module docstring)."""
    server = _emulator_server
    server.reset()
    marker = request.node.get_closest_marker("emulator_scenario")
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError("emulator_scenario takes exactly one scenario")
        server.use(marker.args[0])
    yield server
    allow = request.node.get_closest_marker("emulator_allow")
    options: dict[str, Any] = dict(allow.kwargs) if allow is not None else {}
    problems = server.problems(
        allow_unmatched=bool(options.get("unmatched")), allow_unused=bool(options.get("unused"))
    )
    if options.get("errors"):
        problems = [p for p in problems if not p.startswith("handler raised")]
    server.reset()
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
def fakegpt(emulator: Emulator) -> Iterator[type[FakeGpt]]:
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

    @pytest_asyncio.fixture
    async def emulator_factory() -> AsyncIterator[EmulatorFactory]:
        """Start fresh emulators in the test's loop; closed last-in-first-out."""
        async with contextlib.AsyncExitStack() as stack:

            async def factory(
                config: EmulatorConfig | None = None,
                *,
                scenarios: Mapping[str, Scenario] | None = None,
                default: ScenarioRef | None = None,
                host: str = "127.0.0.1",
            ) -> Emulator:
                return await stack.enter_async_context(
                    serve(config, scenarios=scenarios, default=default, host=host)
                )

            yield factory
