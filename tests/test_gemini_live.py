"""Gemini Live over a real WebSocket with TLS, judged by the official SDK (google-genai's
``client.aio.live.connect``, unchanged but for ``SSL_CERT_FILE``): text, synthesized audio
with its transcription, a tool loop on one connection, a refused handshake, an error and a
drop as close codes, spoken turns ended by server VAD, barge-in, and the API's 1007 for a
message it cannot read."""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets
import websockets.exceptions
from google import genai
from google.genai import errors, types

from emulator import Emulator, EmulatorConfig, builtin_scenarios, serve
from emulator.conformance.sdks import gemini_live_sdk
from emulator.http.tls import local_tls
from emulator.protocol.audio import SAMPLES_PER_CHAR, speech
from emulator.scenario.text import reply_text
from emulator.state.config import Tls
from tests.helpers import assert_report_card

MODEL = "gemini-live-2.5-flash"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return local_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Tls:
    """The one change a google-genai user makes: trust the emulator's CA."""
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca)
    return tls


@pytest_asyncio.fixture
async def emulator(trusted: Tls) -> AsyncIterator[Emulator]:
    async with serve(EmulatorConfig(speed=0, tls=trusted)) as running:
        yield running


def _client(url: str, scenario: str | None = None) -> genai.Client:
    headers = {"X-Emulator-Scenario": scenario} if scenario else {}
    return genai.Client(api_key="k", http_options={"base_url": url, "headers": headers})


def _turn(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


async def _text_turn(url: str, scenario: str | None, prompt: str = "hi") -> list[Any]:
    """Every message of one text turn, to turnComplete."""
    config = {"response_modalities": ["TEXT"]}
    async with _client(url, scenario).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=_turn(prompt), turn_complete=True)
        return [m async for m in session.receive()]


async def test_a_text_turn_is_the_scenario_s_text_with_its_usage(emulator: Emulator) -> None:
    messages = await _text_turn(emulator.url, None)
    assert "".join(m.text or "" for m in messages) == "Hello! How can I help you today?"
    last = messages[-1]
    assert last.server_content.turn_complete
    assert last.usage_metadata.response_token_count == len(messages) - 2  # pieces
    assert any(m.server_content and m.server_content.generation_complete for m in messages)


async def test_an_audio_turn_speaks_pcm_sized_to_its_transcription(emulator: Emulator) -> None:
    config = {"response_modalities": ["AUDIO"], "output_audio_transcription": {}}
    async with _client(emulator.url).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=_turn("hi"), turn_complete=True)
        messages = [m async for m in session.receive()]
    audio = b"".join(m.data or b"" for m in messages)
    spoken = "".join(m.server_content.output_transcription.text for m in messages
                     if m.server_content and m.server_content.output_transcription)  # fmt: skip
    assert spoken == "Hello! How can I help you today?"
    assert len(audio) == len(spoken) * SAMPLES_PER_CHAR * 2  # PCM16 at 24 kHz
    pieces = [m.server_content.output_transcription.text for m in messages
              if m.server_content and m.server_content.output_transcription]  # fmt: skip
    assert audio == b"".join(speech(p) for p in pieces)  # deterministic, piece by piece
    mimes = {p.inline_data.mime_type for m in messages if m.server_content
             and m.server_content.model_turn for p in m.server_content.model_turn.parts}  # fmt: skip
    assert mimes == {"audio/pcm;rate=24000"}


async def test_unicode_is_the_same_text_as_every_dialect_s(emulator: Emulator) -> None:
    messages = await _text_turn(emulator.url, "unicode_text")
    expected = reply_text(builtin_scenarios()["unicode_text"].reply, "hi")
    assert "".join(m.text or "" for m in messages) == expected


async def test_an_agent_loop_runs_on_one_connection(emulator: Emulator) -> None:
    tools = [{"function_declarations": [{"name": "get_weather", "description": "weather"},
                                        {"name": "get_forecast", "description": "forecast"}]}]  # fmt: skip
    config = {"response_modalities": ["TEXT"], "tools": tools}
    calls: list[str] = []
    text = ""
    client = _client(emulator.url, "agent_loop")
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=_turn("What is the weather in Paris?"),
                                          turn_complete=True)  # fmt: skip
        done = False
        for _ in range(5):  # a turn per receive(), ended by turnComplete
            async for message in session.receive():
                if message.tool_call:
                    answers = []
                    for call in message.tool_call.function_calls or ():
                        assert call.id and call.name
                        calls.append(call.name)
                        answers.append(types.FunctionResponse(id=call.id, name=call.name,
                                                              response={"result": "sunny"}))  # fmt: skip
                    await session.send_tool_response(function_responses=answers)
                text += message.text or ""
                done = done or bool(
                    message.server_content and message.server_content.turn_complete
                )
            if done:
                break
    assert calls == ["get_weather", "get_forecast"]
    last = builtin_scenarios()["agent_loop"].turns[-1].scenario
    assert text == reply_text(last.reply, "")
    sessions = [c for c in emulator.requests if c.path == PATH.replace("v1beta", "v1")]
    assert len(sessions) == 1 and sessions[0].status == 101  # one connection for the loop


async def test_a_rate_limited_scenario_refuses_the_handshake(emulator: Emulator) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await _text_turn(emulator.url, "http_429_rate_limited")
    assert refused.value.response.status_code == 429
    body = json.loads(refused.value.response.body or b"{}")
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(("name", "code"), [("in_stream_error", 1011), ("drop_mid_stream", 1006),
                                            ("ws_close_code", 1011)])  # fmt: skip
async def test_a_broken_turn_is_the_sdk_s_error_never_a_completed_turn(
    emulator: Emulator, name: str, code: int
) -> None:
    with pytest.raises(errors.APIError) as failed:
        await _text_turn(emulator.url, name)
    assert failed.value.code == code


async def _until_closed(url: str, scenario: str, seen: list[Any]) -> None:
    config = {"response_modalities": ["TEXT"]}
    async with _client(url, scenario).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=_turn("hi"), turn_complete=True)
        async for message in session.receive():
            seen.append(message)  # noqa: PERF401 - kept as each comes: the close raises


async def test_a_scripted_close_is_told_first_with_go_away(emulator: Emulator) -> None:
    seen: list[Any] = []
    with pytest.raises(errors.APIError) as closed:
        await _until_closed(emulator.url, "ws_close_code", seen)
    assert closed.value.code == 1011
    assert seen[-1].go_away is not None and seen[-1].go_away.time_left is not None
    errored: list[Any] = []
    with pytest.raises(errors.APIError):  # an error fault's close is no session's end
        await _until_closed(emulator.url, "in_stream_error", errored)
    assert errored and not any(m.go_away for m in errored)


async def test_an_unknown_message_crashes_this_sdk_s_reader(emulator: Emulator) -> None:
    # A top-level key google-genai does not know leaves its converted message empty, and it
    # then compares a missing error code: what the report card calls "failed differently".
    with pytest.raises(TypeError, match="not supported between"):
        await _text_turn(emulator.url, "unknown_event")


def test_the_card_s_pieces_are_what_a_correct_client_reads() -> None:
    from emulator.dialects.gemini_live.api import read_messages

    lines = [{"setupComplete": {}}, {"serverContent": {"modelTurn": {"parts": [{"text": "Hi"}]}}},
             {"serverContent": {"turnComplete": True}}]  # fmt: skip
    reading = read_messages(b"\n".join(json.dumps(x).encode() for x in lines))
    assert reading.text == "Hi" and reading.finished


# -- the raw protocol, over a websockets client that trusts the CA --------------------------


def _wss(url: str) -> str:
    return url.replace("https://", "wss://") + PATH


def _ssl(tls: Tls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=tls.ca)


async def _drained(ws: Any) -> None:
    for _ in range(100):
        await ws.recv()


async def _closed_with(emulator: Emulator, tls: Tls, *sent: str) -> tuple[int, str]:
    async with websockets.connect(_wss(emulator.url), ssl=_ssl(tls),
                                  additional_headers={"x-goog-api-key": "k"}) as ws:  # fmt: skip
        for message in sent:
            await ws.send(message)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await _drained(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (["{not json"], "Invalid JSON payload received."),
        (['{"client_content": {"turns": []}}'], "setup must come first"),
        (['{"setup": {}}'], "setup.model is required"),
        (
            ['{"setup": {"model": "m"}}', '{"client_contentt": {}}'],
            'Unknown name "client_contentt"',
        ),
    ],
)
async def test_a_message_the_api_cannot_read_closes_with_1007(
    emulator: Emulator, trusted: Tls, sent: list[str], reason: str
) -> None:
    code, said = await _closed_with(emulator, trusted, *sent)
    assert code == 1007 and reason in said


async def test_no_key_is_the_api_s_403_at_the_handshake(emulator: Emulator, trusted: Tls) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(_wss(emulator.url), ssl=_ssl(trusted)):
            pass
    assert refused.value.response.status_code == 403


def _audio(pcm: bytes) -> str:
    blob = {"data": base64.urlsafe_b64encode(pcm).decode(), "mime_type": "audio/pcm;rate=24000"}
    return json.dumps({"realtime_input": {"audio": blob}})


def _silence(ms: int) -> bytes:
    return b"\0\0" * (24 * ms)


async def _until_turn_complete(ws: Any) -> list[dict[str, Any]]:
    said = []
    for _ in range(1000):
        message = json.loads(await ws.recv())
        said.append(message)
        if message.get("serverContent", {}).get("turnComplete"):
            break
    return said


async def test_speech_then_silence_is_a_turn_server_vad_ends(
    emulator: Emulator, trusted: Tls
) -> None:
    async with websockets.connect(_wss(emulator.url), ssl=_ssl(trusted),
                                  additional_headers={"x-goog-api-key": "k"}) as ws:  # fmt: skip
        setup = {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]},
                 "realtimeInputConfig": {"automaticActivityDetection":
                                         {"silenceDurationMs": 300}}}  # fmt: skip
        await ws.send(json.dumps({"setup": setup}))
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
        await ws.send(_audio(_silence(500)))  # silence alone starts no turn
        await ws.send(_audio(speech("hello there")))
        await ws.send(_audio(_silence(200)))  # not yet the 300 ms that end it
        await ws.send(_audio(_silence(200)))
        said = await _until_turn_complete(ws)
    text = "".join(p.get("text", "") for m in said
                   for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", []))  # fmt: skip
    assert text == "Hello! How can I help you today?"
    entry = emulator.requests[-1]
    assert entry.transcript is not None
    writes = entry.transcript.to_dict()["writes"]
    assert sum(w["what"] == "client message" for w in writes) == 5, [w["what"] for w in writes]


async def test_an_activity_end_ends_a_turn_when_detection_is_off(
    emulator: Emulator, trusted: Tls
) -> None:
    async with websockets.connect(_wss(emulator.url), ssl=_ssl(trusted),
                                  additional_headers={"x-goog-api-key": "k"}) as ws:  # fmt: skip
        setup = {"model": MODEL, "realtimeInputConfig":
                 {"automaticActivityDetection": {"disabled": True}}}  # fmt: skip
        await ws.send(json.dumps({"setup": setup}))
        await ws.recv()
        await ws.send(json.dumps({"realtime_input": {"activityStart": {}}}))
        await ws.send(_audio(_silence(300)))  # no detection: quiet audio is still the turn's
        await ws.send(json.dumps({"realtime_input": {"activityEnd": {}}}))
        said = await _until_turn_complete(ws)
    assert said[-1]["usageMetadata"]["responseTokenCount"] > 0


async def test_the_user_speaking_over_the_model_interrupts_it(trusted: Tls) -> None:
    headers = {"x-goog-api-key": "k", "X-Emulator-Scenario": "paced_50_tps"}
    async with (
        serve(EmulatorConfig(speed=1.0, tls=trusted)) as emulator,
        websockets.connect(
            _wss(emulator.url), ssl=_ssl(trusted), additional_headers=headers
        ) as ws,
    ):
        await ws.send(json.dumps({"setup": {"model": MODEL}}))
        await ws.recv()
        await ws.send(json.dumps({"client_content": {"turns": [_turn("hi")],
                                                     "turnComplete": True}}))  # fmt: skip
        first = json.loads(await ws.recv())
        assert "serverContent" in first  # the model has begun
        await ws.send(_audio(speech("wait")))
        said = [first]
        for _ in range(1000):
            said.append(json.loads(await ws.recv()))
            if said[-1].get("serverContent", {}).get("interrupted"):
                break
    assert said[-1] == {"serverContent": {"interrupted": True}}
    assert not any(m.get("serverContent", {}).get("turnComplete") for m in said)


async def test_the_readme_s_card_is_what_a_run_finds(trusted: Tls) -> None:
    await assert_report_card("gemini-live card", "gemini-live", gemini_live_sdk, tls=trusted)


def test_every_version_s_path_is_served() -> None:
    from emulator.dialects.gemini_live.api import PATHS

    assert {p.split(".")[3] for p in PATHS} == {"v1", "v1beta", "v1alpha"}
    assert sum(p.endswith("Constrained") for p in PATHS) == 3


def test_the_readme_s_live_test_passes(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "live.connect" in b)  # fmt: skip
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_live_readme=block)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=1)


async def test_a_run_of_slashes_in_the_path_is_one(emulator: Emulator, trusted: Tls) -> None:
    # @google/genai (Node) joins its base URL and the path into //ws/…
    url = emulator.url.replace("https://", "wss://") + "/" + PATH
    async with websockets.connect(url, ssl=_ssl(trusted),
                                  additional_headers={"x-goog-api-key": "k"}) as ws:  # fmt: skip
        await ws.send(json.dumps({"setup": {"model": MODEL}}))
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
