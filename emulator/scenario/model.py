"""Scenarios as frozen, typed values: what the emulator answers. Pure.

Read from TOML by :mod:`emulator.scenario.load`; the fault kinds and what
each takes are declared in :mod:`emulator.scenario.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Final, Literal, NamedTuple, TypeVar, cast

from .exceptions import PlanError, ScenarioError
from .parts import ANSWER, ApiPart

if TYPE_CHECKING:
    from .match import Match

__all__ = [
    "ANSWER",
    "MAX_CALLS",
    "MAX_FAULTS",
    "MAX_FAULT_WRITES",
    "MAX_HTTP_ERRORS",
    "MAX_REPLY_CHARS",
    "AfterDone",
    "ApiPart",
    "Budget",
    "Call",
    "Chunk",
    "Cut",
    "CutWith",
    "DataPrefix",
    "Distribution",
    "Ending",
    "Endpoint",
    "ErrorBody",
    "ErrorCause",
    "Expect",
    "Fault",
    "FinishType",
    "HttpError",
    "LineEnding",
    "PlanError",
    "RateLimit",
    "Recording",
    "Reply",
    "Scenario",
    "ScenarioError",
    "Timing",
    "Transport",
    "Turn",
    "Wire",
]

#: One of an API's calls: :data:`ANSWER`, or one an API's own part names (FakeGpt's login).
Endpoint = str
Cut = Literal["token", "word", "char", "byte"]
AfterDone = Literal["close", "keep_open"]
ErrorBody = Literal["upstream", "html", "empty", "text"]
LineEnding = Literal["\n", "\r\n", "\r"]
DataPrefix = Literal["data: ", "data:"]
#: How the reply ends: whole, at the token limit, or stopped by the provider's content
#: filter (each dialect says it its way: content_filter, refusal, SAFETY, content_filtered).
FinishType = Literal["stop", "max_tokens", "content_filter"]
#: Why an error event says the API failed (each dialect names it: see Fault.cause).
ErrorCause = Literal["", "internal", "overloaded", "rate_limited"]
Distribution = Literal["fixed", "normal", "lognormal"]
CutWith = Literal["close", "reset"]
Ending = Literal["complete", "drop", "reset", "close", "hold"]

#: The longest reply text a scenario may produce for a request, in characters.
MAX_REPLY_CHARS: Final = 4 * 1024 * 1024
#: At most this many faults in a scenario, and this many fault writes in all
#: (the sum of their ``count``): a scenario is a script, not a flood.
MAX_FAULTS: Final = 10_000
MAX_FAULT_WRITES: Final = 1_000_000
MAX_HTTP_ERRORS: Final = 100
#: At most this many tool calls in one reply.
MAX_CALLS: Final = 128


_P = TypeVar("_P", bound=ApiPart)
#: Each kind of part at its defaults, made once (asked for on every request).
_DEFAULT_PARTS: dict[type[ApiPart], ApiPart] = {}


class Call(NamedTuple):
    """A tool call a reply makes after its text (or after its first call, ``tool``): a
    (tool, arguments) pair, as the dialects' wire builders take it."""

    tool: str
    arguments: str  # a JSON object's text, cut into pieces as the reply's text is


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply's text and how it is cut into cumulative snapshots.

    With ``tool``, the text is the arguments of a call of that tool. ``calls`` follow
    it: parallel tool calls (after the text, or after the first call), each streamed
    whole before the next, or with ``interleave`` their arguments' pieces taking turns
    (as parallel calls arrive from some servers: a client must gather them by index).
    """

    text: str | None = "Hello! How can I help you today?"
    echo: bool = False
    faker_sentences: int = 0
    faker_seed: int = 0
    faker_locale: str = "en_US"
    repeat: int = 1
    cut: Cut = "token"
    cut_size: int = 1
    tool: str = ""  # the reply is a call of this tool, its text the arguments (a JSON object)
    #: The model's reasoning before its reply (Anthropic's and Bedrock's thinking blocks, the
    #: Responses API's reasoning item, Gemini's thought parts): not the reply's text.
    reasoning: str = ""
    #: The reasoning is redacted: sealed, never shown in the clear (Anthropic's
    #: redacted_thinking, Bedrock's redactedContent; no summary, no thought parts).
    redacted: bool = False
    calls: tuple[Call, ...] = ()
    interleave: bool = False
    #: The text is the model's refusal (OpenAI's ``refusal`` field), not its answer.
    refusal: bool = False
    #: Of the request's tokens, how many the prompt cache served (at most all of them):
    #: each API's usage says so (cached_tokens, cache_read_input_tokens, …).
    cached_tokens: int = 0
    #: What the user's spoken turn said, as a realtime API's input transcription says it
    #: (OpenAI Realtime, Gemini Live, when the session asks for one): the emulator cannot
    #: hear, so the scenario (or its turn) scripts it.
    heard: str = ""
    #: The vector every embeddings answer gives (none: each text's own, made from it): a
    #: test that needs a known one scripts it.
    vector: tuple[float, ...] = ()

    def own_part(self, text: str) -> bool:
        """Whether the reply's own ``text`` (or its first call, ``tool``) takes a part of
        its own (a content block, an output item): not when the reply is only further
        calls."""
        return bool(self.tool or text or not self.calls)

    @property
    def calls_tool(self) -> bool:
        """Whether the reply calls a tool at all (its finish says so: tool_calls, tool_use)."""
        return bool(self.tool or self.calls)

    def every_call(self, text: str) -> list[tuple[str, str]]:
        """Its calls, each (tool, arguments): its own first, ``text`` its arguments (when
        the reply is a call), then the further ones; what an API that sends calls whole
        says of them."""
        own = [(self.tool, text)] if self.tool else []
        return own + [(c.tool, c.arguments) for c in self.calls]


@dataclass(frozen=True, slots=True)
class Timing:
    """Pacing of the reply; scaled by the server's ``speed`` (0: no waiting)."""

    first_event: float = 0.0
    tokens_per_second: float = 0.0  # 0: no pause between snapshots
    jitter: float = 0.0  # fraction of each pause, drawn from ``seed``
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Wire:
    """How the stream is framed and written."""

    line_ending: LineEnding = "\n"
    data_prefix: DataPrefix = "data: "
    bom: bool = False
    multiline_data: bool = False
    ensure_ascii: bool = False
    chunk_size: int = 0  # 0: writes are not split
    split_at: tuple[int, ...] = ()
    split_pause: float = 0.002
    done: bool = True
    after_done: AfterDone = "close"
    keep_open_seconds: float = 30.0
    finish_type: FinishType = "stop"
    #: Azure OpenAI's stream: the prompt's filter results first (a chunk with no choices),
    #: then every choice with its ``content_filter_results``.
    azure_filters: bool = False


@dataclass(frozen=True, slots=True)
class Fault:
    """Something that goes wrong before message event ``at`` (-1: after the last).

    ``kind`` is one of :data:`emulator.scenario.faults.FAULTS`, which says
    which of the other fields it takes.
    """

    kind: str
    at: int = 0
    seconds: float = 0.0
    ping_every: float = 0.0
    text: str = ""
    raw: bytes = b""
    role: str = "assistant"
    message_type: str = "variant"
    count: int = 1
    #: Why an error fault says the API failed, which each API names its own way (Bedrock's
    #: exception type, Anthropic's error type, OpenAI's code, Gemini's status); "": each
    #: API's usual mid-stream error.
    cause: ErrorCause = ""
    #: A WebSocket's close code (``close_code``; its reason is ``text``).
    code: int = 1000


@dataclass(frozen=True, slots=True)
class HttpError:
    """An HTTP error status on an endpoint, on every call or only the ``on_call``-th."""

    endpoint: Endpoint
    status: int
    on_call: int = 0  # 0: every call
    body: ErrorBody = "upstream"
    detail: str = ""
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class Expect:
    """The outcome a correct client reaches, in terms any client can meet.

    ``outcome`` is ``"reply"`` (exactly the reply text), ``"text"`` (exactly
    ``text``) or ``"failure"`` (a failure of the kind ``failure``, one of
    :data:`emulator.scenario.outcomes.FAILURES`; with ``status`` for an HTTP
    status, and ``message``, the upstream's detail a failure should carry).
    """

    outcome: Literal["reply", "text", "failure"] = "reply"
    text: str = ""
    failure: str = ""
    status: int | None = None
    message: str = ""
    idle_timeout: float = 5.0  # the client's idle timeout this outcome assumes


@dataclass(frozen=True, slots=True)
class Transport:
    """How an answer's bytes reach the socket, on the endpoints listed (none: on every
    call): the network's faults (Toxiproxy's toxics), never scaled by the server's speed."""

    endpoints: tuple[Endpoint, ...] = ()
    bandwidth: int = 0  # bytes per second; 0: as fast as the socket takes them
    latency: float = 0.0  # seconds before each write (the mean, for a distribution)
    latency_sd: float = 0.0  # the standard deviation of a normal or lognormal latency
    distribution: Distribution = "fixed"
    seed: int = 0  # the latencies are drawn from this seed, the same for every request
    cut_after: int = 0  # > 0: the connection ends after this many bytes of the body
    cut_with: CutWith = "close"  # ... with a FIN (close) or an RST (reset)
    no_headers: bool = False  # the status line goes out; the headers never do
    length_error: int = 0  # Content-Length declares this many bytes more (+) or fewer (-)
    slow_close: float = 0.0  # seconds between the end of the answer and the close (FIN)

    @property
    def shapes(self) -> bool:
        """Whether it changes anything at all (asked on every request: no new Transport)."""
        return _shaping(self) != _NEUTRAL

    def applies(self, endpoint: Endpoint) -> bool:
        return self.on(endpoint) and self.shapes

    def on(self, endpoint: Endpoint) -> bool:
        """Whether it is on ``endpoint`` (shaping or not)."""
        return not self.endpoints or endpoint in self.endpoints


#: Every field of a Transport but the endpoints, and their values in one that shapes nothing.
_shaping: Final = attrgetter(*(f.name for f in fields(Transport) if f.name != "endpoints"))
_NEUTRAL: Final = _shaping(Transport())


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token budget per window, counted per session across its requests (as the APIs'
    per-minute token limits are): each answer spends the request's tokens and the
    reply's; a request the rest cannot cover gets the API's 429 with ``Retry-After``."""

    tokens: int = 0  # 0: no limit
    window: float = 60.0  # seconds; the budget is whole again after it


class Budget(NamedTuple):
    """What is left of a session's token budget now: tokens, and seconds until it is
    whole again."""

    limit: int
    remaining: int
    reset: float


#: What a chunk of a WebSocket session's recording is ("": an HTTP body's bytes).
ChunkMessage = Literal["", "text", "binary", "heard"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One write of a captured stream: its bytes, and when it came (seconds after the request).

    In a WebSocket session's recording, ``message`` says what it is: a whole message the
    server sent (``text`` or ``binary``), or one the client sent (``heard``: where the
    server's next messages wait for it); "": bytes of an HTTP body.
    """

    at: float
    data: bytes
    message: ChunkMessage = ""


#: The headers a recording answers with unless it says otherwise.
STREAM_HEADERS: Final = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache"),
)


@dataclass(frozen=True, slots=True)
class Recording:
    """A captured answer of one dialect's API, replayed byte for byte, write for write.

    Its pace is scaled by the server's speed, but for gaps of
    ``real_time_over`` seconds or more (a captured stall keeps tripping
    timeouts at ``--speed 0``). ``ending``: how the capture ended.
    ``dialect``: the API it was captured from (a name in the dialect registry);
    it is replayed there only.
    """

    chunks: tuple[Chunk, ...] = ()
    status: int = 200
    headers: tuple[tuple[str, str], ...] = STREAM_HEADERS
    ending: Ending = "complete"
    real_time_over: float = 1.0
    dialect: str = "fakegpt"

    @property
    def size(self) -> int:
        return sum(len(c.data) for c in self.chunks)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    reply: Reply = field(default_factory=Reply)
    timing: Timing = field(default_factory=Timing)
    wire: Wire = field(default_factory=Wire)
    faults: tuple[Fault, ...] = ()
    http_errors: tuple[HttpError, ...] = ()
    transport: Transport = field(default_factory=Transport)
    recording: Recording | None = None  # a captured stream, replayed instead of the reply
    rate_limit: RateLimit = field(default_factory=RateLimit)
    expect: Expect = field(default_factory=Expect)
    source: str = "<python>"
    #: What a request must say for this scenario to be chosen by matching (None: it is
    #: chosen only by name: the header, a marker, a rule, the queue, active, default).
    match: Match | None = None
    #: The turns of a scripted conversation ([[turns]]): once the scenario is chosen, the
    #: turn whose match the request meets answers (none: the scenario answers itself).
    turns: tuple[Turn, ...] = ()
    #: What only some APIs read (FakeGpt's login and stream switches): each API's own
    #: part, as its dialect declares it; one left at its defaults is not kept.
    parts: tuple[ApiPart, ...] = ()

    def part(self, kind: type[_P]) -> _P:
        """Its part of kind ``kind`` (its defaults when the scenario says none of it)."""
        for part in self.parts:
            if type(part) is kind:
                return part
        default = _DEFAULT_PARTS.get(kind)
        if default is None:
            default = _DEFAULT_PARTS[kind] = kind()
        return cast(_P, default)

    def http_error(self, endpoint: Endpoint, call: int) -> HttpError | None:
        """The HTTP error it answers the ``call``-th call of ``endpoint`` with (None: none)."""
        return next((e for e in self.http_errors
                     if e.endpoint == endpoint and e.on_call in (0, call)), None)  # fmt: skip

    @property
    def streams(self) -> bool:
        """Whether the answer streams its events at all (an API's part may say not)."""
        return all(part.streams for part in self.parts)


@dataclass(frozen=True, slots=True)
class Turn:
    """One step of a scripted conversation: the request it answers, and how.

    ``scenario`` is the scenario's own tables with the turn's laid over them
    (named ``NAME#N``, N counting from 1).
    """

    match: Match
    scenario: Scenario
