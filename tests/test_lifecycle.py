"""The one request lifecycle (emulator.http.lifecycle) and the answer skeleton every
dialect shares (emulator.dialects.speaker.Speaker.answer), over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, EmulatorConfig, Limits
from emulator.dialects.registry import DIALECTS
from emulator.dialects.speaker import Incoming
from emulator.pytest_plugin import EmulatorFactory
from tests.property.test_turns import requests

KEYED = ["openai-chat", "openai-responses", "anthropic", "gemini", "bedrock"]


async def _post(url: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url + path, json=body,
                                                           headers=headers) as r:  # fmt: skip
        return r.status, await r.read()


@pytest.mark.parametrize("dialect", KEYED)
async def test_a_reply_too_long_to_make_is_each_apis_own_400(
    emulator: Emulator, dialect: str
) -> None:
    # Making the reply text is part of the skeleton: its limit is a 400 on every API, in
    # that API's error shape (it was a 500 everywhere but FakeGpt).
    emulator.use({"description": "echo, repeated", "reply": {"echo": True, "repeat": 3_000_000}})
    path, headers, body = requests("Tell me something.", [])[dialect]
    status, raw = await _post(emulator.url, path, headers, body)
    assert status == 400
    message = DIALECTS[dialect].errors.message(raw)
    assert message is not None and "the limit is 4,194,304" in message


@pytest.mark.parametrize("dialect", KEYED)
async def test_a_scenario_that_does_not_apply_is_refused_by_the_lifecycle_in_the_apis_words(
    emulator: Emulator, dialect: str
) -> None:
    emulator.use("login_rejected")  # FakeGpt's login: no API with a key has one
    path, headers, body = requests("Tell me something.", [])[dialect]
    status, raw = await _post(emulator.url, path, headers, body)
    message = DIALECTS[dialect].errors.message(raw)
    assert status == 400 and message is not None
    assert message.startswith(
        f"scenario 'login_rejected' does not apply to {DIALECTS[dialect].title}: it acts on the FakeGpt login calls"
    )


def test_a_request_as_a_dialect_reads_it() -> None:
    plain = Incoming("POST", "/p", {}, {"Content-Type": "Application/JSON; charset=utf-8"})
    assert plain.content_type == "application/json"
    assert Incoming("GET", "/p", {}, {}).content_type == "application/octet-stream"
    cookies = Incoming("GET", "/p", {}, {"Cookie": "credential=abc; other=1"}).cookies
    assert cookies == {"credential": "abc", "other": "1"}
    assert Incoming("GET", "/p", {}, {"Cookie": 'bad="'}).cookies == {}


@pytest.mark.parametrize("dialect", KEYED)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_lone_surrogate_is_each_apis_own_400_naming_the_field(
    emulator: Emulator, dialect: str, stream: bool
) -> None:
    # JSON may escape half of a surrogate pair ("\ud800"): such a string is no text, and no
    # answer could carry it back (it was a 500 with echo_prompt on every API).
    emulator.use("echo_prompt")
    path, headers, body = requests("hi\ud800", [])[dialect]
    if stream and dialect == "gemini":
        path = path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"
    elif stream and dialect == "bedrock":
        path = path.replace("/converse", "/converse-stream")
    elif stream:
        body = {**body, "stream": True}
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate goes as its \ud800 escape
    async with aiohttp.ClientSession() as http, http.post(emulator.url + path, data=raw,
            headers={**headers, "Content-Type": "application/json"}) as r:  # fmt: skip
        status, answer = r.status, await r.read()
    message = DIALECTS[dialect].errors.message(answer)
    assert status == 400 and message is not None, answer
    assert "holds a lone surrogate" in message
    assert message.split(": ")[1].split(" holds")[0] in (
        "messages[0].content", "input[0].content", "contents[0].parts[0].text",
        "messages[0].content[0].text",
    )  # fmt: skip
    # A pair is text: the same request with a whole character is answered.
    good = json.dumps(requests("hi \U0001f44b", [])[dialect][2]).encode()
    assert b"\\ud83d\\udc4b" in good
    async with aiohttp.ClientSession() as http, http.post(emulator.url + requests("", [])[dialect][0],
            data=good, headers={**headers, "Content-Type": "application/json"}) as r:  # fmt: skip
        assert r.status == 200


async def test_a_lone_surrogate_on_fakegpt_and_in_a_registered_scenario_is_refused(
    emulator: Emulator,
) -> None:
    from tests.helpers import CONVERSATION, login

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
        body = json.loads(json.dumps(CONVERSATION))
        body["messages"][0]["content"]["parts"] = ["hi\ud800"]
        async with http.post(f"{emulator.url}/api/conversation", data=json.dumps(body),
                             headers={"X-Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"}) as r:  # fmt: skip
            assert r.status == 400
            assert (await r.json())["detail"].startswith("messages[0].content.parts[0] holds")
        # A scenario that could never be served is refused when registered.
        scenario = {"description": "d", "reply": {"text": "bad \ud800 text"}}
        async with http.post(f"{emulator.url}/_emulator/scenarios",
                             json={"name": "bad", "scenario": scenario}) as r:  # fmt: skip
            assert r.status == 400
            assert (
                "[reply.text] holds a lone surrogate at character 4" in (await r.json())["detail"]
            )


@pytest.mark.parametrize("dialect", KEYED)
async def test_a_body_over_the_limit_is_refused_in_the_apis_own_shape(
    emulator_factory: EmulatorFactory, dialect: str
) -> None:
    # Refused before a byte of it is read, and before the route reads anything: still the
    # API's own error, not the emulator's {"detail"}.
    emulator = await emulator_factory(EmulatorConfig(speed=0, max_body=2_000))
    path, headers, body = requests("x" * 3_000, [])[dialect]
    async with aiohttp.ClientSession() as http, http.post(emulator.url + path, json=body,
                                                           headers=headers) as r:  # fmt: skip
        status, answer, sent = r.status, await r.read(), r.headers
    message = DIALECTS[dialect].errors.message(answer)
    assert status == 413 and message == "request body is larger than 2,000 bytes"
    if dialect == "bedrock":  # what botocore raises by name
        assert sent["x-amzn-ErrorType"] == "ValidationException"


@pytest.mark.parametrize(("dialect", "status"), [("openai-chat", 503), ("anthropic", 529)])
async def test_past_the_stream_cap_a_request_gets_the_apis_overloaded_error(
    emulator_factory: EmulatorFactory, dialect: str, status: int
) -> None:
    emulator = await emulator_factory(EmulatorConfig(speed=0, limits=Limits(streams=2)))
    path, headers, body = requests("Tell me something.", [])[dialect]
    stalled = {**headers, "X-Emulator-Scenario": "stall_silent"}  # 20 s of silence
    async with aiohttp.ClientSession() as http:
        held = [await http.post(emulator.url + path, json={**body, "stream": True},
                                headers=stalled) for _ in range(2)]  # fmt: skip
        assert [r.status for r in held] == [200, 200]  # both streaming, both silent now
        async with http.post(emulator.url + path, json=body, headers=headers) as r:
            refused, answer, retry = r.status, await r.read(), r.headers.get("Retry-After")
        message = DIALECTS[dialect].errors.message(answer)
        assert (refused, retry) == (status, "1") and message is not None
        assert "overloaded" in message.lower()
        assert emulator.calls(path).last.detail == "refused: 2 answers in flight (limits.streams)"
        for r in held:  # the clients leave: their streams stop, and the cap has room again
            r.close()
        for _ in range(100):
            async with http.post(emulator.url + path, json=body, headers=headers) as r:
                if r.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert r.status == 200


async def test_planning_for_a_client_that_left_is_skipped(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # long_line costs a worker thread a tenth of a second or more to plan; a burst of
    # clients that leave at once must not leave that work queued behind them.
    import socket
    import struct

    from emulator.dialects import speaker

    planned = []
    real = speaker.prepare

    def counted(*args: Any) -> Any:
        planned.append(1)
        return real(*args)

    monkeypatch.setattr(speaker, "prepare", counted)
    emulator = await emulator_factory(EmulatorConfig(speed=0))
    host, port = emulator.url.removeprefix("http://").split(":")
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                      "stream": True}).encode()  # fmt: skip
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            f"sk-t\r\nX-Emulator-Scenario: long_line\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n").encode()  # fmt: skip
    for _ in range(40):  # each sends its request and resets the connection at once
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head + raw)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    for _ in range(400):  # every request ended (bounded: 20 s)
        calls = emulator.calls("/v1/chat/completions")
        if len(calls) == 40 and all(c.duration is not None for c in calls):
            break
        await asyncio.sleep(0.05)
    assert len(calls) == 40 and all(c.duration is not None for c in calls)
    # A few were taken up before their client's reset was seen; the rest were skipped.
    assert len(planned) < 10, len(planned)
    assert sum(c.detail == "the client went away" for c in calls) > 30
