"""The benchmarks are not tests: this smoke run only keeps them from rotting.

It runs every benchmark at tiny sizes and checks that each one ran against its
baseline and reported a ratio. It never asserts a time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_benchmark_runs_and_reports_a_ratio(tmp_path: Path) -> None:
    # The benchmarks measured from outside write sections of their own first; the
    # main run keeps them.
    for module, sizes in (("benchmarks.paced", "20"), ("benchmarks.unpaced", "50")):
        outside = subprocess.run(
            [sys.executable, "-m", module, "--sizes", sizes, "--out", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert outside.returncode == 0, outside.stderr
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "Smoke run" in report
    for heading in (
        "SSE decoder throughput",
        "Whole client",
        "Whole client, delta_encoding v1",
        "Emulator throughput",
        "Dialect throughput, 50-token stream, speed 0: gemini",
        "Dialect throughput, 50-token stream, speed 0: bedrock",
        "Realtime WebSocket, speed 0: one 50-token text response",
        "Realtime WebSocket, speed 0: 5 sessions at once, a 20-token response each",
        "MCP tools/call over Streamable HTTP, 5 calls one after another",
        "Per-test cost of the session emulator fixture",
        "Function-scoped factory",
        "Concurrent streams",
        "Timing fidelity",
        "Conformance run",
        "Growth: client time over reply length",
    ):
        assert f"## {heading}" in report, heading
    # Every comparison table has its baseline at 1.00x and a ratio for each variant.
    ratios = re.findall(r"\| (\d+\.\d\d)x \|", report)
    assert ratios.count("1.00") >= 5 and len(ratios) >= 12
    assert "| 1 streams: errors + wrong | 0.00 |" in report
    # Paced streams: a row per server, none with errors, the CPU beside the bare one's.
    paced = report[report.index("<!-- paced -->") : report.index("<!-- /paced -->")]
    rows = re.findall(r"^\| 20 \| ([a-z, 2]+) \|.*\| (\d+) \| [\d.]+ \| ([\d.]+)x \|", paced, re.M)
    assert [(server, errors) for server, errors, _ in rows] == [
        ("bare", "0"),
        ("bare, timer callbacks", "0"),
        ("emulator", "0"),
        ("emulator, 2 workers", "0"),
    ]
    assert rows[0][2] == "1.00"
    unpaced = report[report.index("<!-- unpaced -->") : report.index("<!-- /unpaced -->")]
    assert re.findall(r"^\| 50 \| ([a-z -]+) \|", unpaced, re.M) == [
        "bare",
        "emulator",
        "emulator --no-capture",
    ]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_the_peer_benchmark_runs_and_reports_every_server_on_every_api(tmp_path: Path) -> None:
    import os
    import shutil

    if shutil.which("node") is None or not (ROOT / "benchmarks" / "node_modules").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the peer benchmark: npm ci --prefix benchmarks")
        pytest.skip("the peers are not installed (npm ci --prefix benchmarks)")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers", "--sizes", "5", "--tokens", "20",
         "--repeats", "2", "--apis", "chat,bedrock,realtime", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    section = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- peers -->" in section
    # Each server's one-stream row, against aimock's CPU (aimock's own: 1.00x).
    one = re.findall(r"^\| (Chat Completions|Bedrock ConverseStream|Realtime \(WebSocket\)) \| "
                     r"(\S+) \| [\d.]+ ms \| "
                     r"[\d.]+ ms \| ([\d.]+x|-) \|$", section, re.M)  # fmt: skip
    assert [(api, server) for api, server, _ in one] == [
        ("Chat Completions", "emulator"), ("Chat Completions", "aimock"),
        ("Chat Completions", "mock-llm"), ("Bedrock ConverseStream", "emulator"),
        ("Bedrock ConverseStream", "aimock"), ("Realtime (WebSocket)", "emulator"),
        ("Realtime (WebSocket)", "aimock"),
    ]  # fmt: skip
    assert all(ratio in ("1.00x", "-") for _, server, ratio in one if server == "aimock")
    # Every stream of every round complete (mock-llm serves Chat Completions only).
    rounds = re.findall(r"^\| ([A-Za-z ()]+) \| 5 \| (\S+) \| 5 / 5 \| 0 \|", section, re.M)
    assert rounds == [("Chat Completions", "emulator"), ("Chat Completions", "aimock"),
                      ("Chat Completions", "mock-llm"), ("Bedrock ConverseStream", "emulator"),
                      ("Bedrock ConverseStream", "aimock"), ("Realtime (WebSocket)", "emulator"),
                      ("Realtime (WebSocket)", "aimock")]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_the_in_test_cost_benchmark_runs_both_fixtures(tmp_path: Path) -> None:
    # It builds a venv of its own (openai<3 for openai-responses): pip, as CI has.
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.in_test", "--tests", "3", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=270, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    section = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert re.search(r"^\| emulator \| [\d.]+ ms \| [\d.]+ ms \| 1\.00x \|$", section, re.M)
    assert re.search(r"^\| openai-responses \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+x \|$",
                     section, re.M)  # fmt: skip
