"""Report cards: a terminal table, JSON, JUnit XML (for CI dashboards) and Markdown.

Each takes the results and the scenarios skipped as not applicable (each with why): a card
lists both, so it says what was not tried as well as what was. A verdict's notes are
observations (a pass may have them), written as notes, never as failures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from .judge import VERDICTS
from .runner import Result

#: Scenarios not tried: (name, why it does not apply).
Skipped = Sequence[tuple[str, str]]

__all__ = ["as_json", "as_junit", "as_markdown", "as_table", "summary"]


def _ordered(results: list[Result]) -> list[Result]:
    """Worst verdicts first (silently wrong at the top), then by name."""
    return sorted(results, key=lambda r: (VERDICTS.index(r.verdict.kind), r.case.name))


def summary(results: list[Result], skipped: Skipped = ()) -> str:
    counts = Counter(r.verdict.kind for r in results)
    parts = [f"{counts[k]} {k}" for k in VERDICTS if counts[k]]
    said = f"{len(results)} scenarios: " + ", ".join(parts)
    return said + (f"; {len(skipped)} not applicable" if skipped else "")


def as_table(results: list[Result], skipped: Skipped = ()) -> str:
    width = max((len(r.case.name) for r in results), default=10)
    lines = []
    for r in _ordered(results):
        verdict = r.verdict
        lines.append(
            f"{verdict.kind.upper():<18} {r.case.name:<{width}}  {r.outcome.seconds:5.1f}s  "
            f"{verdict.detail}"
        )
        lines += [f"{'':<18} {'':<{width}}         note: {note}" for note in verdict.notes]
    lines.append(summary(results, skipped))
    return "\n".join(lines)


def _record(r: Result) -> dict[str, object]:
    return {
        "scenario": r.case.name,
        "verdict": r.verdict.kind,
        "detail": r.verdict.detail,
        "notes": list(r.verdict.notes),
        "expected": r.case.scenario.expect.outcome
        if r.case.scenario.expect.outcome != "failure"
        else r.case.scenario.expect.failure,
        "seconds": round(r.outcome.seconds, 3),
        "text": r.outcome.text,
        "failure": r.outcome.failure,
        "stderr": r.outcome.stderr,
    }


def as_json(results: list[Result], skipped: Skipped = ()) -> str:
    return json.dumps(
        {
            "summary": summary(results, skipped),
            "results": [_record(r) for r in _ordered(results)],
            "not_applicable": [{"scenario": name, "why": why} for name, why in skipped],
        },
        indent=1,
    )


def as_junit(
    results: list[Result], skipped: Skipped = (), suite: str = "fakegpt-conformance"
) -> str:
    failed = [r for r in results if not r.verdict.passed]
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results) + len(skipped)),
        failures=str(len(failed)),
        skipped=str(len(skipped)),
        time=f"{sum(r.outcome.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            root, "testcase", classname=suite, name=r.case.name, time=f"{r.outcome.seconds:.3f}"
        )
        if not r.verdict.passed:
            failure = ET.SubElement(case, "failure", type=r.verdict.kind, message=r.verdict.detail)
            failure.text = "\n".join([r.verdict.detail, *r.verdict.notes])
        if r.verdict.notes:
            ET.SubElement(case, "system-out").text = "\n".join(r.verdict.notes)
        if r.outcome.stderr:
            ET.SubElement(case, "system-err").text = r.outcome.stderr
    for name, why in skipped:
        case = ET.SubElement(root, "testcase", classname=suite, name=name, time="0")
        ET.SubElement(case, "skipped", message=why)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def as_markdown(results: list[Result], skipped: Skipped = ()) -> str:
    lines = ["| scenario | verdict | detail |", "|---|---|---|"]
    for r in _ordered(results):
        said = [r.verdict.detail, *(f"note: {n}" for n in r.verdict.notes)]
        detail = "; ".join(x for x in said if x)
        lines.append(f"| `{r.case.name}` | {r.verdict.kind} | {_cell(detail)} |")
    lines += ["", summary(results, skipped)]
    if skipped:
        lines += ["", f"Not applicable ({len(skipped)}):", "", "| scenario | why |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(why)} |" for name, why in skipped]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text fit for a Markdown table's cell."""
    return text.replace("|", "/").replace("\n", " ")
