"""The official SDKs of the surfaces that serve another API's wire as conformance
clients: Azure OpenAI (``--python emulator.conformance.surface_sdks:azure_openai_sdk
--dialect azure-openai``), each unchanged, reading a stream as most code reads it.
"""

from __future__ import annotations

from .sdks import chat_text

__all__ = ["azure_openai_sdk"]

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
