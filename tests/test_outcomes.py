"""Outcomes are values: an ending, a write's label and a problem say what they are in
fields, and become words only at the edges (``str()``)."""

from __future__ import annotations

import ast
from pathlib import Path

from emulator.core.endings import COMPLETED, Ending, Label, Problem

ROOT = Path(__file__).resolve().parent.parent
#: Attributes that hold an ending or a label: never parsed back from their words.
_VALUES = {"ending", "what"}


def _reads_words_back(node: ast.AST) -> bool:
    def is_value(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.args:
            expr = expr.args[0] if expr.func.id == "str" else expr
        return isinstance(expr, ast.Attribute) and expr.attr in _VALUES

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("startswith", "endswith", "split", "partition"):
            return is_value(node.func.value)
    if isinstance(node, ast.Compare):
        return any(
            isinstance(op, ast.In | ast.NotIn) and is_value(right)
            for op, right in zip(node.ops, node.comparators, strict=True)
        )
    return False


def test_no_ending_or_label_is_parsed_back_from_its_words() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for path in sorted((ROOT / "emulator").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _reads_words_back(node)
    ]
    assert found == []


def test_the_check_sees_words_read_back() -> None:
    tree = ast.parse(
        "call.ending.startswith('client gone')\n'fault' in w.what\nstr(t.ending).split()"
    )
    assert sum(_reads_words_back(n) for n in ast.walk(tree)) == 3


def test_an_ending_is_worded_only_by_str() -> None:
    gone = Ending("client_gone", 1234, 40.4)
    assert (gone.kind, gone.at_bytes, gone.at_ms, gone.early) == ("client_gone", 1234, 40.4, True)
    assert str(gone) == "client gone at 1,234 B after 40 ms"
    assert str(COMPLETED) == "completed" and not COMPLETED.early
    assert str(Ending("shutdown", 9)) == "stopped by shutdown at 9 B"
    assert str(Ending("never_sent", fault="drop")) == "drop (the whole answer was never sent)"
    assert str(Ending("short_length", 5, 2.0)) == "cut by the Content-Length at 5 B after 2 ms"


def test_a_label_and_a_problem_are_values_with_words() -> None:
    fault = Label("fault", "stall", 3)
    assert str(fault) == "fault stall at 3"
    assert str(fault.noted(": 20 s").noted(" (split)")) == "fault stall at 3: 20 s (split)"
    assert fault.noted(": 1 s").name == "stall"  # a note never changes what it is
    assert str(Label("end", "[DONE]")) == "[DONE]"
    problem = Problem("unmatched", "GET /nope")
    assert problem.kind == "unmatched" and str(problem) == "request matched no route: GET /nope"


def test_a_config_error_carries_its_field() -> None:
    import pytest

    from emulator.state.config import ConfigError, EmulatorConfig, Limits

    with pytest.raises(ConfigError) as speed:
        EmulatorConfig(speed=-1)
    assert (speed.value.field, speed.value.problem) == ("speed", "must be 0 or more, got -1")
    with pytest.raises(ConfigError) as queue:
        Limits(queue=0)
    assert queue.value.field == "limits.queue" and isinstance(queue.value, ValueError)
    with pytest.raises(ConfigError) as prompt:
        EmulatorConfig(max_prompt=0)
    assert prompt.value.field == "max_prompt"
