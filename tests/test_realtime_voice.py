"""A spoken turn's input transcription, as a scenario scripts it (``[reply] heard``), on
both realtime APIs, judged by their official SDKs over real sockets: the transcription
events a session that asks for them gets, the conversation keeping the words, and none
for a session that does not ask."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets.sync.client

from emulator import EmulatorConfig, EmulatorServer
from emulator.http.tls import local_tls
from emulator.protocol.audio import speech
from tests.test_realtime import _until_done

HEARD = "What's the weather in Paris?"
VOICE = {
    "description": "A spoken question, transcribed as scripted, and its answer.",
    "reply": {"text": "It is sunny in Paris.", "heard": HEARD},
}
#: A microphone's turn: quiet, speech, then the quiet that ends it (server VAD).
SPOKEN = b"\0" * 4800 + speech("a question about the weather") + b"\0" * 48 * 600


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as running:
        running.use(VOICE)
        yield running


def _speak(connection: Any) -> None:
    for i in range(0, len(SPOKEN), 9600):
        connection.input_audio_buffer.append(audio=base64.b64encode(SPOKEN[i : i + 9600]).decode())


def _session(transcribe: bool) -> dict[str, Any]:
    audio = {"input": {"transcription": {"model": "gpt-4o-transcribe"}}} if transcribe else {}
    return {"type": "realtime", "output_modalities": ["text"], "audio": audio}


def test_openai_realtime_transcribes_a_spoken_turn_and_keeps_its_words(
    server: EmulatorServer,
) -> None:
    with (
        openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test") as client,
        client.realtime.connect(model="gpt-realtime") as connection,
    ):
        connection.session.update(session=_session(True))  # type: ignore[arg-type]
        _speak(connection)
        events = _until_done(connection)
        committed = next(e for e in events if e.type == "input_audio_buffer.committed")
        deltas = [e for e in events
                  if e.type == "conversation.item.input_audio_transcription.delta"]  # fmt: skip
        completed = next(e for e in events
                         if e.type == "conversation.item.input_audio_transcription.completed")  # fmt: skip
        assert "".join(e.delta for e in deltas) == HEARD and len(deltas) == 5
        assert {e.item_id for e in (*deltas, completed)} == {committed.item_id}
        assert completed.transcript == HEARD and completed.content_index == 0
        assert completed.usage.type == "tokens" and completed.usage.output_tokens == 5
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "It is sunny in Paris." and events[-1].response.status == "completed"
        # The conversation keeps what was said.
        connection.conversation.item.retrieve(item_id=committed.item_id)
        retrieved = next(e for e in connection if e.type == "conversation.item.retrieved")
        assert retrieved.item.content[0].transcript == HEARD


def test_openai_realtime_sends_no_transcription_unless_asked(server: EmulatorServer) -> None:
    with (
        openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test") as client,
        client.realtime.connect(model="gpt-realtime") as connection,
    ):
        connection.session.update(session=_session(False))  # type: ignore[arg-type]
        _speak(connection)
        events = _until_done(connection)
    assert not [e for e in events if "transcription" in e.type]
    assert events[-1].response.status == "completed"


def test_gemini_live_tells_a_spoken_turn_s_words_first(tmp_path: Path) -> None:
    # Read here with websockets (what google-genai reads with) over TLS, as the API is.
    tls = local_tls(tmp_path)
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    with EmulatorServer(EmulatorConfig(speed=0, tls=tls)) as running:
        running.use(VOICE)
        url = running.url.replace("https", "wss", 1) + path + "?key=test"
        trusted = ssl.create_default_context(cafile=tls.ca)
        for transcribe in (True, False):
            setup: dict[str, Any] = {"model": "models/gemini-live-2.5-flash",
                                     "generationConfig": {"responseModalities": ["TEXT"]}}  # fmt: skip
            if transcribe:
                setup["inputAudioTranscription"] = {}
            with websockets.sync.client.connect(url, ssl=trusted) as ws:
                ws.send(json.dumps({"setup": setup}))
                assert "setupComplete" in json.loads(ws.recv(timeout=5))
                for i in range(0, len(SPOKEN), 9600):
                    chunk = base64.b64encode(SPOKEN[i : i + 9600]).decode()
                    ws.send(json.dumps({"realtimeInput": {"audio": {
                        "data": chunk, "mimeType": "audio/pcm;rate=24000"}}}))  # fmt: skip
                said = []
                while not said or "turnComplete" not in said[-1].get("serverContent", {}):
                    said.append(json.loads(ws.recv(timeout=5)))
            heard = [m["serverContent"]["inputTranscription"]["text"] for m in said
                     if "inputTranscription" in m.get("serverContent", {})]  # fmt: skip
            assert heard == ([HEARD] if transcribe else [])
            text = "".join(p.get("text", "") for m in said
                           for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", []))  # fmt: skip
            assert text == "It is sunny in Paris."
