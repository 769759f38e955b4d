"""How a dialect answers: what it is given, what it answers, and the answer's skeleton. Pure.

The HTTP lifecycle (:mod:`emulator.http.lifecycle`) owns the socket: it reads
the request into an :class:`Incoming`, hands the dialect a :class:`Given`,
chooses the scenario, and plays or sends what comes back. A dialect supplies
the parts in between as values and functions:

- a reader, ``Incoming -> (Asked, its request)``, raising :class:`BadRequest`;
- for its conversation, a :class:`Speaker`: :meth:`Speaker.answer` is the one
  skeleton (the reply's text, its cuts, the per-request context, then a
  recording replayed, an answer sent whole, or a stream), and the dialect fills
  in the parts it calls;
- its answers as values: :class:`Whole` (a body) or :class:`Streamed` (steps).

Nothing here touches a socket or sleeps, and nothing names aiohttp.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.cookies import CookieError, SimpleCookie
from types import MappingProxyType
from typing import Any, ClassVar, Final, Generic, NamedTuple, Protocol, TypeVar, cast

from ..core.clock import Clock
from ..core.signing import Signer
from ..engine.flat import FLATS, MISSING, Kept, holes_of, made
from ..engine.prepare import Prepared, estimated_bytes, prepare
from ..engine.replay import replayed
from ..protocol.errors import (
    CDN_CHALLENGE_HTML,
    BadRequest,
    lone_surrogate,
    may_hold_surrogates,
)
from ..protocol.steps import Step
from ..scenario import HttpError, PlanError, Scenario, model
from ..scenario.asked import Asked
from ..scenario.faults import Shapes
from ..scenario.text import CACHE_TEXT_CHARS, reply_text

__all__ = [
    "STREAM_HEADERS",
    "Answer",
    "Asking",
    "DeltaSpeaker",
    "Given",
    "Incoming",
    "Speaker",
    "Streamed",
    "Whole",
    "json_object",
    "scripted_answer",
    "too_long",
]

#: The headers of an event stream (a recording may answer with its own).
STREAM_HEADERS: Final[Mapping[str, str]] = MappingProxyType(dict(model.STREAM_HEADERS))


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request as a dialect reads it: its line, headers and whole body (already read)."""

    method: str
    #: The path as the dialect sees it (a session's ``/_session/ID`` prefix taken off).
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive, as received
    body: bytes = b""
    #: What the route's template names in the path (``{deployment}``: ``gpt-4o``).
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        """The media type, lower-cased, without parameters (none sent: the HTTP default,
        ``application/octet-stream``, as aiohttp says it)."""
        raw = self.headers.get("Content-Type")
        if raw is None:
            return "application/octet-stream"
        return raw.partition(";")[0].strip().lower()

    @property
    def cookies(self) -> Mapping[str, str]:
        """The cookies the request sends (a malformed header: none)."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}


class Given(NamedTuple):
    """What a dialect is given for one request, typed (never looked up from a global)."""

    signer: Signer
    clock: Clock
    #: Whether the request gets the switchable rules (``--lenient``, ``X-Emulator-Strict``).
    strict: bool
    max_prompt: int  # bytes a prompt may take
    max_stream_bytes: int  # bytes a stream may send
    seed: int  # the server's seed (the login accounts, the loads)
    accounts: int  # the server's pool of login accounts
    session: str | None  # the emulator session the request is in (None: the default)
    #: The request's number among its scenario's calls on this endpoint (once chosen).
    number: int = 0
    #: Whether the client has gone (a costly part of planning is skipped then).
    gone: Callable[[], bool] = lambda: False
    #: The server's speed factor (0: no pacing; a stream planned before is reused then).
    speed: float = 1.0

    async def costly(self, work: Callable[[], T]) -> T:
        """``work()`` in a worker thread, unless the client has gone by the time a thread
        takes it up: a queue of work for clients who left is not worked through (a
        ``ConnectionResetError``, which ends the request as the client's leaving does)."""

        def unless_gone() -> T:
            if self.gone():
                raise ConnectionResetError("the client went away before its answer was planned")
            return work()

        return await asyncio.to_thread(unless_gone)


# -- answers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Whole:
    """An answer sent whole: a status, headers and a body."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    charset: str | None = None

    @classmethod
    def json(
        cls, obj: Any, headers: Mapping[str, str] | None = None, charset: str | None = "utf-8"
    ) -> Whole:
        """``obj`` as a JSON answer (``application/json; charset=utf-8``; with ``charset``
        None, no charset named)."""
        return cls(json.dumps(obj).encode(), headers=headers or {}, charset=charset)


@dataclass(frozen=True, slots=True)
class Streamed:
    """An answer played step by step: its status and headers, then the steps."""

    steps: Iterator[Step]
    headers: Mapping[str, str] = field(default_factory=lambda: STREAM_HEADERS)
    #: The dialect's own headers on top (a request id); the lifecycle adds CORS and budgets.
    extra: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


Answer = Whole | Streamed


# -- readers' helpers -----------------------------------------------------------------


def json_object(incoming: Incoming, unreadable: str, *, typed: bool = True) -> dict[str, Any]:
    """The request's JSON object; else a 400 that starts with ``unreadable`` (``typed``:
    it must say it is JSON, as most APIs ask; Bedrock's InvokeModel takes any body)."""
    if typed and incoming.content_type != "application/json":
        raise BadRequest(400, f"{unreadable}: the Content-Type must be application/json.")
    try:
        body: Any = json.loads(incoming.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(400, f"{unreadable}: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, f"{unreadable}: the body must be a JSON object.")
    if may_hold_surrogates(incoming.body):
        where = lone_surrogate(body)
        if where is not None:
            raise BadRequest(400, f"{unreadable}: {where} holds a lone surrogate (a \\uD800 "
                             "to \\uDFFF escape not in a pair), which is not text.")  # fmt: skip
    return body


def too_long(prompt: str, limit: int) -> bool:
    """Whether the prompt takes more than ``limit`` bytes in UTF-8 (encoded only if it may)."""
    n = len(prompt)
    if n > limit:
        return True
    if n * 4 <= limit:  # no character takes more than 4 bytes
        return False
    return len(prompt.encode("utf-8", "surrogatepass")) > limit


def scripted_answer(
    error: HttpError, json_body: bytes, headers: Mapping[str, str] | None = None
) -> Whole:
    """A scenario's HTTP error on any API: the body it asks for (a CDN's HTML page, or
    nothing, whatever the API; else ``json_body``, the API's own error), with
    ``Retry-After`` when it gives one."""
    headers = dict(headers or {})
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.body == "html":
        return Whole(CDN_CHALLENGE_HTML.encode(), error.status, headers, "text/html", "utf-8")
    if error.body == "empty":
        return Whole(b"", error.status, headers, None)
    return Whole(json_body, error.status, headers)


# -- the conversation ---------------------------------------------------------------


class Asking(Protocol):
    """What every dialect's conversation request says, whatever else it says."""

    @property
    def prompt(self) -> str: ...

    @property
    def stream(self) -> bool: ...


T = TypeVar("T")
R = TypeVar("R", bound=Asking)  # the dialect's request, as its reader makes it
P = TypeVar("P")  # what the costly planning of a reply makes (most: a Prepared)
C = TypeVar("C")  # the dialect's per-request context (ids, signatures, counts)


class Speaker(ABC, Generic[R, P, C]):
    """A dialect's conversation: its reader and the parts of its answer.

    One is made per server (it may keep a cache of its own). :meth:`answer` is
    the skeleton every dialect shares; a dialect writes only the parts.
    """

    #: What an error fault says in an answer sent whole (its 500).
    failed: ClassVar[str]
    #: The fields of the context each request makes anew (its ids, its time): a stream
    #: asked for again is planned once with these as holes, then filled in
    #: (:mod:`emulator.engine.flat`); (): it has none. None: every stream is planned.
    holes: ClassVar[tuple[str, ...] | None] = None

    @abstractmethod
    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, R]:
        """Validate (and authorise) a request: what it asks, and the dialect's request."""

    @abstractmethod
    async def planning(self, scenario: Scenario, text: str, given: Given) -> P:
        """The costly part of planning ``text`` (in a worker thread when it is long), or a
        400 when the stream would be too large."""

    @abstractmethod
    def begin(self, parsed: R, scenario: Scenario, planned: P, given: Given) -> C:
        """The request's context: its ids, signatures and counts."""

    def answer_headers(self, context: C) -> Mapping[str, str]:
        """Headers every answer to the request carries (a request id)."""
        return {}

    @abstractmethod
    def replay_shapes(self, context: C, given: Given) -> Shapes:
        """The look of the scenario's faults on a recording of this API."""

    def whole(self, parsed: R, context: C, scenario: Scenario, planned: P) -> Any:
        """The answer sent whole (no stream), as a JSON value."""
        raise BadRequest(400, "this API answers only with a stream")

    @abstractmethod
    def stream(
        self, parsed: R, context: C, scenario: Scenario, planned: P, given: Given
    ) -> Streamed:
        """The answer as a stream."""

    async def answer(self, parsed: R, scenario: Scenario, given: Given) -> Answer:
        """What answers ``parsed`` under the chosen ``scenario`` (one that applies here);
        a 400 naming the limit when the reply or its stream would be too large."""
        try:
            return await self._answer(parsed, scenario, given)
        except PlanError as exc:
            raise BadRequest(400, str(exc)) from exc

    async def _answer(self, parsed: R, scenario: Scenario, given: Given) -> Answer:
        planned = await self.planning(scenario, reply_text(scenario.reply, parsed.prompt), given)
        context = self.begin(parsed, scenario, planned, given)
        extra = self.answer_headers(context)
        recording = scenario.recording
        if recording is not None:
            # A captured answer, byte for byte, with the faults in this API's look.
            steps = replayed(scenario, self.replay_shapes(context, given))
            return Streamed(steps, dict(recording.headers), extra, recording.status)
        if not parsed.stream:
            return Whole.json(self.whole(parsed, context, scenario, planned), extra)
        streamed = None
        if self.holes is not None and not scenario.faults:
            streamed = await self._again(parsed, context, scenario, planned, given)
        if streamed is None:
            streamed = self.stream(parsed, context, scenario, planned, given)
        return streamed if not extra else replace(streamed, extra={**extra, **streamed.extra})

    async def _again(
        self, parsed: R, context: C, scenario: Scenario, planned: P, given: Given
    ) -> Streamed | None:
        """The stream from the one planned for the same request before, its holes filled
        in with this request's values (:mod:`emulator.engine.flat`); None: it is planned
        as usual (the first time it is asked for, or when it cannot be reused)."""
        names = self.holes or ()
        holes = holes_of([getattr(context, name) for name in names])
        if holes is None:
            return None
        valued: Callable[..., C] = context._replace  # type: ignore[attr-defined]
        try:
            key = (type(self), scenario, parsed,
                   valued(**dict(zip(names, [a for a, _, _ in holes], strict=True))))  # fmt: skip
            found = FLATS.get(key)
        except TypeError:  # something the request says is not hashable: planned each time
            return None
        if found is not MISSING:
            kept = cast("Kept", found)
        else:
            if not FLATS.seen(key):
                return None
            answers: list[Streamed] = []

            def plan(values: Sequence[Any]) -> Iterator[Step]:
                context = valued(**dict(zip(names, values, strict=True)))
                answers.append(self.stream(parsed, context, scenario, planned, given))
                return answers[-1].steps

            def make() -> Kept:
                flat = made(plan, holes)
                return None if flat is None else (flat, replace(answers[0], steps=iter(())))

            long = isinstance(planned, Prepared) and len(planned.ends) > _COSTLY_EVENTS
            kept = await given.costly(make) if long else make()
            FLATS.keep(key, kept)
        if kept is None:
            return None
        flat, answer = kept[0], cast("Streamed", kept[1])
        FLATS.used()
        values = [value for _, _, value in holes]
        if flat.paced and given.speed:  # each write after its pause
            return replace(answer, steps=iter((flat.paced_run(values),)))
        return replace(answer, steps=iter((flat.run(values),)))


#: A stream of more events than this is planned for reuse in a worker thread.
_COSTLY_EVENTS: Final = 2048


class DeltaSpeaker(Speaker[R, Prepared, C]):
    """A speaker whose reply is planned from a :class:`Prepared` (every delta dialect)."""

    async def planning(self, scenario: Scenario, text: str, given: Given) -> Prepared:
        prepared = (
            # Cutting and escaping a long text takes a while: in a worker thread.
            await given.costly(lambda: prepare(scenario, text))
            if len(text) > CACHE_TEXT_CHARS
            else prepare(scenario, text)
        )
        limit = given.max_stream_bytes
        if estimated_bytes(scenario, prepared, snapshots=False) > limit:
            raise BadRequest(
                400,
                f"scenario {scenario.name!r} would stream more than {limit:,} bytes for this "
                "prompt",
            )
        return prepared
