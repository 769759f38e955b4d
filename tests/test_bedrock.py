"""Bedrock ConverseStream, judged by AWS's own SDK (``boto3``/``botocore``, unchanged) over
real sockets; its binary event-stream framing decoded by botocore's own parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios, load_scenario, serve
from emulator.capture import import_capture
from emulator.conformance.runner import cases, skipped
from emulator.conformance.sdks import bedrock_sdk
from emulator.dialects.bedrock.wire import Breaks, FrameError, event_frame, frames
from emulator.scenario.dump import scenario_to_toml
from emulator.scenario.text import reply_text
from tests.helpers import assert_report_card

PROMPT = "Tell me something."
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(speed=0)) as running:
        yield running


@contextmanager
def sdk(url: str) -> Iterator[Any]:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10),
    )
    with closing(client):  # its pooled sockets closed with it
        yield client


def want(name: str) -> str:
    return reply_text(builtin_scenarios()[name].reply, PROMPT)


def test_the_sdk_streams_and_reads_whole_the_exact_text_with_its_events(
    server: EmulatorServer,
) -> None:
    session = server.session()
    session.use("unicode_text")
    with sdk(session.url) as client:
        read_whole_and_streamed(client)
    session.use("max_tokens")
    with sdk(session.url) as client:
        assert client.converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "max_tokens"
    session.drop()


def read_whole_and_streamed(client: Any) -> None:
    answer = client.converse_stream(modelId=MODEL, messages=MESSAGES)
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    events = list(answer["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart" and names[-3:] == ["contentBlockStop", "messageStop",
                                                         "metadata"]  # fmt: skip
    assert events[0]["messageStart"] == {"role": "assistant"}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if
                   "contentBlockDelta" in e)  # fmt: skip
    assert text == want("unicode_text")
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    usage = events[-1]["metadata"]["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    whole = client.converse(modelId=MODEL, messages=MESSAGES)
    assert whole["output"]["message"]["content"] == [{"text": want("unicode_text")}]
    assert whole["stopReason"] == "end_turn"


def test_a_tool_call_streams_as_tool_use_input_deltas(server: EmulatorServer) -> None:
    session = server.session()
    session.use("tool_call_split")
    with sdk(session.url) as client:
        events = list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
        whole = client.converse(modelId=MODEL, messages=MESSAGES)
    start = events[1]["contentBlockStart"]
    assert start["start"]["toolUse"]["name"] == "get_weather" and start["contentBlockIndex"] == 0
    arguments = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
                        if "contentBlockDelta" in e)  # fmt: skip
    assert json.loads(arguments) == json.loads(want("tool_call_split"))
    assert events[-2]["messageStop"] == {"stopReason": "tool_use"}
    assert whole["output"]["message"]["content"][0]["toolUse"]["input"] == json.loads(
        want("tool_call_split")
    )
    session.drop()


def test_the_sdk_raises_its_own_errors_for_statuses_exceptions_and_corrupt_frames(
    server: EmulatorServer,
) -> None:
    session = server.session()

    def read() -> str:
        with sdk(session.url) as client:
            stream = client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
            with closing(stream):
                return "".join(e.get("contentBlockDelta", {}).get("delta", {}).get("text", "")
                               for e in stream)  # fmt: skip

    session.use("http_429_rate_limited")
    with pytest.raises(ClientError) as limited:
        read()
    assert limited.value.response["Error"]["Code"] == "ThrottlingException"
    assert limited.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    session.use("in_stream_error")
    with pytest.raises(EventStreamError) as failed:
        read()
    assert failed.value.response["Error"] == {
        "Code": "modelStreamErrorException",
        "Message": "Something went wrong while generating the response.",
    }
    for corrupt in ("bad_prelude_crc", "bad_message_crc", "frame_length_lie"):
        session.use(corrupt)
        with pytest.raises(ChecksumMismatch):
            read()
    session.use("unknown_event")
    assert read() == want("unknown_event")
    # botocore stops at the end of the body with half a frame unread, and says nothing:
    # the text is that of a reply that never got its messageStop.
    session.use("truncated_frame")
    assert read() == want("truncated_frame")
    session.drop()


async def test_a_request_is_signed_and_validated_as_the_api_does(server: EmulatorServer) -> None:
    url = f"{server.url}/model/{MODEL}/converse-stream"
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/bedrock/"
              "aws4_request, SignedHeaders=host, Signature=00"}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"messages": MESSAGES}) as r:
            assert r.status == 403
            assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
            assert await r.json() == {"message": "Missing Authentication Token"}
        async with http.post(url, json={"messages": MESSAGES},
                             headers={"Authorization": "Basic eA=="}) as r:  # fmt: skip
            assert r.status == 403 and r.headers["x-amzn-ErrorType"] == (
                "UnrecognizedClientException"
            )
        assistant_first = [{"role": "assistant", "content": [{"text": "hi"}]}, *MESSAGES]
        async with http.post(url, json={"messages": assistant_first}, headers=signed) as r:
            assert r.status == 400 and r.headers["x-amzn-ErrorType"] == "ValidationException"
            assert "must start with a user message" in (await r.json())["message"]
        twice = [*MESSAGES, *MESSAGES]
        async with http.post(url, json={"messages": twice}, headers=signed) as r:
            assert r.status == 400 and "must alternate" in (await r.json())["message"]
        bad_role = [{"role": "system", "content": [{"text": "x"}]}]
        async with http.post(url, json={"messages": bad_role}, headers=signed) as r:
            assert r.status == 400 and "messages.1.member.role" in (await r.json())["message"]
        async with http.post(f"{server.url}/model/{MODEL}/invoke-agent", json={},
                             headers=signed) as r:  # fmt: skip
            assert r.status == 404 and r.headers["x-amzn-ErrorType"] == (
                "UnknownOperationException"
            )
        async with http.post(url, json={"messages": MESSAGES}, headers=signed) as r:
            body = await r.read()
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    decoded = [(m.headers[":event-type"], json.loads(m.payload)) for m in buffer]
    assert decoded[0] == ("messageStart", {"role": "assistant", "p": decoded[0][1]["p"]})
    assert [kind for kind, _ in decoded][-2:] == ["messageStop", "metadata"]


def test_the_frame_writer_is_read_by_botocore_and_its_breaks_are_caught_by_both() -> None:
    body = {"contentBlockIndex": 0, "delta": {"text": "Grüße 👋"}}
    sound = event_frame("contentBlockDelta", body)
    for size in range(1, len(sound) + 1):  # split at every byte boundary
        buffer = EventStreamBuffer()
        messages = []
        for i in range(0, len(sound), size):
            buffer.add_data(sound[i : i + size])
            messages += list(buffer)
        assert [json.loads(m.payload)["delta"] for m in messages] == [body["delta"]]
    assert [f.headers[":event-type"] for f in frames(sound + sound)] == ["contentBlockDelta"] * 2
    for breaks in (Breaks(prelude_crc=1), Breaks(message_crc=1), Breaks(length_lie=16)):
        broken = event_frame("contentBlockDelta", body, breaks=breaks) + sound + sound
        buffer = EventStreamBuffer()
        buffer.add_data(broken)
        with pytest.raises(ChecksumMismatch):
            list(buffer)
        with pytest.raises(FrameError):
            list(frames(broken))


async def test_the_sdks_report_card_in_the_readme_is_what_a_run_finds() -> None:
    await assert_report_card("bedrock card", "bedrock", bedrock_sdk)


def test_the_scenarios_bedrock_does_not_serve_each_say_why() -> None:
    why = dict(skipped("bedrock"))
    assert why["pings_and_comments"] == "its ping fault: ConverseStream has no keep-alive event"
    assert why["bom"] == "its wire quirks are SSE framing, which a binary event stream has not"
    assert why["garbage_bytes"] == (
        "its garbage fault: a line of raw bytes is SSE framing, which a binary event stream has "
        "not"
    )
    assert why["no_done"] == "there is no [DONE] in this API (messageStop ends a message)"
    served = {c.name for c in cases(dialect="bedrock")}
    assert {"bad_prelude_crc", "truncated_frame", "tool_call_split"} <= served
    assert len(served) + len(why) == len(builtin_scenarios())


async def _stream_body(url: str, scenario: str) -> tuple[int, bytes]:
    headers = {"Authorization": "Bearer bedrock-api-key"}
    if scenario:
        headers["X-Emulator-Scenario"] = scenario
    got = bytearray()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/model/{MODEL}/converse-stream", json={"messages": MESSAGES}, headers=headers
        ) as r,  # fmt: skip
    ):
        async for piece in r.content.iter_any():
            got += piece
        return r.status, bytes(got)


async def test_a_captured_stream_imports_as_bedrocks_and_replays_byte_for_byte(
    server: EmulatorServer, tmp_path: Path
) -> None:
    status, body = await _stream_body(server.url, "default")
    assert status == 200
    imported = import_capture(body, "stream.bin", "bin", "bedrock")
    assert imported.scenario.expect.outcome in ("reply", "text")
    assert imported.scenario.expect.text in (None, want("default"))
    file = tmp_path / "stream.toml"
    file.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    async with serve(EmulatorConfig(speed=0, default=load_scenario(file))) as replaying:
        assert await _stream_body(replaying.url, "") == (200, body)
    # A captured stream with a corrupt frame states the failure a strict reader meets.
    status, corrupt = await _stream_body(server.url, "bad_message_crc")
    stated = import_capture(corrupt, "corrupt.bin", "bin", "bedrock").scenario.expect
    assert (stated.outcome, stated.failure) == ("failure", "corrupt_stream")


def test_a_content_filter_stop_is_content_filtered(server: EmulatorServer) -> None:
    session = server.session()
    session.use("content_filtered")
    with sdk(session.url) as client:
        events = list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
        whole = client.converse(modelId=MODEL, messages=MESSAGES)
    assert events[-2]["messageStop"] == {"stopReason": "content_filtered"}
    assert whole["stopReason"] == "content_filtered"
    assert whole["output"]["message"]["content"] == [{"text": want("content_filtered")}]
    session.drop()


def test_an_error_with_a_cause_is_that_exception_frame_and_no_key_is_refused(
    server: EmulatorServer,
) -> None:
    from botocore import UNSIGNED

    session = server.session()
    session.use("in_stream_rate_limited")
    with sdk(session.url) as client:
        stream = client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
        with closing(stream), pytest.raises(EventStreamError) as throttled:
            list(stream)
    assert throttled.value.response["Error"] == {
        "Code": "throttlingException",
        "Message": "Too many tokens, please wait before trying again.",
    }
    # A client that does not sign (no credentials): the API's 403, by its name.
    unsigned = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=session.url,
                            config=Config(signature_version=UNSIGNED,
                                          retries={"total_max_attempts": 1}))  # fmt: skip
    with closing(unsigned), pytest.raises(ClientError) as refused:
        unsigned.converse(modelId=MODEL, messages=MESSAGES)
    assert refused.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    session.drop()


def test_the_readme_s_boto3_snippet_runs_as_written(server: EmulatorServer) -> None:
    import re
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                if "boto3.client(" in b)  # fmt: skip
    code = code.replace("http://localhost:8080", server.url)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    deltas = re.findall(r"'delta': \{'text': '([^']*)'\}", done.stdout)
    assert "".join(deltas) == reply_text(builtin_scenarios()["default"].reply, "Hi")
    assert "'messageStop'" in done.stdout
