"""The Node clients people use, unchanged, judged by the conformance kit: the official
``openai``, ``@anthropic-ai/sdk``, ``@google/genai`` and
``@aws-sdk/client-bedrock-runtime`` packages and the Vercel AI SDK, each through its
adapter in ``examples/node/``. Each card in ``docs/clients.md`` is what a fresh run finds.

The packages are installed by ``npm ci --prefix examples/node`` (``.ci/run`` does it);
without them, or without Node, these tests skip with a reason, and under CI they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from emulator.http.tls import local_tls
from tests.helpers import assert_report_card

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "examples" / "node"
NODE = shutil.which("node")
DOC = ROOT / "docs" / "clients.md"

#: marker -> (dialect, the adapter and its arguments)
CARDS = {
    "node openai card": ("openai-chat", "openai_chat.mjs"),
    "node anthropic card": ("anthropic", "anthropic.mjs"),
    "node gemini card": ("gemini", "gemini.mjs"),
    "node bedrock card": ("bedrock", "bedrock.mjs"),
    "node vercel openai card": ("openai-chat", "vercel_ai.mjs openai"),
    "node vercel anthropic card": ("anthropic", "vercel_ai.mjs anthropic"),
    "node mcp card": ("mcp", "mcp.mjs"),
    "node openai realtime card": ("openai-realtime", "openai_realtime.mjs"),
    "node gemini live card": ("gemini-live", "gemini_live.mjs"),
}
#: The cards whose client dials only wss:// (served with --tls, the CA in NODE_EXTRA_CA_CERTS).
TLS_CARDS = {"node openai realtime card", "node gemini live card"}


def _ready() -> None:
    missing = (
        "no node on this machine (apt-get install nodejs)"
        if NODE is None
        else "the Node packages are not installed (npm ci --prefix examples/node)"
        if not (NODE_DIR / "node_modules" / "openai").is_dir()
        else None
    )
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must judge the Node clients: {missing}")
    pytest.skip(missing)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("marker", CARDS)
async def test_each_node_clients_card_is_what_a_run_finds(
    marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ready()
    dialect, adapter = CARDS[marker]
    command = f"{NODE} {NODE_DIR}/{adapter} {{url}} {{prompt}} {{timeout}}"
    tls = None
    if marker in TLS_CARDS:
        tls = local_tls(tmp_path)
        monkeypatch.setenv("NODE_EXTRA_CA_CERTS", tls.ca)
    await assert_report_card(marker, dialect, command, doc=DOC, command=True, tls=tls)


def test_every_adapter_is_in_the_package_and_every_card_has_a_test() -> None:
    text = DOC.read_text(encoding="utf-8")
    cards = {line[5:].split(":")[0] for line in text.splitlines()
             if line.startswith("<!-- node ") and "card:" in line}  # fmt: skip
    assert cards == set(CARDS)
    adapters = {a.split()[0] for _, a in CARDS.values()}
    assert adapters | {"run.mjs"} == {p.name for p in NODE_DIR.glob("*.mjs")}
