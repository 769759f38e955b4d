"""The inspector page and CORS, in a real headless Chromium (Debian's ``chromium``).

Driven by Playwright (its asyncio API, with auto-waiting locators, pointed at
the system's Chromium: no browser download). Skipped with a reason only
where no Chromium can be had; under CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from client import FakeGpt, IncompleteStreamError, UpstreamStatusError
from emulator import Emulator, EmulatorConfig, parse_chaos
from emulator.pytest_plugin import EmulatorFactory
from tests.helpers import collect, upstream

playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
# As the machine's notes advise: no background traffic on a closed network.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


@pytest.fixture
async def page() -> AsyncIterator[playwright.Page]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: install Debian's chromium package")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 800})
            page.set_default_timeout(10_000)
            yield page
        finally:
            await browser.close()


async def _opened(page: playwright.Page, emulator: Emulator) -> None:
    """The inspector open in ``page``, its live feed connected."""
    await page.goto(f"{emulator.url}/_emulator/ui")
    await playwright.expect(page.locator("#status")).to_have_text("live")


async def test_the_inspector_shows_exchanges_live_and_switches_scenarios(
    page: playwright.Page, emulator: Emulator, fakegpt: type[FakeGpt], tmp_path: Path
) -> None:
    expect = playwright.expect
    await _opened(page, emulator)
    # A conversation with faults, run while the page is open: it appears without a reload.
    emulator.use("pings_and_comments")
    assert "".join(await collect(fakegpt)) == "Hello! How can I help you today?"
    row = page.locator("#exchanges tr", has_text="POST /api/conversation")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("pings_and_comments")
    await expect(row).to_contain_text("completed")
    await expect(row.locator(".dialect")).to_have_text("fakegpt")  # from the registry
    # Open it: the faults are in the timeline, with their bytes.
    await row.click()
    faults = page.locator("#timeline tr.fault")
    await expect(faults.first).to_contain_text("fault ping at 0")
    await expect(page.locator("#timeline")).to_contain_text("fault comment at 2")
    await expect(page.locator("#detail")).to_contain_text("chosen by the active scenario")
    await expect(page.locator("#timeline")).to_contain_text("data: [DONE]")
    await page.screenshot(path=str(tmp_path / "inspector.png"), full_page=False)
    if os.environ.get("FAKEGPT_SCREENSHOT"):  # to refresh the README's picture
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "inspector.png"))
    # Switch the active scenario from the page; the next conversation uses it.
    await page.select_option("#scenario", "drop_mid_stream")
    await page.click("#use")
    await expect(page.locator("#status")).to_have_text("using drop_mid_stream")
    assert emulator.state.active.name == "drop_mid_stream"
    with pytest.raises(IncompleteStreamError):
        await collect(fakegpt)
    dropped = page.locator("#exchanges tr", has_text="drop_mid_stream")
    await expect(dropped).to_contain_text("dropped by the scenario at")
    # The filter hides what does not match.
    await page.fill("#filter", "drop_mid")
    await expect(page.locator("#exchanges tr:visible")).to_have_count(1)


async def test_the_inspector_queues_and_resets(page: playwright.Page, emulator: Emulator) -> None:
    await _opened(page, emulator)
    await page.select_option("#scenario", "echo_prompt")
    await page.click("#queue")
    await playwright.expect(page.locator("#status")).to_have_text("queued: echo_prompt")
    assert [s.name for s in emulator.state.queued] == ["echo_prompt"]
    await page.click("#reset")
    await playwright.expect(page.locator("#scenario")).to_have_value("default")
    assert emulator.state.queued == []


async def test_a_page_of_another_origin_cannot_use_the_inspector_api(
    page: playwright.Page, emulator: Emulator
) -> None:
    async def other(_: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><title>other</title>", content_type="text/html")

    async with upstream({("GET", "/"): other}) as origin:
        await page.goto(origin + "/")
        status = await page.evaluate(
            """async (url) => {
                try {
                    const r = await fetch(url + "/_emulator/reset", {method: "POST"});
                    return r.status;
                } catch (e) { return "blocked: " + e.message; }
            }""",
            emulator.url,
        )
    # Not answered to the page (no CORS on the admin API), and refused on the server.
    assert str(status).startswith("blocked")
    assert emulator.calls("/_emulator/reset").call_count == 0


async def test_cors_lets_a_browser_app_stream_a_reply(
    page: playwright.Page, emulator_factory: EmulatorFactory
) -> None:
    async def app_page(_: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><title>app</title>", content_type="text/html")

    async with upstream({("GET", "/"): app_page}) as origin:
        emu = await emulator_factory(EmulatorConfig(speed=0, cors=(origin,)))
        FakeGpt.url = emu.url
        FakeGpt.reset()
        try:
            await collect(FakeGpt)  # logs in; the page gets the token as an app would
            token = FakeGpt._access_token
        finally:
            FakeGpt.reset()
        await page.goto(origin + "/")
        streamed = await page.evaluate(
            """async ([url, token]) => {
                const r = await fetch(url + "/api/conversation", {
                    method: "POST",
                    headers: {"Content-Type": "application/json",
                              "X-Authorization": "Bearer " + token},
                    body: JSON.stringify({action: "next", parent_message_id: "p",
                        messages: [{author: {role: "user"}, content: {parts: ["hi"]}}]}),
                });
                const reader = r.body.getReader();
                const decoder = new TextDecoder();
                let text = "", reads = 0;
                for (;;) {
                    const {value, done} = await reader.read();
                    if (done) break;
                    reads += 1;
                    text += decoder.decode(value, {stream: true});
                }
                return {status: r.status, text, reads};
            }""",
            [emu.url, token],
        )
    assert streamed["status"] == 200
    assert streamed["text"].endswith("data: [DONE]\n\n")
    assert "Hello! How can I help you today?" in streamed["text"]
    preflights = emu.calls("/api/conversation", "OPTIONS")
    assert preflights.call_count == 1 and preflights.last.status == 204


async def test_the_inspector_marks_chaos_and_shows_the_scenario_a_hit_was_served(
    page: playwright.Page, emulator_factory: EmulatorFactory
) -> None:
    chaos = parse_chaos("rate=1,seed=7,kinds=http_503")
    emulator = await emulator_factory(EmulatorConfig(speed=0, chaos=chaos))
    expect = playwright.expect
    await _opened(page, emulator)

    class Client(FakeGpt):
        url = emulator.session("ci").url

    with pytest.raises(UpstreamStatusError):
        await collect(Client)
    row = page.locator("#exchanges tr", has_text="POST /api/conversation")
    await expect(row.locator(".session")).to_have_text("ci")  # the session, above the name
    await expect(row).to_contain_text("default ⚡ chaos")
    await row.click()
    await expect(page.locator("#detail")).to_contain_text("chaos: HTTP 503 on conversation")
    served = page.locator("#served")
    await expect(served).to_contain_text("[[http_errors]]")
    await expect(served).to_contain_text("status = 503")
    await expect(served).to_contain_text('failure = "http_status"')


async def test_the_inspector_decodes_a_binary_stream_frame_by_frame(
    page: playwright.Page, emulator: Emulator
) -> None:
    import aiohttp

    expect = playwright.expect
    await _opened(page, emulator)
    emulator.use("bad_message_crc")  # Bedrock frames, one of them corrupt
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/model/m/converse-stream",
            json=body,
            headers={"Authorization": "Bearer k"},
        ) as answer,  # fmt: skip
    ):
        assert answer.status == 200
        await answer.read()
    row = page.locator("#exchanges tr", has_text="/model/m/converse-stream")
    await expect(row.locator(".dialect")).to_have_text("bedrock")
    await row.click()
    events = page.locator("#events tr")
    await expect(events.first).to_contain_text("messageStart")
    await expect(events.first).to_contain_text('{"role":"assistant"')
    await expect(page.locator("#events")).to_contain_text("contentBlockDelta")
    # Decoding stops at the corrupt frame and says why, as a strict reader would.
    corrupt = page.locator("#events tr.fault")
    await expect(corrupt).to_have_count(1)
    await expect(corrupt).to_contain_text("the message CRC of the frame at byte")


async def test_the_inspector_shows_the_turn_and_the_nearest_matches(
    page: playwright.Page, emulator: Emulator
) -> None:
    import aiohttp

    expect = playwright.expect
    await _opened(page, emulator)
    emulator.use("agent_loop")
    headers = {"Authorization": "Bearer sk-t"}
    first = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    lost = {"model": "m", "messages": [{"role": "assistant", "content": "Hi"},
                                       {"role": "user", "content": "More?"}]}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for body, status in ((first, 200), (lost, 404)):
            async with http.post(f"{emulator.url}/v1/chat/completions", json=body,
                                 headers=headers) as answer:  # fmt: skip
                assert answer.status == status
    rows = page.locator("#exchanges tr", has_text="/v1/chat/completions")
    await expect(rows).to_have_count(2)
    await rows.first.click()
    await expect(page.locator("#detail")).to_contain_text("scenario agent_loop, turn 1")
    await rows.last.click()
    near = page.locator("#near tr")
    await expect(near.first).to_contain_text("turn 1")
    await expect(near.first).to_contain_text("expected 1")
    await expect(near.first).to_contain_text("got 2")
    await expect(page.locator("#near")).to_contain_text("got no tool result")


async def test_the_inspector_shows_a_websockets_messages_both_ways(
    page: playwright.Page, tmp_path: Path
) -> None:
    from emulator import serve
    from emulator.dialects.registry import registered
    from tests.toy_websocket import TOY_WS_PATH, toy_ws, toy_ws_client

    expect = playwright.expect
    with registered(toy_ws()):
        async with serve(EmulatorConfig(speed=0)) as server:
            await page.goto(f"{server.url}/_emulator/ui")
            await expect(page.locator("#status")).to_have_text("live")
            assert await toy_ws_client(server.url, "Tell me something.") == (
                "Hello! How can I help you today?"
            )
            row = page.locator("#exchanges tr", has_text=f"GET {TOY_WS_PATH}")
            await expect(row).to_have_count(1)
            await expect(row.locator(".dialect")).to_have_text("toy-ws")
            await row.click()
            timeline = page.locator("#timeline")
            # The client's message in its place among the answers, each its own row.
            heard = page.locator("#timeline tr.heard")
            await expect(heard).to_have_count(1)
            await expect(heard).to_contain_text("\u2190 client")
            await expect(heard).to_contain_text('{"say": "Tell me something."}')
            await expect(timeline).to_contain_text('{"hello": "toy"}')
            await expect(timeline).to_contain_text('{"end": true}')
            rows = await timeline.locator("tr").all_inner_texts()
            # Each message the server sent says its frame's kind.
            assert [r.split("\t")[1] for r in rows][:2] == ["\u2192 client text", "\u2190 client"]
            await page.screenshot(path=str(tmp_path / "websocket.png"))


#: What a pane's cells must not do at 1280 px: overflow their column (cut) or the pane.
_CUT_CELLS = """(pane) => {
  const box = pane.getBoundingClientRect();
  const cut = [];
  for (const td of pane.querySelectorAll("#exchanges td")) {
    const r = td.getBoundingClientRect();
    if (td.scrollWidth > td.clientWidth + 1 || r.right > box.right + 1) cut.push(td.textContent);
  }
  return {cut, overflow: pane.scrollWidth - pane.clientWidth};
}"""


async def test_the_inspector_fits_1280_px_and_marks_a_stream_in_flight(
    page: playwright.Page, emulator: Emulator, fakegpt: type[FakeGpt], tmp_path: Path
) -> None:
    import asyncio

    expect = playwright.expect
    await page.set_viewport_size({"width": 1280, "height": 800})
    emulator.use("pings_and_comments")
    await collect(fakegpt)
    emulator.use("drop_mid_stream")
    with pytest.raises(IncompleteStreamError):
        await collect(fakegpt)
    emulator.use("stall_silent")  # a stream that stays open: in flight while the page looks
    stalled = asyncio.ensure_future(collect(fakegpt))
    try:
        for _ in range(200):
            if any(c.scenario == "stall_silent" and c.status == 200 for c in emulator.requests):
                break
            await asyncio.sleep(0.02)
        await _opened(page, emulator)
        rows = page.locator("#exchanges tr")
        await expect(rows.filter(has_text="drop_mid_stream")).to_contain_text("dropped")
        flying = rows.filter(has_text="stall_silent")
        await expect(flying.locator("td.inflight")).to_have_text("in flight…")
        # Every cell whole and inside the list's pane, the ending column in view.
        fit = await page.locator("#list").evaluate(_CUT_CELLS)
        assert fit == {"cut": [], "overflow": 0}
        ending = await rows.filter(has_text="pings_and_comments").locator("td").last.bounding_box()
        assert ending is not None and ending["x"] + ending["width"] <= 1280 * 0.5
        await flying.click()
        await expect(page.locator("#detail")).to_contain_text("in flight:")
        await expect(page.locator("#detail")).to_contain_text("B so far")
        await page.screenshot(path=str(tmp_path / "inspector-1280.png"))
        if os.environ.get("FAKEGPT_SCREENSHOT"):  # to refresh the docs' picture
            await page.screenshot(path=str(DOCS / "inspector-1280.png"))
    finally:
        stalled.cancel()
        with pytest.raises((asyncio.CancelledError, IncompleteStreamError)):
            await stalled
