"""The dialect registry: one home per API, fault shapes per dialect, captures per dialect.

A toy dialect, registered from this test module alone (a folder's worth of
code: a reader, an answer, its fault shapes and its capture reader), is
served, judged by the conformance kit and imported, as a fifth API would be.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

import aiohttp
import pytest

from emulator import EmulatorConfig, builtin_scenarios, load_scenario, serve
from emulator.capture import import_capture
from emulator.conformance import python_client
from emulator.conformance.runner import cases, run_all, skipped
from emulator.core.endings import Label
from emulator.dialects.anthropic.bedrock import SHAPES as ANTHROPIC_BEDROCK_SHAPES
from emulator.dialects.anthropic.shapes import shapes as anthropic_shapes
from emulator.dialects.bedrock.shapes import shapes as bedrock_shapes
from emulator.dialects.cohere.shapes import shapes as cohere_shapes
from emulator.dialects.cohere.wire import CohereContext
from emulator.dialects.common import keyed_api_not_applicable
from emulator.dialects.dialect import Capture, Conversation, Dialect, Errors
from emulator.dialects.fakegpt.shapes import shapes as fakegpt_shapes
from emulator.dialects.fakegpt.wire import StreamContext
from emulator.dialects.gemini.shapes import shapes as gemini_shapes
from emulator.dialects.gemini_live.shapes import shapes as live_shapes
from emulator.dialects.mcp.shapes import shapes as mcp_shapes
from emulator.dialects.ollama.shapes import shapes as ollama_shapes
from emulator.dialects.ollama.wire import OllamaContext, line
from emulator.dialects.openai_chat.shapes import shapes as chat_shapes
from emulator.dialects.openai_chat.wire import ChatContext
from emulator.dialects.openai_realtime.shapes import shapes as realtime_shapes
from emulator.dialects.openai_realtime.wire import RealtimeContext
from emulator.dialects.openai_responses.plan import Numbered
from emulator.dialects.openai_responses.shapes import shapes as responses_shapes
from emulator.dialects.openai_responses.wire import ResponseContext
from emulator.dialects.registry import DIALECTS, dialect_named, register, registered
from emulator.dialects.speaker import (
    DeltaSpeaker,
    Given,
    Incoming,
    Streamed,
    Whole,
    json_object,
)
from emulator.engine.prepare import Prepared
from emulator.engine.stream import delta_events, dialect_stream, format_of
from emulator.protocol.errors import BadRequest
from emulator.protocol.sse import SSEFormat, event_json, sse_data
from emulator.protocol.steps import Step, Write
from emulator.scenario import HttpError
from emulator.scenario.asked import Asked, Message
from emulator.scenario.dump import scenario_to_toml
from emulator.scenario.faults import (
    FAULT_KINDS,
    SHAPED_KINDS,
    FaultShapes,
    Sent,
    Shapes,
)
from emulator.scenario.model import Fault, Scenario
from emulator.scenario.outcomes import Reading
from emulator.scenario.text import reply_text

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Tell me something."


# -- one home per concern ---------------------------------------------------------------


def _compares_a_fault_kind(node: ast.Compare) -> bool:
    def strings(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return {s for e in node.elts for s in strings(e)}
        return set()

    parts = [node.left, *node.comparators]
    names_kind = any(
        (isinstance(p, ast.Attribute) and p.attr == "kind")
        or (isinstance(p, ast.Name) and p.id == "kind")
        for p in parts
    )
    return names_kind and any(strings(p) & set(FAULT_KINDS) for p in parts)


def test_no_fault_kind_is_named_in_a_comparison_outside_the_table_and_the_shapes() -> None:
    allowed = {ROOT / "emulator" / "scenario" / "faults.py"}
    allowed |= set((ROOT / "emulator" / "dialects").glob("*/shapes.py"))
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for path in sorted((ROOT / "emulator").rglob("*.py"))
        if path not in allowed
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Compare) and _compares_a_fault_kind(node)
    ]
    assert found == []


def test_the_kind_check_catches_a_comparison() -> None:
    tree = ast.parse("if fault.kind == 'stall': pass\nif kind in ('drop', 'x'): pass")
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert [_compares_a_fault_kind(n) for n in compares] == [True, True]
    assert not _compares_a_fault_kind(ast.parse("x.kind == 'text'").body[0].value)  # type: ignore[attr-defined]


def test_each_shipped_dialect_shapes_what_it_declares_and_gives_a_reason_for_the_rest() -> None:
    stream = StreamContext(PROMPT, "m", "c", "p", 1.0, "model", "mod")
    built: dict[str, Shapes] = {
        "fakegpt": fakegpt_shapes(stream),
        "openai-chat": chat_shapes(ChatContext("chatcmpl-1", 1, "m", False, 3), 1.0),
        "azure-openai": chat_shapes(ChatContext("chatcmpl-1", 1, "m", False, 3), 1.0),
        "anthropic": anthropic_shapes(),
        "openai-responses": responses_shapes(
            ResponseContext("resp_1", "msg_1", 1, "m", 3), Numbered(), 1.0
        ),
        "gemini": gemini_shapes(),
        "bedrock": bedrock_shapes(),
        "openai-realtime": realtime_shapes(RealtimeContext("resp_1", "conv_1", False, "v", 3)),
        "gemini-live": live_shapes(),
        "mcp": mcp_shapes(1),
        "anthropic-bedrock": ANTHROPIC_BEDROCK_SHAPES,
        "anthropic-vertex": anthropic_shapes(),
        "gemini-vertex": gemini_shapes(),
        **{
            name: chat_shapes(ChatContext("chatcmpl-1", 1, "m", False, 3), 1.0)
            for name in ("openrouter", "vllm", "llama-cpp", "mistral", "groq")
        },
        "cohere": cohere_shapes(CohereContext("c", 3)),
        "ollama": ollama_shapes(OllamaContext("m", "t", 3, "chat"), line),
    }
    assert sorted(built) == sorted(DIALECTS)
    for name, shapes in built.items():
        declared = DIALECTS[name].shapes
        assert set(shapes) == declared.kinds, name
        assert declared.kinds | set(declared.missing) == SHAPED_KINDS, name
        assert all(reason for reason in declared.missing.values()), name


def test_a_dialect_silent_on_a_shaped_kind_is_refused_when_it_is_made() -> None:
    with pytest.raises(ValueError, match=r"'toy2'.*neither shaped nor missing: .*done"):
        _toy(name="toy2", shapes=FaultShapes(frozenset({"error"}), {}))


def test_a_dialect_is_registered_once_by_name_and_path() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(DIALECTS["anthropic"])
    with pytest.raises(ValueError, match=r"/v1/messages already served by 'anthropic'"):
        register(dataclasses.replace(_toy(name="toy3"), routes={"/v1/messages": {}}))
    with pytest.raises(ValueError, match="unknown dialect 'nope'; known: fakegpt"):
        dialect_named("nope")


# -- a fifth dialect, registered from here ------------------------------------------------

#: The toy API names a voice in its path, as Gemini names a model: a prefix route.
TOY_PREFIX: Final = "/toy/v1/voices/"
TOY_PATH: Final = TOY_PREFIX + "calm:say"
#: The shaped kinds the toy API has not.
TOY_MISSING: Final = dict.fromkeys(
    sorted(SHAPED_KINDS - {"error", "ping", "malformed_json"}), "the toy API has no such thing"
)


def _toy_error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event({"oops": fault.text or "the toy broke"}))


def _toy_ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.json_event({"still": "here"}))


def _toy_malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Write(fmt.event(fault.text or '{"say": '))


TOY_SHAPES: Final[Shapes] = {
    "error": _toy_error,
    "ping": _toy_ping,
    "malformed_json": _toy_malformed,
}


def _toy_not_applicable(scenario: Scenario) -> str | None:
    return keyed_api_not_applicable(scenario, "toy", TOY_MISSING)


class ToyRequest(NamedTuple):
    prompt: str
    stream: bool = True  # the toy answers only with a stream


class ToySpeaker(DeltaSpeaker[ToyRequest, None]):
    """The toy's conversation: a reader and a stream, the rest the shared skeleton's."""

    failed = "the toy broke"

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, ToyRequest]:
        voice, colon, verb = incoming.path.removeprefix(TOY_PREFIX).partition(":")
        if not voice or not colon or verb != "say":
            raise BadRequest(404, f"the toy has no {incoming.path}; it has {TOY_PREFIX}VOICE:say")
        body = json_object(incoming, "the toy wants JSON")
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise BadRequest(400, "prompt: a string is required")
        return Asked((Message("user", prompt),), body=body), ToyRequest(prompt)

    def begin(
        self, parsed: ToyRequest, scenario: Scenario, planned: Prepared, given: Given
    ) -> None:
        return None

    def replay_shapes(self, context: None, given: Given) -> Shapes:
        return TOY_SHAPES

    def stream(
        self,
        parsed: ToyRequest,
        context: None,
        scenario: Scenario,
        planned: Prepared,
        given: Given,
    ) -> Streamed:
        fmt = format_of(scenario)
        events = delta_events(
            scenario,
            planned,
            lambda: [Write(fmt.json_event({"start": True}), Label("event", "start"))],
            lambda n, piece: Write(fmt.json_event({"say": piece}), Label("event", f"say {n}")),
            lambda text, n: [Write(fmt.json_event({"end": True}), Label("end", "end"))],
        )
        return Streamed(dialect_stream(scenario, events, planned, lambda: TOY_SHAPES))


def _toy_error_body(status: int, message: str) -> bytes:
    return json.dumps({"oops": message}).encode()


def _toy_scripted(error: HttpError) -> Whole:
    return Whole(_toy_error_body(error.status, "scripted"), error.status)


def _read_toy_capture(body: bytes) -> Reading:
    text = ""
    for data in sse_data(body):
        event = event_json(data)
        if "oops" in event:
            return Reading(text, failure="upstream_error", message=str(event["oops"]))
        if isinstance(event.get("say"), str):
            text += event["say"]
        if event.get("end"):
            return Reading(text, done=True, finished=True)
    return Reading(text)


TOY_FAULT_SHAPES: Final = FaultShapes(frozenset(TOY_SHAPES), TOY_MISSING)


def _toy(
    name: str = "toy", prefix: str = TOY_PREFIX, shapes: FaultShapes = TOY_FAULT_SHAPES
) -> Dialect:
    return Dialect(
        name=name,
        title="Toy",
        answered_at=prefix,
        routes={},
        prefixes={prefix: {"POST": Conversation(ToySpeaker)}},
        why_not=_toy_not_applicable,
        shapes=shapes,
        errors=Errors(_toy_error_body, _toy_scripted),
        capture=Capture(_read_toy_capture),
        doc="a toy API of the tests",
    )


async def toy_client(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109
    """A correct client of the toy API: the text, or an exception for any failure."""
    limit = aiohttp.ClientTimeout(total=None, sock_read=timeout)
    async with (
        aiohttp.ClientSession(timeout=limit) as http,
        http.post(url + TOY_PATH, json={"prompt": prompt}) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
        body = await response.read()
    reading = _read_toy_capture(body)
    if reading.failure is not None:
        raise RuntimeError(f"the toy said: {reading.message}")
    if not reading.done:
        raise RuntimeError("the stream ended before its end event")
    return reading.text


@pytest.fixture
def toy() -> Iterator[Dialect]:
    with registered(_toy()) as dialect:
        yield dialect


async def _post(url: str, body: Any) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url + TOY_PATH, json=body) as r:
        return r.status, await r.read()


async def test_a_registered_dialect_is_served_with_its_own_errors(toy: Dialect) -> None:
    default = builtin_scenarios()["default"]
    async with serve(EmulatorConfig(speed=0)) as emulator:
        status, body = await _post(emulator.url, {"prompt": PROMPT})
        assert status == 200
        assert _read_toy_capture(body) == Reading(
            reply_text(default.reply, PROMPT), done=True, finished=True
        )
        status, body = await _post(emulator.url, {"nothing": 1})
        assert (status, json.loads(body)) == (400, {"oops": "prompt: a string is required"})
        # The rest of the path is the reader's to read: another verb is the API's own 404.
        async with (
            aiohttp.ClientSession() as http,
            http.post(emulator.url + TOY_PREFIX + "calm:sing", json={}) as r,
        ):
            assert r.status == 404 and "it has /toy/v1/voices/VOICE:say" in await r.text()
        assert emulator.calls(TOY_PATH)[0].dialect == "toy"
    # Once taken back, a new server does not serve it.
    from emulator.dialects.registry import unregister

    unregister("toy")
    async with serve(EmulatorConfig(speed=0)) as emulator:
        assert (await _post(emulator.url, {"prompt": PROMPT}))[0] == 404
    register(toy)  # the fixture takes it back itself


async def test_the_conformance_kit_judges_a_client_of_a_registered_dialect(
    toy: Dialect,
) -> None:
    names = ["default", "drop_mid_stream", "in_stream_error", "malformed_json", "stall_with_pings"]
    chosen = cases(names, dialect="toy")
    assert [c.name for c in chosen] == names
    results = await run_all(chosen, python_client(toy_client), speed=0)
    assert {r.case.name: r.verdict.kind for r in results} == dict.fromkeys(
        [c.name for c in chosen], "pass"
    )
    why = dict(skipped("toy"))
    assert why["stale_snapshots"] == "its stale fault: the toy API has no such thing"
    assert why["login_rejected"].startswith("it acts on the FakeGpt login calls")


async def test_a_capture_of_a_registered_dialect_imports_and_replays_byte_for_byte(
    toy: Dialect, tmp_path: Path
) -> None:
    async with serve(EmulatorConfig(speed=0)) as emulator:
        _, captured = await _post(emulator.url, {"prompt": PROMPT})
    imported = import_capture(captured, "toy.txt", "toy_capture", "toy")
    assert imported.scenario.expect.text == reply_text(
        builtin_scenarios()["default"].reply, PROMPT
    )
    path = tmp_path / "toy_capture.toml"
    path.write_text(scenario_to_toml(imported.scenario), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.recording is not None and scenario.recording.dialect == "toy"
    assert DIALECTS["fakegpt"].not_applicable(scenario) == "its recording is of another API (toy)"
    async with serve(EmulatorConfig(speed=0, default=scenario)) as emulator:
        assert await _post(emulator.url, {"prompt": "anything"}) == (200, captured)
    verdicts = await run_all(cases(scenarios={"toy_capture": scenario}, dialect="toy"),
                             python_client(toy_client), speed=0)  # fmt: skip
    assert [v.verdict.kind for v in verdicts] == ["pass"]


async def test_the_journal_and_the_admin_api_name_each_exchanges_dialect(toy: Dialect) -> None:
    async with serve(EmulatorConfig(speed=0)) as emulator:
        await _post(emulator.url, {"prompt": PROMPT})
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{emulator.url}/api/loads") as r:
                assert r.status == 200
            async with http.get(f"{emulator.url}/_emulator") as r:
                info = await r.json()
            async with http.get(f"{emulator.url}/_emulator/journal") as r:
                journal = await r.json()
            async with http.get(f"{emulator.url}/_emulator/metrics") as r:
                metrics = await r.text()
        # A prefix route is counted under its prefix, not a label per path.
        assert 'path="/toy/v1/voices/*"' in metrics and "calm:say" not in metrics
        assert [d["name"] for d in info["dialects"]] == [*DIALECTS]
        assert {"name": "toy", "title": "Toy", "answered_at": TOY_PREFIX} in info["dialects"]
        assert [(c["path"], c["dialect"]) for c in journal] == [
            (TOY_PATH, "toy"),
            ("/api/loads", "fakegpt"),
        ]
        assert emulator.requests[0].dialect == "toy"
