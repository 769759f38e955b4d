"""A conformance kit: any client, in any language, judged against every scenario.

In a pytest suite::

    @pytest.mark.parametrize("case", cases(), ids=str)
    async def test_my_client(case: Case) -> None:
        verdict = await case.run(python_client("my_pkg:ask"))
        assert verdict.passed, verdict.detail

From the command line: ``python -m emulator conform --python my_pkg:ask`` or
``--cmd 'my-client --url {url} {prompt}'``.
"""

from .clients import Client, command_client, fakegpt, python_client
from .judge import Outcome, Verdict, judge
from .runner import Case, Result, cases, run_all

__all__ = [
    "Case",
    "Client",
    "Outcome",
    "Result",
    "Verdict",
    "cases",
    "command_client",
    "fakegpt",
    "judge",
    "python_client",
    "run_all",
]
