"""Ollama's API, judged with the official ``ollama`` package over real sockets: NDJSON
streams of /api/chat and /api/generate, whole answers, the models, embeddings, the
NDJSON faults with their outcomes, and the report card in ``docs/clients.md``."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.surface_sdks import ollama_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

ollama = pytest.importorskip("ollama", reason="the ollama package is not installed")

_OPEN: list[Any] = []


def _closing(client: Any) -> Any:
    """The client, closed when its test ends (the ``_closed`` fixture)."""
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
async def _closed() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
PROMPT = "Tell me something."
MESSAGES = [{"role": "user", "content": PROMPT}]


def expected(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply", "max_tokens",
                                  "crlf_line_endings", "split_every_byte"])  # fmt: skip
async def test_the_ollama_client_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    client = _closing(ollama.AsyncClient(host=emulator.url))
    parts = [p async for p in await client.chat(model="llama3.2", messages=MESSAGES,
                                                 stream=True)]  # fmt: skip
    whole = await client.chat(model="llama3.2", messages=MESSAGES)
    generated = [p async for p in await client.generate(model="llama3.2", prompt=PROMPT,
                                                         stream=True)]  # fmt: skip
    assert "".join(p.message.content or "" for p in parts) == expected(name)
    assert whole.message.content == expected(name) and whole.done
    assert "".join(p.response for p in generated) == expected(name)
    reason = "length" if name == "max_tokens" else "stop"
    last = parts[-1]
    assert last.done and last.done_reason == reason == whole.done_reason
    assert not any(p.done for p in parts[:-1])
    assert last.eval_count == len(parts) - 1 and last.prompt_eval_count
    assert last.total_duration and last.total_duration > last.eval_duration > 0
    assert generated[-1].context


async def test_each_line_is_one_compact_json_object_and_the_body_is_ndjson(
    emulator: Emulator,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}/api/chat", json={"model": "m", "messages": MESSAGES}) as r,
    ):
        assert r.headers["Content-Type"] == "application/x-ndjson"
        body = await r.read()
    lines = body.split(b"\n")
    assert lines[-1] == b"" and all(b", " not in line for line in lines[:-1])
    objects = [json.loads(line) for line in lines[:-1]]
    assert [o["done"] for o in objects] == [False] * (len(objects) - 1) + [True]
    assert objects[0]["created_at"].endswith("Z") and objects[0]["model"] == "m"


async def test_a_tool_call_comes_whole_with_its_arguments_as_an_object(
    emulator: Emulator,
) -> None:
    emulator.use("tool_call_split")
    client = _closing(ollama.AsyncClient(host=emulator.url))
    parts = [p async for p in await client.chat(model="m", messages=MESSAGES, stream=True)]
    calls = [c for p in parts for c in p.message.tool_calls or []]
    scenario = builtin_scenarios()["tool_call_split"]
    assert len(calls) == 1 and calls[0].function.name == scenario.reply.tool
    assert dict(calls[0].function.arguments) == json.loads(expected("tool_call_split"))


@pytest.mark.parametrize(
    ("name", "raised", "says"),
    [
        ("http_429_rate_limited", 429, "too many requests"),
        ("in_stream_error", -1, "Internal"),  # the error line mid-stream
    ],
)
async def test_errors_are_the_client_s_response_error(
    emulator: Emulator, name: str, raised: int, says: str
) -> None:
    emulator.use(name)
    client = _closing(ollama.AsyncClient(host=emulator.url))
    with pytest.raises(ollama.ResponseError) as caught:
        async for _ in await client.chat(model="m", messages=MESSAGES, stream=True):
            pass
    assert caught.value.status_code == raised
    assert says.lower() in caught.value.error.lower() or caught.value.error


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("malformed_json", json.JSONDecodeError),  # a line that is not JSON
        ("stall_with_pings", json.JSONDecodeError),  # blank lines, as keep-alives
        ("no_done", None),  # no done line: the client returns the text, never told
    ],
)
async def test_the_ndjson_faults_and_what_the_client_makes_of_them(
    emulator: Emulator, name: str, outcome: type[Exception] | None
) -> None:
    emulator.use(name)
    client = _closing(ollama.AsyncClient(host=emulator.url, timeout=2.0))
    if outcome is None:
        parts = [p async for p in await client.chat(model="m", messages=MESSAGES, stream=True)]
        assert "".join(p.message.content or "" for p in parts) == expected(name)
        assert not any(p.done for p in parts)  # what a correct client must notice
        return
    with pytest.raises(outcome):
        async for _ in await client.chat(model="m", messages=MESSAGES, stream=True):
            pass


async def test_models_show_and_version(emulator: Emulator) -> None:
    client = _closing(ollama.AsyncClient(host=emulator.url))
    listed = await client.list()
    shown = await client.show("llama3.2")
    assert "llama3.2:latest" in [m.model for m in listed.models]
    assert "completion" in (shown.capabilities or [])
    async with aiohttp.ClientSession() as http, http.get(f"{emulator.url}/api/version") as r:
        assert (await r.json())["version"]


async def test_embed_gives_unit_vectors_of_the_model_s_length(emulator: Emulator) -> None:
    client = _closing(ollama.AsyncClient(host=emulator.url))
    got = await client.embed(model="nomic-embed-text", input=["a cat", "a dog", "a cat"])
    small = await client.embed(model="mxbai-embed-large", input="hi", dimensions=64)
    legacy = await client.embeddings(model="all-minilm", prompt="a cat")
    vectors = got.embeddings
    assert [len(v) for v in vectors] == [768] * 3 and vectors[0] == vectors[2] != vectors[1]
    assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-9 for v in vectors)
    assert got.prompt_eval_count and len(small.embeddings[0]) == 64
    assert len(legacy.embedding) == 384


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/chat", {"messages": MESSAGES}, "model is required"),
        ("/api/chat", {"model": "m", "messages": [{"role": "wizard"}]}, "invalid role"),
        ("/api/generate", {"model": "m", "prompt": 3}, "GenerateRequest.prompt"),
        ("/api/embed", {"model": "m", "input": 3}, "invalid input type"),
        ("/api/embed", {"model": "nomic-embed-text", "input": "a", "dimensions": 4096},
         "between 1 and 768"),
    ],
)  # fmt: skip
async def test_a_bad_request_gets_ollama_s_error_naming_what_is_wrong(
    emulator: Emulator, path: str, body: dict[str, object], message: str
) -> None:
    async with aiohttp.ClientSession() as http, http.post(emulator.url + path, json=body) as r:
        assert r.status == 400
        assert message in (await r.json())["error"]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_ollama_client_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("python ollama card", "ollama", ollama_sdk, doc=CLIENTS)
