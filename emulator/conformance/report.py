"""Report cards: a terminal table, JSON, JUnit XML (for CI dashboards) and Markdown."""

from __future__ import annotations

import json
from collections import Counter
from xml.etree import ElementTree as ET

from .judge import VERDICTS
from .runner import Result

__all__ = ["as_json", "as_junit", "as_markdown", "as_table", "summary"]


def _ordered(results: list[Result]) -> list[Result]:
    """Worst verdicts first (silently wrong at the top), then by name."""
    return sorted(results, key=lambda r: (VERDICTS.index(r.verdict.kind), r.case.name))


def summary(results: list[Result]) -> str:
    counts = Counter(r.verdict.kind for r in results)
    parts = [f"{counts[k]} {k}" for k in VERDICTS if counts[k]]
    return f"{len(results)} scenarios: " + ", ".join(parts)


def as_table(results: list[Result]) -> str:
    width = max((len(r.case.name) for r in results), default=10)
    lines = []
    for r in _ordered(results):
        verdict = r.verdict
        lines.append(
            f"{verdict.kind.upper():<18} {r.case.name:<{width}}  {r.outcome.seconds:5.1f}s  "
            f"{verdict.detail}"
        )
        lines += [f"{'':<18} {'':<{width}}         - {note}" for note in verdict.notes]
    lines.append(summary(results))
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


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {"summary": summary(results), "results": [_record(r) for r in _ordered(results)]},
        indent=1,
    )


def as_junit(results: list[Result], suite: str = "fakegpt-conformance") -> str:
    failed = [r for r in results if not r.verdict.passed]
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(len(failed)),
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
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def as_markdown(results: list[Result]) -> str:
    lines = ["| scenario | verdict | detail |", "|---|---|---|"]
    for r in _ordered(results):
        detail = "; ".join(x for x in (r.verdict.detail, *r.verdict.notes) if x)
        lines.append(f"| `{r.case.name}` | {r.verdict.kind} | {detail.replace('|', '/')} |")
    lines.append("")
    lines.append(summary(results))
    return "\n".join(lines) + "\n"
