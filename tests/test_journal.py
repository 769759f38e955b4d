"""The journal sees what was sent: transcripts, endings, the journal API, its feed, metrics, CORS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from client import FakeGpt, IncompleteStreamError, SSEDecoder, UpstreamTimeoutError
from emulator import Call, Emulator, EmulatorConfig
from emulator.core.endings import COMPLETED, Label
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import CONVERSATION, answer, collect, login

DEFAULT_TEXT = "Hello! How can I help you today?"


async def settled(call: Call) -> Call:
    """``call`` once the server has finished it (the client may read the end a moment sooner)."""
    for _ in range(200):
        if call.duration is not None:
            return call
        await asyncio.sleep(0.01)
    raise AssertionError(f"call {call.id} was not finished within 2 s")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_a_stream_transcript_has_every_write_in_order(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    emulator.use("pings_and_comments")
    assert "".join(await collect(fakegpt)) == DEFAULT_TEXT
    call = await settled(emulator.calls("/api/conversation").last)
    transcript = call.transcript
    assert transcript is not None and call.ending == transcript.ending == COMPLETED
    assert str(call.ending) == "completed" and not call.ending.early
    assert transcript.status == 200
    assert transcript.headers["Content-Type"].startswith("text/event-stream")
    writes = transcript.writes
    # Offsets are contiguous, times never go back, and the bytes add up to what was sent.
    offset = 0
    for write in writes:
        assert write.offset == offset and write.data is not None and len(write.data) == write.size
        offset += write.size
    assert offset == call.bytes_sent
    assert [w.ms for w in writes] == sorted(w.ms for w in writes)
    whats = [w.what for w in writes]
    assert whats[:4] == [Label("fault", "ping", 0)] * 3 + [Label("event", "message 0 (empty)")]
    assert [str(w) for w in whats[:4]] == ["fault ping at 0"] * 3 + ["message 0 (empty)"]
    assert whats[-1] == Label("end", "[DONE]")
    assert Label("fault", "comment", 2) in whats
    assert transcript.faults == {"ping": 4, "comment": 2}  # three at 0, one at the end
    assert b"".join(w.data or b"" for w in writes).endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("scenario", "error", "kind", "words"),
    [
        ("drop_mid_stream", IncompleteStreamError, "dropped", "dropped by the scenario at "),
        ("stall_silent", UpstreamTimeoutError, "client_gone", "client gone at "),
    ],
)
async def test_the_transcript_says_how_a_stream_ended(
    scenario: str,
    error: type[Exception],
    kind: str,
    words: str,
    emulator: Emulator,
    fakegpt: type[FakeGpt],
) -> None:
    emulator.use(scenario)
    with pytest.raises(error):
        await collect(fakegpt, idle_timeout=0.3)
    call = await settled(emulator.calls("/api/conversation").last)
    ending = call.ending
    assert ending is not None and ending.kind == kind and ending.early, ending
    assert ending.at_bytes == call.bytes_sent and ending.at_ms == call.ended_ms
    assert str(ending) == f"{words}{call.bytes_sent:,} B after {call.ended_ms:.0f} ms"
    if scenario == "stall_silent":
        # The client gave up within its idle timeout of the stall.
        waits = [w for w in call.transcript.writes if w.what.kind == "fault"]  # type: ignore[union-attr]
        assert waits and waits[0].what == Label("fault", "stall", 3, ": 20 s")
        assert str(waits[0].what) == "fault stall at 3: 20 s"
        assert call.ended_ms is not None
        assert call.ended_ms - waits[0].ms < 5000


async def test_the_journal_api_filters_and_gives_one_exchange(
    emulator: Emulator, fakegpt: type[FakeGpt], http: aiohttp.ClientSession
) -> None:
    await collect(fakegpt)
    emulator.use("http_429_rate_limited")
    with pytest.raises(aiohttp.ClientError):
        await collect(fakegpt)
    admin = f"{emulator.url}/_emulator"
    _, _, everything, _ = await answer(http, "GET", f"{admin}/journal")
    ids = [c["id"] for c in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    _, _, posts, _ = await answer(http, "GET", f"{admin}/journal", params={"method": "post"})
    assert {c["method"] for c in posts} == {"POST"}
    _, _, limited, _ = await answer(
        http, "GET", f"{admin}/journal", params={"status": "429", "limit": "1"}
    )
    assert [c["status"] for c in limited] == [429] and limited[0]["id"] == ids[-1]
    _, _, later, _ = await answer(http, "GET", f"{admin}/journal", params={"since": ids[2]})
    assert [c["id"] for c in later] == ids[3:]
    _, _, by_scenario, _ = await answer(
        http,
        "GET",
        f"{admin}/journal",
        params={"scenario": "default", "path": "/api/conversation"},
    )
    assert len(by_scenario) == 1 and by_scenario[0]["ending"] == "completed"
    status, _, one, _ = await answer(http, "GET", f"{admin}/journal/{by_scenario[0]['id']}")
    assert status == 200 and one["transcript"]["writes"][-1]["text"].endswith("data: [DONE]\n\n")
    assert one["transcript"]["writes"][-1]["what"].endswith("[DONE]")
    status, _, body, _ = await answer(http, "GET", f"{admin}/journal/999999")
    assert status == 404 and "gone" in body["detail"]
    status, _, body, _ = await answer(http, "GET", f"{admin}/journal", params={"limit": "x"})
    assert status == 400 and "'limit' must be an integer" in body["detail"]


async def test_the_journal_feed_streams_new_exchanges(
    emulator: Emulator, fakegpt: type[FakeGpt], http: aiohttp.ClientSession
) -> None:
    await collect(fakegpt)  # before the feed opens: replayed with since=0
    seen: list[dict[str, Any]] = []

    async def read_feed() -> None:
        decoder = SSEDecoder()
        async with http.get(f"{emulator.url}/_emulator/journal/stream?since=0") as r:
            assert r.content_type == "text/event-stream"
            async for chunk in r.content.iter_any():
                for event in decoder.feed(chunk):
                    assert event.event == "exchange" and event.id
                    seen.append(json.loads(event.data))
                if len(seen) >= 5:
                    return

    reader = asyncio.create_task(read_feed())
    await asyncio.sleep(0.2)
    emulator.use("echo_prompt")
    await collect(fakegpt)  # a conversation answered live
    await asyncio.wait_for(reader, 10)
    paths = [e["path"] for e in seen]
    assert paths[:4] == ["/api/loads", "/auth/login", "/api/auth/session", "/api/conversation"]
    assert paths[4] == "/api/conversation" and seen[4]["scenario"] == "echo_prompt"
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)


async def test_rules_are_listed_and_removed(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    admin = f"{emulator.url}/_emulator"
    for pattern in ("^a", "^b", "^a"):
        await answer(http, "POST", f"{admin}/rules", json={"pattern": pattern, "name": "default"})
    _, _, rules, _ = await answer(http, "GET", f"{admin}/rules")
    assert rules == [{"pattern": p, "scenario": "default"} for p in ("^a", "^b", "^a")]
    _, _, body, _ = await answer(http, "DELETE", f"{admin}/rules", params={"pattern": "^a"})
    assert body == {"removed": 2, "rules": 1}
    _, _, body, _ = await answer(http, "DELETE", f"{admin}/rules")
    assert body == {"removed": 1, "rules": 0}


async def test_metrics_count_requests_faults_and_endings(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0))
    FakeGpt.url = emu.url
    FakeGpt.reset()
    try:
        emu.use("pings_and_comments")
        await collect(FakeGpt)
        emu.use("drop_mid_stream")
        with pytest.raises(IncompleteStreamError):
            await collect(FakeGpt)
    finally:
        FakeGpt.reset()
    await settled(emu.calls("/api/conversation").last)
    async with http.get(f"{emu.url}/_emulator/metrics") as r:
        assert r.content_type == "text/plain"
        text = await r.text()
    lines = set(text.splitlines())
    assert (
        'fakegpt_requests_total{path="/api/conversation",scenario="pings_and_comments",'
        'status="200"} 1'
    ) in lines
    assert 'fakegpt_faults_total{kind="ping"} 4' in lines
    assert 'fakegpt_faults_total{kind="comment"} 2' in lines
    assert 'fakegpt_faults_total{kind="drop"} 1' not in lines  # a drop writes nothing
    assert 'fakegpt_stream_endings_total{ending="completed"} 1' in lines
    assert 'fakegpt_stream_endings_total{ending="dropped"} 1' in lines
    assert "fakegpt_streams_in_flight 0" in lines
    assert "# TYPE fakegpt_requests_total counter" in lines


async def test_bytes_capture_can_be_turned_off(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, capture_bytes=False))
    token = await login(http, emu.url)
    await answer(
        http,
        "POST",
        f"{emu.url}/api/conversation",
        json=CONVERSATION,
        headers={"X-Authorization": f"Bearer {token}"},
    )
    transcript = emu.calls("/api/conversation").last.transcript
    assert transcript is not None and transcript.writes
    assert all(w.data is None and w.size > 0 for w in transcript.writes)


async def test_a_long_stream_keeps_its_first_and_last_bytes(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    emulator.use({"description": "long", "reply": {"text": "word " * 4000, "cut": "word"}})
    await collect(fakegpt)
    call = await settled(emulator.calls("/api/conversation").last)
    transcript = call.transcript
    assert transcript is not None
    kept = sum(len(w.data or b"") for w in transcript.writes)
    assert kept <= 4 * 32 * 1024  # head and tail, a write each may overrun
    assert transcript.omitted_bytes > 0 and transcript.omitted_writes >= 0
    assert transcript.writes[-1].what == Label("end", "[DONE]")


async def test_cors_lets_a_browser_app_stream_from_the_endpoints(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, cors=("http://app.example",)))
    headers = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-authorization",
    }
    async with http.options(f"{emu.url}/api/conversation", headers=headers) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "http://app.example"
        assert "X-Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "Access-Control-Allow-Credentials" not in r.headers
    token = await login(http, emu.url)
    async with http.post(
        f"{emu.url}/api/conversation",
        json=CONVERSATION,
        headers={"X-Authorization": f"Bearer {token}", "Origin": "http://app.example"},
    ) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "http://app.example"
        assert (await r.read()).endswith(b"data: [DONE]\n\n")
    async with http.get(f"{emu.url}/api/loads", headers={"Origin": "http://evil.example"}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers
    async with http.get(f"{emu.url}/_emulator", headers={"Origin": "http://app.example"}) as r:
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers


async def test_without_cors_there_are_no_cors_headers(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emulator.url}/api/loads", headers={"Origin": "http://x.example"}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers


def test_a_transcript_keeps_both_ends_and_counts_what_it_keeps() -> None:
    from emulator.state.transcript import Transcript

    transcript = Transcript(keep_bytes=100, keep_writes=3)
    for i in range(10):
        transcript.wrote(
            i * 40,
            float(i),
            bytes([65 + i]) * 40,
            Label("fault", "drop", 3) if i == 9 else Label("event", "message"),
        )
    writes = transcript.writes
    # The first writes up to 100 bytes (three of 40: the third crosses it), and the last ones
    # within 100 bytes; what lies between is counted.
    assert [w.offset for w in writes] == [0, 40, 80, 320, 360]
    assert transcript.omitted_writes == 5 and transcript.omitted_bytes == 200
    assert [w.data for w in writes][-1] == b"J" * 40
    assert transcript.faults == {"drop": 1}
    assert transcript.kept_bytes(64) == sum(len(w.data or b"") + 64 for w in writes)
    assert Transcript(capture=False).kept_bytes(64) == 0
