"""What a dialect is: one immutable value that says everything the emulator needs to serve an API.

A :class:`Dialect` names the API and is made of a few typed parts: its
routes (which method on which path is answered by what), which scenarios
mean nothing on it and why, the look of its faults, its errors, what a
capture of it says, and the rules it refuses requests by. Routes, ``--list``,
``conform --dialect``, ``import`` and the docs read these values from
:data:`emulator.dialects.registry.DIALECTS`; nothing else names a dialect.

A route is one of three kinds (:data:`Route`): :class:`Plain` (answered
without a scenario: a models list), :class:`Called` (one of an API's calls
that a scenario can fail: FakeGpt's login) and :class:`Conversation` (the
API's answers, by a :class:`~.speaker.Speaker` made for each server).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Generic, Literal, NamedTuple, TypeVar

from ..scenario import ANSWER, ApiPart, Budget, Endpoint, HttpError, Scenario
from ..scenario.faults import FAULTS, FaultShapes
from ..scenario.model import Expect
from ..scenario.outcomes import Reading
from ..scenario.parts import parts
from ..scenario.toxics import not_on_websocket
from .rpc import RpcServer
from .session import Talker
from .speaker import STREAM_HEADERS, Given, Incoming, Speaker, Whole, scripted_answer
from .strict import StrictRule

__all__ = [
    "GENERIC_BUDGET",
    "BudgetShape",
    "Called",
    "Capture",
    "Conversation",
    "Dialect",
    "Errors",
    "Plain",
    "Route",
    "Rpc",
    "Session",
    "detail_body",
    "json_error_message",
    "path_pattern",
    "plain_errors",
    "top_message",
]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Plain:
    """A path answered without a scenario (a models list)."""

    answer: Callable[[Incoming, Given], Whole]


@dataclass(frozen=True, slots=True)
class Called(Generic[R]):
    """One of an API's calls that a scenario chooses an answer for (FakeGpt's login):
    read, the scenario chosen (and its HTTP error injected), then answered whole."""

    endpoint: Endpoint
    read: Callable[[Incoming, Given], R]
    #: The answer (awaitable where it takes a while: a batch of embeddings).
    answer: Callable[[R, Scenario, Given], Whole | Awaitable[Whole]]


@dataclass(frozen=True, slots=True)
class Conversation:
    """The API's conversation: its answers come from a :class:`Speaker`, one per server."""

    speaker: Callable[[], Speaker[Any, Any, Any]]
    endpoint: Endpoint = "conversation"


@dataclass(frozen=True, slots=True)
class Session:
    """The API's conversation over one WebSocket that asks many times: a :class:`Talker`
    (one per server) reads each message; each ask gets a scenario and a plan of its own."""

    talker: Callable[[], Talker[Any]]
    endpoint: Endpoint = "conversation"


@dataclass(frozen=True, slots=True)
class Rpc:
    """The API's calls as JSON-RPC messages over HTTP, in sessions (MCP's Streamable HTTP):
    an :class:`~.rpc.RpcServer` (one per server) says what each message gets; a result it
    plays gets a scenario of its own."""

    server: Callable[[], RpcServer[Any]]
    endpoint: Endpoint = "conversation"
    #: How the messages travel: MCP's Streamable HTTP (one path: POST, GET to resume,
    #: DELETE), or its legacy HTTP+SSE (a GET stream that carries every answer, and the
    #: path messages are POSTed to).
    transport: Literal["streamable_http", "sse_stream", "sse_messages"] = "streamable_http"


Route = Plain | Called[Any] | Conversation | Session | Rpc


class BudgetShape(NamedTuple):
    """How an API tells a token budget: the headers on every answer, and the message of
    the 429 when the budget cannot cover a request (budget, tokens asked for, model)."""

    headers: Callable[[Budget], Mapping[str, str]]
    message: Callable[[Budget, int, str], str]


#: A budget told by an API that has no words of its own for it: a 429 with Retry-After.
GENERIC_BUDGET: Final = BudgetShape(
    lambda budget: {},
    lambda budget, asked, model: "Too many tokens, please wait before trying again.",
)


#: How many scenarios' verdicts a dialect keeps (:meth:`Dialect.not_applicable`).
_VERDICTS: Final = 256


def _as_stated(scenario: Scenario) -> Expect | None:
    return None


def _no_message(body: bytes) -> str | None:
    return None


def _no_headers(status: int) -> Mapping[str, str]:
    return {}


def detail_body(status: int, detail: Any) -> bytes:
    """The emulator's own error: ``{"detail": …}``."""
    return json.dumps({"detail": detail}).encode()


@dataclass(frozen=True, slots=True)
class Errors:
    """How an API's errors look."""

    #: An error the emulator answers on its routes: (status, detail) -> body.
    body: Callable[[int, Any], bytes]
    #: A scenario's HTTP error, as this API answers it.
    scripted: Callable[[HttpError], Whole]
    #: The message an error body of this API carries (None: it carries none, or the body
    #: is not this API's, such as a CDN's page): what a client's failure should mention.
    message: Callable[[bytes], str | None] = _no_message
    #: Headers an error of this API carries, by status (AWS's ``x-amzn-ErrorType``).
    headers: Callable[[int], Mapping[str, str]] = _no_headers
    #: How it tells a token budget ([rate_limit]).
    budget: BudgetShape = GENERIC_BUDGET
    #: The status it answers when it is overloaded (Anthropic's 529; most: 503).
    overloaded: int = 503


@dataclass(frozen=True, slots=True)
class Capture:
    """What a captured answer of this API says."""

    #: What a correct client makes of a captured answer body (``import`` states it as a
    #: recording's expected outcome).
    read: Callable[[bytes], Reading]
    #: The headers a raw captured body of its stream is replayed with.
    headers: tuple[tuple[str, str], ...] = tuple(STREAM_HEADERS.items())
    #: The events of a body of its stream as a person reads them, for the inspector
    #: (None: the body is text, and the timeline shows it as it is).
    decode: Callable[[bytes], list[dict[str, Any]]] | None = None


@dataclass(frozen=True, slots=True)
class Dialect:
    """One API the emulator speaks, registered once in :data:`~.registry.DIALECTS`."""

    #: Its name on the command line and in reports (``conform --dialect NAME``).
    name: str
    #: How people call it ("OpenAI Chat Completions"): in messages and the docs.
    title: str
    #: The path (POST) its answers come from: what the conformance kit watches. Ending
    #: in "/", a prefix: every path under it (a model named in the path).
    answered_at: str
    #: Path -> method -> route: every path it serves.
    routes: Mapping[str, Mapping[str, Route]]
    #: Why a scenario (or one turn of it) means nothing on it (None: it applies).
    why_not: Callable[[Scenario], str | None]
    #: The shaped fault kinds it writes in its own look, and those it has not (with why).
    shapes: FaultShapes
    errors: Errors
    capture: Capture
    #: One line for ``--help`` and the docs.
    doc: str = ""
    #: Prefix -> method -> route: every path under a prefix it serves (its reader reads
    #: what the rest of the path says, such as ``{model}:streamGenerateContent``).
    prefixes: Mapping[str, Mapping[str, Route]] = field(default_factory=dict)
    #: What it refuses in a request as the real API does (the docs' table of rules).
    strict_rules: tuple[StrictRule, ...] = ()
    #: Its own part of a scenario (FakeGpt's login and stream switches): keys only its
    #: scenarios say, read by the loader once the registry registers it.
    part: type[ApiPart] | None = None
    #: What a correct client of this API ends with where the protocol says otherwise than
    #: the scenario's [expect] (MCP's resumption recovers a stream cut after an event id):
    #: None, the scenario's word holds.
    expects: Callable[[Scenario], Expect | None] = _as_stated
    #: What :meth:`not_applicable` said of the scenarios lately asked about, by identity
    #: (hashing a scenario, a tree of dataclasses, costs more than the checks): an entry
    #: holds its scenario, so its id is not reused while it lives. At most _VERDICTS.
    _verdicts: dict[int, tuple[Scenario, str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.shapes.check(self.name)

    @property
    def websocket(self) -> bool:
        """Whether it answers over a WebSocket (a :class:`Session` route)."""
        every = (*self.routes.values(), *self.prefixes.values())
        return any(isinstance(r, Session) for m in every for r in m.values())

    def judged_by(self, scenario: Scenario) -> Scenario:
        """``scenario`` with the outcome a correct client of this API reaches."""
        expect = self.expects(scenario)
        return scenario if expect is None else dataclasses.replace(scenario, expect=expect)

    def not_applicable(self, scenario: Scenario) -> str | None:
        """Why ``scenario`` means nothing on it (None: it applies); a scripted
        conversation applies where each of its turns does. A WebSocket's own faults mean
        nothing on an HTTP answer, whatever the dialect says. A scenario is immutable: the
        verdict is asked for once per request, and worked out once per scenario."""
        kept = self._verdicts.get(id(scenario))
        if kept is not None and kept[0] is scenario:
            return kept[1]
        reason = self._not_applicable(scenario)
        if len(self._verdicts) >= _VERDICTS:
            self._verdicts.clear()  # scenarios made per request (chaos's) come and go
        self._verdicts[id(scenario)] = (scenario, reason)
        return reason

    def _not_applicable(self, scenario: Scenario) -> str | None:
        reason = self._medium(scenario) or self.why_not(scenario) or self._foreign(scenario)
        for i, turn in enumerate(scenario.turns, 1):
            if reason is not None:
                break
            turned = turn.scenario
            reason = self._medium(turned) or self.why_not(turned) or self._foreign(turned)
            reason = None if reason is None else f"its turn {i}: {reason}"
        return reason

    def _medium(self, scenario: Scenario) -> str | None:
        """Why ``scenario`` means nothing on the medium this dialect answers over: a
        WebSocket's own faults on an HTTP answer; an HTTP answer's network faults that a
        WebSocket has not (a lying Content-Length, headers never sent, a slow close)."""
        if self.websocket:
            if scenario.transport.shapes and scenario.transport.on(ANSWER):
                return not_on_websocket(scenario.transport)
            return None
        kind = next((f.kind for f in scenario.faults if FAULTS[f.kind].websocket), None)
        if kind is None:
            return None
        return f"its {kind} fault is a WebSocket's, which an HTTP answer has not"

    def _foreign(self, scenario: Scenario) -> str | None:
        """Why ``scenario`` means nothing here for what another API's part says: its
        switches, or its calls (an HTTP error or network faults on calls only it has)."""
        for part in scenario.parts:
            reason = part.elsewhere() if type(part) is not self.part else None
            if reason is not None:
                return reason
        transport = scenario.transport
        called = [e.endpoint for e in scenario.http_errors if e.endpoint != ANSWER]
        if transport.shapes and not transport.on(ANSWER):
            called += transport.endpoints
        own = self.part.calls if self.part is not None else {}
        foreign = next((c for c in called if c not in own), None)
        if foreign is None:
            return None
        owner = next((p for p in parts() if foreign in p.calls), None)
        return owner.calls_elsewhere if owner is not None else f"it acts on {foreign!r}"

    def answers(self, path: str) -> bool:
        """Whether a request to ``path`` (as a capture or the journal has it) is one of
        its answers."""
        pattern = path_pattern(self.answered_at)
        if pattern is not None:
            return pattern.search(path) is not None
        if self.answered_at.endswith("/"):
            return self.answered_at in path
        return path.endswith(self.answered_at)

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether one of its routes is the upstream's ``endpoint`` (``login``, …)."""
        every = (*self.routes.values(), *self.prefixes.values())
        return any(
            not isinstance(r, Plain) and r.endpoint == endpoint for m in every for r in m.values()
        )


_PARAM: Final = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=256)
def path_pattern(path: str) -> re.Pattern[str] | None:
    """The pattern a route's path is, when it names parts of the path in braces
    (``/openai/deployments/{deployment}/chat/completions``: one segment each, as short
    as the rest of the path lets it be: ``{model}:rawPredict``); None: a plain path."""
    if "{" not in path:
        return None
    parts = _PARAM.split(path)  # literal, name, literal, name, …, literal
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+?)"
                    for i, p in enumerate(parts))  # fmt: skip
    return re.compile(regex + r"\Z")


def json_error_message(body: bytes) -> str | None:
    """``{"error": {"message": …}}``'s message, as OpenAI's and Anthropic's APIs send it."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None


def top_message(key: str) -> Callable[[bytes], str | None]:
    """What reads the message an error body says at its top, under ``key``
    (``{"message": …}``: Cohere's, Bedrock's; ``{"error": "…"}``: Ollama's)."""

    def read(body: bytes) -> str | None:
        try:
            message = json.loads(body)[key]
        except (ValueError, KeyError, TypeError):
            return None
        return message if isinstance(message, str) else None

    return read


def plain_errors(
    body: Callable[[int, Any], bytes], messages: Mapping[int, str], key: str
) -> Errors:
    """The errors of an API with a body of its own for each status, its message under
    ``key`` at the top, and no headers or words of its own for a budget."""

    def scripted(error: HttpError) -> Whole:
        message = error.detail or messages.get(error.status, f"HTTP {error.status}")
        return scripted_answer(error, body(error.status, message))

    return Errors(body, scripted, top_message(key))
