"""Shared test configuration: hypothesis profiles and small helpers.

The ``emulator``, ``fakegpt`` and ``emulator_factory`` fixtures come from the
project's own pytest plugin (entry point ``pytest11``), as they would for any
user of the package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import OPENED

# A bigger example budget in CI (CI=true) than locally; HYPOTHESIS_PROFILE wins.
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """The SDK clients a test opened with :func:`tests.helpers.kept`, closed after it."""
    yield
    while OPENED:
        OPENED.pop().close()
