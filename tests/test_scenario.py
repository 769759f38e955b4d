"""emulator.scenario: strict loading, one clear error naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import (
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    load_scenarios,
    scenario_from_dict,
)
from emulator.scenario import FAULT_KINDS


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("", "description", "is required"),
        ('description = "d"\nspeed = 2', "speed", "unknown key"),
        (
            'description = "d"\n[reply]\ntext = 3',
            "reply.text",
            "expected a string, got an integer",
        ),
        (
            'description = "d"\n[reply]\ncut = "sentence"',
            "reply.cut",
            "expected one of 'token', 'word'",
        ),
        ('description = "d"\n[reply]\ncut_size = 0', "reply.cut_size", "must be at least 1"),
        ('description = "d"\n[reply]\ntext = "a"\necho = true', "reply", "only one of"),
        ('description = "d"\n[reply]\ntool = "get weather"', "reply.tool", "letters, digits"),
        ('description = "d"\n[reply]\ntool = "f"\ntext = "[1]"', "reply.text", "JSON object"),
        ('description = "d"\n[reply]\ntool = "f"\ntext = "{x"', "reply.text", "JSON object"),
        ('description = "d"\n[reply]\ntool = "f"\necho = true', "reply.tool", "fixed 'text'"),
        ('description = "d"\n[timing]\njitter = 2', "timing.jitter", "at most 1.0"),
        ('description = "d"\n[timing]\nfirst_event = true', "timing.first_event", "got a boolean"),
        ('description = "d"\n[wire]\nline_ending = "\\t"', "wire.line_ending", "expected one of"),
        ('description = "d"\n[wire]\nsplit_at = [1, "x"]', "wire.split_at", "list of integers"),
        ('description = "d"\nwire = 3', "wire", "expected a table"),
        ('description = "d"\n[[faults]]\nat = 1', "faults[0].kind", "is required"),
        (
            'description = "d"\n[[faults]]\nkind = "stall"',
            "faults[0].seconds",
            "needs seconds > 0",
        ),
        (
            'description = "d"\n[[faults]]\nkind = "rewrite"',
            "faults[0].text",
            "needs the snapshot text",
        ),
        (
            'description = "d"\n[[faults]]\nkind = "garbage"\nraw_hex = "zz"',
            "faults[0].raw_hex",
            "hex digits",
        ),
        (
            'description = "d"\n[[faults]]\nkind = "drop"\nwhen = 1',
            "faults[0].when",
            "unknown key",
        ),
        ('description = "d"\nfaults = {kind = "drop"}', "faults", "array of tables"),
        (
            'description = "d"\n[[http_errors]]\nendpoint = "chat"',
            "http_errors[0].endpoint",
            "'loads'",
        ),
        (
            'description = "d"\n[[http_errors]]\nendpoint = "loads"\nstatus = 200',
            "http_errors[0].status",
            "at least 400",
        ),
        ('description = "d"\n[expect]\ntext = "a"\nfailure = "no_reply"', "expect", "not both"),
        ('description = "d"\n[expect]\nerror = "X"', "expect.error", "replaced by expect.failure"),
        ('description = "d"\n[expect]\nfailure = "nope"', "expect.failure", "'http_status'"),
        (
            'description = "d"\n[expect]\nfailure = "http_status"',
            "expect.status",
            "needs the status",
        ),
        (
            'description = "d"\n[wire]\nencoding = "delta_v1"\n[[faults]]\nkind = "stale"',
            "faults[0].kind",
            "cumulative",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.source == str(path) and error.key == key
    assert problem in error.problem
    assert str(path) in str(error) and f"[{key}]" in str(error)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"description = \n", "not valid TOML"), (b"description = '\xff'", "not UTF-8")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError, match=problem):
        load_scenario(path)


def test_a_missing_file_or_folder(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not a folder"):
        load_scenarios(tmp_path / "nope")


def test_the_first_bad_file_in_a_folder_is_reported(tmp_path: Path) -> None:
    write(tmp_path, 'description = "fine"', "a.toml")
    write(tmp_path, 'description = "bad"\n[reply]\nrepeat = 0', "b.toml")
    with pytest.raises(ScenarioError, match=r"b\.toml: \[reply\.repeat\]"):
        load_scenarios(tmp_path)


def test_scenarios_are_frozen_values_named_after_their_file(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, 'description = "  one line  "', "my_case.toml"))
    assert scenario.name == "my_case" and scenario.description == "one line"
    with pytest.raises(AttributeError):
        scenario.name = "other"  # type: ignore[misc]


def test_every_shipped_scenario_is_valid_and_every_fault_kind_is_shipped() -> None:
    scenarios = builtin_scenarios()
    assert len(scenarios) >= 20
    used = {f.kind for s in scenarios.values() for f in s.faults}
    assert set(FAULT_KINDS) - used == set()
    endpoints = {e.endpoint for s in scenarios.values() for e in s.http_errors}
    assert endpoints == {"loads", "login", "session", "conversation"}


def test_scenario_from_dict_validates_like_a_file() -> None:
    scenario = scenario_from_dict(
        {"description": "d", "reply": {"text": "x", "cut": "char"}}, name="inline"
    )
    assert scenario.reply.text == "x" and scenario.source == "<python>"
    with pytest.raises(ScenarioError, match=r"<python>: \[reply\.cut\]"):
        scenario_from_dict({"description": "d", "reply": {"cut": "line"}})


def test_the_scenario_reference_lists_every_fault_kind_from_the_table() -> None:
    from pathlib import Path

    from emulator.scenario.faults import FAULTS, reference

    readme = (Path(__file__).resolve().parent.parent / "scenarios" / "README.md").read_text()
    start = readme.index("<!-- fault kinds:")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- /fault kinds -->")
    assert readme[start:end].strip() == reference()
    for kind in FAULTS:
        assert f"| `{kind}` |" in readme


def test_the_scenario_reference_lists_every_network_fault_from_the_table() -> None:
    from pathlib import Path

    from emulator.scenario import builtin
    from emulator.scenario.model import Transport
    from emulator.scenario.toxics import TOXICS, reference

    readme = (Path(__file__).resolve().parent.parent / "scenarios" / "README.md").read_text()
    start = readme.index("<!-- transport faults:")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- /transport faults -->")
    assert readme[start:end].strip() == reference()
    # Each fault's keys are [transport]'s, each key belongs to one fault, and the scenario
    # named as showing it does use it.
    keys = [k for spec in TOXICS.values() for k in spec.keys]
    assert sorted(keys) == sorted(f for f in Transport.__dataclass_fields__ if f != "endpoints")
    shipped = builtin.builtin_scenarios()
    for spec in TOXICS.values():
        transport = shipped[spec.shown_by].transport
        assert any(getattr(transport, k) != getattr(Transport(), k) for k in spec.keys), spec


def test_the_scenario_reference_lists_every_outcome_kind() -> None:
    from pathlib import Path

    from emulator.scenario.outcomes import FAILURES

    readme = (Path(__file__).resolve().parent.parent / "scenarios" / "README.md").read_text()
    start = readme.index("\n", readme.index("<!-- outcomes:")) + 1
    rows = readme[start : readme.index("<!-- /outcomes -->")].strip().splitlines()[2:]
    assert rows == [f"| `{kind}` | {what} |" for kind, what in FAILURES.items()]


def test_a_transport_shapes_the_answer_when_any_field_but_its_endpoints_differs() -> None:
    from dataclasses import fields, replace

    from emulator.scenario.model import Transport

    plain = Transport()
    assert not plain.shapes
    assert not Transport(endpoints=("conversation",)).shapes
    assert not plain.applies("conversation")
    changed: dict[str, Any] = {
        "bandwidth": 10,
        "latency": 0.5,
        "latency_sd": 0.1,
        "distribution": "normal",
        "seed": 3,
        "cut_after": 100,
        "cut_with": "reset",
        "no_headers": True,
        "length_error": -1,
        "slow_close": 1.0,
    }
    # Every field is here: a new one must say whether it shapes the answer.
    assert set(changed) == {f.name for f in fields(Transport)} - {"endpoints"}
    for name, value in changed.items():
        transport = replace(plain, **{name: value})
        assert transport.shapes, name
        assert transport.applies("conversation")
        assert not replace(transport, endpoints=("loads",)).applies("conversation")
