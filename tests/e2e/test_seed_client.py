"""The seed's provider, exactly as it shipped, against the emulator.

The emulator must serve what real users ran; and where the seed's code
breaks (docs/PROTOCOL.md lists how), the same scenario is shown failing it while
the project's client reaches the scenario's stated outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp.http_exceptions import LineTooLong

from client import FakeGpt
from emulator import Emulator, builtin_scenarios
from emulator.scenario.text import reply_text
from tests import seed_client
from tests.helpers import MESSAGES, PROMPT, collect

SCENARIOS = builtin_scenarios()

# What the seed's code reads correctly: plain "data: " lines ending in LF.
SEED_SURVIVES = [
    "default",
    "long_reply",
    "echo_prompt",
    "unicode_text",
    "malformed_json",
    "garbage_bytes",
    "pings_and_comments",
    "moderation_and_variants",
    "bom",
    "split_writes",
    "no_done",
    "max_tokens",
    # docs/PROTOCOL.md lists CRLF among the seed's breaks, but json.loads ignores the
    # trailing "\r\n" of each line, so the seed reads CRLF streams correctly.
    "crlf_line_endings",
]


@pytest.fixture
def seed(emulator: Emulator) -> Iterator[type[seed_client.FakeGpt]]:
    """The seed's class at http://localhost:PORT (its cookie jar ignores IP hosts)."""
    cls = seed_client.FakeGpt
    cls.url = emulator.url.replace("127.0.0.1", "localhost")
    cls._access_token = None
    cls._cookie_jar = None
    yield cls
    cls._access_token = None
    cls._cookie_jar = None


async def seed_text(cls: type[seed_client.FakeGpt], limit: float = 10) -> str:
    """The seed's reply, given at most ``limit`` seconds (it can hang)."""

    async def run() -> str:
        return "".join([d async for d in cls.create_async_generator("m", MESSAGES)])

    return await asyncio.wait_for(run(), limit)


def expected_text(name: str) -> str:
    scenario = SCENARIOS[name]
    return (
        reply_text(scenario.reply, PROMPT)
        if scenario.expect.outcome == "reply"
        else scenario.expect.text
    )


@pytest.mark.parametrize("name", SEED_SURVIVES)
async def test_seed_client_gets_the_scripted_reply(
    name: str, emulator: Emulator, seed: type[seed_client.FakeGpt]
) -> None:
    emulator.use(name)
    assert await seed_text(seed) == expected_text(name)
    assert emulator.calls("/api/conversation").last.status == 200


async def test_seed_client_logs_in_once_and_reuses_its_token(
    emulator: Emulator, seed: type[seed_client.FakeGpt]
) -> None:
    for _ in range(3):
        assert await seed_text(seed) == expected_text("default")
    assert emulator.calls("/auth/login").call_count == 1
    assert emulator.calls("/api/conversation").call_count == 3


async def test_seed_client_cannot_log_in_at_an_ip_host_but_ours_can(
    emulator: Emulator, seed: type[seed_client.FakeGpt], fakegpt: type[FakeGpt]
) -> None:
    seed.url = emulator.url  # http://127.0.0.1:PORT: the default jar drops the cookie
    with pytest.raises(KeyError, match="accessToken"):
        await seed_text(seed)
    assert fakegpt.url.startswith("http://127.0.0.1:")
    assert "".join(await collect(fakegpt)) == expected_text("default")


@pytest.mark.parametrize(
    ("name", "seed_failure"),
    [
        ("long_line", (ValueError, LineTooLong)),  # readline's limit ("Chunk too big")
        ("data_without_space", RuntimeError),
        ("multiline_data", RuntimeError),
        ("cr_line_endings", RuntimeError),
        ("delta_encoding_v1", RuntimeError),
        ("http_401_then_ok", RuntimeError),  # 401 body read as a stream: "No valid response"
        ("keep_open_after_done", TimeoutError),  # [DONE] never matched: waits for close
    ],
)
async def test_where_the_seed_client_raises_ours_reaches_the_outcome(
    name: str,
    seed_failure: type[BaseException] | tuple[type[BaseException], ...],
    emulator: Emulator,
    seed: type[seed_client.FakeGpt],
    fakegpt: type[FakeGpt],
) -> None:
    emulator.use(name)
    with pytest.raises(seed_failure):
        await seed_text(seed, limit=3)
    assert "".join(await collect(fakegpt)) == expected_text(name)


@pytest.mark.parametrize("name", ["stale_snapshots", "done_early", "foreign_messages"])
async def test_where_the_seed_client_returns_wrong_text_ours_is_exact(
    name: str, emulator: Emulator, seed: type[seed_client.FakeGpt], fakegpt: type[FakeGpt]
) -> None:
    emulator.use(name)
    assert await seed_text(seed) != expected_text(name)
    assert "".join(await collect(fakegpt)) == expected_text(name)


async def test_seed_client_keeps_a_stale_token_forever_ours_logs_in_again(
    emulator: Emulator, seed: type[seed_client.FakeGpt], fakegpt: type[FakeGpt]
) -> None:
    assert await seed_text(seed) == expected_text("default")
    emulator.use("http_401_always")
    with pytest.raises(RuntimeError, match="No valid response"):
        await seed_text(seed)
    emulator.use("default")
    stale = seed._access_token
    assert stale is not None
    # Ours: a 401 makes it forget the token and log in again.
    assert "".join(await collect(fakegpt)) == expected_text("default")
    emulator.use("http_401_then_ok")
    before = emulator.calls("/auth/login").call_count
    assert "".join(await collect(fakegpt)) == expected_text("http_401_then_ok")
    assert emulator.calls("/auth/login").call_count == before + 1
