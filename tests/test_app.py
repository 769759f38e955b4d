"""emulator.http: the four endpoints on the wire, bad input, auth and the admin API."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from emulator import Emulator, EmulatorConfig
from emulator.core.signing import Signer
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import CONVERSATION, answer, converse, login


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


# -- faithful shapes ---------------------------------------------------------------


async def test_loads_lists_hex_token_ids_with_changing_counts(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    seen = []
    for t in ("1", "2", "3"):
        status, ctype, body, _ = await answer(
            http, "GET", f"{emulator.url}/api/loads", params={"t": t}
        )
        assert (status, ctype) == (200, "application/json")
        assert all(re.fullmatch("[0-9a-f]{32}", a["token_id"]) for a in body["loads"])
        assert all(isinstance(a["count"], int) and a["count"] >= 0 for a in body["loads"])
        seen.append(body["loads"])
    assert [a["token_id"] for a in seen[0]] == [a["token_id"] for a in seen[2]]
    assert len({tuple(a["count"] for a in s) for s in seen}) > 1


async def test_login_sets_the_credential_cookie_and_session_gives_a_token(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, body, _ = await answer(http, "GET", f"{emulator.url}/api/auth/session")
    assert (status, body) == (200, {})  # not signed in: the NextAuth convention
    async with http.get(f"{emulator.url}/api/loads") as r:
        key = (await r.json())["loads"][0]["token_id"]
    async with http.post(
        f"{emulator.url}/auth/login", data={"token_key": key, "session_password": "x"}
    ) as r:
        assert r.status == 200 and await r.json() == {"code": 0, "url": "/"}
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("credential=") and "Path=/" in cookie and "HttpOnly" in cookie
    status, _, body, _ = await answer(http, "GET", f"{emulator.url}/api/auth/session")
    assert status == 200
    assert body["accessToken"].startswith("eyJ") and body["authProvider"] == "auth0"
    assert body["user"]["id"].startswith("user-") and body["user"]["image"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", body["expires"])


async def test_conversation_streams_the_captured_event_shapes(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    token = await login(http, emulator.url)
    async with http.post(
        f"{emulator.url}/api/conversation",
        json=CONVERSATION,
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        raw = await r.read()
    blocks = raw.decode().split("\n\n")
    assert blocks[-1] == "" and blocks[-2] == "data: [DONE]"
    events = [json.loads(b.removeprefix("data: ")) for b in blocks[:-2]]
    messages = [e["message"] for e in events if "message" in e]
    assert len({m["id"] for m in messages}) == 1  # one message id per reply
    texts = [m["content"]["parts"][0] for m in messages]
    assert texts[0] == "" and texts[-1] == "Hello! How can I help you today?"
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))  # cumulative
    final = messages[-1]
    assert final["status"] == "finished_successfully" and final["end_turn"] is True
    assert final["metadata"]["finish_details"] == {"type": "stop", "stop_tokens": [100260]}
    assert all(m["metadata"]["message_type"] == "next" for m in messages)
    completion = events[-1]
    assert completion["is_completion"] is True and completion["message_id"] == final["id"]
    assert completion["moderation_response"]["flagged"] is False


async def test_ids_are_fresh_uuid4s_even_when_the_global_random_is_seeded(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    token = await login(http, emulator.url)
    seen: list[tuple[str, str, str]] = []
    for _ in range(3):
        random.seed(1234)  # as hypothesis does before each example
        _, _, raw, _ = await converse(http, emulator.url, token)
        events = [json.loads(b.removeprefix("data: ")) for b in raw.split("\n\n")[:-2]]
        message = events[-2]["message"]
        completion = events[-1]
        seen.append(
            (
                message["id"],
                completion["conversation_id"],
                completion["moderation_response"]["moderation_id"],
            )
        )
    for message_id, conversation_id, moderation_id in seen:
        parsed = uuid.UUID(message_id)
        assert parsed.version == 4 and str(parsed) == message_id
        assert str(uuid.UUID(conversation_id)) == conversation_id
        assert re.fullmatch(r"modr-[0-9a-f]{24}", moderation_id)
    for column in zip(*seen, strict=True):
        assert len(set(column)) == 3


# -- bad input: always a 4xx with a detail that names the problem --------------------


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("GET", "/nowhere", {}, 404, "no route for GET /nowhere"),
    ("DELETE", "/api/loads", {}, 405, "allowed: GET"),
    ("POST", "/api/loads", {}, 405, "Method Not Allowed"),
    ("GET", "/api/loads?t=soon", {}, 400, "'t' must be an integer"),
    ("POST", "/auth/login", {"json": {"token_key": "x"}}, 415, "x-www-form-urlencoded"),
    ("POST", "/auth/login", {"data": {"session_password": "p"}}, 400, "'token_key' is required"),
    (
        "POST",
        "/auth/login",
        {"data": {"token_key": "nope", "session_password": "p"}},
        400,
        "Invalid token_key",
    ),
    ("POST", "/api/conversation", {"data": "x"}, 415, "application/json"),
    (
        "POST",
        "/api/conversation",
        {"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
        400,
        "UTF-8",
    ),
    (
        "POST",
        "/api/conversation",
        {"data": b'{"action": ', "headers": {"Content-Type": "application/json"}},
        400,
        "not valid JSON",
    ),
    (
        "POST",
        "/api/conversation",
        {"data": b"[" * 100_000, "headers": {"Content-Type": "application/json"}},
        400,
        "nested too deeply",
    ),
    ("POST", "/api/conversation", {"json": [1]}, 400, "must be a JSON object"),
    ("POST", "/api/conversation", {"json": {}}, 400, "action is required"),
    (
        "POST",
        "/api/conversation",
        {"json": {**CONVERSATION, "action": 3}},
        400,
        "action must be a string",
    ),
    (
        "POST",
        "/api/conversation",
        {"json": {**CONVERSATION, "messages": []}},
        400,
        "messages must not be empty",
    ),
    (
        "POST",
        "/api/conversation",
        {"json": {**CONVERSATION, "messages": [{"author": {}}]}},
        400,
        "messages[0].author.role",
    ),
    (
        "POST",
        "/api/conversation",
        {
            "json": {
                **CONVERSATION,
                "messages": [{"author": {"role": "user"}, "content": {"parts": [1]}}],
            }
        },
        400,
        "parts must be a list of strings",
    ),
    (
        "POST",
        "/api/conversation",
        {"json": {**CONVERSATION, "parent_message_id": None}},
        400,
        "parent_message_id must be",
    ),
    ("POST", "/api/conversation", {"json": CONVERSATION}, 401, "X-Authorization: Bearer"),
    (
        "POST",
        "/api/conversation",
        {"json": CONVERSATION, "headers": {"X-Authorization": "Bearer forged"}},
        401,
        "token_expired",
    ),
    (
        "POST",
        "/api/conversation",
        {
            "data": io.BytesIO(b"x" * (1024 * 1024 + 1)),
            "headers": {"Content-Type": "application/json"},
        },
        413,
        "larger than",
    ),
]


@pytest.mark.emulator_allow(unmatched=True)
@pytest.mark.parametrize(("method", "path", "kwargs", "status", "detail"), BAD_REQUESTS)
async def test_bad_requests_get_a_4xx_json_detail(
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    detail: str,
    emulator: Emulator,
    http: aiohttp.ClientSession,
) -> None:
    got_status, ctype, body, _ = await answer(http, method, emulator.url + path, **kwargs)
    assert (got_status, ctype) == (status, "application/json")
    assert (
        detail in json.dumps(body["detail"])
        if detail == "token_expired"
        else detail in str(body["detail"])
    )
    # ... and the emulator keeps serving.
    status_after, _, _, _ = await answer(http, "GET", f"{emulator.url}/api/loads")
    assert status_after == 200
    assert list(emulator.state.problems) == []


async def test_a_too_long_prompt_is_the_upstreams_413(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, max_prompt=10))
    token = await login(http, emu.url)
    body = {
        **CONVERSATION,
        "messages": [{"author": {"role": "user"}, "content": {"parts": ["x" * 11]}}],
    }
    status, _, answer_body, _ = await converse(http, emu.url, token, body)
    assert status == 413
    assert answer_body["detail"]["code"] == "message_length_exceeds_limit"


async def test_a_tool_call_scenario_is_a_400_naming_why_on_the_fakegpt_stream(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    emulator.use("tool_call_split")
    token = await login(http, emulator.url)
    status, _, body, _ = await converse(http, emulator.url, token, CONVERSATION)
    assert status == 400
    assert (
        "'tool_call_split' does not apply to FakeGpt: its reply is a tool call" in body["detail"]
    )


# -- auth: stateless, signed, expiring, isolated ---------------------------------------


async def test_tokens_expire(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, token_ttl=0.2))
    token = await login(http, emu.url)
    await asyncio.sleep(0.3)
    status, _, body, _ = await converse(http, emu.url, token, CONVERSATION)
    assert status == 401 and body["detail"]["code"] == "token_expired"


async def test_tokens_from_another_secret_or_tampered_are_rejected(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, secret=b"one"))
    foreign, _ = Signer(b"two").issue("access", "acct", "user-x")
    credential, _ = Signer(b"one").issue("credential", "acct", "user-x")
    genuine = await login(http, emu.url)
    head, claims, sig = genuine.split(".")
    tampered = f"{head}.{claims[:-2]}AA.{sig}"
    for token in (foreign, tampered, credential, genuine + "x", ""):
        status, _, _, _ = await converse(http, emu.url, token, CONVERSATION)
        assert status == 401, token


async def stream_conversation_id(
    http: aiohttp.ClientSession, url: str, token: str, **extra: Any
) -> tuple[int, str | None]:
    async with http.post(
        f"{url}/api/conversation",
        json={**CONVERSATION, **extra},
        headers={"X-Authorization": f"Bearer {token}"},
    ) as r:
        if r.status != 200:
            return r.status, None
        first = (await r.content.readline()).decode()
        await r.read()
        return r.status, json.loads(first.removeprefix("data: "))["conversation_id"]


async def test_session_passwords_keep_users_apart(emulator: Emulator) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as alice_http:
        alice = await login(alice_http, emulator.url, "alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob_http:
        bob = await login(bob_http, emulator.url, "bob")
        _, alice_conversation = await stream_conversation_id(bob_http, emulator.url, alice)
        _, bob_conversation = await stream_conversation_id(bob_http, emulator.url, bob)
        assert alice_conversation and bob_conversation and alice_conversation != bob_conversation
        # Alice may continue her conversation; Bob may not reach it.
        status, same = await stream_conversation_id(
            bob_http, emulator.url, alice, conversation_id=alice_conversation
        )
        assert (status, same) == (200, alice_conversation)
        status, _ = await stream_conversation_id(
            bob_http, emulator.url, bob, conversation_id=alice_conversation
        )
        assert status == 404


# -- choosing scenarios and the admin API ----------------------------------------------


async def test_the_header_picks_the_scenario(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    token = await login(http, emulator.url)
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/api/conversation",
        json=CONVERSATION,
        headers={
            "X-Authorization": f"Bearer {token}",
            "X-Emulator-Scenario": "http_429_rate_limited",
        },
    )
    assert status == 429 and "Too many requests" in body["detail"]
    assert emulator.calls("/api/conversation").last.scenario == "http_429_rate_limited"


async def test_admin_api_sets_queues_and_journals(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    admin = f"{emulator.url}/_emulator"
    status, _, body, _ = await answer(http, "PUT", f"{admin}/scenario", json={"name": "done_only"})
    assert (status, body["name"]) == (200, "done_only")
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{admin}/scenarios",
        json={"name": "mine", "scenario": {"description": "mine", "reply": {"text": "inline!"}}},
    )
    assert (status, body["name"], body["source"]) == (200, "mine", "<registered mine>")
    status, _, body, _ = await answer(
        http, "POST", f"{admin}/queue", json={"scenarios": ["default", "mine"]}
    )
    assert [s["name"] for s in body] == ["default", "mine"]
    token = await login(http, emulator.url)
    for expected in ("Hello! How can I help you today?", "inline!", None):
        async with http.post(
            f"{emulator.url}/api/conversation",
            json=CONVERSATION,
            headers={"X-Authorization": f"Bearer {token}"},
        ) as r:
            raw = (await r.read()).decode()
        if expected is None:
            assert raw == "data: [DONE]\n\n"  # the queue is used up: back to the active one
        else:
            assert f'"parts": ["{expected}"]' in raw
    status, _, journal, _ = await answer(
        http, "GET", f"{admin}/journal", params={"path": "/api/conversation"}
    )
    assert [c["scenario"] for c in journal] == ["default", "mine", "done_only"]
    assert json.loads(journal[0]["body"])["action"] == "next"
    status, _, body, _ = await answer(
        http, "POST", f"{admin}/rules", json={"pattern": "^Hi$", "name": "empty_body"}
    )
    assert status == 200
    async with http.post(
        f"{emulator.url}/api/conversation",
        json=CONVERSATION,
        headers={"X-Authorization": f"Bearer {token}"},
    ) as r:
        assert await r.read() == b""
    status, _, _, _ = await answer(http, "POST", f"{admin}/reset")
    assert (
        status == 200
        and emulator.requests.call_count == 0
        and emulator.state.active.name == "default"
    )


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/scenario", {"name": "no_such"}, "no scenario named 'no_such'"),
        ("/scenario", {"name": 3}, "must be the name of a known scenario"),
        ("/scenario", {"scenario": {"reply": {"text": "x"}}}, "register it first"),
        (
            "/scenarios",
            {"name": "x", "scenario": {"reply": {"text": "x"}}},
            "description] is required",
        ),
        (
            "/scenarios",
            {"name": "x", "scenario": {"description": "d", "wire": {"line_ending": "\t"}}},
            "wire.line_ending",
        ),
        ("/scenarios", {"name": "a/b.toml", "scenario": {"description": "d"}}, "'name' must be"),
        ("/queue", {"scenarios": []}, "non-empty list"),
        ("/rules", {"pattern": "(", "name": "default"}, "not a valid regular expression"),
    ],
)
async def test_admin_api_rejects_bad_input(
    path: str, body: dict[str, Any], detail: str, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, answer_body, _ = await answer(
        http, "POST", f"{emulator.url}/_emulator{path}", json=body
    )
    assert status == 400 and detail in answer_body["detail"]


async def test_admin_token_is_required_when_set(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(admin_token="s3cret"))
    status, _, body, _ = await answer(http, "GET", f"{emu.url}/_emulator")
    assert status == 403 and "X-Emulator-Admin-Token" in body["detail"]
    status, _, body, _ = await answer(
        http, "GET", f"{emu.url}/_emulator", headers={"X-Emulator-Admin-Token": "s3cret"}
    )
    assert status == 200 and body["active"] == "default"


_json_texts = st.one_of(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(json.dumps),
    st.text(alphabet='{}[]":,. \t\n\r\ufeff0123456789aeflnrstu-+Ee\\', max_size=30),
)


@given(
    text=_json_texts,
    before=st.sampled_from(["", " ", "\n\t", "\ufeff"]),
    after=st.sampled_from(["", " \r\n", "x", "{}", "\u00a0"]),
)
@example(text="NaN", before="", after="")
@example(text='{"a": 1}', before="", after=" ")
@example(text="[1, 2]", before="", after=" 3")
def test_the_body_json_reader_agrees_with_json_loads(text: str, before: str, after: str) -> None:
    from emulator.dialects.fakegpt.read import json_loads as _json_loads

    whole = before + text + after
    try:
        expected: Any = json.loads(whole)
    except ValueError as exc:
        error = str(exc)
        with pytest.raises(ValueError, match=re.escape(error)):
            _json_loads(whole)
        return
    got = _json_loads(whole)
    assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize(
    ("max_body", "size", "status"), [(2_000, 3_000, 413), (3 << 20, 2 << 20, 400)]
)
async def test_the_body_limit_is_the_configured_one_for_streamed_bodies(
    emulator_factory: EmulatorFactory,
    http: aiohttp.ClientSession,
    max_body: int,
    size: int,
    status: int,
) -> None:
    """A chunked body has no declared length: the limit applies while it is read."""
    emu = await emulator_factory(EmulatorConfig(speed=0, max_body=max_body))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(size // 1000):
            yield b"x" * 1000

    got, ctype, body, _ = await answer(
        http,
        "POST",
        f"{emu.url}/api/conversation",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert (got, ctype) == (status, "application/json")
    # Past the limit: 413. Within it (above aiohttp's 1 MiB default): read whole, then judged.
    assert ("larger than" in body["detail"]) == (status == 413)
    assert emu.requests.last.status == status


async def test_make_app_serves_the_same_emulator_under_any_runner(
    http: aiohttp.ClientSession,
) -> None:
    from aiohttp import web

    from emulator import EmulatorState, builtin_scenarios, make_app

    scenarios = builtin_scenarios()
    state = EmulatorState(scenarios, scenarios["default"])
    runner = web.AppRunner(make_app(EmulatorConfig(speed=0), state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        token = await login(http, url)
        status, _, raw, _ = await converse(http, url, token)
        assert status == 200 and raw.endswith("data: [DONE]\n\n")
        status, ctype, body, _ = await answer(http, "GET", f"{url}/nope")
        assert (status, ctype) == (404, "application/json")
        assert body == {"detail": "Not Found: no route for GET /nope"}
        assert [c.path for c in state.requests] == [
            "/api/loads",
            "/auth/login",
            "/api/auth/session",
            "/api/conversation",
            "/nope",
        ]
    finally:
        await runner.cleanup()


async def test_the_schedule_counts_from_the_request_s_arrival_not_from_the_first_step() -> None:
    """Time spent before the player starts (reading, auth, a burst's queue) is part of the
    first wait: the first event comes when the plan says, counted from the request."""
    from dataclasses import dataclass as _dataclass

    from aiohttp import web

    from emulator.core.clock import REAL_CLOCK
    from emulator.engine.play import play
    from emulator.protocol.steps import Step, Wait, Write
    from emulator.state.transcript import Transcript

    @_dataclass
    class Progress:
        arrived: float
        transcript: Transcript
        status: int | None = None
        bytes_sent: int = 0
        detail: str | None = None
        ending: str | None = None
        ended_ms: float | None = None

    calls: list[Progress] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        call = Progress(arrived=loop.time(), transcript=Transcript())
        calls.append(call)
        await asyncio.sleep(0.3)  # the server was busy for 300 ms before it could play
        steps: list[Step] = [Wait(0.5), Write(b"data: 1\n\n"), Wait(0.1), Write(b"data: 2\n\n")]
        return await play(request, iter(steps), REAL_CLOCK, 1.0, call)

    server = web.Server(handler)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            loop = asyncio.get_running_loop()
            sent = loop.time()
            async with http.get(f"http://127.0.0.1:{port}/") as r:
                first = await r.content.readuntil(b"\n\n")
                first_at = loop.time() - sent
                rest = await r.read()
    finally:
        await runner.cleanup()
    assert (first, rest) == (b"data: 1\n\n", b"data: 2\n\n")
    # 500 ms after arrival, not 300 + 500.
    assert 0.45 <= first_at < 0.75, first_at
    writes = calls[0].transcript.writes
    assert 495 <= writes[0].ms < 700 and 595 <= writes[1].ms < 800, [w.ms for w in writes]
