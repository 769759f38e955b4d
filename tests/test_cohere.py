"""Cohere's v2 Chat API, judged with the official ``cohere`` package over real sockets:
its typed events, a whole response, a tool call, errors, embeddings, and the report
card in ``docs/clients.md``."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.surface_sdks import cohere_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

cohere = pytest.importorskip("cohere", reason="the cohere package is not installed")

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
PROMPT = "Tell me something."
MODEL = "command-a-03-2025"


_HTTP: list[httpx.AsyncClient] = []


def client(emulator: Emulator) -> cohere.AsyncClientV2:
    """The SDK's client on an HTTP client of the test's (closed when the test ends: the
    SDK's own is never closed)."""
    _HTTP.append(httpx.AsyncClient())
    return cohere.AsyncClientV2(api_key="k", base_url=emulator.url, httpx_client=_HTTP[-1])


@pytest.fixture(autouse=True)
async def _closed() -> AsyncIterator[None]:
    yield
    while _HTTP:
        await _HTTP.pop().aclose()


def expected(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


def _messages() -> list[cohere.UserChatMessageV2]:
    return [cohere.UserChatMessageV2(content=PROMPT)]


@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply", "max_tokens"])
async def test_the_cohere_client_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    co = client(emulator)
    events = [e async for e in co.chat_stream(model=MODEL, messages=_messages())]
    whole = await co.chat(model=MODEL, messages=_messages())
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message-start", "content-start"] and kinds[-2:] == [
        "content-end",
        "message-end",
    ]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == expected(name)
    assert whole.message.content[0].text == expected(name)
    reason = "MAX_TOKENS" if name == "max_tokens" else "COMPLETE"
    assert events[-1].delta.finish_reason == reason == whole.finish_reason
    assert events[-1].delta.usage.billed_units.output_tokens == kinds.count("content-delta")


async def test_a_tool_call_streams_its_arguments_and_ends_with_tool_call(
    emulator: Emulator,
) -> None:
    emulator.use("tool_call_split")
    co = client(emulator)
    events = [e async for e in co.chat_stream(model=MODEL, messages=_messages())]
    start = next(e for e in events if e.type == "tool-call-start")
    pieces = [e.delta.message.tool_calls.function.arguments for e in events
              if e.type == "tool-call-delta"]  # fmt: skip
    assert start.delta.message.tool_calls.function.name == (
        builtin_scenarios()["tool_call_split"].reply.tool
    )
    assert json.loads("".join(pieces)) == json.loads(expected("tool_call_split"))
    assert events[-1].delta.finish_reason == "TOOL_CALL"
    assert [e.type for e in events].count("tool-call-end") == 1


async def test_a_rate_limit_is_the_sdk_s_own_error(emulator: Emulator) -> None:
    emulator.use("http_429_rate_limited")
    co = client(emulator)
    with pytest.raises(cohere.errors.TooManyRequestsError):
        await co.chat(model=MODEL, messages=_messages(), request_options={"max_retries": 0})
    with pytest.raises(cohere.errors.TooManyRequestsError):
        async for _ in co.chat_stream(model=MODEL, messages=_messages(),
                                      request_options={"max_retries": 0}):  # fmt: skip
            pass


async def test_an_error_mid_stream_is_a_message_end_that_says_error(emulator: Emulator) -> None:
    emulator.use("in_stream_error")
    events = [e async for e in client(emulator).chat_stream(model=MODEL, messages=_messages())]
    assert events[-1].type == "message-end" and events[-1].delta.finish_reason == "ERROR"


async def test_embed_gives_unit_vectors_as_floats_and_base64(emulator: Emulator) -> None:
    got = await client(emulator).embed(model="embed-v4.0", texts=["a cat", "a dog"],
                                       input_type="search_document",
                                       embedding_types=["float", "base64"],
                                       output_dimension=256)  # fmt: skip
    floats = got.embeddings.float_
    assert floats is not None and [len(v) for v in floats] == [256, 256]
    assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-9 for v in floats)
    assert got.embeddings.base64 is not None and len(got.embeddings.base64) == 2
    assert got.meta is not None and got.meta.billed_units.input_tokens == 4


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [
        ("/v2/chat", {}, {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, 401,
         "no api key supplied"),
        ("/v2/chat", {"Authorization": "Bearer k"}, {"messages": []}, 400, "model"),
        ("/v2/chat", {"Authorization": "Bearer k"}, {"model": MODEL, "messages": []}, 400,
         "messages must be a non-empty list"),
        ("/v2/embed", {"Authorization": "Bearer k"}, {"model": "embed-v4.0", "texts": ["a"]},
         400, "input_type is required"),
    ],
)  # fmt: skip
async def test_a_bad_request_gets_cohere_s_error_naming_what_is_wrong(
    emulator: Emulator,
    path: str,
    headers: dict[str, str],
    body: dict[str, object],
    status: int,
    message: str,
) -> None:
    async with aiohttp.ClientSession() as http, http.post(
        emulator.url + path, json=body, headers=headers
    ) as r:  # fmt: skip
        assert r.status == status
        assert message in (await r.json())["message"]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_cohere_client_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("python cohere card", "cohere", cohere_sdk, doc=CLIENTS)
