"""client.provider: FakeGpt against the real emulator over loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import aiohttp
import pytest

from client import (
    AsyncGeneratorProvider,
    FakeGpt,
    FakeGptError,
    RateLimitedError,
    UpstreamTimeoutError,
)
from emulator import Emulator
from emulator.state.secrets import marker
from tests.helpers import MESSAGES, PROMPT, collect

DEFAULT_TEXT = "Hello! How can I help you today?"


def chatgpt_message(text: str) -> dict[str, Any]:
    """A message shaped as in the original provider's documentation."""
    return {
        "id": str(uuid.uuid4()),
        "author": {"role": "user"},
        "content": {"content_type": "text", "parts": [text]},
        "metadata": {},
    }


async def test_fifty_concurrent_first_calls_log_in_once(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    results = await asyncio.gather(*(collect(fakegpt) for _ in range(50)))
    assert all("".join(r) == DEFAULT_TEXT for r in results)
    assert emulator.calls("/api/loads").call_count == 1
    assert emulator.calls("/auth/login").call_count == 1
    assert emulator.calls("/api/auth/session").call_count == 1
    assert emulator.calls("/api/conversation").call_count == 50


async def test_the_token_is_cached_between_calls(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    await collect(fakegpt)
    token = fakegpt._access_token
    assert token and token.startswith("eyJ")
    assert fakegpt._cookie_jar is not None
    await collect(fakegpt)
    assert emulator.calls("/auth/login").call_count == 1
    sent = emulator.calls("/api/conversation").last.headers["X-Authorization"]
    assert sent == f"Bearer {marker(token)}"  # a credential is a marker in the journal
    # The journal's headers are looked up as HTTP does: case-insensitively.
    assert emulator.calls("/api/conversation").last.headers["x-authorization"] == sent


@pytest.mark.parametrize("attribute", ["_access_token", "_cookie_jar"])
async def test_assigning_none_to_either_login_attribute_forgets_the_login(
    emulator: Emulator, fakegpt: type[FakeGpt], attribute: str
) -> None:
    # Code written for the original provider resets a login this way.
    class Sub(fakegpt):  # type: ignore[valid-type,misc]
        pass

    for cls in (fakegpt, Sub):
        await collect(cls)
        assert cls._access_token is not None and cls._cookie_jar is not None
        setattr(cls, attribute, None)
        assert cls._access_token is None and cls._cookie_jar is None
    assert emulator.calls("/auth/login").call_count == 2
    await collect(Sub)  # forgotten: it logs in again
    assert emulator.calls("/auth/login").call_count == 3
    with pytest.raises(TypeError, match=r"Sub._cookie_jar is the login's own jar"):
        Sub._cookie_jar = aiohttp.CookieJar()


@pytest.mark.emulator_scenario("http_401_then_ok")
async def test_a_401_mid_session_logs_in_again_once(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    assert "".join(await collect(fakegpt)) == DEFAULT_TEXT
    statuses = [c.status for c in emulator.calls("/api/conversation")]
    assert statuses == [401, 200]
    assert emulator.calls("/auth/login").call_count == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_ip_and_name_hosts_both_work(
    host: str, emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    fakegpt.url = f"http://{host}:{emulator.port}"
    assert "".join(await collect(fakegpt)) == DEFAULT_TEXT


@pytest.mark.emulator_scenario("echo_prompt")
async def test_both_message_shapes_give_the_same_prompt(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    plain = await collect(fakegpt, messages=[{"role": "user", "content": PROMPT}])
    shaped = await collect(fakegpt, messages=[chatgpt_message(PROMPT)])
    assert "".join(plain) == "".join(shaped) == PROMPT
    history = [
        {"role": "system", "content": "Be brief."},
        chatgpt_message("Hi"),
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
    ]
    assert "".join(await collect(fakegpt, messages=history)) == (
        "System: Be brief.\nUser: Hi\nAssistant: Hello\nAssistant:"
    )


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        ([], ValueError, "empty"),
        ("hello", TypeError, "list of dicts"),
        ([{"role": "user", "content": "a"}, "b"], TypeError, r"messages\[1\] is a str"),
        ([{"content": "a"}], ValueError, r"messages\[0\] has no role"),
        ([{"role": "user"}], ValueError, r"messages\[0\] has no content"),
        ([{"role": "user", "content": 3}], TypeError, r"messages\[0\]\.content is a int"),
        (
            [{"author": {"role": "user"}, "content": {"parts": [1]}}],
            TypeError,
            r"parts\[0\] is not text",
        ),
    ],
)
def test_bad_messages_are_rejected_before_any_request(
    messages: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        FakeGpt.create_async_generator("m", messages)


@pytest.mark.parametrize(
    "option", [{"timeout": 0}, {"timeout": "1"}, {"idle_timeout": -1}, {"max_line": 0}]
)
def test_bad_options_are_rejected(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        FakeGpt.create_async_generator("m", MESSAGES, **option)


async def test_create_async_and_the_documented_await_form(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    assert await fakegpt.create_async("m", MESSAGES) == DEFAULT_TEXT
    # The original documentation awaited the generator before iterating it.
    stream = await fakegpt.create_async_generator("m", [chatgpt_message(PROMPT)])
    assert "".join([d async for d in stream]) == DEFAULT_TEXT


def test_create_completion_is_a_sync_iterator(emulator: Emulator, fakegpt: type[FakeGpt]) -> None:
    assert "".join(fakegpt.create_completion("m", MESSAGES, stream=True)) == DEFAULT_TEXT
    assert list(fakegpt.create_completion("m", MESSAGES, stream=False)) == [DEFAULT_TEXT]
    # Stopping early closes the stream and its loop (warnings are errors here).
    first = next(iter(fakegpt.create_completion("m", MESSAGES)))
    assert DEFAULT_TEXT.startswith(first)


async def test_create_completion_refuses_a_running_loop(fakegpt: type[FakeGpt]) -> None:
    with pytest.raises(RuntimeError, match="running one"):
        fakegpt.create_completion("m", MESSAGES)


async def test_a_consumer_that_stops_early_leaves_nothing_open(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    emulator.use("long_reply")
    for _ in range(5):
        async with fakegpt.create_async_generator("m", MESSAGES) as stream:
            async for _delta in stream:
                break
    # Unclosed sessions or sockets would fail this test through the
    # warnings-as-errors filter; the next call also works normally.
    emulator.use("default")
    assert "".join(await collect(fakegpt)) == DEFAULT_TEXT


@pytest.mark.emulator_scenario("http_429_rate_limited")
async def test_errors_carry_status_detail_and_headers(
    emulator: Emulator, fakegpt: type[FakeGpt]
) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await collect(fakegpt)
    error = caught.value
    assert error.status == 429
    assert error.detail == "Too many requests in 1 hour. Try again later."
    assert error.retry_after == 60.0
    assert error.endpoint == "/api/conversation"
    assert isinstance(error, aiohttp.ClientError) and isinstance(error, FakeGptError)


@pytest.mark.emulator_scenario("stall_silent")
async def test_a_stall_is_a_timeout_error(emulator: Emulator, fakegpt: type[FakeGpt]) -> None:
    deltas: list[str] = []

    async def read() -> None:
        async for d in fakegpt.create_async_generator("m", MESSAGES, idle_timeout=0.3):
            deltas.append(d)  # noqa: PERF401 - what arrived before the error is the point

    with pytest.raises(TimeoutError) as caught:
        await read()
    assert isinstance(caught.value, UpstreamTimeoutError)
    assert "".join(deltas) == "Hello!"  # the two snapshots before the stall, no more


async def test_unreachable_upstream_is_an_aiohttp_error(fakegpt: type[FakeGpt]) -> None:
    fakegpt.url = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(aiohttp.ClientError):
        await collect(fakegpt, timeout=2)


def test_provider_interface_defaults() -> None:
    assert issubclass(FakeGpt, AsyncGeneratorProvider)
    assert FakeGpt.working and FakeGpt.supports_gpt_35_turbo and FakeGpt.supports_stream
    with pytest.raises(NotImplementedError):
        AsyncGeneratorProvider.create_async_generator("m", MESSAGES)


def run_cli(url: str) -> subprocess.CompletedProcess[str]:
    """``python -m client hi --url URL``, as a developer types it."""
    return subprocess.run(
        [sys.executable, "-m", "client", "hi", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_python_m_client_streams_to_the_terminal(emulator: Emulator) -> None:
    done = run_cli(emulator.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEFAULT_TEXT + "\n"


@pytest.mark.emulator_scenario("http_500_loads")
def test_python_m_client_reports_errors(emulator: Emulator) -> None:
    done = run_cli(emulator.url)
    assert done.returncode == 1
    assert "UpstreamStatusError" in done.stderr and "500" in done.stderr
