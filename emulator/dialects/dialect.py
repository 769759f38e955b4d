"""What a dialect is: one value that says everything the emulator needs to serve an API.

A :class:`Dialect` names the API, holds its routes (which method on which
path, read and answered by which functions), says which scenarios mean
nothing on it and why, and how its errors look (an error the emulator
answers, a scenario's scripted HTTP error, and how to read the message back
out of an error body, for the conformance kit). Routes, ``--list``,
``conform --dialect``, ``import`` and the docs read these values from
:data:`emulator.dialects.registry.DIALECTS`; nothing else names a dialect.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from ..http.errors import Context, Handler
from ..ratelimits import Budget
from ..scenario import Endpoint, HttpError, Scenario
from ..scenario.asked import Asked
from ..scenario.faults import FaultShapes
from ..scenario.outcomes import Reading
from .strict import StrictRule

__all__ = ["BudgetShape", "Dialect", "Reader", "Route", "json_error_message"]

#: Validates (and authorises) a request: what it asks (its conversation; None: it carries
#: none, as the login calls), and what it read.
Reader = Callable[[web.BaseRequest, Context], Awaitable[tuple[Asked | None, Any]]]


class BudgetShape(NamedTuple):
    """How an API tells a token budget: the headers on every answer, and the message of
    the 429 when the budget cannot cover a request (budget, tokens asked for, model)."""

    headers: Callable[[Budget], Mapping[str, str]]
    message: Callable[[Budget, int, str], str]


class Route(NamedTuple):
    """What answers one method on one path.

    For the upstream's endpoints (``endpoint`` set), the dispatcher runs
    ``read`` (validation, authorisation), chooses the scenario and injects
    its HTTP error before ``answer`` runs. ``errors`` and ``scripted`` are the
    dialect's (filled in from it when the route table is built).
    """

    answer: Handler
    endpoint: Endpoint | None = None
    read: Reader | None = None
    #: The API's own error shape: (status, message) -> body (None: ``{"detail": …}``).
    errors: Callable[[int, str], bytes] | None = None
    #: A scenario's HTTP error as this API answers it (None: FakeGpt's).
    scripted: Callable[[HttpError], web.Response] | None = None
    #: The dialect it belongs to (filled in from it; "": the emulator's own).
    dialect: str = ""
    #: Headers an error of this API carries, by status (AWS's ``x-amzn-ErrorType``).
    error_headers: Callable[[int], Mapping[str, str]] | None = None
    #: How this API tells a session's token budget (filled in from the dialect).
    budget: BudgetShape | None = None


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
    #: Why a scenario means nothing on it (None: it applies).
    not_applicable: Callable[[Scenario], str | None]
    #: The shaped fault kinds it writes in its own look, and those it has not (with why).
    shapes: FaultShapes
    #: What a correct client makes of a captured answer body (``import`` states it as a
    #: recording's expected outcome).
    read_capture: Callable[[bytes], Reading]
    #: A scenario's HTTP error, as this API answers it.
    scripted_error: Callable[[HttpError], web.Response]
    #: An error the emulator answers on its routes, in this API's shape (None: ``{"detail"}``).
    error_body: Callable[[int, str], bytes] | None = None
    #: The message an error body of this API carries (None: it carries none, or the body is
    #: not this API's, such as a CDN's page): what a client's failure should mention.
    error_message: Callable[[bytes], str | None] | None = None
    #: One line for ``--help`` and the docs.
    doc: str = ""
    #: Prefix -> method -> route: every path under a prefix it serves (its reader reads
    #: what the rest of the path says, such as ``{model}:streamGenerateContent``).
    prefixes: Mapping[str, Mapping[str, Route]] = field(default_factory=dict)
    #: Headers an error of this API carries, by status (None: none).
    error_headers: Callable[[int], Mapping[str, str]] | None = None
    #: The headers a raw captured body of its stream is replayed with (None: SSE's).
    stream_headers: tuple[tuple[str, str], ...] | None = None
    #: The events of a body of its stream as a person reads them, for the inspector
    #: (None: the body is text, and the timeline shows it as it is).
    decode: Callable[[bytes], list[dict[str, Any]]] | None = None
    #: How it tells a token budget ([rate_limit]; None: a 429 with Retry-After alone).
    budget: BudgetShape | None = None
    #: What it refuses in a request as the real API does (the docs' table of rules).
    strict_rules: tuple[StrictRule, ...] = ()

    def __post_init__(self) -> None:
        self.shapes.check(self.name)
        # A scripted conversation applies where each of its turns does.
        object.__setattr__(self, "not_applicable", _with_turns(self.not_applicable))

    def answers(self, path: str) -> bool:
        """Whether a request to ``path`` (as a capture or the journal has it) is one of
        its answers."""
        if self.answered_at.endswith("/"):
            return self.answered_at in path
        return path.endswith(self.answered_at)

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether one of its routes is the upstream's ``endpoint`` (``login``, …)."""
        every = (*self.routes.values(), *self.prefixes.values())
        return any(r.endpoint == endpoint for m in every for r in m.values())

    def table(self) -> dict[str, dict[str, Route]]:
        """Its routes with its error shapes filled in."""
        return self._filled(self.routes)

    def prefix_table(self) -> dict[str, dict[str, Route]]:
        """Its prefix routes with its error shapes filled in."""
        return self._filled(self.prefixes)

    def _filled(self, routes: Mapping[str, Mapping[str, Route]]) -> dict[str, dict[str, Route]]:
        return {
            path: {
                method: route._replace(
                    errors=route.errors or self.error_body,
                    scripted=route.scripted or self.scripted_error,
                    dialect=self.name,
                    error_headers=route.error_headers or self.error_headers,
                    budget=route.budget or self.budget,
                )
                for method, route in methods.items()
            }
            for path, methods in routes.items()
        }


def _with_turns(
    not_applicable: Callable[[Scenario], str | None],
) -> Callable[[Scenario], str | None]:
    if getattr(not_applicable, "with_turns", False):
        return not_applicable

    def why(scenario: Scenario) -> str | None:
        reason = not_applicable(scenario)
        for i, turn in enumerate(scenario.turns, 1):
            if reason is not None:
                break
            reason = not_applicable(turn.scenario)
            reason = None if reason is None else f"its turn {i}: {reason}"
        return reason

    why.with_turns = True  # type: ignore[attr-defined]
    return why


def json_error_message(body: bytes) -> str | None:
    """``{"error": {"message": …}}``'s message, as OpenAI's and Anthropic's APIs send it."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) else None
