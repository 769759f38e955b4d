"""A local emulator of the FakeGpt upstream (a shared ChatGPT front end).

Serve it with ``python -m emulator``, from tests with the pytest plugin's
``emulator`` fixture, or from code with :class:`EmulatorServer` (a thread of
its own) or :func:`serve` (in the running event loop).
"""

from ._version import __version__
from .http.app import EmulatorHandler, make_app, make_server
from .remote import RemoteEmulator
from .scenario import (
    Expect,
    Fault,
    HttpError,
    Reply,
    Scenario,
    ScenarioError,
    Timing,
    Wire,
    load_scenario,
    load_scenarios,
    scenario_from_dict,
)
from .scenario.chaos import Chaos, parse_chaos
from .server import Emulator, EmulatorServer, builtin_scenarios, serve
from .state.config import EmulatorConfig, Limits
from .state.journal import Call, CallList
from .state.sessions import SESSION_HEADER
from .state.store import SCENARIO_HEADER, EmulatorState

__all__ = [
    "SCENARIO_HEADER",
    "SESSION_HEADER",
    "Call",
    "CallList",
    "Chaos",
    "Emulator",
    "EmulatorConfig",
    "EmulatorHandler",
    "EmulatorServer",
    "EmulatorState",
    "Expect",
    "Fault",
    "HttpError",
    "Limits",
    "RemoteEmulator",
    "Reply",
    "Scenario",
    "ScenarioError",
    "Timing",
    "Wire",
    "__version__",
    "builtin_scenarios",
    "load_scenario",
    "load_scenarios",
    "make_app",
    "make_server",
    "parse_chaos",
    "scenario_from_dict",
    "serve",
]
