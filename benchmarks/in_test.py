"""``python -m benchmarks.in_test``: the in-test cost of one streamed Chat Completion, this
project's ``emulator`` fixture beside ``openai-responses`` (the pytest plugin that mocks
OpenAI in-process through respx), each test streaming the same 50-chunk reply with the
official ``openai`` client.

``openai-responses`` pins ``openai<3`` and the test extra holds ``openai`` 3.x, so both
run in a venv of their own, built here (``openai<3``, ``openai-responses``, ``pytest``,
this project). Each test's cost is its setup, call and teardown, as pytest reports them;
the variants alternate, 100 tests each, in one pytest run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Final

from .outside import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS: Final = 100

#: The tests, run in the venv: one module, both variants interleaved by parametrization.
TEST_MODULE: Final = """
import httpx
import openai
import openai_responses
import pytest
from openai.types.chat import ChatCompletionChunk
from openai_responses import OpenAIMock
from openai_responses.streaming import EventStream

from emulator import Reply, Scenario

WORDS = ["tok "] * 50
TEXT = "".join(WORDS).rstrip()
SCENARIO = Scenario(name="peer", description="50 chunks", reply=Reply(text=TEXT, cut="word"))


class Chunks(EventStream[ChatCompletionChunk]):
    def generate(self):
        for i, word in enumerate(TEXT.split(" ")):
            piece = word if i == 0 else " " + word
            yield ChatCompletionChunk.model_validate({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            })


def read(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@pytest.mark.parametrize("n", range(%(tests)d))
@pytest.mark.parametrize("variant", ["emulator", "openai-responses"])
def test_one_streamed_completion(variant, n, request):
    if variant == "emulator":
        emulator = request.getfixturevalue("emulator")
        emulator.use(SCENARIO)
        client = openai.OpenAI(base_url=emulator.url + "/v1", api_key="sk-x", max_retries=0)
        with client:
            assert read(client) == TEXT
        return

    @openai_responses.mock()
    def mocked(openai_mock: OpenAIMock):
        openai_mock.chat.completions.create.response = httpx.Response(200, content=Chunks())
        with openai.OpenAI(api_key="sk-x", max_retries=0) as client:
            assert read(client) == TEXT

    mocked()
"""

CONFTEST: Final = """
import json

COSTS = {}


def pytest_runtest_logreport(report):
    variant = report.nodeid.split("[")[1].rstrip("]").rsplit("-", 1)[0]
    COSTS.setdefault(report.nodeid, [variant, 0.0])[1] += report.duration


def pytest_sessionfinish(session):
    with open("costs.json", "w") as out:
        json.dump(list(COSTS.values()), out)
"""


def _venv(folder: Path) -> Path:
    venv.create(folder / "venv", with_pip=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "openai<3",
                    "openai-responses", "pytest", str(ROOT)], check=True,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return python


def run(out: Path, tests: int = TESTS) -> str:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        python = _venv(folder)
        (folder / "test_cost.py").write_text(TEST_MODULE % {"tests": tests}, encoding="utf-8")
        (folder / "conftest.py").write_text(CONFTEST, encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                        "no:cacheprovider", "test_cost.py"], cwd=folder, check=True)  # fmt: skip
        seconds = time.perf_counter() - started
        costs = json.loads((folder / "costs.json").read_text(encoding="utf-8"))
        versions = subprocess.run([str(python), "-c", "import openai, importlib.metadata as m; "
                                   "print(openai.__version__, m.version('openai-responses'))"],
                                  capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    by: dict[str, list[float]] = {}
    for variant, cost in costs:
        by.setdefault(variant, []).append(cost)
    base = statistics.median(by["emulator"])
    rows = ["| fixture | median per test | p90 | ratio |", "|---|---|---|---|"]
    for variant in ("emulator", "openai-responses"):
        t = sorted(by[variant])
        rows.append(f"| {variant} | {statistics.median(t) * 1000:.2f} ms | "
                    f"{t[int(len(t) * 0.9)] * 1000:.2f} ms | {statistics.median(t) / base:.2f}x |")  # fmt: skip
    section = "\n".join([
        "## In-test cost beside `openai-responses` (`python -m benchmarks.in_test`)",
        "",
        "Goal: stated, not asserted (a different tool): the emulator's fixture within 2x an "
        "in-process mock's cost per test.",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {tests} tests of "
        f"each in one pytest run ({seconds:.1f} s in all), openai {versions[0]}, "
        f"openai-responses {versions[1]}, in a venv of their own",
        "- per test: setup, call and teardown (the emulator fixture opens and drops a session "
        "of its own; openai-responses patches httpx in-process, no socket)",
        "",
        *rows,
        "",
        "openai-responses cannot inject a fault mid-stream or pace a stream: it hands the "
        "client the whole body at once.",
    ])  # fmt: skip
    write_section("in-test", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.in_test", description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md goes")
    parser.add_argument("--tests", type=int, default=TESTS, help="tests of each variant")
    args = parser.parse_args(argv)
    print(run(args.out, args.tests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
