"""Claude and Gemini on the clouds, judged with their official clients over real sockets:
``AnthropicBedrock`` (InvokeModel with Anthropic's body, its stream in binary chunk
frames), ``AnthropicVertex`` (``:streamRawPredict``) and google-genai with
``vertexai=True`` (a project's path and express mode); each one's exact text streamed
and whole, its error type on a rate limit, and its report card in ``docs/clients.md``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.surface_sdks import (
    anthropic_bedrock_sdk,
    anthropic_vertex_sdk,
    gemini_vertex_sdk,
)
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

anthropic = pytest.importorskip("anthropic", reason="the anthropic package is not installed")
genai = pytest.importorskip("google.genai", reason="the google-genai package is not installed")
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types as genai_types  # noqa: E402
from google.oauth2.credentials import Credentials  # noqa: E402

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
PROMPT = "Tell me something."
MESSAGES = [{"role": "user", "content": PROMPT}]
BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"


def expected(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


def bedrock(emulator: Emulator) -> Any:
    return anthropic.AsyncAnthropicBedrock(base_url=emulator.url, aws_region="us-east-1",
                                           aws_access_key="a", aws_secret_key="b",
                                           max_retries=0)  # fmt: skip


def vertex(emulator: Emulator) -> Any:
    return anthropic.AsyncAnthropicVertex(base_url=f"{emulator.url}/v1", region="us-east5",
                                          project_id="p", access_token="t",
                                          max_retries=0)  # fmt: skip


CLAUDES: dict[str, tuple[Callable[[Emulator], Any], str]] = {
    "bedrock": (bedrock, BEDROCK_MODEL),
    "vertex": (vertex, VERTEX_MODEL),
}


@pytest.mark.parametrize("cloud", CLAUDES)
@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply", "reasoning_reply"])
async def test_claude_on_each_cloud_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, cloud: str, name: str
) -> None:
    emulator.use(name)
    make, model = CLAUDES[cloud]
    async with make(emulator) as client:
        async with client.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as s:
            streamed = await s.get_final_text()
        whole = await client.messages.create(model=model, max_tokens=100, messages=MESSAGES)
    assert streamed == expected(name)
    assert "".join(b.text for b in whole.content if b.type == "text") == expected(name)
    paths = [c.path for c in emulator.calls(method="POST")]
    if cloud == "bedrock":
        assert paths == [f"/model/{model}/invoke-with-response-stream", f"/model/{model}/invoke"]
    else:
        where = f"/v1/projects/p/locations/us-east5/publishers/anthropic/models/{model}"
        assert paths == [f"{where}:streamRawPredict", f"{where}:rawPredict"]


@pytest.mark.parametrize("cloud", CLAUDES)
async def test_claude_on_each_cloud_raises_the_sdk_s_rate_limit_error(
    emulator: Emulator, cloud: str
) -> None:
    emulator.use("http_429_rate_limited")
    make, model = CLAUDES[cloud]
    async with make(emulator) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=model, max_tokens=9, messages=MESSAGES, stream=True)


@pytest.mark.parametrize(
    ("name", "raised"),
    [
        ("in_stream_error", anthropic.APIStatusError),  # an exception frame
        ("bad_message_crc", Exception),  # botocore's CRC check
        ("truncated_frame", None),  # half a frame, then the end: never read as text
    ],
)
async def test_claude_on_bedrock_s_frames_break_as_converse_stream_s_do(
    emulator: Emulator, name: str, raised: type[Exception] | None
) -> None:
    emulator.use(name)
    async with bedrock(emulator) as client:
        if raised is None:
            async with client.messages.stream(model=BEDROCK_MODEL, max_tokens=9,
                                              messages=MESSAGES) as s:  # fmt: skip
                text = "".join([t async for t in s.text_stream])
            assert "[corrupt]" not in text
            return
        with pytest.raises(raised):
            async with client.messages.stream(model=BEDROCK_MODEL, max_tokens=9,
                                              messages=MESSAGES) as s:  # fmt: skip
                await s.get_final_text()


async def test_claude_on_bedrock_and_vertex_refuse_an_unsigned_or_unversioned_request(
    emulator: Emulator,
) -> None:
    body = {"max_tokens": 9, "messages": MESSAGES}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emulator.url}/model/m/invoke", json=body) as r:
            assert r.status == 403 and r.headers["x-amzn-ErrorType"] == (
                "MissingAuthenticationTokenException"
            )
        async with http.post(f"{emulator.url}/model/m/invoke", json=body,
                             headers={"Authorization": "Bearer k"}) as r:  # fmt: skip
            assert r.status == 400 and "anthropic_version" in (await r.json())["message"]
        where = "/v1/projects/p/locations/l/publishers/anthropic/models/m:rawPredict"
        async with http.post(emulator.url + where, json=body) as r:
            assert r.status == 401 and (await r.json())["error"]["status"] == "UNAUTHENTICATED"


def _gemini(emulator: Emulator, express: bool) -> Any:
    options = genai_types.HttpOptions(base_url=emulator.url,
                                      retry_options=genai_types.HttpRetryOptions(attempts=1))  # fmt: skip
    if express:
        return genai.Client(vertexai=True, api_key="k", http_options=options)
    return genai.Client(vertexai=True, project="p", location="us-central1",
                        credentials=Credentials(token="t"), http_options=options)  # fmt: skip


@pytest.mark.parametrize("express", [True, False], ids=["express", "project"])
@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply"])
def test_gemini_on_vertex_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, express: bool, name: str
) -> None:
    emulator.use(name)
    with _gemini(emulator, express) as client:
        chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT)
        streamed = "".join(c.text or "" for c in chunks)
        whole = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert streamed == expected(name) == whole.text
    where = "/v1beta1" + ("" if express else "/projects/p/locations/us-central1")
    assert [c.path for c in emulator.calls(method="POST")] == [
        f"{where}/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
        f"{where}/publishers/google/models/gemini-2.5-flash:generateContent",
    ]


def test_gemini_on_vertex_raises_the_sdk_s_client_error_on_a_rate_limit(
    emulator: Emulator,
) -> None:
    emulator.use("http_429_rate_limited")
    with _gemini(emulator, express=True) as client, pytest.raises(genai_errors.ClientError) as e:
        client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"


CARDS = {
    "python anthropic bedrock card": ("anthropic-bedrock", anthropic_bedrock_sdk),
    "python anthropic vertex card": ("anthropic-vertex", anthropic_vertex_sdk),
    "python gemini vertex card": ("gemini-vertex", gemini_vertex_sdk),
}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("marker", CARDS)
async def test_each_cloud_client_s_card_is_what_a_run_finds(marker: str) -> None:
    dialect, client = CARDS[marker]
    await assert_report_card(marker, dialect, client, doc=CLIENTS)
