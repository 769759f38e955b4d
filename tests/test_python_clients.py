"""Third-party Python clients, unchanged, judged by the conformance kit: ``litellm``,
``langchain-openai`` and LiveKit Agents' OpenAI Realtime plugin (all in the test extra),
each through its adapter in
``examples/python/``, loaded as ``--python FILE.py:reply`` loads it (in this process:
their imports take seconds, which a process per scenario would count against the
scenarios' idle timeouts). Each card in ``docs/clients.md`` is what a fresh run finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_report_card

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "clients.md"
#: marker -> (the adapter, the API it speaks)
CARDS = {
    "python litellm card": ("litellm_client.py", "openai-chat"),
    "python langchain card": ("langchain_client.py", "openai-chat"),
    "python livekit realtime card": ("livekit_realtime.py", "openai-realtime"),
}


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("marker", CARDS)
async def test_each_python_clients_card_is_what_a_run_finds(marker: str) -> None:
    name, dialect = CARDS[marker]
    adapter = ROOT / "examples" / "python" / name
    try:
        await assert_report_card(marker, dialect, f"{adapter}:reply", doc=DOC)
    finally:
        if "litellm" in marker:  # the clients litellm keeps across calls, closed
            import litellm

            await litellm.close_litellm_async_clients()


def test_every_python_adapter_has_a_card() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"<!-- {marker}:" in text for marker in CARDS)
    adapters = {name for name, _ in CARDS.values()}
    assert adapters == {p.name for p in (ROOT / "examples" / "python").glob("*.py")}
