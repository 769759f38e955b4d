"""A toy WebSocket dialect, registered from the tests alone: a folder's worth of code.

A message-echo API over one WebSocket (``GET /toy/ws``, a key as ``Authorization:
Bearer toy-…``): the client sends ``{"say": PROMPT}``, the server answers with
``{"start": true}``, ``{"piece": …}`` messages and ``{"end": true}``; an error is
``{"oops": …}`` on the socket, which stays open. It proves the seam: a session-speaking
dialect is a :class:`~emulator.dialects.session.Talker` (a state machine with no I/O)
and a speaker, one :class:`~emulator.dialects.dialect.Dialect` value, one ``register``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple

import aiohttp

from emulator.core.endings import Label
from emulator.dialects.common import keyed_api_not_applicable, sse_framing
from emulator.dialects.dialect import Capture, Dialect, Errors, Session
from emulator.dialects.session import Ask, Heard, Opened, Said, Talker
from emulator.dialects.speaker import (
    DeltaSpeaker,
    Given,
    Incoming,
    Streamed,
    Whole,
    json_object,
)
from emulator.engine.prepare import Prepared
from emulator.engine.stream import delta_events, dialect_stream
from emulator.protocol.errors import BadRequest
from emulator.protocol.sse import SSEFormat
from emulator.protocol.steps import Message, Ping, Step
from emulator.scenario import HttpError
from emulator.scenario import asked as asking
from emulator.scenario.asked import Asked
from emulator.scenario.faults import SHAPED_KINDS, FaultShapes, Sent, Shapes
from emulator.scenario.model import Fault, Scenario
from emulator.scenario.outcomes import Reading

__all__ = ["TOY_WS_PATH", "read_messages", "toy_ws", "toy_ws_client"]

TOY_WS_PATH: Final = "/toy/ws"
KEY: Final = {"Authorization": "Bearer toy-key"}


def _said(obj: Any, what: str = "event") -> Message:
    return Message(json.dumps(obj).encode(), what=Label("event", what))


def _error(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield _said({"oops": fault.text or "the toy broke"}, "oops")


def _ping(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Ping(b"toy")  # a WebSocket's own keep-alive: a client answers with a pong


def _malformed(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    yield Message(b'{"piece": "tr', what=Label("event", "malformed"))


SHAPES: Final[Shapes] = {"error": _error, "ping": _ping, "malformed_json": _malformed}
MISSING: Final = dict.fromkeys(sorted(SHAPED_KINDS - set(SHAPES)), "the toy has no such thing")


def _why_not(scenario: Scenario) -> str | None:
    # SSE's framing (comments, raw lines, a BOM) means nothing on a WebSocket.
    return sse_framing(scenario, "a WebSocket") or keyed_api_not_applicable(
        scenario, "toy-ws", MISSING
    )


class Saying(NamedTuple):
    prompt: str
    stream: bool = True  # every answer is messages


class ToyWsSpeaker(DeltaSpeaker[Saying, None]):
    failed = "the toy broke"

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, Saying]:
        body = json_object(incoming, "the toy wants JSON")
        prompt = body.get("say")
        if not isinstance(prompt, str):
            raise BadRequest(400, "say: a string is required")
        return Asked((asking.Message("user", prompt),), body=body), Saying(prompt)

    def begin(self, parsed: Saying, scenario: Scenario, planned: Prepared, given: Given) -> None:
        return None

    def replay_shapes(self, context: None, given: Given) -> Shapes:
        return SHAPES

    def stream(
        self, parsed: Saying, context: None, scenario: Scenario, planned: Prepared, given: Given
    ) -> Streamed:
        events = delta_events(
            scenario,
            planned,
            lambda: [_said({"start": True}, "start")],
            lambda n, piece: _said({"piece": piece}, f"piece {n}"),
            lambda text, n: [Message(b'{"end": true}', what=Label("end", "end"))],
        )
        return Streamed(dialect_stream(scenario, events, planned, lambda: SHAPES))


class Asks(NamedTuple):
    """The session so far: how many asks it has made."""

    asks: int = 0


class ToyTalker(Talker[Asks]):
    def __init__(self) -> None:
        self.speaker = ToyWsSpeaker()

    def accept(self, incoming: Incoming, given: Given) -> Opened[Asks]:
        if not incoming.headers.get("Authorization", "").startswith("Bearer toy-"):
            raise BadRequest(401, "the toy wants a key: Authorization: Bearer toy-…")
        return Opened(Asks(), (_said({"hello": "toy"}, "hello"),))

    def heard(self, state: Asks, message: Heard, incoming: Incoming) -> tuple[Asks, Said | Ask]:
        if message.binary:
            return state, Said((_said({"oops": "the toy reads text messages only"}, "oops"),))
        asked = Incoming("MESSAGE", incoming.path, incoming.query,
                         {"Content-Type": "application/json"}, message.data)  # fmt: skip
        return Asks(state.asks + 1), Ask(asked)

    def refused(self, state: Asks, error: BadRequest) -> Sequence[Step]:
        return (_said({"oops": str(error.detail)}, "oops"),)


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"oops": message}).encode()


def _scripted(error: HttpError) -> Whole:
    return Whole(_error_body(error.status, "scripted"), error.status)


def read_messages(texts: Sequence[str]) -> Reading:
    """What a correct client makes of the toy's messages, in order."""
    text = ""
    for raw in texts:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if "oops" in event:
            return Reading(text, failure="upstream_error", message=str(event["oops"]))
        if isinstance(event.get("piece"), str):
            text += event["piece"]
        if event.get("end"):
            return Reading(text, done=True, finished=True)
    return Reading(text)


def _read_capture(body: bytes) -> Reading:
    return Reading("")  # a WebSocket's messages are not one body: nothing to import


def toy_ws() -> Dialect:
    return Dialect(
        name="toy-ws",
        title="Toy WebSocket",
        answered_at=TOY_WS_PATH,
        routes={TOY_WS_PATH: {"GET": Session(ToyTalker)}},
        why_not=_why_not,
        shapes=FaultShapes(frozenset(SHAPES), MISSING),
        errors=Errors(_error_body, _scripted),
        capture=Capture(_read_capture),
        doc="a toy WebSocket API of the tests",
    )


async def toy_ws_client(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109
    """A correct client of the toy WebSocket API: the text, or an exception for any failure
    (an error message, a close or a cut before the end, silence); a message that is not
    JSON is skipped."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + TOY_WS_PATH, headers=KEY, heartbeat=None) as ws,
    ):
        await ws.send_str(json.dumps({"say": prompt}))
        texts: list[str] = []
        while True:
            msg = await ws.receive(timeout=timeout)  # silence: a TimeoutError
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"the WebSocket closed ({ws.close_code}) before the end")
            try:
                event = json.loads(msg.data)
            except ValueError:
                continue  # a message that is not JSON: skipped, as the API's clients do
            if "hello" in event:
                continue
            texts.append(msg.data)
            reading = read_messages(texts)
            if reading.failure is not None:
                raise RuntimeError(f"the toy said: {reading.message}")
            if reading.done:
                return reading.text
