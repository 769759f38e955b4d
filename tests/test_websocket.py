"""The seam, proved with a toy WebSocket dialect (tests/toy_websocket.py) registered from
the tests: served over a real WebSocket on loopback, a plan per ask on one connection,
journaled both ways with message boundaries, judged by the conformance kit with a
WebSocket client, and a drop and a close code from the fault table on the socket itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from emulator import EmulatorConfig, builtin_scenarios, serve
from emulator.conformance import python_client
from emulator.conformance.runner import cases, run_all
from emulator.dialects.dialect import Dialect
from emulator.dialects.registry import DIALECTS, registered
from emulator.scenario import scenario_from_dict
from emulator.scenario.text import reply_text
from tests.toy_websocket import KEY, TOY_WS_PATH, read_messages, toy_ws, toy_ws_client

PROMPT = "Tell me something."


@pytest.fixture
def toy() -> Iterator[Dialect]:
    with registered(toy_ws()) as dialect:
        yield dialect


async def _messages(ws: aiohttp.ClientWebSocketResponse, until_end: bool = True) -> list[Any]:
    """The messages until the answer's end (or the socket's); a close as ("close", code)."""
    got: list[Any] = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is aiohttp.WSMsgType.TEXT:
            got.append(json.loads(msg.data))
            if until_end and (got[-1].get("end") or "oops" in got[-1]):
                return got
        else:
            got.append(
                (
                    "close",
                    ws.close_code,
                    msg.extra if msg.type is aiohttp.WSMsgType.CLOSE else None,
                )
            )
            return got


async def test_one_connection_asks_many_times_each_with_a_plan_of_its_own(toy: Dialect) -> None:
    default = builtin_scenarios()["default"]
    async with (
        serve(EmulatorConfig(speed=0)) as emulator,
        aiohttp.ClientSession() as http,
        http.ws_connect(emulator.url + TOY_WS_PATH, headers=KEY) as ws,
    ):
        hello = await ws.receive_json(timeout=5)
        assert hello == {"hello": "toy"}
        for prompt in (PROMPT, "and again"):
            await ws.send_str(json.dumps({"say": prompt}))
            got = await _messages(ws)
            reading = read_messages([json.dumps(m) for m in got])
            assert reading.done and reading.text == reply_text(default.reply, prompt)
        # An ask the speaker cannot read is the API's error on the socket, which stays open.
        await ws.send_str("not json")
        assert "oops" in (await _messages(ws))[0]
        await ws.send_bytes(b"\x00")
        assert (await _messages(ws))[0] == {"oops": "the toy reads text messages only"}
        await ws.send_str(json.dumps({"say": PROMPT}))
        assert (await _messages(ws))[-1] == {"end": True}
    [call] = emulator.calls(TOY_WS_PATH)
    assert call.dialect == "toy-ws" and call.status == 101 and call.scenario == "default"


async def test_the_journal_keeps_both_directions_with_message_boundaries(toy: Dialect) -> None:
    async with serve(EmulatorConfig(speed=0)) as emulator:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(emulator.url + TOY_WS_PATH, headers=KEY) as ws,
        ):
            await ws.receive_json(timeout=5)
            await ws.send_str(json.dumps({"say": PROMPT}))
            sent = await _messages(ws)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{emulator.url}/_emulator/journal") as r:
                [entry] = [e for e in await r.json() if e["path"] == TOY_WS_PATH]
            async with http.get(f"{emulator.url}/_emulator/journal/{entry['id']}") as r:
                writes = (await r.json())["transcript"]["writes"]
    ways = [(w["direction"], json.loads(w["text"])) for w in writes]
    # The greeting out, the ask in, then each answer message out: one entry a message.
    assert ways == [("out", {"hello": "toy"}), ("in", {"say": PROMPT}),
                    *[("out", m) for m in sent]]  # fmt: skip


async def test_a_drop_cuts_the_socket_and_a_close_code_closes_it(toy: Dialect) -> None:
    dropped = scenario_from_dict({"description": "d", "faults": [
        {"kind": "drop", "at": 2}]}, name="dropped")  # fmt: skip
    closed = scenario_from_dict({"description": "d", "faults": [
        {"kind": "close_code", "at": 2, "code": 1011, "text": "the toy fell over"}]},
        name="closed")  # fmt: skip
    config = EmulatorConfig(speed=0, scenarios={"dropped": dropped, "closed": closed})
    async with serve(config) as emulator, aiohttp.ClientSession() as http:
        for name, ending in (("dropped", None), ("closed", (1011, "the toy fell over"))):
            headers = {**KEY, "X-Emulator-Scenario": name}
            async with http.ws_connect(emulator.url + TOY_WS_PATH, headers=headers) as ws:
                await ws.receive_json(timeout=5)
                await ws.send_str(json.dumps({"say": PROMPT}))
                got = await _messages(ws)
            assert got[0] == {"start": True} and "piece" in got[1]  # two events, then the fault
            kind, code, reason = got[-1]
            if ending is None:  # the TCP connection cut: no close frame, abnormal closure
                assert kind == "close" and code == 1006
            else:
                assert (code, reason) == ending
        for _ in range(500):  # the server ends its side of the close a moment later
            if all(c.duration is not None for c in emulator.calls(TOY_WS_PATH)):
                break
            await asyncio.sleep(0.01)
        calls = emulator.calls(TOY_WS_PATH)
        endings = [str(c.ending).split(" at ")[0] for c in calls]
        assert endings == ["dropped by the scenario", "closed with a close code"]
        close = calls[1].transcript.writes[-1] if calls[1].transcript is not None else None
        assert close is not None and str(close.what) == "fault close_code at 2: 1011"
        assert calls[1].transcript.faults == {"close_code": 1}


async def test_an_http_dialect_refuses_a_websockets_own_fault(toy: Dialect) -> None:
    closed = scenario_from_dict({"description": "d", "faults": [
        {"kind": "close_code", "code": 1011}]}, name="closed")  # fmt: skip
    assert DIALECTS["openai-chat"].not_applicable(closed) == (
        "its close_code fault is a WebSocket's, which an HTTP answer has not"
    )
    assert toy.not_applicable(closed) is None


async def test_an_upgrade_without_its_key_is_the_apis_http_error(toy: Dialect) -> None:
    async with serve(EmulatorConfig(speed=0)) as emulator, aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(emulator.url + TOY_WS_PATH)
        assert refused.value.status == 401
        async with http.get(emulator.url + TOY_WS_PATH, headers=KEY) as r:  # no upgrade
            assert r.status == 426 and "is a WebSocket" in (await r.json())["oops"]


async def test_the_conformance_kit_judges_a_websocket_client(toy: Dialect) -> None:
    names = ["default", "drop_mid_stream", "in_stream_error", "malformed_json",
             "stall_with_pings", "ws_close_code"]  # fmt: skip
    chosen = cases(names, dialect="toy-ws")
    assert [c.name for c in chosen] == names
    results = await run_all(chosen, python_client(toy_ws_client), speed=0)
    assert {r.case.name: r.verdict.kind for r in results} == dict.fromkeys(names, "pass")
