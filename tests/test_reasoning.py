"""Reasoning streams, judged by the official SDKs over real sockets: the Responses API's
reasoning item (its summary when asked, its encrypted_content sealed and checked when it
comes back), Bedrock's reasoningContent, Anthropic's and Bedrock's redacted thinking, and
the reasoning's tokens in every API's usage."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anthropic
import botocore.exceptions
import openai
import pytest
from google import genai
from google.genai import types

from emulator import EmulatorConfig
from emulator.server import EmulatorServer
from tests.helpers import bedrock_client, named, openai_client

THOUGHT = "The user asks for 2 + 2. Adding two and two gives four; I will say so and show why."
WEATHER = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        yield server


# -- the Responses API's reasoning item ---------------------------------------------------------


def test_a_reasoning_item_comes_first_with_its_summary_when_asked(
    emulator: EmulatorServer,
) -> None:
    with openai_client(emulator.url) as client:
        asked: Any = {"model": "o4-mini", "input": "2 + 2?", "extra_headers": named(
            "reasoning_reply")}  # fmt: skip
        with client.responses.stream(**asked, reasoning={"summary": "auto"}) as events:
            kinds = [e.type for e in events]
            response = events.get_final_response()
        plain = client.responses.create(**asked)
    first = kinds.index("response.reasoning_summary_text.delta")
    assert kinds[first - 1] == "response.reasoning_summary_part.added"
    assert first < kinds.index("response.output_text.delta")
    item = response.output[0]
    assert item.type == "reasoning" and item.summary[0].text == THOUGHT  # type: ignore[union-attr]
    assert response.output_text == "Four: two pairs of two."
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == len(THOUGHT.split())
    # Not asked for: the item is there (a reasoning model reasons), its summary is not.
    assert plain.output[0].type == "reasoning" and plain.output[0].summary == []  # type: ignore[union-attr]
    assert plain.output[0].encrypted_content is None  # type: ignore[union-attr]


def test_encrypted_reasoning_goes_round_a_loop_and_an_altered_one_is_refused() -> None:
    with (
        EmulatorServer(EmulatorConfig(speed=0, default="agent_loop_thinking")) as emulator,
        openai_client(emulator.url) as client,
    ):
        asked: Any = {"model": "o4-mini", "tools": WEATHER, "store": False,
                      "include": ["reasoning.encrypted_content"]}  # fmt: skip
        items: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.responses.create(input=items, **asked)
        assert [o.type for o in first.output] == ["reasoning", "function_call"]
        sealed = first.output[0].encrypted_content  # type: ignore[union-attr]
        assert sealed is not None and sealed.startswith("gAAAAA")
        items += [o.model_dump(exclude_none=True) for o in first.output]
        items.append({"type": "function_call_output", "output": "{}",
                      "call_id": first.output[1].call_id})  # type: ignore[union-attr]  # fmt: skip
        final = client.responses.create(input=items, **asked)
        assert final.output_text == "It is 18 °C and sunny in Paris."
        # Sent back without the reasoning item it came with: the API's 400.
        with pytest.raises(openai.BadRequestError) as dropped:
            client.responses.create(input=[items[0], *items[2:]], **asked)
        call, reasoning = items[2], items[1]
        assert dropped.value.body["message"] == (  # type: ignore[index]
            f"Item '{call['id']}' of type 'function_call' was provided without its required "
            f"'reasoning' item: '{reasoning['id']}'."
        )
        items[1] = {**items[1], "encrypted_content": sealed[:-4] + "AAAA"}
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(input=items, **asked)
        assert caught.value.body["message"] == (  # type: ignore[index]
            f"The encrypted content for item {items[1]['id']} could not be verified. Reason: "
            "Encrypted content could not be decrypted or parsed."
        )


# -- Bedrock's reasoningContent ---------------------------------------------------------------------


def test_bedrock_streams_reasoning_content_when_thinking_is_on(emulator: EmulatorServer) -> None:
    client = bedrock_client(emulator.url, "reasoning_reply")
    asked: Any = {"modelId": "anthropic.claude-sonnet-4",
                  "messages": [{"role": "user", "content": [{"text": "2 + 2?"}]}]}  # fmt: skip
    with contextlib.closing(client):
        answer = client.converse_stream(**asked, additionalModelRequestFields=THINKING)
        events = list(answer["stream"])
        plain = client.converse(**asked)
    deltas = [(e["contentBlockDelta"]["contentBlockIndex"], e["contentBlockDelta"]["delta"])
              for e in events if "contentBlockDelta" in e]  # fmt: skip
    thought = "".join(d["reasoningContent"].get("text", "") for i, d in deltas if i == 0)
    assert thought == THOUGHT
    assert len([d for i, d in deltas if i == 0][-1]["reasoningContent"]["signature"]) > 40
    assert "".join(d["text"] for i, d in deltas if i == 1) == "Four: two pairs of two."
    assert [c.keys() for c in plain["output"]["message"]["content"]] == [{"text": None}.keys()]


def test_redacted_thinking_comes_sealed_and_must_come_back_unchanged(
    emulator: EmulatorServer,
) -> None:
    client = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
    asked: Any = {"model": "claude-sonnet-4-5", "max_tokens": 2048, **THINKING,
                  "extra_headers": named("thinking_redacted")}  # fmt: skip
    question = {"role": "user", "content": "What is the answer?"}
    with client, client.messages.stream(messages=[question], **asked) as events:
        final = events.get_final_message()
        assert [b.type for b in final.content] == ["redacted_thinking", "text"]
        data = final.content[0].data  # type: ignore[union-attr]
        said = [b.model_dump() for b in final.content]
        again = [question, {"role": "assistant", "content": said},
                 {"role": "user", "content": "Go on."}]  # fmt: skip
        assert client.messages.create(messages=again, **asked).stop_reason == "end_turn"
        said[0] = {**said[0], "data": data[:-2] + "xx"}
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(messages=again, **asked)
        assert caught.value.body["error"]["message"] == (  # type: ignore[index]
            "messages.1.content.0: Invalid `data` in `redacted_thinking` block"
        )
    bedrock = bedrock_client(emulator.url, "thinking_redacted")
    with contextlib.closing(bedrock):
        whole = bedrock.converse(modelId="m", messages=[
            {"role": "user", "content": [{"text": "?"}]}], additionalModelRequestFields=THINKING)  # fmt: skip
    blob = whole["output"]["message"]["content"][0]["reasoningContent"]["redactedContent"]
    assert isinstance(blob, bytes) and blob.startswith(b"gAAAAA")


# -- the reasoning's tokens in usage, and what a redaction hides ----------------------------------


def test_every_api_counts_the_reasoning_in_its_usage(emulator: EmulatorServer) -> None:
    words = len(THOUGHT.split())
    with openai_client(emulator.url) as client:
        stream = client.chat.completions.create(
            model="o4-mini", messages=[{"role": "user", "content": "2 + 2?"}], stream=True,
            stream_options={"include_usage": True}, extra_headers=named("reasoning_reply"))  # fmt: skip
        (usage,) = [c.usage for c in stream if c.usage]
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == words
    assert usage.completion_tokens > words
    gemini = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=emulator.url, headers=named("reasoning_reply")))  # fmt: skip
    redacted = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=emulator.url, headers=named("thinking_redacted")))  # fmt: skip
    with gemini, redacted:
        answer = gemini.models.generate_content(model="gemini-2.5-flash", contents="2 + 2?")
        hidden = redacted.models.generate_content(model="gemini-2.5-flash", contents="?")
    assert (
        answer.usage_metadata is not None and answer.usage_metadata.thoughts_token_count == words
    )
    parts = hidden.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert [bool(p.thought) for p in parts or []] == [False]  # no thought shown


def test_every_api_says_what_the_prompt_cache_served(emulator: EmulatorServer) -> None:
    prompt = "Summarise the attached contract. " * 40  # more tokens than none, fewer than 4096
    with openai_client(emulator.url) as client:
        chat = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": prompt}],
            extra_headers=named("prompt_cache"))  # fmt: skip
        responses = client.responses.create(model="gpt-4o", input=prompt,
                                            extra_headers=named("prompt_cache"))  # fmt: skip
    assert chat.usage is not None and chat.usage.prompt_tokens_details is not None
    asked = chat.usage.prompt_tokens
    assert chat.usage.prompt_tokens_details.cached_tokens == asked > 40  # all of it
    assert responses.usage is not None
    assert responses.usage.input_tokens_details.cached_tokens == responses.usage.input_tokens
    claude = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
    with claude:
        message = claude.messages.create(model="m", max_tokens=64, messages=[
            {"role": "user", "content": prompt}], extra_headers=named("prompt_cache"))  # fmt: skip
    assert message.usage.cache_read_input_tokens == asked  # the same count of the prompt
    assert (message.usage.input_tokens, message.usage.cache_creation_input_tokens) == (0, 0)
    bedrock = bedrock_client(emulator.url, "prompt_cache")
    with contextlib.closing(bedrock):
        whole = bedrock.converse(modelId="m", messages=[
            {"role": "user", "content": [{"text": prompt}]}])  # fmt: skip
    assert whole["usage"]["cacheReadInputTokens"] == whole["usage"]["totalTokens"] - whole[
        "usage"]["outputTokens"]  # fmt: skip
    gemini = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=emulator.url, headers=named("prompt_cache")))  # fmt: skip
    with gemini:
        said = gemini.models.generate_content(model="gemini-2.5-flash", contents=prompt)
    assert said.usage_metadata is not None
    assert said.usage_metadata.cached_content_token_count == said.usage_metadata.prompt_token_count


def test_with_thinking_on_a_signed_thinking_block_always_comes_first(
    emulator: EmulatorServer,
) -> None:
    client = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
    with client:  # the default scenario gives no reasoning: the block is empty, but signed
        reply = client.messages.create(model="m", max_tokens=2048, **THINKING, messages=[
            {"role": "user", "content": "hi"}])  # fmt: skip
        plain = client.messages.create(model="m", max_tokens=64, messages=[
            {"role": "user", "content": "hi"}])  # fmt: skip
    first = reply.content[0]
    assert first.type == "thinking" and first.thinking == "" and len(first.signature) > 40
    assert [b.type for b in plain.content] == ["text"]


def test_bedrock_reasoning_must_come_back_as_it_was_sent(emulator: EmulatorServer) -> None:
    # As on Anthropic's API (Claude checks it behind Bedrock too): the reasoning text with
    # its signature, or the redacted content, unchanged; boto3 is the judge.
    question = {"role": "user", "content": [{"text": "2 + 2?"}]}
    for scenario, altered in (("reasoning_reply", "signature"), ("thinking_redacted", "data")):
        client = bedrock_client(emulator.url, scenario)
        with contextlib.closing(client):
            asked: Any = {"modelId": "m", "additionalModelRequestFields": THINKING}
            said = client.converse(messages=[question], **asked)["output"]["message"]
            again = [question, said, {"role": "user", "content": [{"text": "Go on."}]}]
            assert client.converse(messages=again, **asked)["stopReason"] == "end_turn"
            reasoning = said["content"][0]["reasoningContent"]
            if "reasoningText" in reasoning:
                reasoning["reasoningText"]["text"] += " (edited)"
            else:
                reasoning["redactedContent"] = reasoning["redactedContent"][:-2] + b"xx"
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                client.converse(messages=again, **asked)
        error = caught.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"] == (
            "The model returned the following errors: messages.1.content.0: Invalid "
            f"`{altered}` in `{'thinking' if altered == 'signature' else 'redacted_thinking'}`"
            " block"
        )


def test_a_thinking_block_verifies_only_in_the_conversation_and_api_it_was_given_in(
    emulator: EmulatorServer,
) -> None:
    # As the real APIs refuse a block replayed elsewhere: a signature is bound to the API and
    # to the conversation (its first message) it was made in.
    client = anthropic.Anthropic(base_url=emulator.url, api_key="sk-ant-t", max_retries=0)
    asked: Any = {"model": "claude-sonnet-4-5", "max_tokens": 2048, **THINKING,
                  "extra_headers": named("reasoning_reply")}  # fmt: skip
    question = {"role": "user", "content": "What is 2 + 2?"}
    with client:
        said = [b.model_dump() for b in client.messages.create(messages=[question],
                                                               **asked).content]  # fmt: skip
        go_on = {"role": "user", "content": "Go on."}
        assert said[0]["type"] == "thinking"
        kept = client.messages.create(messages=[question, {"role": "assistant", "content": said},
                                                go_on], **asked)  # fmt: skip
        assert kept.stop_reason == "end_turn"
        other = {"role": "user", "content": "What is 3 + 3?"}
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(messages=[other, {"role": "assistant", "content": said},
                                             go_on], **asked)  # fmt: skip
        assert caught.value.body["error"]["message"] == (  # type: ignore[index]
            "messages.1.content.0: Invalid `signature` in `thinking` block"
        )
    # The same block, its text and signature as Anthropic sent them, sent to Bedrock.
    bedrock = bedrock_client(emulator.url, "reasoning_reply")
    moved = {"reasoningContent": {"reasoningText": {"text": said[0]["thinking"],
                                                    "signature": said[0]["signature"]}}}  # fmt: skip
    with contextlib.closing(bedrock), pytest.raises(botocore.exceptions.ClientError) as refused:
        bedrock.converse(
            modelId="m",
            additionalModelRequestFields=THINKING,
            messages=[{"role": "user", "content": [{"text": "What is 2 + 2?"}]},
                      {"role": "assistant", "content": [moved, {"text": "4"}]},
                      {"role": "user", "content": [{"text": "Go on."}]}],
        )  # fmt: skip
    assert "Invalid `signature` in `thinking` block" in refused.value.response["Error"]["Message"]
