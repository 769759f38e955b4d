"""Azure OpenAI, judged with the official ``openai`` package's Azure clients over real
sockets: a deployment's path and its ``api-version``, the v1 path, Azure's keys and error
shapes, the content filter results every answer carries, embeddings, and the report
card in ``docs/clients.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.surface_sdks import AZURE_API_VERSION, azure_openai_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

openai = pytest.importorskip("openai", reason="the openai package is not installed")

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
PROMPT = "Tell me something."
MESSAGES = [{"role": "user", "content": PROMPT}]


def azure(emulator: Emulator, **kw: Any) -> Any:
    return openai.AsyncAzureOpenAI(azure_endpoint=emulator.url, api_key="k",
                                   api_version=AZURE_API_VERSION, max_retries=0,
                                   **kw)  # fmt: skip


@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply", "max_tokens"])
async def test_the_azure_client_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    async with azure(emulator) as client:
        stream = await client.chat.completions.create(model="my-gpt4o", messages=MESSAGES,
                                                      stream=True)  # fmt: skip
        chunks = [chunk async for chunk in stream]
        whole = await client.chat.completions.create(model="my-gpt4o", messages=MESSAGES)
    expected = reply_text(builtin_scenarios()[name].reply, PROMPT)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    assert whole.choices[0].message.content == expected
    # Azure's first chunk is the prompt's filter results, with no choices at all.
    first = chunks[0].model_dump()
    assert first["choices"] == [] and first["prompt_filter_results"][0]["prompt_index"] == 0
    assert "content_filter_results" in chunks[1].choices[0].model_dump()
    assert "prompt_filter_results" in whole.model_dump()
    assert whole.model == "my-gpt4o"  # the deployment the path names
    calls = emulator.calls(method="POST")
    assert {c.path for c in calls} == {"/openai/deployments/my-gpt4o/chat/completions"}


async def test_the_v1_path_takes_a_bearer_token_and_no_api_version(emulator: Emulator) -> None:
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/openai/v1", api_key="entra-token",
                                  max_retries=0) as client:  # fmt: skip
        whole = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        listed = await client.models.list()
        vectors = await client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert whole.choices[0].message.content == "Hello! How can I help you today?"
    assert listed.data and len(vectors.data[0].embedding) == 1536


async def test_a_rate_limit_is_the_sdk_s_own_error_with_azure_s_words(
    emulator: Emulator,
) -> None:
    emulator.use("http_429_rate_limited")
    async with azure(emulator) as client:
        with pytest.raises(openai.RateLimitError) as raised:
            await client.chat.completions.create(model="d", messages=MESSAGES, stream=True)
    assert raised.value.code == "429" and "retry after 60 seconds" in raised.value.message
    headers = raised.value.response.headers
    assert headers["retry-after"] == "60" and headers["retry-after-ms"] == "60000"


@pytest.mark.parametrize(
    ("path", "headers", "status", "code", "message"),
    [
        ("/openai/deployments/d/chat/completions?api-version=2024-10-21", {}, 401, "401",
         "Access denied due to invalid subscription key"),
        ("/openai/deployments/d/chat/completions", {"api-key": "k"}, 404, "404",
         "Resource not found"),
        ("/openai/deployments/d/chat/completions?api-version=2023-13-45", {"api-key": "k"},
         400, None, "API version not supported"),
        ("/openai/deployments/d/embeddings?api-version=2024-10-21", {"api-key": "k"}, 400,
         None, "'$.input' is invalid"),
    ],
)  # fmt: skip
async def test_azure_s_refusals_in_azure_s_shapes(
    emulator: Emulator,
    path: str,
    headers: dict[str, str],
    status: int,
    code: str | None,
    message: str,
) -> None:
    body = {"messages": MESSAGES} if "chat" in path else {}
    async with aiohttp.ClientSession() as http, http.post(
        emulator.url + path, json=body, headers=headers
    ) as r:  # fmt: skip
        assert r.status == status
        error = (await r.json())["error"]
    assert error["code"] == code and message in error["message"]


async def test_a_scripted_404_is_a_deployment_azure_does_not_know(emulator: Emulator) -> None:
    emulator.use(
        {
            "name": "gone",
            "description": "not deployed",
            "http_errors": [{"status": 404, "endpoint": "conversation"}],
        }
    )
    async with azure(emulator) as client:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.chat.completions.create(model="nope", messages=MESSAGES)
    assert raised.value.code == "DeploymentNotFound"
    assert "deployment for this resource does not exist" in raised.value.message


async def test_a_deployment_s_embeddings_through_the_azure_client(emulator: Emulator) -> None:
    async with azure(emulator) as client:
        got = await client.embeddings.create(model="text-embedding-3-large", input=["a", "b"])
    assert [len(d.embedding) for d in got.data] == [3072, 3072]
    assert emulator.calls(method="POST")[0].path == (
        "/openai/deployments/text-embedding-3-large/embeddings"
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_azure_client_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("python azure openai card", "azure-openai", azure_openai_sdk,
                             doc=CLIENTS)  # fmt: skip
