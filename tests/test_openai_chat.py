"""OpenAI's Chat Completions dialect, judged with the official ``openai`` package over real
sockets: its shapes, its errors, the same scenarios, and the SDK's report card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.sdks import openai_chat_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

openai = pytest.importorskip("openai", reason="the openai package is not installed")
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
PROMPT = "Tell me something."
#: The scenarios a correct client reads as plain text, and the SDK does too.
GOOD = [
    "default", "unicode_text", "long_reply", "echo_prompt", "crlf_line_endings",
    "cr_line_endings", "bom", "data_without_space", "multiline_data", "split_writes",
    "no_done", "max_tokens", "paced_50_tps", "long_line", "latency_lognormal",
]  # fmt: skip


def sdk(emulator: Emulator, key: str = "sk-test") -> Any:
    return openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key=key, max_retries=0)


def expected(name: str) -> str:
    scenario = builtin_scenarios()[name]
    return reply_text(scenario.reply, PROMPT)


@pytest.mark.parametrize("name", GOOD)
async def test_the_sdk_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        chunks = [chunk async for chunk in stream]
        whole = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected(name)
    assert whole.choices[0].message.content == expected(name)
    reason = "length" if name == "max_tokens" else "stop"
    assert chunks[-1].choices[0].finish_reason == reason == whole.choices[0].finish_reason


async def test_every_chunk_validates_against_the_sdk_models(emulator: Emulator) -> None:
    emulator.use("default")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                  "stream": True, "stream_options": {"include_usage": True}},
            headers={"Authorization": "Bearer sk-test"},
        ) as r,
    ):  # fmt: skip
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        body = (await r.read()).decode()
    events = [e.removeprefix("data: ") for e in body.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(e), strict=True) for e in events[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    pieces = len(chunks) - 3
    assert chunks[-1].usage.completion_tokens == pieces
    assert chunks[-1].usage.total_tokens == pieces + chunks[-1].usage.prompt_tokens
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": "Bearer sk-test"},
        ) as r,
    ):
        whole = ChatCompletion.model_validate(await r.json(), strict=True)
    assert whole.model == "gpt-4o" and whole.choices[0].message.role == "assistant"


@pytest.mark.parametrize(
    ("key", "body", "status", "message"),
    [
        (None, {"model": "m", "messages": [{"role": "user", "content": "x"}]}, 401,
         "You didn't provide an API key"),
        ("Bearer nope", {"model": "m", "messages": [{"role": "user", "content": "x"}]}, 401,
         "Incorrect API key provided"),
        ("Bearer sk-t", {"messages": [{"role": "user", "content": "x"}]}, 400,
         "you must provide a model parameter"),
        ("Bearer sk-t", {"model": "m", "messages": []}, 400, "non-empty array"),
        ("Bearer sk-t", {"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, 400,
         "Invalid value: 'wizard'"),
        ("Bearer sk-t", {"model": "m", "messages": [{"role": "user", "content": "x"}],
                         "stream_options": {"include_usage": True}}, 400,
         "only allowed when 'stream' is true"),
        ("Bearer sk-t", "not json", 400, "could not parse the JSON body"),
    ],
)  # fmt: skip
async def test_keys_and_bad_requests_get_the_apis_error_shape(
    emulator: Emulator, key: str | None, body: Any, status: int, message: str
) -> None:
    headers = {"Authorization": key} if key else {}
    data = body if isinstance(body, str) else json.dumps(body)
    headers["Content-Type"] = "application/json"
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}/v1/chat/completions", data=data, headers=headers) as r,
    ):
        assert r.status == status
        error = (await r.json())["error"]
    assert set(error) == {"message", "type", "param", "code"} and message in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_the_sdk_raises_its_own_errors_for_keys_statuses_and_scenarios_that_do_not_apply(
    emulator: Emulator,
) -> None:
    hi = [{"role": "user", "content": "x"}]
    async with sdk(emulator, key="nope") as wrong, sdk(emulator) as client:
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
            await wrong.models.list()
        assert [m.id async for m in client.models.list()][:1] == ["gpt-4o-mini"]
        emulator.use("http_429_rate_limited")
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=hi)
        assert caught.value.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        emulator.use("stale_snapshots")
        with pytest.raises(openai.BadRequestError, match="does not apply to OpenAI Chat"):
            await client.chat.completions.create(model="m", messages=hi, stream=True)
        emulator.use("in_stream_error")
        stream = await client.chat.completions.create(model="m", messages=hi, stream=True)
        with pytest.raises(openai.APIError, match="Something went wrong"):
            async for _ in stream:
                pass
    # The API ends a stream after its error: nothing follows it, not even [DONE].
    writes = emulator.requests[-1].transcript.writes  # type: ignore[union-attr]
    assert str(writes[-1].what) == "fault error at 3" and b"[DONE]" not in writes[-1].data


async def test_the_sdks_report_card_in_the_readme_is_what_a_run_finds() -> None:
    await assert_report_card("openai-chat card", "openai-chat", openai_chat_sdk)


def test_the_readme_openai_example_runs_as_written() -> None:
    import subprocess
    import sys

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    code = next(b for b in blocks if "openai.AsyncOpenAI(" in b)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected("unicode_text") + "\n"


async def test_a_tool_call_streams_its_arguments_piece_by_piece_and_the_sdk_rebuilds_them(
    emulator: Emulator,
) -> None:
    emulator.use("tool_call_split")
    arguments = expected("tool_call_split")
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        async with client.chat.completions.stream(model="gpt-4o-mini", messages=messages) as s:
            chunks = [event.chunk async for event in s if event.type == "chunk"]
            final = await s.get_final_completion()
        whole = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    for chunk in chunks:  # every chunk is the API's shape, strictly
        ChatCompletionChunk.model_validate(chunk.model_dump(mode="json"), strict=True)
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content is None and first.tool_calls
    assert first.tool_calls[0].id and first.tool_calls[0].type == "function"
    assert first.tool_calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    pieces = [c.choices[0].delta.tool_calls for c in chunks[1:-1]]
    assert all(p and p[0].id is None and p[0].function for p in pieces)
    # Three characters a delta: keys, escapes and the emoji are cut across events.
    assert "".join(p[0].function.arguments for p in pieces) == arguments  # type: ignore[index,union-attr,misc]
    assert len(pieces) == -(-len(arguments) // 3)
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.arguments == arguments and json.loads(arguments)["days"] == 3  # type: ignore[union-attr]
    assert final.choices[0].finish_reason == "tool_calls" == whole.choices[0].finish_reason
    assert whole.choices[0].message.content is None
    assert whole.choices[0].message.tool_calls[0].function.arguments == arguments  # type: ignore[index,union-attr]
    ChatCompletion.model_validate(whole.model_dump(mode="json"), strict=True)


async def test_a_content_filter_stop_and_azures_chunk_without_choices_reach_the_sdk(
    emulator: Emulator,
) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    async with sdk(emulator) as client:
        emulator.use("content_filtered")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        chunks = [chunk async for chunk in stream]
        whole = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        emulator.use("empty_chunks")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        empty = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == expected("content_filtered") == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert whole.choices[0].finish_reason == "content_filter"
    # Three chunks with no choices at all (the first one first, as Azure sends it).
    assert [len(c.choices) for c in empty].count(0) == 3 and empty[0].choices == []
    assert empty[0].model_extra and "prompt_filter_results" in empty[0].model_extra
    assert "".join(c.choices[0].delta.content or "" for c in empty if c.choices) == expected(
        "empty_chunks"
    )


def test_the_readme_s_first_example_answers_then_breaks(emulator: Emulator) -> None:
    import subprocess
    import sys

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    code = next(b for b in blocks if "broken = client.with_options(" in b)
    # The shared server, in a session of this test's own (its URL names the session).
    code = code.replace("http://localhost:8080", emulator.url)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected("default") + "\nfailed, as it must: Connection error.\n"
    assert [c.ending.kind for c in emulator.requests] == ["completed", "dropped"]
