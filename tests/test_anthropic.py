"""Anthropic's Messages dialect, judged with the official ``anthropic`` package over real
sockets: its event shapes, its errors, the same scenarios, and the SDK's report card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.sdks import anthropic_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")
pydantic = pytest.importorskip("pydantic")
from anthropic.types import Message, RawMessageStreamEvent  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
PROMPT = "Tell me something."
GOOD = [
    "default", "unicode_text", "long_reply", "echo_prompt", "crlf_line_endings",
    "cr_line_endings", "data_without_space", "multiline_data", "split_writes",
    "max_tokens", "paced_50_tps", "long_line", "latency_lognormal", "pings_and_comments",
]  # fmt: skip
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def sdk(emulator: Emulator, key: str = "sk-ant-test") -> Any:
    return anthropic.AsyncAnthropic(base_url=emulator.url, api_key=key, max_retries=0)


def expected(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


@pytest.mark.parametrize("name", GOOD)
async def test_the_sdk_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        async with client.messages.stream(
            model="claude-emulator", max_tokens=1024, messages=messages
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        whole = await client.messages.create(
            model="claude-emulator", max_tokens=1024, messages=messages
        )
    assert text == expected(name) == whole.content[0].text  # type: ignore[union-attr]
    reason = "max_tokens" if name == "max_tokens" else "end_turn"
    assert final.stop_reason == reason == whole.stop_reason


async def test_every_event_validates_against_the_sdk_models(emulator: Emulator) -> None:
    emulator.use("pings_and_comments")
    body = {"model": "claude-x", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}/v1/messages", json=body, headers=HEADERS) as r,
    ):
        assert r.status == 200 and r.headers["request-id"].startswith("req_")
        raw = (await r.read()).decode()
    events = [e for e in raw.split("\n\n") if e and not e.startswith(":")]
    named = [re.match(r"event: (\w+)\ndata: (.*)", e, re.S) for e in events]
    assert all(named)
    adapter = pydantic.TypeAdapter(RawMessageStreamEvent)
    kinds = []
    for match in named:
        name, data = match.group(1), json.loads(match.group(2))  # type: ignore[union-attr]
        assert data["type"] == name
        kinds.append(name)
        if name != "ping":
            adapter.validate_python(data, strict=True)
    core = [k for k in kinds if k != "ping"]  # the scenario's pings come where it puts them
    assert core[:2] == ["message_start", "content_block_start"]
    assert core[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "ping" in kinds
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/v1/messages", json={**body, "stream": False}, headers=HEADERS
        ) as r,
    ):
        whole = Message.model_validate(await r.json(), strict=True)
    assert whole.model == "claude-x" and whole.content[0].type == "text"


@pytest.mark.parametrize(
    ("headers", "body", "status", "kind", "message"),
    [
        ({"anthropic-version": "2023-06-01"}, {}, 401, "authentication_error",
         "x-api-key header is required"),
        ({**HEADERS, "x-api-key": "sk-wrong"}, {}, 401, "authentication_error",
         "invalid x-api-key"),
        ({"x-api-key": "sk-ant-t"}, {}, 400, "invalid_request_error", "anthropic-version"),
        (HEADERS, {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5}, 400,
         "invalid_request_error", "model: Field required"),
        (HEADERS, {"model": "m", "messages": [{"role": "user", "content": "x"}]}, 400,
         "invalid_request_error", "max_tokens"),
        (HEADERS, {"model": "m", "max_tokens": 5, "messages": [{"role": "system",
                                                                 "content": "x"}]}, 400,
         "invalid_request_error", "messages.0.role"),
    ],
)  # fmt: skip
async def test_keys_and_bad_requests_get_the_apis_error_shape(
    emulator: Emulator,
    headers: dict[str, str],
    body: dict[str, Any],
    status: int,
    kind: str,
    message: str,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}/v1/messages", json=body, headers=headers) as r,
    ):
        assert r.status == status
        answer = await r.json()
    assert answer["type"] == "error" and answer["error"]["type"] == kind
    assert message in answer["error"]["message"]


async def test_the_sdk_raises_its_own_errors_mid_stream_and_for_statuses(
    emulator: Emulator,
) -> None:
    hi = [{"role": "user", "content": "x"}]
    async with sdk(emulator, key="nope") as wrong, sdk(emulator) as client:
        with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
            await wrong.messages.create(model="m", max_tokens=5, messages=hi)
        emulator.use("http_429_rate_limited")
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="m", max_tokens=5, messages=hi)
        assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
        emulator.use("in_stream_error")

        async def read() -> None:
            async with client.messages.stream(model="m", max_tokens=5, messages=hi) as stream:
                async for _ in stream.text_stream:
                    pass

        with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
            await read()
        writes = emulator.requests[-1].transcript.writes  # type: ignore[union-attr]
        assert str(writes[-1].what) == "fault error at 3"  # the stream ends with the error
        emulator.use("done_early")
        with pytest.raises(anthropic.BadRequestError, match="no \\[DONE\\] in this API"):
            await client.messages.create(model="m", max_tokens=5, messages=hi)


async def test_the_sdks_report_card_in_the_readme_is_what_a_run_finds() -> None:
    await assert_report_card("anthropic card", "anthropic", anthropic_sdk)


async def test_with_a_bom_the_sdk_loses_message_start_as_the_readme_says(
    emulator: Emulator,
) -> None:
    """The SSE spec strips a leading BOM; the SDK's decoder does not, so the first
    event's name is not ``event`` and its message_start is skipped."""
    emulator.use("bom")
    async with (
        sdk(emulator) as client,
        client.messages.stream(
            model="claude-emulator", max_tokens=50, messages=[{"role": "user", "content": PROMPT}]
        ) as stream,
    ):
        text = "".join([t async for t in stream.text_stream])
        with pytest.raises(AssertionError):
            await stream.get_final_message()
    assert text == expected("bom")  # the deltas still arrive
    assert "`bom`" in README.read_text(encoding="utf-8").split("<!-- /anthropic card")[1][:900]


async def test_a_tool_call_streams_its_input_as_json_pieces_and_the_sdk_parses_them(
    emulator: Emulator,
) -> None:
    emulator.use("tool_call_split")
    arguments = expected("tool_call_split")
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        async with client.messages.stream(
            model="claude-emulator", max_tokens=1024, messages=messages
        ) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_message()
        whole = await client.messages.create(
            model="claude-emulator", max_tokens=1024, messages=messages
        )
    pieces = [
        e.delta.partial_json  # type: ignore[union-attr]
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert "".join(pieces) == arguments and len(pieces) == -(-len(arguments) // 3)
    for message in (final, whole):
        block = message.content[0]
        assert block.type == "tool_use" and block.name == "get_weather"
        assert block.id.startswith("toolu_")
        assert block.input == json.loads(arguments)
        assert message.stop_reason == "tool_use"
    Message.model_validate(whole.model_dump(mode="json"), strict=True)


async def test_a_content_filter_stop_is_the_refusal_stop_reason(emulator: Emulator) -> None:
    emulator.use("content_filtered")
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        async with client.messages.stream(
            model="claude-emulator", max_tokens=1024, messages=messages
        ) as stream:
            final = await stream.get_final_message()
        whole = await client.messages.create(
            model="claude-emulator", max_tokens=1024, messages=messages
        )
    assert final.stop_reason == "refusal" == whole.stop_reason
    assert final.content[0].text == expected("content_filtered")  # type: ignore[union-attr]


async def test_an_error_with_a_cause_is_the_apis_own_error_type(emulator: Emulator) -> None:
    emulator.use("in_stream_rate_limited")
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        stream = await client.messages.create(
            model="claude-emulator", max_tokens=1024, messages=messages, stream=True
        )
        with pytest.raises(anthropic.APIStatusError) as failed:
            _ = [event async for event in stream]
    assert failed.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "Too many tokens" in str(failed.value)
