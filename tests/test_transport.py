"""The network's faults ([transport], and the reset/close/half_open fault kinds), read
from a raw socket: what actually crossed the wire, byte for byte and FIN for RST."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp
import pytest

from emulator import EmulatorConfig, ScenarioError, scenario_from_dict
from emulator.core.clock import VirtualClock
from emulator.engine.play import latencies
from emulator.pytest_plugin import EmulatorFactory
from emulator.scenario import Transport
from emulator.server import Emulator
from tests.helpers import conversation, login


@pytest.fixture
async def served(emulator_factory: EmulatorFactory) -> tuple[Emulator, str]:
    """A fresh emulator (in this loop) and an access token for it."""
    emulator = await emulator_factory(EmulatorConfig(speed=0))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
    return emulator, token


def scenario(transport: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"description": "a transport test", **top}
    if transport is not None:
        table["transport"] = transport
    return table


async def exchange(
    emulator: Emulator, token: str, path: str = "/api/conversation", *, read_for: float = 5.0
) -> tuple[bytes, bytes, str, float]:
    """One raw request; (head, body as received, how the connection ended, seconds).

    Reads until the server ends the connection ("eof" for a FIN, "reset" for
    an RST), or a chunked body's last chunk arrives or ``read_for`` seconds pass
    ("open"; a body the server will close is read to its close): bounded, as
    every loop here.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
    if path == "/api/conversation":
        body = json.dumps(conversation("hi")).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    else:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    started = time.monotonic()
    writer.write(request)
    received = bytearray()
    ended = "open"
    try:
        while time.monotonic() - started < read_for:
            try:
                part = await asyncio.wait_for(reader.read(65536), 0.2)
            except TimeoutError:
                continue
            if not part:
                ended = "eof"
                break
            received += part
            if received.endswith(b"\r\n0\r\n\r\n") and b"Connection: close" not in received:
                break  # the body is whole and the connection stays open
    except ConnectionResetError:
        ended = "reset"
    seconds = time.monotonic() - started
    writer.close()
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    return head, rest, ended, seconds


def unchunk(body: bytes) -> tuple[bytes, bool]:
    """The payload of a chunked body, and whether its terminating chunk arrived."""
    out = bytearray()
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line, 16)
        if size == 0:
            return bytes(out), True
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out), False


@pytest.mark.parametrize(("kind", "ended"), [("reset", "reset"), ("close", "eof")])
async def test_reset_sends_an_rst_and_close_a_fin_both_mid_body(
    served: tuple[Emulator, str], kind: str, ended: str
) -> None:
    emulator, token = served
    emulator.use(scenario(faults=[{"kind": kind, "at": 3}]))
    head, body, how, _ = await exchange(emulator, token)
    assert head.startswith(b"HTTP/1.1 200") and how == ended
    payload, terminated = unchunk(body)
    assert not terminated
    if kind == "close":  # a FIN comes after every byte written: three events, whole
        assert payload.count(b"\n\n") == 3 and payload.endswith(b"\n\n")
    call = emulator.calls("/api/conversation").last
    assert call.ending is not None and call.ending.kind == (
        "reset" if kind == "reset" else "closed"
    )
    assert str(call.ending).startswith(f"{call.ending.kind} by the scenario")


async def test_cut_after_ends_the_body_at_that_byte_with_a_fin_or_an_rst(
    served: tuple[Emulator, str],
) -> None:
    emulator, token = served
    for cut_with, ended in (("close", "eof"), ("reset", "reset")):
        emulator.use(scenario({"cut_after": 333, "cut_with": cut_with}))
        _, body, how, _ = await exchange(emulator, token)
        payload, terminated = unchunk(body)
        if cut_with == "close":  # an RST may discard bytes still in flight
            assert len(payload) == 333
        assert how == ended and not terminated
        call = emulator.calls("/api/conversation").last
        assert call.bytes_sent == 333 and call.ending is not None
        assert (call.ending.kind, call.ending.at_bytes) == ("cut", 333)
        assert str(call.ending).startswith("cut by the transport at 333 B")


async def test_a_cut_json_answer_keeps_its_full_content_length(
    served: tuple[Emulator, str],
) -> None:
    emulator, token = served
    emulator.use("loads_cut")
    head, body, how, _ = await exchange(emulator, token, "/api/loads")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(
            b":"
        )[1]
    )
    assert length > 30 and len(body) == 30 and how == "eof"
    assert body == (await full_loads(emulator))[:30]


async def full_loads(emulator: Emulator) -> bytes:
    emulator.use("default")
    async with aiohttp.ClientSession() as http, http.get(f"{emulator.url}/api/loads") as r:
        return await r.read()


async def test_bandwidth_caps_the_rate_and_latency_delays_each_write(
    emulator_factory: EmulatorFactory,
) -> None:
    # On a virtual clock: the schedule is exact, and it costs no wall time.
    clock = VirtualClock()
    emulator = await emulator_factory(EmulatorConfig(speed=0, clock=clock))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await login(http, emulator.url)
    emulator.use(
        scenario({"bandwidth": 5000}, reply={"text": "x" * 1500, "cut": "char", "cut_size": 500})
    )
    began = clock.time()
    _, body, how, _ = await exchange(emulator, token)
    payload, terminated = unchunk(body)
    assert terminated and how == "open"  # whole, and the connection kept alive
    call = emulator.calls("/api/conversation").last
    # 5,000 bytes a second, in slices of 50 ms: the whole body took its size / 5,000 s.
    assert call.bytes_sent == len(payload) > 5000
    assert clock.time() - began == pytest.approx(len(payload) / 5000, abs=0.06)
    emulator.use(scenario({"latency": 0.1}, reply={"text": "a b c"}, wire={"moderation": False}))
    _, body, _, _ = await exchange(emulator, token)
    call = emulator.calls("/api/conversation").last
    assert unchunk(body)[1] and call.ending is not None and call.ending.kind == "completed"
    writes = call.transcript.writes  # type: ignore[union-attr]
    # Each write waits its 100 ms: the first at 100 ms, the last at 100 ms a write.
    assert call.duration == pytest.approx(0.1 * len(writes), abs=1e-6)


def test_latencies_follow_their_distribution_reproducibly() -> None:
    lognormal = Transport(latency=0.02, latency_sd=0.015, distribution="lognormal", seed=7)
    draws = [next(d) for d in [latencies(lognormal)] for _ in range(20_000)]
    assert draws[:5] == [next(d) for d in [latencies(lognormal)] for _ in range(5)]
    assert statistics.fmean(draws) == pytest.approx(0.02, rel=0.05)
    assert statistics.stdev(draws) == pytest.approx(0.015, rel=0.1)
    assert min(draws) > 0
    normal = Transport(latency=0.01, latency_sd=0.02, distribution="normal", seed=1)
    draws = [next(d) for d in [latencies(normal)] for _ in range(5_000)]
    assert min(draws) == 0.0 and max(draws) > 0.05  # clipped at zero, never negative
    assert {next(latencies(Transport(latency=0.3)))} == {0.3}


async def test_no_headers_sends_the_status_line_and_then_nothing(
    served: tuple[Emulator, str],
) -> None:
    emulator, token = served
    emulator.use("no_headers")
    head, body, how, _ = await exchange(emulator, token, read_for=0.6)
    assert (head, body, how) == (b"HTTP/1.1 200 OK\r\n", b"", "open")
    call = emulator.calls("/api/conversation").last
    for _ in range(100):  # the server notices the client left (bounded: 5 s)
        if call.ending is not None:
            break
        await asyncio.sleep(0.05)
    assert call.ending is not None and call.ending.kind == "no_headers"
    assert str(call.ending).startswith("headers never sent at 0 B after ")


@pytest.mark.parametrize("error", [-40, 100])
async def test_a_lying_content_length_is_sent_and_the_connection_closed(
    served: tuple[Emulator, str], error: int
) -> None:
    emulator, token = served
    emulator.use(scenario({"length_error": error}, wire={"moderation": False}))
    head, body, how, _ = await exchange(emulator, token)
    headers = head.lower().split(b"\r\n")
    declared = int(next(h for h in headers if h.startswith(b"content-length")).split(b":")[1])
    assert b"transfer-encoding: chunked" not in headers and b"connection: close" in headers
    assert how == "eof"
    if error < 0:
        assert len(body) == declared and not body.endswith(b"data: [DONE]\n\n")
    else:
        assert len(body) == declared - 100 and body.endswith(b"data: [DONE]\n\n")


async def test_slow_close_ends_the_body_then_holds_the_connection(
    served: tuple[Emulator, str],
) -> None:
    emulator, token = served
    emulator.use(scenario({"slow_close": 1.0}))
    head, body, how, seconds = await exchange(emulator, token)
    assert b"Connection: close" in head and how == "eof"
    assert unchunk(body)[1]  # the body was whole
    assert seconds >= 0.9  # the FIN came a second after it


async def test_half_open_stops_sending_and_keeps_the_connection(
    served: tuple[Emulator, str],
) -> None:
    emulator, token = served
    emulator.use("half_open")
    _, body, how, _ = await exchange(emulator, token, read_for=0.8)
    payload, terminated = unchunk(body)
    assert how == "open" and not terminated and payload.count(b"\n\n") == 3


@pytest.mark.parametrize(
    ("transport", "key", "problem"),
    [
        ({"bandwidth": 5}, "transport.bandwidth", "at least 10 bytes/s"),
        ({"latency_sd": 0.1}, "transport.latency_sd", "needs distribution"),
        ({"endpoints": ["nowhere"]}, "transport.endpoints", "'loads'"),
        ({"endpoints": []}, "transport.endpoints", "non-empty"),
        ({"cut_with": "fin"}, "transport.cut_with", "'close'"),
        (
            {"latency": 0, "latency_sd": 1, "distribution": "lognormal"},
            "transport.latency",
            "needs its mean",
        ),
        ({"typo": 1}, "transport.typo", "unknown key"),
    ],
)
def test_a_bad_transport_table_names_its_key(
    transport: dict[str, Any], key: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(scenario(transport), source="t.toml")
    assert caught.value.key == key and problem in caught.value.problem
