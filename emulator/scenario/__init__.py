"""Scenarios as data: the model, THE fault table, strict loading, meaning checks, dumping.

Layers inside, bottom up: ``exceptions``, ``parts`` (an API's own part of a scenario,
declared by its dialect: FakeGpt's login and stream switches), ``model`` (frozen values,
speaking of answers), ``faults`` (every
fault kind once), ``outcomes`` (client-neutral failure kinds), ``text`` (a
reply's text and cuts), ``reply`` (the ``[reply]`` table in), ``load`` (TOML
in), ``check`` (``python -m emulator check``), ``dump`` (TOML out). The public names are those of ``model`` and ``load``,
and the tables of ``faults`` and ``outcomes``.
"""

from . import load, model
from .faults import FAULT_KINDS, FAULTS, FaultSpec
from .load import *  # noqa: F403 - as load.__all__ lists them
from .model import *  # noqa: F403 - as model.__all__ lists them
from .outcomes import FAILURES

__all__ = [*model.__all__, *load.__all__, "FAILURES", "FAULTS", "FAULT_KINDS", "FaultSpec"]
