"""The one request lifecycle (emulator.http.lifecycle) and the answer skeleton every
dialect shares (emulator.dialects.speaker.Speaker.answer), over real sockets."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from emulator import Emulator
from emulator.dialects.registry import DIALECTS
from emulator.dialects.speaker import Incoming
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
