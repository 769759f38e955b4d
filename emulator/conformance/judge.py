"""The judge: what a client did against a scenario, held to what the scenario expects. Pure.

Verdicts, worst first: ``silently wrong`` (text where a failure was due),
``hung`` (no answer by the deadline), ``crashed`` (the adapter itself broke),
``wrong text``, ``failed differently`` (a failure of another kind, or an
HTTP failure that does not mention its status, or a failure where text was
due), ``pass``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final, Literal

from ..scenario import Scenario
from ..scenario.text import told_text

__all__ = ["VERDICTS", "Outcome", "Verdict", "expected_text", "judge"]

VerdictKind = Literal[
    "silently wrong", "hung", "crashed", "wrong text", "failed differently", "pass"
]
#: Worst first: a report lists them in this order.
VERDICTS: Final[tuple[VerdictKind, ...]] = (
    "silently wrong",
    "hung",
    "crashed",
    "wrong text",
    "failed differently",
    "pass",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a client did: returned ``text``, or failed (``failure`` is its message).

    ``kind`` is the failure's kind when the client's adapter can tell it
    (this project's client can); ``None`` means "a failure of some kind".
    ``hung``: no answer by the deadline; ``crashed``: the adapter broke.
    """

    text: str | None = None
    failure: str | None = None
    kind: str | None = None
    seconds: float = 0.0
    hung: bool = False
    crashed: str | None = None
    stderr: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    detail: str = ""
    notes: tuple[str, ...] = field(default=())  # behaviour checks, reported beside the verdict

    @property
    def passed(self) -> bool:
        return self.kind == "pass"


def expected_text(scenario: Scenario, prompt: str) -> str:
    expect = scenario.expect
    return told_text(scenario.reply, prompt) if expect.outcome == "reply" else expect.text


def judge(scenario: Scenario, prompt: str, outcome: Outcome) -> Verdict:
    """The verdict on ``outcome`` for ``scenario`` served to ``prompt``."""
    expect = scenario.expect
    if outcome.crashed is not None:
        return Verdict("crashed", outcome.crashed)
    if outcome.hung:
        return Verdict("hung", f"no answer within {outcome.seconds:.1f} s")
    if expect.outcome == "failure":
        if outcome.failure is None:
            shown = (outcome.text or "")[:60]
            return Verdict(
                "silently wrong", f"returned {shown!r} where a {expect.failure} failure was due"
            )
        if outcome.kind is not None and outcome.kind != expect.failure:
            return Verdict("failed differently", f"a {outcome.kind} failure, not {expect.failure}")
        if expect.status is not None and str(expect.status) not in outcome.failure:
            return Verdict(
                "failed differently",
                f"the failure does not mention HTTP {expect.status}: {outcome.failure[:80]!r}",
            )
        if expect.failure == "idle_timeout" and outcome.seconds > expect.idle_timeout + 5:
            return Verdict(
                "failed differently",
                f"gave up after {outcome.seconds:.1f} s, past its idle timeout "
                f"({expect.idle_timeout:g} s) and the 5 s margin",
            )
        return Verdict("pass")
    want = expected_text(scenario, prompt)
    if outcome.failure is not None:
        return Verdict(
            "failed differently", f"failed where text was due: {outcome.failure[:80]!r}"
        )
    got = outcome.text or ""
    if got != want:
        return Verdict("wrong text", _diff(want, got))
    return Verdict("pass")


def _diff(want: str, got: str) -> str:
    """Where two texts part, briefly (linear: replies can be megabytes long)."""
    at = len(os.path.commonprefix([want, got]))  # noqa: RUF071 - characters are meant
    return (
        f"at character {at}: expected {want[at : at + 30]!r}, got {got[at : at + 30]!r} "
        f"({len(got):,} of {len(want):,} characters)"
    )
