"""A stream asked for again is planned once and filled in (:mod:`emulator.engine.flat`):
the same bytes as planning it, with each request's own ids and time, the same transcript,
and never where a value is reworked or the stream paces."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import EmulatorConfig, serve
from emulator.engine.flat import FLATS, Flats, holes_of, made
from emulator.protocol.steps import Step, Wait, Write


class Asked(NamedTuple):
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    #: What a request makes anew in its stream (normalized away before comparing).
    anew: str = ""


_USER: Final = [{"role": "user", "content": "Tell me a story."}]
ASKED: Final[Mapping[str, Asked]] = {
    "openai-chat": Asked(
        "/v1/chat/completions",
        {"Authorization": "Bearer sk-flat"},
        {
            "model": "gpt-4o-mini",
            "messages": _USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        r'chatcmpl-[0-9a-f]{30}|"created": \d+',
    ),
    "anthropic": Asked(
        "/v1/messages",
        {"x-api-key": "sk-ant-flat", "anthropic-version": "2023-06-01"},
        {"model": "claude-3-5-haiku-latest", "max_tokens": 64, "messages": _USER, "stream": True},
        r"msg_[0-9a-f]{30}",
    ),
    "openai-responses": Asked(
        "/v1/responses",
        {"Authorization": "Bearer sk-flat"},
        {"model": "gpt-4o-mini", "input": "Tell me a story.", "stream": True},
        r'(?:resp|msg)_[0-9a-f]{30}|"created_at": \d+',
    ),
    "gemini": Asked(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        {"x-goog-api-key": "flat"},
        {"contents": [{"role": "user", "parts": [{"text": "Tell me a story."}]}]},
        r'"responseId": "[0-9a-f]{24}"',
    ),
    "bedrock": Asked(
        "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream",
        {"Authorization": "Bearer flat"},
        {"messages": [{"role": "user", "content": [{"text": "Tell me a story."}]}]},
    ),
    "ollama": Asked(
        "/api/chat",
        {},
        {"model": "llama3.2", "messages": _USER},
        r'"created_at": ?"[^"]+"',
    ),
    "cohere": Asked(
        "/v2/chat",
        {"Authorization": "Bearer flat"},
        {"model": "command-a-03-2025", "messages": _USER, "stream": True},
        r'"id": ?"[0-9a-f-]{36}"',
    ),
}


async def _ask(http: aiohttp.ClientSession, url: str, asked: Asked, scenario: str) -> bytes:
    headers = {**asked.headers, "X-Emulator-Scenario": scenario}
    async with http.post(url + asked.path, json=asked.body, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.read()


@pytest.mark.parametrize("dialect", ASKED)
async def test_a_stream_asked_again_is_the_planned_one_with_its_own_values(dialect: str) -> None:
    asked = ASKED[dialect]
    config = EmulatorConfig(speed=0)
    async with serve(config) as emulator, aiohttp.ClientSession() as http:
        FLATS.clear()  # this worker's earlier tests may have asked the same
        reused = FLATS.reused
        bodies = [await _ask(http, emulator.url, asked, "default") for _ in range(4)]
        # The first is planned; the second makes the flat, and it and the rest are filled in.
        assert FLATS.reused - reused == 3
        calls = list(emulator.calls(asked.path.partition("?")[0]))
    planned, *again = bodies
    anew = re.compile(asked.anew.encode()) if asked.anew else None

    def normalized(body: bytes) -> bytes:
        return anew.sub(b"~", body) if anew else body

    assert len(calls) == 4 and planned
    for body in again:
        assert len(body) == len(planned) and normalized(body) == normalized(planned)
    if anew is not None:  # each request's own values, made anew, not the flat's
        found = [anew.findall(body) for body in bodies]
        assert found[2] != found[3] and len(found[2]) == len(found[0]) > 0
    # The journal's transcript notes each write as it does for a planned stream.
    first, last = (c.transcript for c in (calls[0], calls[-1]))
    assert first is not None and last is not None
    shape = [(w.offset, w.size, w.what) for w in first.writes]
    assert [(w.offset, w.size, w.what) for w in last.writes] == shape
    assert last.omitted_writes == first.omitted_writes
    assert calls[-1].bytes_sent == calls[0].bytes_sent == len(planned)


async def test_a_call_id_made_from_the_response_id_is_never_filled_in_from_a_flat() -> None:
    """A tool call's id is cut from its response's id: that stream is planned each time,
    and each call id is its own response's."""
    asked = ASKED["openai-chat"]
    async with serve(EmulatorConfig(speed=0)) as emulator, aiohttp.ClientSession() as http:
        reused = FLATS.reused
        bodies = [await _ask(http, emulator.url, asked, "tool_call_split") for _ in range(3)]
        assert FLATS.reused == reused
    for body in bodies:
        events = [json.loads(line[6:]) for line in body.decode().splitlines()
                  if line.startswith("data: {")]  # fmt: skip
        first_call = next(e for e in events if e["choices"] and
                          e["choices"][0]["delta"].get("tool_calls"))  # fmt: skip
        call = first_call["choices"][0]["delta"]["tool_calls"][0]
        assert call["id"] == "call_" + events[0]["id"].removeprefix("chatcmpl-")[:24]


async def test_a_paced_stream_is_filled_in_with_its_pauses() -> None:
    """At speed 0 a paced stream is one run; at a speed that paces it, its writes, each
    after its pause, as the plan had them."""
    asked = ASKED["anthropic"]
    async with aiohttp.ClientSession() as http:
        async with serve(EmulatorConfig(speed=0)) as emulator:
            reused = FLATS.reused
            fast = [await _ask(http, emulator.url, asked, "paced_50_tps") for _ in range(3)]
            assert FLATS.reused - reused == 2
        async with serve(EmulatorConfig(speed=0.05)) as emulator:
            reused = FLATS.reused
            paced = [await _ask(http, emulator.url, asked, "paced_50_tps") for _ in range(2)]
            assert FLATS.reused - reused == 2
            calls = list(emulator.calls("/v1/messages"))
    normalized = re.compile(ASKED["anthropic"].anew.encode())
    assert {normalized.sub(b"~", body) for body in fast + paced} == {normalized.sub(b"~", fast[0])}
    last = calls[-1].transcript
    assert last is not None
    times = [w.ms for w in last.writes]
    # Written over time, each write after its pause (at 0.05, 1 ms a token), not at once.
    assert times == sorted(times) and len(set(times)) > len(times) // 2
    assert times[-1] - times[1] > 40
    assert calls[-1].duration is not None and calls[-1].duration >= times[-1] / 1000


def _stream(values: list[Any]) -> list[Step]:
    """A toy stream: an id in every event, a time in the first, and pauses."""
    rid, created = values
    events: list[Step] = [Write(f'{{"id": "{rid}", "created": {created}}}\n'.encode())]
    for i in range(3):
        events += [Wait(0.01), Write(f'{{"id": "{rid}", "n": {i}}}\n'.encode())]
    return events


@given(st.from_regex(r"[a-z0-9_-]{8,40}", fullmatch=True), st.integers(100, 10**12))
def test_a_flat_filled_in_is_the_stream_planned_with_those_values(rid: str, created: int) -> None:
    holes = holes_of([rid, created])
    assert holes is not None
    flat = made(_stream, holes)
    assert flat is not None and flat.paced
    run = flat.run([value for _, _, value in holes])
    planned = [s for s in _stream([rid, created]) if isinstance(s, Write)]
    assert run.data == b"".join(s.data for s in planned)
    ends = [sum(len(s.data) for s in planned[: i + 1]) for i in range(len(planned))]
    assert list(run.ends) == ends


def test_a_value_reworked_or_not_plain_is_never_a_hole() -> None:
    def reworked(values: list[Any]) -> list[Step]:
        return [Write(f"{values[0]} {values[0][:4]}".encode())]

    holes = holes_of(["abcdefgh12"])
    assert holes is not None and made(reworked, holes) is None
    assert holes_of(['quote"inside']) is None and holes_of(["short"]) is None
    assert holes_of([7]) is None and holes_of([True]) is None and holes_of([1.5]) is None


def test_the_flats_kept_are_bounded_in_count_and_bytes() -> None:
    flats = Flats(count=3, budget=10_000)
    holes = holes_of(["abcdefgh12", 1_700_000_000])
    assert holes is not None
    flat = made(_stream, holes)
    assert flat is not None
    for key in range(10):
        assert not flats.seen(key)
        assert flats.seen(key)
        flats.keep(key, (flat, None))
    assert len(flats) == 3 and flats.bytes == 3 * flat.size
    big = flat._replace(size=6_000)
    flats.keep("big", (big, None))
    flats.keep("big too", (big, None))
    assert len(flats) == 1 and flats.bytes == 6_000  # the budget binds before the count
