"""The MCP server over Streamable HTTP, judged by the official Python client (``mcp``'s
``streamable_http_client`` and ``ClientSession``, unchanged): tools listed and called on
the wire faults that apply, a drop resumed with ``Last-Event-ID`` and the result got once,
a refused ``initialize``, and the transport's own refusals (origin, version, session,
media types) over raw HTTP."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
import pytest_asyncio
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

from emulator import Emulator, EmulatorConfig, EmulatorServer, builtin_scenarios, serve
from emulator.conformance.sdks import fastmcp_client, mcp_sdk
from emulator.dialects.mcp.plan import expects
from emulator.scenario import ScenarioError
from emulator.scenario.load import scenario_from_dict
from emulator.scenario.text import reply_text
from emulator.state.rpc_sessions import KEPT_BYTES, KEPT_STREAMS, MAX_SESSIONS, RpcSessions
from tests.helpers import assert_report_card

TEXT = "Grüße, 世界 👋!"
CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with serve(EmulatorConfig(speed=0)) as running:
        yield running


def _unwrapped(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _echoed(url: str, scenario: str | None = None) -> tuple[list[str], Any]:
    """The tools listed and echo's result, as the official client gets them."""
    headers = {"X-Emulator-Scenario": scenario} if scenario else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=5.0))
    try:
        async with (
            http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25"
            assert init.server_info.name == "fakegpt-emulator"
            tools = await session.list_tools()
            result = await session.call_tool("echo", {"text": TEXT})
    except BaseExceptionGroup as group:
        raise _unwrapped(group) from None
    return [t.name for t in tools.tools], result


async def test_the_client_lists_the_tools_and_gets_echo_s_exact_text(emulator: Emulator) -> None:
    names, result = await _echoed(emulator.url)
    assert names == ["echo", "reply", "get_weather", "get_forecast", "lookup_account"]
    assert [c.text for c in result.content] == [TEXT] and not result.is_error
    calls = [(c.method, c.status) for c in emulator.requests]
    assert calls[0] == ("POST", 200) and ("DELETE", 204) in calls  # initialize … end
    assert ("GET", 200) in calls  # the session's own stream, which the client listens on


@pytest.mark.parametrize(
    "name",
    ["crlf_line_endings", "cr_line_endings", "split_every_byte", "pings_and_comments",
     "data_without_space", "bom", "garbage_bytes", "unknown_event", "multiline_data"],
)  # fmt: skip
async def test_echo_s_text_comes_whole_through_the_wire_s_faults(
    emulator: Emulator, name: str
) -> None:
    _, result = await _echoed(emulator.url, name)
    assert result.content[0].text == TEXT
    answer = next(c for c in emulator.requests if c.scenario == name and c.detail != "tools/list"
                  and c.transcript is not None and c.transcript.to_dict()["writes"])  # fmt: skip
    assert answer.status == 200


@pytest.mark.parametrize("name", ["drop_mid_stream", "reset_mid_stream", "close_mid_stream"])
async def test_a_cut_after_the_priming_event_is_resumed_and_the_result_comes_once(
    emulator: Emulator, name: str
) -> None:
    _, result = await _echoed(emulator.url, name)
    assert result.content[0].text == TEXT
    resumed = [c for c in emulator.requests if c.method == "GET" and c.status == 200
               and c.detail != "the session's own stream"]  # fmt: skip
    assert len(resumed) == 1
    assert resumed[0].detail == "resumed after event 1-0: 1 event(s) replayed"
    cut = [c for c in emulator.requests if c.ending is not None and c.ending.early]
    assert len(cut) == 1 and cut[0].method == "POST"


async def test_a_refused_initialize_is_the_client_s_error(emulator: Emulator) -> None:
    with pytest.raises(MCPError, match="Too many requests"):
        await _echoed(emulator.url, "http_429_rate_limited")
    assert next((c.method, c.status) for c in emulator.requests) == ("POST", 429)


async def test_an_error_fault_is_the_json_rpc_error_of_the_call(emulator: Emulator) -> None:
    with pytest.raises(MCPError) as failed:
        await _echoed(emulator.url, "in_stream_error")
    assert failed.value.error.code == -32603


async def test_a_drop_before_the_priming_event_cannot_be_resumed(emulator: Emulator) -> None:
    with pytest.raises(MCPError, match="SSE stream ended without a response"):
        await _echoed(emulator.url, "drop_before_first_event")


def test_resumption_is_what_a_correct_client_is_judged_by() -> None:
    known = builtin_scenarios()
    for name in ("drop_mid_stream", "content_length_short", "half_open", "stall_silent"):
        assert expects(known[name]) is not None, name
    for name in ("drop_before_first_event", "stall_before_first_byte", "http_429_rate_limited",
                 "default"):  # fmt: skip
        assert expects(known[name]) is None, name


async def test_the_reply_tool_answers_the_scenario_s_reply(emulator: Emulator) -> None:
    text = await mcp_sdk(emulator.url, "hi")
    assert text == reply_text(builtin_scenarios()["default"].reply, "hi")


async def test_the_readme_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("mcp card", "mcp", mcp_sdk)


async def test_fastmcp_s_card_is_what_a_run_finds() -> None:
    await assert_report_card("python fastmcp card", "mcp", fastmcp_client, doc=CLIENTS)


# -- the transport's rules, over raw HTTP ---------------------------------------------------


def _body(method: str, id_: int | None = 1, **params: Any) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        message["id"] = id_
    return json.dumps(message)


async def _opened(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(url + "/mcp", data=_body("initialize", protocolVersion="2025-11-25",
                                                  capabilities={}, clientInfo={"name": "t",
                                                                               "version": "1"}),
                         headers=HEADERS) as r:  # fmt: skip
        assert r.status == 200
        assert (await r.json())["result"]["protocolVersion"] == "2025-11-25"
        return r.headers["Mcp-Session-Id"]


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        ({"Origin": "http://evil.example"}, 403, "Origin not allowed"),
        ({"MCP-Protocol-Version": "1999-01-01"}, 400, "unsupported protocol version"),
        ({"Content-Type": "text/plain"}, 415, "Content-Type must be application/json"),
        ({"Accept": "application/json"}, 406, "text/event-stream"),
    ],
)
async def test_the_transport_s_refusals_name_what_is_wrong(
    emulator: Emulator, headers: dict[str, str], status: int, says: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            emulator.url + "/mcp", data=_body("initialize"), headers={**HEADERS, **headers}
        ) as r,  # fmt: skip
    ):
        assert r.status == status
        error = (await r.json())["error"]
    assert says in error["message"] and error["code"] == -32600


async def test_a_page_on_this_machine_may_call_it(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        origin = {"Origin": "http://localhost:5173"}
        async with http.post(emulator.url + "/mcp", data=_body("initialize"),
                             headers={**HEADERS, **origin}) as r:  # fmt: skip
            assert r.status == 200


async def test_a_session_is_required_known_and_ends(emulator: Emulator) -> None:
    url = emulator.url + "/mcp"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=_body("tools/list"), headers=HEADERS) as r:
            assert r.status == 400 and "Mcp-Session-Id" in (await r.json())["error"]["message"]
        session = await _opened(http, emulator.url)
        named = {**HEADERS, "Mcp-Session-Id": session}
        async with http.post(url, data=_body("notifications/initialized", None),
                             headers=named) as r:  # fmt: skip
            assert r.status == 202 and await r.read() == b""
        async with http.post(url, data=_body("ping"), headers=named) as r:
            assert (await r.json()) == {"jsonrpc": "2.0", "id": 1, "result": {}}
        async with http.delete(url, headers=named) as r:
            assert r.status == 204
        async with http.post(url, data=_body("tools/list"), headers=named) as r:
            assert r.status == 404  # the client must initialize again
        async with http.delete(url, headers=named) as r:
            assert r.status == 404


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ("{not json", -32700, "Parse error"),
        ("[]", -32600, "batches are not supported"),
        ('{"jsonrpc": "1.0", "id": 1, "method": "ping"}', -32600, '"jsonrpc": "2.0"'),
        (_body("sampling/createMessage"), -32601, "Method not found: sampling/createMessage"),
        (_body("resources/read", uri="x://y"), -32002, "Resource not found: x://y"),
        (_body("prompts/get", name="nope"), -32602, "Unknown prompt: nope"),
        (_body("tools/call", name="nope"), -32602, "Unknown tool: nope"),
        (_body("tools/list", cursor="zz"), -32602, "Invalid cursor"),
    ],
)
async def test_a_bad_message_gets_the_json_rpc_error_it_deserves(
    emulator: Emulator, body: str, code: int, says: str
) -> None:
    async with aiohttp.ClientSession() as http:
        session = await _opened(http, emulator.url)
        async with http.post(emulator.url + "/mcp", data=body,
                             headers={**HEADERS, "Mcp-Session-Id": session}) as r:  # fmt: skip
            assert r.status in (200, 400)
            error = (await r.json())["error"]
    assert error["code"] == code and says in error["message"]


async def test_a_tool_s_refused_arguments_are_its_error_result(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        session = await _opened(http, emulator.url)
        async with http.post(emulator.url + "/mcp", data=_body("tools/call", name="echo",
                                                               arguments={}),
                             headers={**HEADERS, "Mcp-Session-Id": session}) as r:  # fmt: skip
            assert r.headers["Content-Type"].startswith("text/event-stream")
            events = [line for line in (await r.text()).splitlines() if line.startswith("data:")]
    result = json.loads(events[-1].removeprefix("data:"))["result"]
    assert result["isError"] and result["content"][0]["text"] == "Missing required argument: text"


async def test_a_stream_is_resumed_once_and_only_after_its_own_events(emulator: Emulator) -> None:
    url = emulator.url + "/mcp"
    async with aiohttp.ClientSession() as http:
        session = await _opened(http, emulator.url)
        named = {**HEADERS, "Mcp-Session-Id": session}
        async with http.post(url, data=_body("tools/call", name="echo", arguments={"text": "x"}),
                             headers=named) as r:  # fmt: skip
            raw = await r.text()
        assert raw.startswith("id: 1-0\nretry: 250\ndata:\n\n")  # the priming event
        assert "id: 1-1\nevent: message\ndata: " in raw
        async with http.get(url, headers={**named, "Last-Event-ID": "1-0"}) as r:
            replayed = await r.text()
        assert r.status == 200 and replayed.startswith("id: 1-1\nevent: message\n")
        async with http.get(url, headers={**named, "Last-Event-ID": "1-0"}) as r:
            assert r.status == 404  # once
        async with http.get(url, headers={**named, "Last-Event-ID": "7-0"}) as r:
            assert r.status == 404 and "7-0" in (await r.json())["error"]["message"]


def test_the_session_store_is_capped_in_count_and_bytes() -> None:
    store = RpcSessions()
    for i in range(MAX_SESSIONS + 5):
        store.opened(str(i), i)
    assert len(store) == MAX_SESSIONS and store.state("0") is None and store.state("5") == 5
    for stream in range(1, KEPT_STREAMS + 3):
        store.keep("5", stream, [(f"{stream}-0", b"x"), (f"{stream}-1", b"y")])
    assert store.resumed("5", "1-0", 1) is None  # the oldest stream is gone
    assert store.resumed("5", f"{KEPT_STREAMS + 2}-0", KEPT_STREAMS + 2) == ([b"y"], 0.0)
    store.keep("5", 99, [("99-0", b"z" * (KEPT_BYTES + 1))])  # too large to keep at all
    assert store.resumed("5", "99-0", 99) is None


def test_the_readme_s_mcp_example_prints_echo_s_text(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "streamable_http_client" in b)  # fmt: skip
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        code = block.replace("http://localhost:8080", server.url)
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == "hi\n"


# -- MCP's own faults ([mcp]) ----------------------------------------------------------------


async def _raw_call(http: aiohttp.ClientSession, url: str, session: str, **params: Any) -> str:
    async with http.post(url + "/mcp", data=_body("tools/call", 9, **params),
                         headers={**HEADERS, "Mcp-Session-Id": session}) as r:  # fmt: skip
        assert r.status == 200
        return await r.text()


def _messages(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line.removeprefix("data:")) for line in raw.splitlines()
            if line.startswith("data:") and line.strip() != "data:"]  # fmt: skip


async def test_a_stray_and_a_duplicate_result_are_on_the_stream_around_the_real_one(
    emulator: Emulator,
) -> None:
    echo = {"name": "echo", "arguments": {"text": "x"}}
    async with aiohttp.ClientSession() as http:
        for name, ids in (("mcp_stray_result", ["never-asked", 9]),
                          ("mcp_duplicate_result", [9, 9])):  # fmt: skip
            emulator.use(name)
            session = await _opened(http, emulator.url)
            said = _messages(await _raw_call(http, emulator.url, session, **echo))
            assert [m["id"] for m in said] == ids, name
    # The official client ends a request at the first response on its stream, whatever its
    # id: the stray one is taken as the result (its report card's "wrong text").
    _, result = await _echoed(emulator.url, "mcp_stray_result")
    assert result.content == []


async def test_an_expired_session_is_a_404_and_a_new_one_works(emulator: Emulator) -> None:
    emulator.use("mcp_session_expired")
    url = emulator.url + "/mcp"
    async with aiohttp.ClientSession() as http:
        session = await _opened(http, emulator.url)
        named = {**HEADERS, "Mcp-Session-Id": session}
        async with http.post(url, data=_body("ping"), headers=named) as r:
            assert r.status == 200
        async with http.post(url, data=_body("ping"), headers=named) as r:
            assert r.status == 404 and "expired" in (await r.json())["error"]["message"]
        again = await _opened(http, emulator.url)
        assert again != session
    with pytest.raises(MCPError, match="Session not found"):  # the SDK does not initialize again
        await _echoed(emulator.url, "mcp_session_expired")


async def test_scripted_errors_versions_floods_and_json_bodies(emulator: Emulator) -> None:
    with pytest.raises(MCPError) as failed:
        await _echoed(emulator.url, "mcp_error_response")
    assert failed.value.error.code == -32602
    with pytest.raises(RuntimeError, match="Unsupported protocol version from the server: 2099"):
        await _echoed(emulator.url, "mcp_version_mismatch")
    for name in ("mcp_notification_flood", "mcp_json_response"):
        _, result = await _echoed(emulator.url, name)
        assert result.content[0].text == TEXT, name
    async with aiohttp.ClientSession() as http:
        emulator.use("mcp_notification_flood")
        session = await _opened(http, emulator.url)
        said = _messages(await _raw_call(http, emulator.url, session, name="echo",
                                         arguments={"text": "x"}))  # fmt: skip
        assert sum(m.get("method") == "notifications/message" for m in said) == 500
        emulator.use("mcp_json_response")
        session = await _opened(http, emulator.url)
        async with http.post(emulator.url + "/mcp", data=_body("tools/call", 3, name="echo",
                                                               arguments={"text": "x"}),
                             headers={**HEADERS, "Mcp-Session-Id": session}) as r:  # fmt: skip
            assert r.content_type == "application/json"
            assert (await r.json())["result"]["content"][0]["text"] == "x"


async def test_a_slow_tool_tells_its_progress_and_is_not_resumed_before_its_time() -> None:
    slow = scenario_from_dict({"description": "slow", "mcp": {"tool_seconds": 1.5}}, name="slow")
    dropped = scenario_from_dict({"description": "dropped", "mcp": {"tool_seconds": 1.5},
                                  "faults": [{"kind": "drop", "at": 1}]}, name="dropped")  # fmt: skip
    config = EmulatorConfig(speed=0, scenarios={"slow": slow, "dropped": dropped}, default="slow")
    async with serve(config) as emulator, aiohttp.ClientSession() as http:
        url, clock = emulator.url, emulator.config.clock
        session = await _opened(http, url)
        params = {"name": "echo", "arguments": {"text": "x"}, "_meta": {"progressToken": "p"}}
        started = clock.time()
        said = _messages(await _raw_call(http, url, session, **params))
        assert clock.time() - started >= 1.4
        progress = [m["params"]["progress"] for m in said
                    if m.get("method") == "notifications/progress"]  # fmt: skip
        assert progress == [1]  # a second's worth, told; the half second is not
        # Cut right after its priming event, the stream is resumed at once: the result still
        # comes only when the tool is done.
        emulator.use("dropped")
        session = await _opened(http, url)
        started = clock.time()
        with pytest.raises(aiohttp.ClientPayloadError):
            await _raw_call(http, url, session, **params)
        assert clock.time() - started < 1.0
        async with http.get(url + "/mcp", headers={**HEADERS, "Mcp-Session-Id": session,
                                                   "Last-Event-ID": "1-0"}) as r:  # fmt: skip
            replayed = _messages(await r.text())
        assert clock.time() - started >= 1.4
        assert replayed[-1]["result"]["content"][0]["text"] == "x"


async def test_a_scenario_scripts_the_tools_with_their_schemas_and_results(
    emulator: Emulator,
) -> None:
    http = httpx2.AsyncClient(headers={"X-Emulator-Scenario": "mcp_scripted_tools"})
    async with (
        http,
        streamable_http_client(f"{emulator.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        found = await session.call_tool("search_docs", {"query": "streaming"})
        other = await session.call_tool("search_docs", {"query": " Resumption"})
        matched = await session.call_tool("search_docs", {"query": "backoff and retries"})
        refused = await session.call_tool("delete_repo", {})
        chart = await session.call_tool("chart", {})
        echoed = await session.call_tool("echo", {"text": "x"})  # the built-ins stay
        resources = (await session.list_resources()).resources
        read = await session.read_resource("docs://streaming")
        prompts = (await session.list_prompts()).prompts
        prompt = await session.get_prompt("summarize")
        with pytest.raises(MCPError, match="Resource not found: docs://nope"):
            await session.read_resource("docs://nope")
    assert list(tools)[:4] == ["search_docs", "chart", "delete_repo", "echo"]
    # Content of each kind: text, an image (a PNG the client decodes), a resource link.
    text, image, link = chart.content
    assert text.text == "The chart, and its data."  # type: ignore[union-attr]
    assert image.mime_type == "image/png"  # type: ignore[union-attr]
    assert base64.b64decode(image.data).startswith(b"\x89PNG\r\n\x1a\n")  # type: ignore[union-attr]
    assert str(link.uri) == "docs://streaming"  # type: ignore[union-attr]
    assert [c.text for c in echoed.content] == ["x"]  # type: ignore[union-attr]
    assert tools["search_docs"].output_schema is not None
    assert found.structured_content == {"hits": 3} and not found.is_error
    # An answer for some arguments: the first whose `when` the call's arguments fit.
    assert other.structured_content == {"hits": 1}
    assert [c.text for c in other.content] == ["1 page mentions resumption."]  # type: ignore[union-attr]
    # ... or by the [match] rules of agent turns, on the arguments' JSON text.
    assert matched.structured_content == {"hits": 2}
    assert [c.text for c in found.content] == ["3 pages mention streaming."]  # type: ignore[union-attr]
    assert refused.is_error
    assert [(str(r.uri), r.name, r.mime_type) for r in resources] == [
        ("docs://streaming", "Streaming guide", "text/markdown")]  # fmt: skip
    assert read.contents[0].text.startswith("# Streaming")  # type: ignore[union-attr]
    assert [p.name for p in prompts] == ["summarize"]
    assert prompt.messages[0].content.text == "Summarize the page in three sentences."  # type: ignore[union-attr]


def test_scripted_tools_are_checked_when_the_file_is_read() -> None:
    with pytest.raises(ScenarioError, match=r"\[mcp\.tools\].*two tools are called 'a'"):
        scenario_from_dict({"description": "d", "mcp": {"tools": [{"name": "a"}, {"name": "a"}]}})
    with pytest.raises(ScenarioError, match=r"mcp\.tools\[0\]\.input_schema.*expected a table"):
        scenario_from_dict({"description": "d", "mcp": {"tools": [{"name": "a",
                                                                   "input_schema": "x"}]}})  # fmt: skip


async def test_a_cancelled_call_stops_and_its_result_is_never_sent() -> None:
    slow = scenario_from_dict({"description": "slow", "mcp": {"tool_seconds": 5}}, name="slow")
    config = EmulatorConfig(speed=0, scenarios={"slow": slow}, default="slow")
    async with serve(config) as emulator, aiohttp.ClientSession() as http:
        url, clock = emulator.url, emulator.config.clock
        session = await _opened(http, url)
        named = {**HEADERS, "Mcp-Session-Id": session}
        call = _body("tools/call", 9, name="echo", arguments={"text": "x"},
                     _meta={"progressToken": "p"})  # fmt: skip
        started = clock.time()
        async with http.post(url + "/mcp", data=call, headers=named) as r:
            first = await r.content.readuntil(b"\n\n")  # the priming event
            assert first.startswith(b"id: 1-0")
            cancel = _body("notifications/cancelled", None, requestId=9, reason="enough")
            async with http.post(url + "/mcp", data=cancel, headers=named) as c:
                assert c.status == 202
            rest = (await r.read()).decode()
        assert clock.time() - started < 3.0  # not the tool's 5 s
        assert '"result"' not in rest
        entry = next(c for c in emulator.requests if c.detail and "cancelled" in c.detail)
        assert entry.detail == "cancelled by the client (notifications/cancelled)"
