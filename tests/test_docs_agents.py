"""The worked agent-loop example in ``docs/agents.md`` runs as written and prints what the
page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import load_scenario

PAGE = Path(__file__).resolve().parent.parent / "docs" / "agents.md"


def _blocks() -> tuple[dict[str, str], str]:
    text = PAGE.read_text(encoding="utf-8")
    files = {}
    for body in re.findall(r"```(?:toml|python)\n(.*?)```", text, re.S):
        name = re.match(r"# file: (\S+)\n", body)
        if name is not None:
            files[name.group(1)] = body
    printed = re.search(r"prints:\n\n```text\n(.*?)```", text, re.S)
    assert printed is not None
    return files, printed.group(1)


@pytest.mark.timeout(120)
def test_the_worked_example_runs_as_written(tmp_path: Path) -> None:
    files, printed = _blocks()
    assert set(files) == {"weather_loop.toml", "loop.py", "test_agent_tools.py"}
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "weather_loop.toml").write_text(files["weather_loop.toml"], encoding="utf-8")
    (tmp_path / "loop.py").write_text(files["loop.py"], encoding="utf-8")
    assert len(load_scenario(folder / "weather_loop.toml").turns) == 4
    ran = subprocess.run(
        [sys.executable, str(tmp_path / "loop.py"), str(folder)],
        capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == printed


def test_the_agent_with_its_tools_over_mcp_passes_as_written(pytester: pytest.Pytester) -> None:
    # Both sides on the emulator: the page's pytest test, in a project of its own, with
    # the plugin's fixtures and the ini line the README gives a new project.
    files, _ = _blocks()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_agent_tools=files["test_agent_tools.py"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
