"""The bytes every shipped scenario plans are those recorded in tests/golden/plans.json.

Recorded before the emulator's inside was reshaped; re-record only for a
deliberate change of output (``python -m tests.golden.record``), and say so.
"""

from __future__ import annotations

import json

from tests.golden.record import GOLDEN, record


def test_every_shipped_scenario_plans_the_recorded_bytes() -> None:
    recorded = json.loads(GOLDEN.read_text())
    now = record()
    assert sorted(now) == sorted(recorded)
    changed = [name for name in recorded if now[name] != recorded[name]]
    assert changed == [], f"these scenarios now plan other bytes: {changed}"
