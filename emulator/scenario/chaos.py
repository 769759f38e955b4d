"""Seeded chaos: each request, independently, gets one fault drawn from a few kinds. Pure.

``Chaos(rate=0.1, seed=7, kinds=("drop", "stall", "http_500"))``: the
``k``-th request a session sees is hit with probability ``rate``; the kind
and its parameters are drawn from ``(seed, k)`` alone, so a run with the
same seed and the same order of requests hits the same requests the same
way. What a request got is a scenario of its own (:func:`derive`): the
chosen one plus the fault, with the outcome a correct client then reaches,
so the journal can hand it back as a file to replay alone.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .faults import FAULTS
from .model import ANSWER, Endpoint, Expect, Fault, HttpError, Scenario
from .parts import endpoints as every_endpoint
from .toxics import CHAOS_TOXICS, TOXICS

__all__ = ["CHAOS_KINDS", "DEFAULT_KINDS", "Chaos", "derive", "parse_chaos"]

#: Stream fault kinds chaos may draw (``done`` and ``rewrite`` need a text of their own; a
#: WebSocket's own kinds are not drawn on the HTTP answers chaos acts on).
_STREAM: Final = tuple(
    k for k, spec in FAULTS.items() if k not in ("done", "rewrite") and not spec.websocket
)
#: Network faults chaos may draw, on any endpoint (the transport-fault table's).
_NETWORK: Final = CHAOS_TOXICS
_HTTP: Final = re.compile(r"http_([45]\d\d)")
#: Every kind a chaos setting may name (besides http_400 … http_599).
CHAOS_KINDS: Final = (*_STREAM, *_NETWORK)
#: How long a drawn stall or half-open connection lasts: past a 5 s idle timeout.
_SILENCE: Final = 10.0
#: The kinds drawn when none are named.
DEFAULT_KINDS: Final = ("drop", "stall", "malformed_json", "http_500")


@dataclass(frozen=True, slots=True)
class Chaos:
    """Hit each request with probability ``rate``, with one of ``kinds``, from ``seed``."""

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    endpoints: tuple[Endpoint, ...] = (ANSWER,)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"chaos rate must be 0 to 1, got {self.rate}")
        if not self.kinds:
            raise ValueError("chaos needs at least one kind")
        for kind in self.kinds:
            if kind not in CHAOS_KINDS and not _HTTP.fullmatch(kind):
                raise ValueError(
                    f"unknown chaos kind {kind!r}: one of {', '.join(CHAOS_KINDS)}, "
                    "or http_400 to http_599"
                )
        for endpoint in self.endpoints:
            if endpoint not in every_endpoint():
                raise ValueError(f"unknown chaos endpoint {endpoint!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "kinds": list(self.kinds),
            "endpoints": list(self.endpoints),
        }


def parse_chaos(text: str) -> Chaos:
    """``rate=0.1,seed=7,kinds=drop,stall,http_500[,endpoints=loads,conversation]``.

    A value-less item continues the list of the key before it. ``ValueError``
    names what is wrong.
    """
    values: dict[str, list[str]] = {}
    key = ""
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if sep:
            key = name.strip()
            if key not in ("rate", "seed", "kinds", "endpoints"):
                raise ValueError(f"unknown chaos setting {key!r} (rate, seed, kinds, endpoints)")
            values[key] = [value.strip()]
        elif key in ("kinds", "endpoints"):
            values[key].append(name)
        else:
            raise ValueError(f"chaos setting {item!r} has no value (key=value)")
    if "rate" not in values:
        raise ValueError("chaos needs a rate (rate=0.1)")
    try:
        rate = float(values["rate"][0])
        seed = int(values.get("seed", ["0"])[0])
    except ValueError as exc:
        raise ValueError(f"chaos rate must be a number and seed an integer: {exc}") from None
    kinds = tuple(values.get("kinds", DEFAULT_KINDS))
    endpoints = tuple(values.get("endpoints", ["conversation"]))
    if endpoints == ("all",):
        endpoints = every_endpoint()
    return Chaos(rate, seed, kinds, endpoints)


def _applicable(kinds: Iterable[str], scenario: Scenario, endpoint: Endpoint) -> list[str]:
    """The kinds that mean something for this request."""
    found = []
    for kind in kinds:
        if kind in FAULTS:
            if endpoint != ANSWER or not scenario.streams:
                continue
            if any(part.unfit(FAULTS[kind]) for part in scenario.parts):
                continue
        found.append(kind)
    return found


def derive(
    scenario: Scenario, chaos: Chaos, k: int, endpoint: Endpoint
) -> tuple[Scenario, str] | None:
    """The scenario the ``k``-th request gets, and what chaos did; None: left alone.

    Its ``[expect]`` is the outcome the fault makes of a scenario that would
    otherwise reply (a skippable fault, latency or bandwidth keep the chosen
    scenario's own); its transport, if the fault is a network one, replaces
    the chosen scenario's.
    """
    if endpoint not in chaos.endpoints:
        return None
    rng = random.Random(f"{chaos.seed}/{k}")
    if rng.random() >= chaos.rate:
        return None
    kinds = _applicable(chaos.kinds, scenario, endpoint)
    if not kinds:
        return None
    kind = rng.choice(kinds)
    changed, what, expect = _apply(scenario, kind, rng, endpoint)
    return (
        dataclasses.replace(
            changed,
            name=f"{scenario.name}.chaos-{k}",
            description=f"{scenario.description} Chaos (seed {chaos.seed}, request {k}): {what}.",
            expect=expect or scenario.expect,
            source=f"<chaos seed {chaos.seed} request {k}>",
        ),
        what,
    )


def _apply(
    scenario: Scenario, kind: str, rng: random.Random, endpoint: Endpoint
) -> tuple[Scenario, str, Expect | None]:
    """The scenario with the fault ``kind`` added; what it is; the outcome it makes (None:
    the chosen scenario's own)."""
    idle = scenario.expect.idle_timeout
    status = _HTTP.fullmatch(kind)
    if status is not None:
        code = int(status.group(1))
        error = HttpError(endpoint=endpoint, status=code)
        return (
            dataclasses.replace(scenario, http_errors=(error, *scenario.http_errors)),
            f"HTTP {code} on {endpoint}",
            Expect(outcome="failure", failure="http_status", status=code, idle_timeout=idle),
        )
    if kind in FAULTS:
        spec = FAULTS[kind]
        at = rng.randint(0, 8)
        fault = Fault(kind=kind, at=at)
        if spec.waits or spec.holds:
            fault = dataclasses.replace(fault, seconds=_SILENCE)
        changed = dataclasses.replace(scenario, faults=(*scenario.faults, fault))
        what = f"{kind} before message event {at}"
        if spec.skippable:
            return changed, what, None
        if spec.waits or spec.holds:
            return changed, what, _failure("idle_timeout", idle)
        if spec.fails:
            return changed, what, _failure("upstream_error", idle)
        return changed, what, _failure("incomplete_stream", idle)
    draw = TOXICS[kind].draw
    if draw is None:  # pragma: no cover - Chaos accepts only the kinds it can draw
        raise ValueError(f"chaos cannot draw {kind!r}")
    drawn = draw(rng, endpoint)
    expect = _failure(drawn.failure, idle) if drawn.failure is not None else None
    return dataclasses.replace(scenario, transport=drawn.transport), drawn.what, expect


def _failure(kind: str, idle: float) -> Expect:
    return Expect(outcome="failure", failure=kind, idle_timeout=idle)
