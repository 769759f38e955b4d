"""The MCP server scripted past its tools (``mcp_scripted_lists``), judged by the official
client over Streamable HTTP: prompts with arguments, resource templates, log messages at
the level the client asks, and notifications that lists changed."""

from __future__ import annotations

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
