"""An API's own part of a scenario (emulator/scenario/parts.py): the keys only one API's
scenarios say, declared in its dialect's folder and read by the loader once the dialect
is registered; a scenario carrying them means nothing on any other API, for the reason the
part gives. FakeGpt's login and stream switches are the shipped part."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pytest

from emulator import ScenarioError, builtin_scenarios, load_scenario
from emulator.dialects.dialect import Dialect
from emulator.dialects.fakegpt.part import FakeGptPart
from emulator.dialects.registry import DIALECTS, register, registered
from emulator.scenario.check import meaning_problems
from emulator.scenario.dump import scenario_to_toml
from emulator.scenario.parts import ApiPart, FaultTraits, endpoints
from tests.test_dialects import _toy

if TYPE_CHECKING:
    from typing import Self

    from emulator.scenario.table import Table


@dataclass(frozen=True, slots=True)
class VoicePart(ApiPart):
    """The toy API's own: a voice, and a warm-up call before the answer."""

    dialect: ClassVar[str] = "voiced"
    calls: ClassVar = {"warmup": "/toy/v1/warmup"}
    calls_elsewhere: ClassVar[str] = "it acts on the toy's warm-up, which this API has not"

    voice: str = "calm"
    hoarse: bool = False

    @classmethod
    def read(cls, top: Table, wire: Table) -> Self:
        return cls(voice=wire.text("voice", "calm"), hoarse=top.boolean("hoarse", False))

    def lines(self) -> tuple[list[str], list[str]]:
        return (["hoarse = true"] if self.hoarse else [],
                [f'voice = "{self.voice}"'] if self.voice != "calm" else [])  # fmt: skip

    def elsewhere(self) -> str | None:
        return f"its voice is {self.voice!r}, the toy's" if self.voice != "calm" else None

    def unfit(self, spec: FaultTraits) -> str | None:
        return "cannot be said hoarsely" if self.hoarse and spec.kind == "stall" else None


@pytest.fixture
def voiced() -> Iterator[Dialect]:
    made = dataclasses.replace(_toy("voiced", "/toy/v1/voiced/"), part=VoicePart)
    with registered(made) as dialect:
        yield dialect


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sung.toml"
    path.write_text('description = "a toy voice"\n' + text, encoding="utf-8")
    return path


def test_a_part_s_keys_are_unknown_until_its_dialect_is_registered(tmp_path: Path) -> None:
    path = _file(tmp_path, '[wire]\nvoice = "bright"\n')
    with pytest.raises(ScenarioError, match=r"sung\.toml.*wire\.voice.*unknown key"):
        load_scenario(path)
    with registered(dataclasses.replace(_toy("voiced", "/toy/v1/voiced/"), part=VoicePart)):
        scenario = load_scenario(path)
        assert scenario.part(VoicePart) == VoicePart(voice="bright")
        assert "warmup" in endpoints()
    with pytest.raises(ScenarioError, match="unknown key"):
        load_scenario(path)  # taken back with its dialect
    assert "warmup" not in endpoints()


def test_a_part_is_read_checked_and_written_back(voiced: Dialect, tmp_path: Path) -> None:
    scenario = load_scenario(_file(tmp_path, 'hoarse = true\n[wire]\nvoice = "bright"\n'
                                   'ensure_ascii = true\n'))  # fmt: skip
    assert scenario.part(VoicePart) == VoicePart(voice="bright", hoarse=True)
    assert scenario.part(FakeGptPart) == FakeGptPart()  # none said: the defaults
    assert scenario.parts == (VoicePart(voice="bright", hoarse=True),)
    again = load_scenario(_file(tmp_path, scenario_to_toml(scenario).split("\n", 1)[1]))
    assert again.parts == scenario.parts and again.wire == scenario.wire
    # A part at its defaults is not kept: the scenario is the one without it.
    plain = load_scenario(_file(tmp_path, '[wire]\nvoice = "calm"\n'))
    assert plain.parts == ()
    # A fault the part rules out is refused, naming the file and the key.
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.kind.*'stall' cannot be said"):
        load_scenario(_file(tmp_path, 'hoarse = true\n[[faults]]\nkind = "stall"\nseconds = 1\n'))


def test_another_api_s_part_or_calls_mean_nothing_elsewhere(
    voiced: Dialect, tmp_path: Path
) -> None:
    sung = load_scenario(_file(tmp_path, '[wire]\nvoice = "bright"\n'))
    assert voiced.not_applicable(sung) is None
    for name in ("fakegpt", "openai-chat", "bedrock"):
        assert DIALECTS[name].not_applicable(sung) == "its voice is 'bright', the toy's"
    warm = load_scenario(_file(tmp_path, '[[http_errors]]\nendpoint = "warmup"\nstatus = 503\n'))
    assert voiced.not_applicable(warm) is None
    assert DIALECTS["anthropic"].not_applicable(warm) == VoicePart.calls_elsewhere
    # And FakeGpt's own, shipped: its login calls mean nothing on the toy.
    assert voiced.not_applicable(builtin_scenarios()["login_rejected"]) == (
        "it acts on the FakeGpt login calls, which this API does not have"
    )
    assert DIALECTS["fakegpt"].not_applicable(builtin_scenarios()["login_rejected"]) is None


def test_fakegpt_s_keys_load_as_they_always_have(tmp_path: Path) -> None:
    scenario = load_scenario(_file(tmp_path, "accounts = 0\nlogin_cookie = false\n"
                                   '[wire]\nbody = "done_only"\nmoderation = false\n'))  # fmt: skip
    own = scenario.part(FakeGptPart)
    assert (own.accounts, own.login_cookie, own.body, own.moderation) == (0, False, "done_only",
                                                                          False)  # fmt: skip
    assert not scenario.streams
    assert meaning_problems(scenario) == [
        ("expect", "a reply cannot arrive when wire.body is 'done_only'")
    ]
    with pytest.raises(ScenarioError, match=r"wire\.encoding.*expected one of"):
        load_scenario(_file(tmp_path, '[wire]\nencoding = "delta_v2"\n'))


def test_a_part_must_be_its_dialect_s_and_name_new_calls() -> None:
    with pytest.raises(ValueError, match="its part is 'voiced'"):
        register(dataclasses.replace(_toy("other", "/toy/v1/other/"), part=VoicePart))

    @dataclass(frozen=True, slots=True)
    class Thief(VoicePart):
        dialect: ClassVar[str] = "thief"
        calls: ClassVar = {"login": "/steal"}

    with pytest.raises(ValueError, match="the call 'login' is already named"):
        register(dataclasses.replace(_toy("thief", "/toy/v1/thief/"), part=Thief))
    assert "thief" not in DIALECTS and "other" not in DIALECTS
