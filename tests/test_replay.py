"""Record and replay over real sockets: every shipped scenario is played, captured from the
journal, imported, replayed, and captured again; the two captures are the same bytes in the
same writes, and a correct client reaches the outcome the import stated."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

from emulator import EmulatorConfig, Limits, builtin_scenarios, load_scenario
from emulator.capture import import_capture
from emulator.conformance.clients import python_client
from emulator.conformance.judge import judge
from emulator.engine.replay import event_starts
from emulator.protocol.sse import SSEFormat
from emulator.pytest_plugin import EmulatorFactory
from emulator.scenario.dump import scenario_to_toml
from emulator.server import Emulator
from emulator.strategies import scenarios
from tests.helpers import conversation, login

LIMITS = Limits(transcript_bytes=64 * 1024 * 1024, transcript_writes=1_000_000)
SILENCE = 0.6  # the raw reader leaves after this much silence: a capture of a stall ends


async def fresh(factory: EmulatorFactory, **config: object) -> tuple[Emulator, str]:
    emulator = await factory(EmulatorConfig(speed=0, limits=LIMITS, **config))  # type: ignore[arg-type]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        return emulator, await login(http, emulator.url)


async def read_raw(
    emulator: Emulator, token: str, scenario: str | None, silence: float | None = SILENCE
) -> None:
    """One conversation read to its end, or until ``silence`` (None: to the end of the
    body only, for streams that never go silent; bounded: 10 s in all)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
    body = json.dumps(conversation("Tell me something.")).encode()
    extra = f"X-Emulator-Scenario: {scenario}\r\n" if scenario else ""
    writer.write(
        (
            f"POST /api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\n{extra}Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        + body
    )
    until = time.monotonic() + 10
    try:
        while time.monotonic() < until:
            wait = silence if silence is not None else max(0.01, until - time.monotonic())
            if not await asyncio.wait_for(reader.read(65536), wait):
                break
    except (TimeoutError, ConnectionError):
        pass
    writer.close()


async def settled(emulator: Emulator) -> list[bytes]:
    """The writes the last conversation's transcript holds, once the server is done with it."""
    call = emulator.calls("/api/conversation").last
    for _ in range(200):  # bounded: 10 s
        if call.transcript is not None and call.transcript.status is not None:
            break
        await asyncio.sleep(0.05)
    assert call.transcript is not None and call.transcript.status is not None
    return [w.data for w in call.transcript.writes if w.data]  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
async def test_every_shipped_scenario_survives_capture_import_and_replay(
    emulator_factory: EmulatorFactory, name: str, tmp_path: Path
) -> None:
    first, token = await fresh(emulator_factory)
    await read_raw(first, token, name)
    captured = await settled(first)
    call = first.calls("/api/conversation").last
    async with aiohttp.ClientSession() as http:
        url = f"{first.url}/_emulator/journal/{call.id}/recording"
        async with http.get(url) as r:
            assert r.status == 200 and r.content_type == "application/jsonl"
            jsonl = await r.read()
    imported = import_capture(jsonl, "capture.jsonl", "replayed")
    path = tmp_path / "replayed.toml"
    path.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.recording == imported.scenario.recording

    second, token = await fresh(emulator_factory, default=scenario)
    await read_raw(second, token, None)
    assert await settled(second) == captured  # the same bytes, write for write
    again = second.calls("/api/conversation").last
    assert again.status == call.status

    # A correct client reaches what the import says it reaches.
    client = python_client("emulator.conformance.clients:fakegpt")
    outcome = await client(second.url, "Tell me something.", 0.5)
    verdict = judge(scenario, "Tell me something.", outcome)
    assert verdict.passed, (scenario.expect, outcome)


async def test_faults_apply_on_top_of_a_recording(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    first, token = await fresh(emulator_factory)
    await read_raw(first, token, "default")
    captured = b"".join(await settled(first))
    recording = first.calls("/api/conversation").last.transcript.recording()  # type: ignore[union-attr]
    assert recording is not None
    starts = event_starts(captured)
    base = import_capture(
        b"\n".join(json.dumps({"at": c.at, "text": c.data.decode()}).encode()
                   for c in recording.chunks),
        "c.jsonl", "r",
    ).scenario  # fmt: skip
    table = {
        "description": "a recording with faults",
        "recording": {"chunks": [{"at": c.at, "text": c.data.decode()} for c in recording.chunks]},
        "faults": [{"kind": "comment", "at": 2, "text": " injected"}, {"kind": "drop", "at": 4}],
        "wire": {"chunk_size": 7},
    }
    second, token = await fresh(emulator_factory, default=table)
    await read_raw(second, token, None)
    writes = await settled(second)
    sent = b"".join(writes)
    # Events 0 and 1 as captured, the comment, events 2 and 3, then the drop.
    comment = SSEFormat().comment(" injected")
    assert sent == captured[: starts[2]] + comment + captured[starts[2] : starts[4]]
    assert max(len(w) for w in writes) <= 7  # split on top of the recording's own writes
    ending = second.calls("/api/conversation").last.ending
    assert ending is not None and ending.kind == "dropped"
    assert base.expect.outcome == "text"


@settings(
    max_examples=max(10, settings.default.max_examples // 4),  # 15 here, 100 in CI
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(scenario=scenarios())
def test_generated_scenarios_survive_the_round_trip(
    scenario: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Hypothesis: any generated stream, played, captured and imported, replays the same."""
    asyncio.run(_round_trip(scenario, tmp_path_factory.mktemp("rt")))


async def _round_trip(scenario: object, folder: Path) -> None:
    from emulator.server import serve

    config = EmulatorConfig(speed=0, limits=LIMITS, default=scenario)  # type: ignore[arg-type]
    async with serve(config) as first:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = await login(http, first.url)
        # A generated stream never goes silent: read it to its end, however slow the
        # machine (a silence cut-off would end the capture early under load).
        await read_raw(first, token, None, silence=None)
        captured = await settled(first)
        recording = first.calls("/api/conversation").last.transcript.recording()  # type: ignore[union-attr]
    assert recording is not None
    lines = [json.dumps({"status": recording.status, "headers": dict(recording.headers)})]
    lines += [json.dumps({"at": c.at, "hex": c.data.hex()}) for c in recording.chunks]
    lines.append(json.dumps({"ending": recording.ending}))
    imported = import_capture("\n".join(lines).encode(), "c.jsonl", "rt")
    path = folder / "rt.toml"
    path.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    replay = load_scenario(path)
    async with serve(EmulatorConfig(speed=0, limits=LIMITS, default=replay)) as second:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = await login(http, second.url)
        await read_raw(second, token, None, silence=None)
        assert await settled(second) == captured
