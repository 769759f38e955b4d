"""The MCP server scripted past its tools (``mcp_scripted_lists``), judged by the official
client over Streamable HTTP: prompts with arguments, resource templates, log messages at
the level the client asks, and notifications that lists changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, MCPError, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from emulator import Emulator
from emulator.scenario import ScenarioError
from emulator.scenario.load import scenario_from_dict


async def _with_session(
    url: str, level: str | None, work: Any
) -> tuple[Any, list[Any], list[Any]]:
    """``work(session)`` under mcp_scripted_lists: what it returns, the log messages and
    the other notifications the client got."""
    logs: list[Any] = []
    told: list[Any] = []

    async def logged(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def handled(message: Any) -> None:
        if not isinstance(message, Exception):  # a server notification
            told.append(message)

    http = httpx2.AsyncClient(headers={"X-Emulator-Scenario": "mcp_scripted_lists"})
    async with (
        http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write, logging_callback=logged, message_handler=handled) as session,
    ):
        init = await session.initialize()
        if level is not None:
            # mcp 2.3 deprecates logging (SEP-2577, after the revision served here) and
            # says so; it still sends the request.
            with pytest.warns(MCPDeprecationWarning, match="SEP-2577"):
                await session.set_logging_level(level)  # type: ignore[arg-type]
        got = await work(session, init)
    return got, logs, told


async def test_a_prompt_takes_its_arguments_and_refuses_a_missing_one(emulator: Emulator) -> None:
    async def work(session: ClientSession, init: Any) -> Any:
        listed = (await session.list_prompts()).prompts
        got = await session.get_prompt("weather_report", {"city": "Paris", "style": "poetic"})
        with pytest.raises(MCPError, match="Missing required argument: city"):
            await session.get_prompt("weather_report", {"style": "plain"})
        return listed, got

    (listed, got), _, _ = await _with_session(emulator.url, None, work)
    assert [(a.name, a.required) for a in listed[0].arguments or []] == [
        ("city", True), ("style", False)]  # fmt: skip
    text = got.messages[0].content.text
    assert text == "Write a weather report for Paris in a poetic style."


async def test_a_resource_template_is_listed_and_read_with_its_variables(
    emulator: Emulator,
) -> None:
    async def work(session: ClientSession, init: Any) -> Any:
        templates = (await session.list_resource_templates()).resource_templates
        read = await session.read_resource("weather://S%C3%A3o%20Paulo/today")
        with pytest.raises(MCPError, match="Resource not found"):
            await session.read_resource("weather://Paris/tomorrow")
        return templates, read

    (templates, read), _, _ = await _with_session(emulator.url, None, work)
    assert [(t.uri_template, t.name) for t in templates] == [
        ("weather://{city}/today", "Today's weather")]  # fmt: skip
    assert read.contents[0].text == "Sunny in São Paulo, 21 °C."


@pytest.mark.parametrize(("level", "logged"), [(None, 2), ("info", 2), ("warning", 0)])
async def test_log_messages_follow_the_level_and_list_changes_are_told(
    emulator: Emulator, level: str | None, logged: int
) -> None:
    async def work(session: ClientSession, init: Any) -> Any:
        result = await session.call_tool("echo", {"text": "hi"})
        return init, result

    (init, result), logs, told = await _with_session(emulator.url, level, work)
    assert init.capabilities.logging is not None
    assert init.capabilities.tools.list_changed and init.capabilities.resources.list_changed
    assert not init.capabilities.prompts.list_changed
    assert [c.text for c in result.content] == ["hi"]
    assert [(m.level, m.data) for m in logs] == [("info", f"working: {n + 1}")
                                                 for n in range(logged)]  # fmt: skip
    kinds = [type(n).__name__ for n in told if not isinstance(n, types.LoggingMessageNotification)]
    assert kinds == ["ToolListChangedNotification", "ResourceListChangedNotification"]


def test_a_prompt_s_arguments_and_the_lists_are_checked_when_read() -> None:
    with pytest.raises(ScenarioError, match=r"list_changed.*expected a list of tools"):
        scenario_from_dict({"description": "x", "mcp": {"list_changed": ["models"]}})
    with pytest.raises(ScenarioError, match=r"uri_template.*RFC 6570"):
        scenario_from_dict({"description": "x", "mcp": {"resource_templates": [
            {"uri_template": "weather://paris"}]}})  # fmt: skip


async def _asked(url: str, **callbacks: Any) -> dict[str, Any]:
    """Each tool of mcp_asks_the_client called by the official client with ``callbacks``:
    its result's error flag and text."""
    http = httpx2.AsyncClient(headers={"X-Emulator-Scenario": "mcp_asks_the_client"})
    results: dict[str, Any] = {}
    async with (
        http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write, **callbacks) as session,
    ):
        await session.initialize()
        for tool in ("book_table", "summarize", "workspace"):
            result = await session.call_tool(tool, {})
            results[tool] = (result.is_error, [c.text for c in result.content])  # type: ignore[union-attr]
    return results


async def test_a_tool_asks_the_client_and_answers_with_what_it_said(emulator: Emulator) -> None:
    asked: list[Any] = []

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"answer": "four"})

    async def sample(context: Any, params: Any) -> types.CreateMessageResult:
        asked.append(params)
        return types.CreateMessageResult(role="assistant", model="local",
            content=types.TextContent(type="text", text="All quiet today."))  # fmt: skip

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/repo")])  # type: ignore[arg-type]

    results = await _asked(emulator.url, elicitation_callback=elicit, sampling_callback=sample,
                           list_roots_callback=roots)  # fmt: skip
    assert results == {
        "book_table": (False, ['{"action": "accept", "content": {"answer": "four"}}']),
        "summarize": (False, ["All quiet today."]),
        "workspace": (False, ["file:///work/repo"]),
    }
    assert asked[0].message == "How many people?"
    assert asked[0].requested_schema["required"] == ["answer"]
    assert asked[1].messages[0].content.text == "Summarize today's news in one sentence."
    # The requests and answers, in the journal: the calls' streams and the answers' POSTs.
    posted = [c.body for c in emulator.requests if c.method == "POST" and b"emulator-" in c.body]
    assert len(posted) == 3


async def test_a_tool_that_asks_a_client_that_cannot_answer_is_an_error_result(
    emulator: Emulator,
) -> None:
    # No callbacks: the client declares none of elicitation, sampling, roots (the server
    # asks nothing it did not declare), and says why in each result.
    results = await _asked(emulator.url)
    assert results == {tool: (True, [f"the client did not declare {asks} at initialize"])
                       for tool, asks in (("book_table", "elicitation"), ("summarize", "sampling"),
                                          ("workspace", "roots"))}  # fmt: skip


async def test_a_client_that_refuses_what_a_tool_asks_gets_an_error_result(
    emulator: Emulator,
) -> None:
    async def elicit(context: Any, params: Any) -> types.ErrorData:
        return types.ErrorData(code=-32600, message="the user closed the dialog")

    results = await _asked(emulator.url, elicitation_callback=elicit)
    assert results["book_table"] == (
        True, ["the client refused elicitation/create: the user closed the dialog"])  # fmt: skip


def test_over_stdio_a_tool_that_asks_says_it_is_served_over_http() -> None:
    # stdio tells each answer whole, with no client answer to wait for.
    from emulator import builtin_scenarios
    from emulator.dialects.mcp.serve import McpServer
    from emulator.dialects.rpc import Played

    scenario = builtin_scenarios()["mcp_asks_the_client"]
    told = McpServer().told(scenario, Played(7, "tools/call", {"name": "book_table"}))
    result = told[-1].message["result"]  # type: ignore[index]
    assert result["isError"] and "not over stdio" in result["content"][0]["text"]


async def test_the_journal_groups_an_mcp_session_s_exchanges(emulator: Emulator) -> None:
    import json as json_module
    import urllib.request

    async def work(session: ClientSession, init: Any) -> Any:
        return await session.call_tool("echo", {"text": "hi"})

    await _with_session(emulator.url, None, work)
    await _with_session(emulator.url, None, work)  # a second MCP session
    posts = [c for c in emulator.requests if c.method == "POST" and c.path.endswith("/mcp")]
    ids = [c.rpc_session for c in posts]
    assert None not in ids and len(set(ids)) == 2
    first = ids[0]
    url = f"{emulator.url}/_emulator/journal?rpc_session={first}"
    with urllib.request.urlopen(url) as got:  # noqa: ASYNC210 - a small local read
        found = json_module.loads(got.read())
    said = [json_module.loads(x["body"]).get("method") for x in found if x["method"] == "POST"]
    # Its initialize, notifications/initialized and tools/call (and whatever the client
    # asked after: it refetches the tools it was told had changed), none of the other's.
    assert said[:3] == ["initialize", "notifications/initialized", "tools/call"]
    assert len(said) == ids.count(first) and {x["rpc_session"] for x in found} == {first}


async def test_a_subscribed_resource_is_told_updated_on_the_session_s_own_stream(
    emulator: Emulator,
) -> None:
    import asyncio

    emulator.use({"description": "a resource that changes", "mcp": {"resources": [
        {"uri": "status://build", "text": "running", "updated_text": "passed"}]}})  # fmt: skip
    updated = asyncio.Event()
    told: list[Any] = []

    async def handled(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            told.append(message.params.uri)
            updated.set()

    async with (
        streamable_http_client(f"{emulator.url}/mcp") as (read, write),
        ClientSession(read, write, message_handler=handled) as session,
    ):
        init = await session.initialize()
        before = await session.read_resource("status://build")
        # mcp 2.3 deprecates subscriptions (removed after the revision served here, in
        # favour of listen()) and says so; it still sends them.
        with pytest.warns(MCPDeprecationWarning, match="resources/subscribe"):
            await session.subscribe_resource("status://build")
        await asyncio.wait_for(updated.wait(), 10)  # on the GET stream the client opened
        after = await session.read_resource("status://build")
        with pytest.warns(MCPDeprecationWarning):
            await session.unsubscribe_resource("status://build")
        with pytest.raises(MCPError, match="Resource not found"), pytest.warns(
                MCPDeprecationWarning):  # fmt: skip
            await session.subscribe_resource("status://nope")
    assert init.capabilities.resources.subscribe
    assert (before.contents[0].text, after.contents[0].text) == ("running", "passed")
    assert [str(u) for u in told] == ["status://build"]
    own = [c for c in emulator.requests if c.method == "GET" and c.path.endswith("/mcp")]
    assert own and own[0].detail == "the session's own stream" and own[0].bytes_sent > 0


async def _scripted_session(url: str, scenario: str | None) -> dict[str, Any]:
    """What the official client gets of mcp_scripted_tools' server (or ``scenario``'s)."""
    headers = {"X-Emulator-Scenario": scenario} if scenario else {}
    http = httpx2.AsyncClient(headers=headers)
    async with (
        http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        got = {"tools": tools}
        for tool, arguments in (("search_docs", {"query": "streaming"}),
                                ("search_docs", {"query": "resumption"}), ("delete_repo", {})):  # fmt: skip
            result = await session.call_tool(tool, arguments)
            got[f"{tool} {arguments}"] = (result.is_error, result.structured_content,
                                          [c.text for c in result.content])  # type: ignore[union-attr]  # fmt: skip
        got["read"] = (await session.read_resource("docs://streaming")).contents[0].text  # type: ignore[union-attr]
        prompt = await session.get_prompt("summarize")
        got["prompt"] = prompt.messages[0].content.text  # type: ignore[union-attr]
    return got


async def test_a_captured_mcp_session_imports_as_the_server_it_talked_to(
    emulator: Emulator, tmp_path: Path
) -> None:
    # A HAR of a session with a scripted server (made here from the journal, as a
    # browser's devtools would save it), imported: the server it makes answers the same.
    original = await _scripted_session(emulator.url, "mcp_scripted_tools")
    entries = []
    for call in emulator.requests:
        if call.method != "POST" or call.transcript is None:
            continue
        answer = "".join(w.get("text", "") for w in call.transcript.to_dict()["writes"])
        entries.append({"request": {"method": "POST", "url": f"http://x{call.path}",
                                    "postData": {"text": call.body.decode()}},
                        "response": {"status": call.status, "content": {"text": answer}}})  # fmt: skip
    har = tmp_path / "session.har"
    har.write_text(json.dumps({"log": {"entries": entries}}))
    scenario = tmp_path / "imported.toml"
    done = subprocess.run([sys.executable, "-m", "emulator", "import", str(har), "-o",  # noqa: ASYNC221 - the emulator serves from a thread of its own
                           str(scenario)], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    emulator.use(scenario)
    imported = await _scripted_session(emulator.url, None)
    assert imported == original
    assert imported["search_docs {'query': 'resumption'}"][2] == ["1 page mentions resumption."]


async def test_every_list_comes_in_pages_by_cursor(emulator: Emulator) -> None:
    # 120 resources, templates and prompts: pages of 50, each saying where the next starts.
    many = {"description": "long lists", "mcp": {
        "resources": [{"uri": f"docs://{n}", "text": "x"} for n in range(120)],
        "resource_templates": [{"uri_template": f"t{n}://{{id}}"} for n in range(120)],
        "prompts": [{"name": f"p{n}", "text": "x"} for n in range(120)]}}  # fmt: skip
    emulator.use(many)
    async with (
        streamable_http_client(f"{emulator.url}/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        seen: dict[str, list[int]] = {}
        for kind, lister, key in (("resources", session.list_resources, "resources"),
                                  ("templates", session.list_resource_templates,
                                   "resource_templates"),
                                  ("prompts", session.list_prompts, "prompts")):  # fmt: skip
            cursor, sizes = None, []
            for _ in range(10):
                page = await lister(
                    params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
                )
                sizes.append(len(getattr(page, key)))
                cursor = page.next_cursor
                if cursor is None:
                    break
            seen[kind] = sizes
    assert seen == {kind: [50, 50, 20] for kind in ("resources", "templates", "prompts")}
