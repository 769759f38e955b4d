"""Scenarios as data: the model, THE fault table, strict loading, meaning checks, dumping.

Layers inside, bottom up: ``model`` (frozen values), ``faults`` (every
fault kind once), ``text`` (a reply's text and cuts), ``load`` (TOML in),
``check`` (``--check``), ``dump`` (TOML out).
"""

from .faults import FAULT_KINDS, FAULTS, FaultSpec
from .load import load_scenario, load_scenarios, scenario_from_dict
from .model import (
    ENDPOINTS,
    MAX_FAULT_WRITES,
    MAX_FAULTS,
    MAX_REPLY_CHARS,
    Endpoint,
    Expect,
    Fault,
    HttpError,
    PlanError,
    Reply,
    Scenario,
    ScenarioError,
    Timing,
    Wire,
)
from .outcomes import FAILURES

__all__ = [
    "ENDPOINTS",
    "FAILURES",
    "FAULTS",
    "FAULT_KINDS",
    "MAX_FAULTS",
    "MAX_FAULT_WRITES",
    "MAX_REPLY_CHARS",
    "Endpoint",
    "Expect",
    "Fault",
    "FaultSpec",
    "HttpError",
    "PlanError",
    "Reply",
    "Scenario",
    "ScenarioError",
    "Timing",
    "Wire",
    "load_scenario",
    "load_scenarios",
    "scenario_from_dict",
]
