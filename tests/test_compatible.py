"""The OpenAI-compatible servers people run, each a preset at a path of its own
(OpenRouter, vLLM, llama.cpp, Mistral, Groq), judged with the official ``openai``
package (and Mistral's own, ``mistralai``): the exact text, each server's quirk on the
wire, its error shape, and the Mistral SDK's report card in ``docs/clients.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.surface_sdks import mistral_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

openai = pytest.importorskip("openai", reason="the openai package is not installed")

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
PROMPT = "Tell me something."
MESSAGES = [{"role": "user", "content": PROMPT}]
BASES = {"openrouter": "/openrouter/api/v1", "vllm": "/vllm/v1", "llama-cpp": "/llama-cpp/v1",
         "mistral": "/mistral/v1", "groq": "/groq/openai/v1"}  # fmt: skip


def expected(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


async def _raw(emulator: Emulator, preset: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}{BASES[preset]}/chat/completions", json=body,
                  headers={"Authorization": "Bearer k"}) as r,
    ):  # fmt: skip
        return r.status, await r.read()


def _events(body: bytes) -> list[str]:
    return [e for e in body.decode().split("\n\n") if e]


@pytest.mark.parametrize("preset", BASES)
@pytest.mark.parametrize("name", ["default", "unicode_text", "tool_call_split"])
async def test_the_openai_sdk_gets_the_exact_text_from_each_preset(
    emulator: Emulator, preset: str, name: str
) -> None:
    emulator.use(name)
    async with openai.AsyncOpenAI(base_url=emulator.url + BASES[preset], api_key="k",
                                  max_retries=0) as client:  # fmt: skip
        stream = await client.chat.completions.create(model="m", messages=MESSAGES,
                                                      stream=True)  # fmt: skip
        chunks = [c async for c in stream]
        whole = await client.chat.completions.create(model="m", messages=MESSAGES)
    said = whole.choices[0].message
    if name == "tool_call_split":
        pieces = [t.function.arguments or "" for c in chunks if c.choices
                  for t in c.choices[0].delta.tool_calls or []]  # fmt: skip
        assert json.loads("".join(pieces)) == json.loads(expected(name))
        assert json.loads(said.tool_calls[0].function.arguments) == json.loads(expected(name))
    else:
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == expected(name) == said.content


async def test_each_preset_s_quirk_is_on_the_wire(emulator: Emulator) -> None:
    ask = {"model": "m", "messages": MESSAGES, "stream": True}
    _, body = await _raw(emulator, "openrouter", ask)
    events = _events(body)
    assert events[0] == ": OPENROUTER PROCESSING"
    assert json.loads(events[1].removeprefix("data: "))["provider"] == "OpenAI"
    assert "usage" in json.loads(events[-2].removeprefix("data: "))  # unasked
    _, body = await _raw(emulator, "llama-cpp", ask)
    events = _events(body)
    assert "[DONE]" not in events[-1] and "timings" in json.loads(events[-1][6:])
    _, body = await _raw(emulator, "groq", ask)
    assert json.loads(_events(body)[0][6:])["x_groq"]["id"].startswith("req_")
    continuous = {**ask, "stream_options": {"include_usage": True,
                                            "continuous_usage_stats": True}}  # fmt: skip
    _, body = await _raw(emulator, "vllm", continuous)
    chunks = [json.loads(e[6:]) for e in _events(body)[:-1]]
    counted = [c["usage"]["completion_tokens"] for c in chunks if c["choices"]]
    assert counted == sorted(counted) and counted[-1] == len(chunks) - 3
    emulator.use("tool_call_split")
    _, body = await _raw(emulator, "mistral", ask)
    chunks = [json.loads(e[6:]) for e in _events(body)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [call for d in deltas for call in d.get("tool_calls") or []]
    assert len(calls) == 1 and calls[0]["function"]["name"]  # whole, in one chunk


@pytest.mark.parametrize(
    ("preset", "where"),
    [
        ("openrouter", lambda b: b["error"]["code"] == 429),
        ("vllm", lambda b: b["error"]["code"] == 429 and b["error"]["type"] == "BadRequestError"),
        ("llama-cpp", lambda b: b["error"]["code"] == 429),
        ("mistral", lambda b: b["object"] == "error" and b["code"] == "429"),
        ("groq", lambda b: b["error"]["code"] == "rate_limit_exceeded"),
    ],
)
async def test_each_preset_answers_a_rate_limit_in_its_own_shape(
    emulator: Emulator, preset: str, where: Any
) -> None:
    emulator.use("http_429_rate_limited")
    status, body = await _raw(emulator, preset, {"model": "m", "messages": MESSAGES})
    assert status == 429 and where(json.loads(body))
    async with openai.AsyncOpenAI(base_url=emulator.url + BASES[preset], api_key="k",
                                  max_retries=0) as client:  # fmt: skip
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_a_key_is_needed_where_the_server_asks_for_one(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        for preset, status in (("groq", 401), ("vllm", 200)):
            async with http.post(f"{emulator.url}{BASES[preset]}/chat/completions",
                                 json={"model": "m", "messages": MESSAGES}) as r:  # fmt: skip
                assert r.status == status, preset


async def test_the_mistral_sdk_streams_and_raises_on_a_rate_limit(emulator: Emulator) -> None:
    from mistralai.client import Mistral
    from mistralai.client import errors as mistral_errors

    assert await mistral_sdk(emulator.url, PROMPT) == expected("default")
    async with Mistral(api_key="k", server_url=f"{emulator.url}/mistral") as client:
        whole = await client.chat.complete_async(model="m", messages=MESSAGES)
    assert whole.choices[0].message.content == expected("default")
    emulator.use("tool_call_split")
    assert json.loads(await mistral_sdk(emulator.url, PROMPT)) == json.loads(
        expected("tool_call_split")
    )
    emulator.use("http_429_rate_limited")
    async with Mistral(api_key="k", server_url=f"{emulator.url}/mistral") as client:
        with pytest.raises(mistral_errors.SDKError) as raised:
            await client.chat.complete_async(model="m", messages=MESSAGES)
    assert raised.value.status_code == 429


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_mistral_sdk_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("python mistral card", "mistral", mistral_sdk, doc=CLIENTS)
