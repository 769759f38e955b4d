"""Gemini, judged by Google's own SDK (``google-genai``, unchanged) over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from google import genai
from google.genai import errors, types

from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios, load_scenario, serve
from emulator.capture import import_capture
from emulator.conformance.runner import cases, skipped
from emulator.conformance.sdks import gemini_sdk
from emulator.dialects.registry import DIALECTS
from emulator.scenario.dump import scenario_to_toml
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

PROMPT = "Tell me something."


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as running:
        yield running


def sdk(url: str, key: str = "k") -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(
            base_url=url, timeout=10_000, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )


def test_the_sdk_streams_and_reads_whole_the_exact_text_with_usage_and_ids(
    server: EmulatorServer,
) -> None:
    session = server.session()
    session.use("unicode_text")
    want = reply_text(builtin_scenarios()["unicode_text"].reply, PROMPT)
    with sdk(session.url) as client:  # its connections closed with it
        chunks = list(
            client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT)
        )
        assert "".join(c.text or "" for c in chunks) == want
        assert all(isinstance(c, types.GenerateContentResponse) for c in chunks)
        assert (
            len({c.response_id for c in chunks}) == 1
            and chunks[0].model_version == "gemini-2.5-flash"
        )
        assert all(c.usage_metadata is not None for c in chunks)
        last = chunks[-1]
        assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
        whole = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
        assert whole.text == want
        session.use("max_tokens")
        cut = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
        assert cut.candidates and cut.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    session.drop()


def test_the_sdk_raises_its_own_errors_for_statuses_and_an_error_mid_stream(
    server: EmulatorServer,
) -> None:
    session = server.session()
    with sdk(session.url) as client:  # its connections closed with it

        def read() -> str:
            stream = client.models.generate_content_stream(model="m", contents=PROMPT)
            return "".join(c.text or "" for c in stream)

        session.use("http_429_rate_limited")
        with pytest.raises(errors.ClientError) as limited:
            read()
        assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")
        session.use("in_stream_error")
        with pytest.raises(errors.ServerError) as failed:
            read()
        assert failed.value.status == "INTERNAL"
        session.use("done_early")
        with pytest.raises(errors.ClientError, match=r"no \[DONE\] in this API"):
            read()
    session.drop()


async def test_a_key_is_required_and_the_model_is_read_from_the_path(
    server: EmulatorServer,
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    base = f"{server.url}/v1beta/models/gemini-2.5-pro"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}:generateContent", json=body) as r:
            error = (await r.json())["error"]
            assert (r.status, error["status"]) == (403, "PERMISSION_DENIED")
        async with http.post(f"{base}:generateContent?key=k", json=body) as r:
            answer = await r.json()
            assert r.status == 200 and answer["modelVersion"] == "gemini-2.5-pro"
        async with http.post(f"{base}:countTokens?key=k", json=body) as r:
            assert r.status == 404 and (await r.json())["error"]["status"] == "NOT_FOUND"
        async with http.post(f"{base}:generateContent?key=k", json={"contents": []}) as r:
            assert r.status == 400 and "contents is not specified" in await r.text()
        headers = {"x-goog-api-key": "k"}
        async with http.get(f"{server.url}/v1beta/models", headers=headers) as r:
            assert "models/gemini-2.5-flash" in json.dumps(await r.json())


async def test_the_sdks_report_card_in_the_readme_is_what_a_run_finds() -> None:
    await assert_report_card("gemini card", "gemini", gemini_sdk)


def test_the_scenarios_gemini_does_not_serve_each_say_why() -> None:
    why = dict(skipped("gemini"))
    assert why["stall_with_pings"] == (
        "its stall fault's keep-alives: Gemini's stream has no keep-alive event"
    )
    assert why["no_done"] == "there is no [DONE] in this API (its stream just ends)"
    assert why["keep_open_after_done"] == why["no_done"]
    assert "tool_call_split" not in why  # a whole functionCall
    served = len(cases(dialect="gemini"))
    assert served + len(why) == len(builtin_scenarios()) and "gemini" in DIALECTS


async def _array_answer(url: str, scenario: str) -> tuple[int, bytes]:
    """The default streamed form (no alt=sse): the status and what arrived, a cut included."""
    marker = f"[scenario:{scenario}] " if scenario else ""
    body = {"contents": [{"role": "user", "parts": [{"text": marker + PROMPT}]}]}
    got = bytearray()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?key=k", json=body
        ) as r,
    ):
        try:
            async for piece in r.content.iter_any():
                got += piece
        except aiohttp.ClientPayloadError:
            pass  # the stream was cut: what arrived is kept
        return r.status, bytes(got)


async def test_the_json_array_form_streams_elements_and_a_cut_leaves_it_open(
    server: EmulatorServer, tmp_path: Path
) -> None:
    status, body = await _array_answer(server.url, "default")
    chunks = json.loads(body)
    assert status == 200 and body.startswith(b"[{") and body.endswith(b"}]")
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == (
        reply_text(builtin_scenarios()["default"].reply, PROMPT)
    )
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    status, cut = await _array_answer(server.url, "drop_mid_stream")
    assert status == 200 and cut.startswith(b"[{") and not cut.rstrip().endswith(b"]")
    status, refused = await _array_answer(server.url, "garbage_bytes")
    assert status == 400 and b"SSE framing, which the JSON-array form has not" in refused
    # A captured array imports as Gemini's, expecting its text, and replays byte for byte.
    imported = import_capture(body, "array.json", "array", "gemini")
    assert imported.scenario.expect.text == reply_text(
        builtin_scenarios()["default"].reply, PROMPT
    )
    file = tmp_path / "array.toml"
    file.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    async with serve(EmulatorConfig(speed=0, default=load_scenario(file))) as replaying:
        assert await _array_answer(replaying.url, "") == (200, body)


def test_a_tool_call_is_a_whole_function_call_and_a_filter_stop_is_safety(
    server: EmulatorServer,
) -> None:
    session = server.session()
    with sdk(session.url) as client:  # its connections closed with it
        session.use("tool_call_split")
        chunks = list(client.models.generate_content_stream(model="m", contents=PROMPT))
        calls = [c for chunk in chunks for c in chunk.function_calls or []]
        assert len(calls) == 1 and calls[0].name == "get_weather"
        assert calls[0].args == json.loads(reply_text(builtin_scenarios()["tool_call_split"].reply,
                                                      PROMPT))  # fmt: skip
        whole = client.models.generate_content(model="m", contents=PROMPT)
        assert whole.function_calls and whole.function_calls[0].args == calls[0].args
        session.use("content_filtered")
        chunks = list(client.models.generate_content_stream(model="m", contents=PROMPT))
        last = chunks[-1].candidates[0] if chunks[-1].candidates else None
        assert last is not None and last.finish_reason == types.FinishReason.SAFETY
        blocked = [r for r in last.safety_ratings or [] if r.blocked]
        assert [(r.category, r.probability) for r in blocked] == [
            (types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, types.HarmProbability.HIGH)
        ]
        session.use("empty_chunks")
        chunks = list(client.models.generate_content_stream(model="m", contents=PROMPT))
        assert sum(not c.candidates for c in chunks) == 3
        assert "".join(c.text or "" for c in chunks) == reply_text(
            builtin_scenarios()["empty_chunks"].reply, PROMPT
        )
    session.drop()


def test_a_reply_with_reasoning_streams_a_thought_part_first(server: EmulatorServer) -> None:
    session = server.session()
    session.use("reasoning_reply")
    reply = builtin_scenarios()["reasoning_reply"].reply
    with sdk(session.url) as client:
        chunks = list(client.models.generate_content_stream(model="m", contents=PROMPT))
        whole = client.models.generate_content(model="m", contents=PROMPT)
    parts = [p for c in chunks if c.candidates and c.candidates[0].content
             for p in c.candidates[0].content.parts or []]  # fmt: skip
    thoughts = [p.text for p in parts if p.thought]
    assert thoughts == [reply.reasoning] and parts[0].thought  # before the reply
    # The SDK's .text leaves thoughts out: the reply alone.
    assert "".join(c.text or "" for c in chunks) == reply.text == whole.text
    assert whole.candidates and whole.candidates[0].content
    assert [p.thought for p in whole.candidates[0].content.parts or []] == [True, None]
    session.drop()


def test_a_gemini_3_call_carries_a_thought_signature_that_must_come_back(
    server: EmulatorServer,
) -> None:
    # The google-genai SDK keeps the signature in the Part and sends it back: the loop goes
    # on. Dropped, the API's 400 names the call and its position; altered or moved to
    # another conversation, "Corrupted thought signature."
    client = sdk(server.url)
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"X-Emulator-Scenario": "agent_loop"})
    )
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    model = "gemini-3-pro-preview"
    said = client.models.generate_content(model=model, contents=[question], config=config)
    call = said.candidates[0].content  # type: ignore[index]
    assert call is not None and call.parts is not None
    signature = call.parts[0].thought_signature
    assert call.parts[0].function_call is not None and signature and len(signature) > 30
    result = types.Content(role="user", parts=[types.Part.from_function_response(
        name="get_weather", response={"temperature": 18})])  # fmt: skip
    again = client.models.generate_content(model=model, contents=[question, call, result],
                                           config=config)  # fmt: skip
    assert again.function_calls and again.function_calls[0].name == "get_forecast"
    dropped = call.model_copy(deep=True)
    dropped.parts[0].thought_signature = None  # type: ignore[index]
    with pytest.raises(genai.errors.ClientError) as missing:
        client.models.generate_content(model=model, contents=[question, dropped, result],
                                       config=config)  # fmt: skip
    assert missing.value.code == 400 and missing.value.message == (
        "Function call is missing a thought_signature in functionCall parts. This is "
        "required for tools to work correctly, and missing thought_signature may lead to "
        "degraded model performance. Additional data, function call `default_api:get_weather`"
        " , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-"
        "signatures for more details."
    )
    other = types.Content(role="user", parts=[types.Part(text="Weather in Rome?")])
    altered = call.model_copy(deep=True)
    altered.parts[0].thought_signature = signature[:-1] + b"x"  # type: ignore[index]
    for contents in ([question, altered, result], [other, call, result]):
        with pytest.raises(genai.errors.ClientError) as corrupted:
            client.models.generate_content(model=model, contents=contents, config=config)
        assert corrupted.value.message == "Corrupted thought signature."
    # A Gemini 2.5 model sends none and asks for none.
    older = client.models.generate_content(model="gemini-2.5-flash", contents=[question],
                                           config=config)  # fmt: skip
    assert older.candidates[0].content.parts[0].thought_signature is None  # type: ignore[index]
