"""The official SDKs as conformance clients: each API's own package, unchanged, reading a
stream as most code reads it (``--python emulator.conformance.sdks:openai_chat_sdk
--dialect openai-chat``, and the same for ``anthropic_sdk``, ``openai_responses_sdk``,
``gemini_sdk`` on ``gemini``, ``bedrock_sdk`` on ``bedrock``, ``openai_realtime_sdk`` on
``openai-realtime``, ``gemini_live_sdk`` on ``gemini-live`` with ``--tls``, ``mcp_sdk`` and
``fastmcp_client`` on ``mcp``). Each gathers tool calls by
the index each piece names and reports a refusal as one.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

__all__ = [
    "Gathered",
    "Refused",
    "anthropic_sdk",
    "bedrock_sdk",
    "chat_text",
    "fastmcp_client",
    "gemini_live_sdk",
    "gemini_sdk",
    "gemini_text",
    "mcp_sdk",
    "messages_text",
    "openai_chat_sdk",
    "openai_realtime_sdk",
    "openai_responses_sdk",
]


def gemini_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:
    """The official ``google-genai`` package streaming ``generateContent`` from the emulator
    (``--python emulator.conformance.sdks:gemini_sdk --dialect gemini``). The SDK has a
    total timeout only: it is handed the idle timeout as that."""
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="conformance",
        http_options=types.HttpOptions(
            base_url=url,
            timeout=int(timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )
    with client:  # its connections closed with it, even when it fails
        return gemini_text(client, prompt)


def gemini_text(client: Any, prompt: str) -> str:
    """What a ``google-genai`` client (the Gemini API's or Vertex AI's) streams for
    ``prompt``: the text of its parts (not its thoughts), each call's arguments."""
    pieces = []
    stream = client.models.generate_content_stream(model="gemini-2.5-flash", contents=prompt)
    for chunk in stream:
        content = chunk.candidates[0].content if chunk.candidates else None
        for part in content.parts or [] if content is not None else []:
            if part.function_call is not None:  # a call is whole: its arguments
                pieces.append(json.dumps(part.function_call.args, ensure_ascii=False))
            elif part.text and not part.thought:  # a thought is reasoning, not the reply
                pieces.append(part.text)
    return "".join(pieces)


def bedrock_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:
    """The official ``boto3`` package streaming ``ConverseStream`` from the emulator
    (``--python emulator.conformance.sdks:bedrock_sdk --dialect bedrock``): the text of
    its deltas (or a tool call's input), as most code reads them. It is handed the idle
    timeout as its read timeout, and no retries."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="conformance",
        aws_secret_access_key="conformance",  # noqa: S106 - any key is taken
        config=Config(
            retries={"total_max_attempts": 1}, read_timeout=timeout, connect_timeout=timeout
        ),
    )
    with contextlib.closing(client):
        answer = client.converse_stream(
            modelId="anthropic.claude-3-5-haiku-20241022-v1:0",
            messages=[{"role": "user", "content": [{"text": prompt}]}],
        )
        blocks = Gathered()  # by content block: text, then each call's input
        with contextlib.closing(answer["stream"]):  # its connection, even when it fails
            for event in answer["stream"]:
                block = event.get("contentBlockDelta", {})
                delta = block.get("delta", {})
                piece = delta.get("text") or delta.get("toolUse", {}).get("input", "")
                blocks.add(block.get("contentBlockIndex", 0), piece)
        return blocks.joined()


async def openai_chat_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``openai`` package streaming Chat Completions from the emulator's
    ``/v1`` (``--python emulator.conformance.sdks:openai_chat_sdk --dialect openai-chat``)."""
    import openai

    client = openai.AsyncOpenAI(
        base_url=f"{url}/v1",
        api_key="sk-conformance",
        max_retries=0,
        timeout=openai.Timeout(60.0, read=timeout),
    )
    async with client:
        return await chat_text(client, prompt)


async def chat_text(client: Any, prompt: str) -> str:
    """What an ``openai`` client (OpenAI's or Azure's) streams for ``prompt``: the text,
    then each tool call's arguments; a refusal raised as one."""
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},  # a last chunk with empty choices
    )
    text, calls, refusal = [], Gathered(), []
    async for chunk in stream:
        delta = chunk.choices[0].delta if chunk.choices else None
        text.append((delta and delta.content) or "")
        refusal.append((delta and delta.refusal) or "")
        for call in (delta and delta.tool_calls) or []:
            calls.add(call.index, (call.function and call.function.arguments) or "")
    if any(refusal):  # the model's words, but not its answer
        raise Refused("".join(refusal))
    return "".join(text) + calls.joined()


class Refused(Exception):
    """The model refused: its words came in the API's refusal field, not as its answer."""

    def __init__(self, words: str) -> None:
        super().__init__(f"the model refused: {words}")


class Gathered:
    """Tool calls' arguments gathered by the index each piece names (parallel calls may
    interleave): all of them, in the calls' order, is what a client is told after the
    reply's text."""

    def __init__(self) -> None:
        self.calls: dict[int, list[str]] = {}

    def add(self, index: int, piece: str) -> None:
        self.calls.setdefault(index, []).append(piece)

    def joined(self) -> str:
        return "".join("".join(self.calls[i]) for i in sorted(self.calls))


async def anthropic_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``anthropic`` package streaming Messages from the emulator's
    ``/v1/messages`` (``--python emulator.conformance.sdks:anthropic_sdk --dialect
    anthropic``)."""
    import anthropic

    client = anthropic.AsyncAnthropic(
        base_url=url,
        api_key="sk-ant-conformance",
        max_retries=0,
        timeout=anthropic.Timeout(60.0, read=timeout),
    )
    async with client:
        return await messages_text(client, prompt)


async def messages_text(client: Any, prompt: str, model: str = "claude-emulator") -> str:
    """What an ``anthropic`` client (Anthropic's, Bedrock's or Vertex's) streams for
    ``prompt``: each content block's text, then each call's input."""
    stream = await client.messages.create(
        model=model,
        max_tokens=1024,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
    )
    blocks = Gathered()  # by content block: text, then each call's input
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            blocks.add(event.index, event.delta.text)
        elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            blocks.add(event.index, event.delta.partial_json)
    return blocks.joined()


async def openai_responses_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``openai`` package streaming the Responses API from the emulator's
    ``/v1/responses`` (``--dialect openai-responses``). Errors arrive as events, not
    exceptions: like a careful reader, this raises on ``error`` and ``response.failed``."""
    import openai

    client = openai.AsyncOpenAI(
        base_url=f"{url}/v1",
        api_key="sk-conformance",
        max_retries=0,
        timeout=openai.Timeout(60.0, read=timeout),
    )
    items = Gathered()  # by output item: the message's text, then each call's arguments
    failed = refusal = ""
    async with client:
        stream = await client.responses.create(model="gpt-4o-mini", input=prompt, stream=True)
        async for event in stream:
            if event.type in (
                "response.output_text.delta",
                "response.function_call_arguments.delta",
            ):
                items.add(event.output_index, event.delta)
            elif event.type == "response.refusal.done":
                refusal = event.refusal
            elif event.type in ("error", "response.failed") and not failed:
                failed = event.type
    if failed:
        raise RuntimeError(f"the response failed: a {failed} event")
    if refusal:
        raise Refused(refusal)
    return items.joined()


async def openai_realtime_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``openai`` package's Realtime client (``client.realtime.connect``, its
    WebSocket) asking the emulator's ``/v1/realtime`` for one text response
    (``--dialect openai-realtime``): the session set to text, the prompt a user item,
    ``response.create``, then the events to ``response.done``, each awaited at most the idle
    timeout (and so is the opening handshake). Like a careful reader, it raises on an
    ``error`` event and on a response that did not complete; a connection closed first
    raises as the SDK does."""
    import asyncio

    import openai

    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-conformance", max_retries=0)
    items = Gathered()  # by output item: the message's text, then each call's arguments
    # open_timeout is websockets.connect's; the SDK passes it on (its TypedDict names it not).
    opening: Any = {"open_timeout": timeout}
    async with (
        client,
        client.realtime.connect(
            model="gpt-realtime", websocket_connection_options=opening
        ) as connection,
    ):
        await connection.session.update(session={"type": "realtime",
                                                 "output_modalities": ["text"]})  # fmt: skip
        await connection.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": prompt}]})  # fmt: skip
        await connection.response.create()
        while True:
            event = await asyncio.wait_for(connection.recv(), timeout)
            if event.type in ("response.output_text.delta",
                              "response.function_call_arguments.delta"):  # fmt: skip
                items.add(event.output_index, event.delta)
            elif event.type == "error":
                raise RuntimeError(f"the API said: {event.error.message}")
            elif event.type == "response.done":
                if event.response.status != "completed":
                    raise RuntimeError(f"the response ended {event.response.status}")
                return items.joined()


async def gemini_live_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``google-genai`` package's Live client (``client.aio.live.connect``)
    asking the emulator for one text turn (``--dialect gemini-live --tls``: the SDK dials
    ``wss://`` whatever the URL says, trusting ``SSL_CERT_FILE``): the prompt a user turn,
    then the messages to ``turnComplete``, each awaited at most the idle timeout (and so is
    the opening handshake, ``open_timeout``). A
    ``toolCall`` is the turn's answer (its calls' arguments, gathered); a socket closed first
    raises as the SDK does."""
    import asyncio

    from google import genai
    from google.genai import types

    client = genai.Client(api_key="conformance", http_options={
        "base_url": url, "async_client_args": {"open_timeout": timeout}})  # fmt: skip
    items = Gathered()  # the text, then each call's arguments
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with client.aio.live.connect(model="gemini-live-2.5-flash", config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": prompt}]},
                                          turn_complete=True)  # fmt: skip
        messages = session.receive().__aiter__()
        while True:
            try:
                message = await asyncio.wait_for(messages.__anext__(), timeout)
            except StopAsyncIteration:
                raise RuntimeError("the session's turn ended with no turnComplete") from None
            if message.tool_call is not None:
                for i, call in enumerate(message.tool_call.function_calls or ()):
                    items.add(1 + i, json.dumps(call.args or {}, ensure_ascii=False))
                return items.joined()
            content = message.server_content
            if content is None:
                continue
            for part in (content.model_turn.parts or ()) if content.model_turn else ():
                if part.text and not part.thought:
                    items.add(0, part.text)
            if content.turn_complete:
                return items.joined()


def _inside(group: BaseExceptionGroup[Any]) -> BaseException:
    """The one error inside a client's task groups (what ``except*`` catches)."""
    found: BaseException = group
    while isinstance(found, BaseExceptionGroup) and len(found.exceptions) == 1:
        found = found.exceptions[0]
    return found


async def mcp_sdk(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """The official ``mcp`` package's client over Streamable HTTP (``streamable_http_client``
    and ``ClientSession``) calling the emulator's ``reply`` tool with the prompt (``--dialect
    mcp``): the result's text. Its read timeout is the idle timeout; a result with
    ``isError`` raises, as a careful caller does, and so does the one error inside the
    client's task group (what ``except*`` catches)."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=timeout))
    try:
        async with (
            http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("reply", {"prompt": prompt})
    except BaseExceptionGroup as group:
        raise _inside(group) from None
    if result.is_error:
        raise RuntimeError(f"the tool said it failed: {result.content}")
    return "".join(getattr(item, "text", "") for item in result.content)


async def fastmcp_client(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """FastMCP's client (``fastmcp.Client``, from ``fastmcp-slim[client]``) on the emulator's
    ``/mcp`` (``--dialect mcp``), calling the ``reply`` tool with the prompt: its text. The
    idle timeout is its request timeout; a tool's error raises (its ``call_tool`` does)."""
    from fastmcp import Client

    try:
        async with Client(f"{url}/mcp", timeout=timeout) as client:
            result = await client.call_tool("reply", {"prompt": prompt})
    except BaseExceptionGroup as group:
        raise _inside(group) from None
    return "".join(getattr(item, "text", "") for item in result.content)
