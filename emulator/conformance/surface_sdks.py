"""The official SDKs of the surfaces that serve another API's wire as conformance
clients: Azure OpenAI (``--python emulator.conformance.surface_sdks:azure_openai_sdk
--dialect azure-openai``), Ollama (``ollama_sdk`` on ``ollama``) and Cohere
(``cohere_sdk`` on ``cohere``), and Claude and Gemini on the clouds
(``anthropic_bedrock_sdk``, ``anthropic_vertex_sdk``, ``gemini_vertex_sdk``), and
Mistral's own (``mistral_sdk`` on ``mistral``), each unchanged,
reading a stream as most code reads it.
"""

from __future__ import annotations

import json

from .sdks import Gathered, chat_text, gemini_text, messages_text

__all__ = [
    "anthropic_bedrock_sdk",
    "anthropic_vertex_sdk",
    "azure_openai_sdk",
    "cohere_sdk",
    "gemini_vertex_sdk",
    "mistral_sdk",
    "ollama_sdk",
]

#: The ``api-version`` the Azure clients ask for (Azure's GA version of late 2024).
AZURE_API_VERSION = "2024-10-21"


async def azure_openai_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``openai`` package's ``AsyncAzureOpenAI`` streaming Chat Completions
    from a deployment the emulator serves at ``{url}/openai/deployments/gpt-4o-mini``."""
    import openai

    client = openai.AsyncAzureOpenAI(
        azure_endpoint=url,
        api_key="conformance",
        api_version=AZURE_API_VERSION,
        max_retries=0,
        timeout=openai.Timeout(60.0, read=timeout),
    )
    async with client:
        return await chat_text(client, prompt)


async def ollama_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``ollama`` package's ``AsyncClient`` streaming ``/api/chat`` from the
    emulator: the text of each line's message, then each tool call's arguments (which
    Ollama sends whole, as an object). The client has one timeout, handed the idle one."""
    import ollama

    text: list[str] = []
    calls: list[str] = []
    async with ollama.AsyncClient(host=url, timeout=timeout) as client:
        stream = await client.chat(model="llama3.2", stream=True,
                                   messages=[{"role": "user", "content": prompt}])  # fmt: skip
        async for part in stream:
            text.append(part.message.content or "")
            calls.extend(json.dumps(dict(call.function.arguments), ensure_ascii=False)
                         for call in part.message.tool_calls or [])  # fmt: skip
    return "".join(text) + "".join(calls)


async def cohere_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``cohere`` package's ``AsyncClientV2`` streaming ``/v2/chat`` from the
    emulator: the text of its ``content-delta`` events, then each tool call's arguments
    from its ``tool-call-delta`` events, as the package's docs read them. No retries; the
    idle timeout is its timeout."""
    import cohere
    import httpx

    text: list[str] = []
    calls: dict[int, list[str]] = {}
    async with httpx.AsyncClient(timeout=timeout) as http:  # the SDK never closes its own
        client = cohere.AsyncClientV2(api_key="conformance", base_url=url, timeout=timeout,
                                      httpx_client=http)  # fmt: skip
        stream = client.chat_stream(model="command-a-03-2025",
                                    messages=[cohere.UserChatMessageV2(content=prompt)],
                                    request_options={"max_retries": 0})  # fmt: skip
        async for event in stream:
            message = getattr(getattr(event, "delta", None), "message", None)
            if event.type == "content-delta" and message is not None:
                text.append(getattr(message.content, "text", None) or "")
            elif event.type == "tool-call-delta" and message is not None:
                function = getattr(message.tool_calls, "function", None)
                piece = getattr(function, "arguments", None) or ""
                calls.setdefault(getattr(event, "index", None) or 0, []).append(piece)
    return "".join(text) + "".join("".join(calls[i]) for i in sorted(calls))


async def anthropic_bedrock_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``anthropic`` package's ``AsyncAnthropicBedrock`` streaming Claude from
    ``InvokeModelWithResponseStream`` (signed with any access key)."""
    import anthropic

    client = anthropic.AsyncAnthropicBedrock(
        base_url=url, aws_region="us-east-1", aws_access_key="conformance",
        aws_secret_key="conformance", max_retries=0,  # noqa: S106 - any key is taken
        timeout=anthropic.Timeout(60.0, read=timeout),
    )  # fmt: skip
    async with client:
        return await messages_text(client, prompt, "anthropic.claude-sonnet-4-5-20250929-v1:0")


async def anthropic_vertex_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``anthropic`` package's ``AsyncAnthropicVertex`` streaming Claude from
    a Vertex AI publisher model's ``:streamRawPredict`` (with any access token)."""
    import anthropic

    client = anthropic.AsyncAnthropicVertex(
        base_url=f"{url}/v1", region="us-east5", project_id="conformance",
        access_token="conformance", max_retries=0,  # noqa: S106 - any token is taken
        timeout=anthropic.Timeout(60.0, read=timeout),
    )  # fmt: skip
    async with client:
        return await messages_text(client, prompt, "claude-sonnet-4-5@20250929")


def gemini_vertex_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:
    """The official ``google-genai`` package with ``vertexai=True`` in express mode (an API
    key), streaming ``generateContent`` from a Vertex AI publisher model."""
    from google import genai
    from google.genai import types

    client = genai.Client(
        vertexai=True,
        api_key="conformance",
        http_options=types.HttpOptions(
            base_url=url,
            timeout=int(timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )
    with client:
        return gemini_text(client, prompt)


async def mistral_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``mistralai`` package streaming Chat Completions from the emulator's
    Mistral preset (``server_url={url}/mistral``), no retries: each chunk's content, then
    each tool call's arguments (gathered by index)."""
    from mistralai.client import Mistral

    text: list[str] = []
    calls = Gathered()
    async with Mistral(api_key="conformance", server_url=f"{url}/mistral",
                       timeout_ms=int(timeout * 1000)) as client:  # fmt: skip
        stream = await client.chat.stream_async(
            model="mistral-small-latest", messages=[{"role": "user", "content": prompt}]
        )
        async for event in stream:
            delta = event.data.choices[0].delta if event.data.choices else None
            content = delta.content if delta is not None else None
            text.append(content if isinstance(content, str) else "")
            for call in (delta.tool_calls if delta is not None else None) or []:
                arguments = call.function.arguments
                piece = arguments if isinstance(arguments, str) else json.dumps(arguments)
                calls.add(call.index or 0, piece)
    return "".join(text) + calls.joined()
