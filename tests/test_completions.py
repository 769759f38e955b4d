"""OpenAI's legacy Completions (``/v1/completions``), judged with the official ``openai``
package: the exact text streamed and whole, its chunks' shape, the faults as on Chat
Completions, and the scenarios it has no place for refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Emulator, builtin_scenarios
from emulator.scenario.text import reply_text

openai = pytest.importorskip("openai", reason="the openai package is not installed")

PROMPT = "Tell me something."


def sdk(emulator: Emulator) -> Any:
    return openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="sk-t", max_retries=0)


@pytest.mark.parametrize("name", ["default", "unicode_text", "long_reply", "max_tokens",
                                  "crlf_line_endings", "split_every_byte"])  # fmt: skip
async def test_the_sdk_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    async with sdk(emulator) as client:
        stream = await client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt=PROMPT, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        chunks = [c async for c in stream]
        whole = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT)
    expected = reply_text(builtin_scenarios()[name].reply, PROMPT)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    assert whole.choices[0].text == expected
    reason = "length" if name == "max_tokens" else "stop"
    assert chunks[-2].choices[0].finish_reason == reason == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert {c.object for c in chunks} == {"text_completion"} == {whole.object}
    assert chunks[0].id.startswith("cmpl-") and len({c.id for c in chunks}) == 1


@pytest.mark.parametrize(
    ("name", "raised"),
    [("drop_mid_stream", openai.APIConnectionError), ("http_429_rate_limited",
                                                      openai.RateLimitError)],
)  # fmt: skip
async def test_faults_and_errors_reach_the_sdk_as_on_chat(
    emulator: Emulator, name: str, raised: type[Exception]
) -> None:
    emulator.use(name)

    async def read_all() -> None:
        async with sdk(emulator) as client:
            stream = await client.completions.create(model="m", prompt=PROMPT, stream=True)
            async for _ in stream:
                pass

    with pytest.raises(raised):
        await read_all()


@pytest.mark.parametrize("name", ["tool_call_split", "refusal"])
async def test_a_reply_the_api_has_no_place_for_is_refused_saying_why(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    async with sdk(emulator) as client:
        with pytest.raises(openai.BadRequestError, match="does not apply to the Completions API"):
            await client.completions.create(model="m", prompt=PROMPT)


async def test_a_prompt_is_required_and_a_string(emulator: Emulator) -> None:
    async with sdk(emulator) as client:
        with pytest.raises(openai.BadRequestError, match="'prompt'"):
            await client.completions.create(model="m", prompt=[1, 2, 3])
