"""OpenAI's Responses dialect, judged with the official ``openai`` package over real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, builtin_scenarios
from emulator.conformance.sdks import openai_responses_sdk
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

openai = pytest.importorskip("openai", reason="the openai package is not installed")

README = Path(__file__).resolve().parent.parent / "README.md"
PROMPT = "Tell me something."
GOOD = [
    "default", "unicode_text", "long_reply", "echo_prompt", "crlf_line_endings",
    "cr_line_endings", "bom", "data_without_space", "multiline_data", "split_writes",
    "paced_50_tps", "long_line", "latency_lognormal",
]  # fmt: skip


def sdk(emulator: Emulator) -> Any:
    return openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="sk-test", max_retries=0)


@pytest.mark.parametrize("name", GOOD)
async def test_the_sdk_gets_the_exact_text_streaming_and_not(
    emulator: Emulator, name: str
) -> None:
    emulator.use(name)
    async with sdk(emulator) as client:
        stream = await client.responses.create(model="gpt-4o-mini", input=PROMPT, stream=True)
        events = [event async for event in stream]
        whole = await client.responses.create(model="gpt-4o-mini", input=PROMPT)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    expected = reply_text(builtin_scenarios()[name].reply, PROMPT)
    assert text == expected == whole.output_text
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed" and whole.status == "completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == expected  # type: ignore[union-attr]


async def test_a_cut_output_is_incomplete_and_an_error_fails_the_response(
    emulator: Emulator,
) -> None:
    async with sdk(emulator) as client:
        emulator.use("max_tokens")
        whole = await client.responses.create(model="m", input="x")
        assert whole.status == "incomplete"
        assert whole.incomplete_details is not None
        assert whole.incomplete_details.reason == "max_output_tokens"
        emulator.use("in_stream_error")
        stream = await client.responses.create(model="m", input="x", stream=True)
        events = [event async for event in stream]
    kinds = [event.type for event in events]
    failed = kinds.index("response.failed")
    # The stream ends with the error, its numbers unbroken (no event built and not sent).
    assert kinds[failed:] == ["response.failed", "error"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    # Before message event 3: the two pieces of events 1 and 2.
    assert kinds[:failed].count("response.output_text.delta") == 2


async def test_a_snapshot_resent_is_an_event_resent_with_the_number_it_had(
    emulator: Emulator,
) -> None:
    emulator.use("stale_snapshots")  # stale before event 4, repeat before event 6
    async with sdk(emulator) as client:
        stream = await client.responses.create(model="m", input="x", stream=True)
        events = [event async for event in stream]
    numbers = [e.sequence_number for e in events]
    seen: set[int] = set()
    again = [i for i, n in enumerate(numbers) if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    assert len(again) == 2 and len(set(numbers)) == len(events) - 2
    stale, repeat = (events[i] for i in again)
    # stale: the event from two events back (delta 1), after delta 3; repeat: delta 5 again.
    assert numbers[again[0]] == numbers[again[0] - 3] and numbers[again[0]] < numbers[again[0] - 1]
    assert numbers[again[1]] == numbers[again[1] - 1]
    assert stale.type == repeat.type == "response.output_text.delta"
    # Dropping the events whose number was seen gives the reply; the SDK does not.
    kept = "".join(e.delta for i, e in enumerate(events)  # type: ignore[union-attr]
                   if e.type == "response.output_text.delta" and i not in again)  # fmt: skip
    assert kept == reply_text(builtin_scenarios()["stale_snapshots"].reply, "x")


async def test_the_sdks_report_card_in_the_readme_is_what_a_run_finds() -> None:
    await assert_report_card("responses card", "openai-responses", openai_responses_sdk)


async def test_a_tool_call_is_a_function_call_item_whose_arguments_come_as_deltas(
    emulator: Emulator,
) -> None:
    emulator.use("tool_call_split")
    arguments = reply_text(builtin_scenarios()["tool_call_split"].reply, PROMPT)
    async with sdk(emulator) as client:
        async with client.responses.stream(model="gpt-4o-mini", input=PROMPT) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
        whole = await client.responses.create(model="gpt-4o-mini", input=PROMPT)
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(deltas) == arguments and len(deltas) == -(-len(arguments) // 3)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for response in (final, whole):
        call = response.output[0]
        assert call.type == "function_call" and call.name == "get_weather"
        assert call.arguments == arguments and call.call_id.startswith("call_")
        assert response.status == "completed"


async def test_a_content_filter_stop_leaves_the_response_incomplete_for_that_reason(
    emulator: Emulator,
) -> None:
    emulator.use("content_filtered")
    async with sdk(emulator) as client:
        stream = await client.responses.create(model="m", input=PROMPT, stream=True)
        events = [event async for event in stream]
        whole = await client.responses.create(model="m", input=PROMPT)
    assert events[-1].type == "response.incomplete"
    for response in (events[-1].response, whole):  # type: ignore[union-attr]
        assert response.status == "incomplete"
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "content_filter"
        assert response.output_text == reply_text(
            builtin_scenarios()["content_filtered"].reply, PROMPT
        )
