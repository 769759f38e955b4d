"""THE transport-fault table: every network fault of ``[transport]``, declared once. Pure.

As Toxiproxy declares each toxic once (its parameters, its direction, how
often it applies), a :class:`ToxicSpec` says what one network fault does,
which keys of ``[transport]`` it takes, which way it acts (``downstream``:
on the bytes the server sends; ``upstream``: on what the client sends, such
as a WebSocket's messages), how a correct client meets it, and how seeded
chaos draws it. The player (:mod:`emulator.engine.network`) carries them
out; chaos (:mod:`emulator.scenario.chaos`), the reference in
``scenarios/README.md`` (:func:`reference`, kept equal by a test) and the
``serve --chaos`` help read this table.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from .model import Endpoint, Transport

__all__ = [
    "CHAOS_TOXICS",
    "TOXICS",
    "Direction",
    "Drawn",
    "ToxicSpec",
    "not_on_websocket",
    "reference",
]

#: Which way a network fault acts: on what the server sends, or on what the client sends.
Direction = Literal["downstream", "upstream"]


@dataclass(frozen=True, slots=True)
class Drawn:
    """What chaos made of one request with a network fault: its transport, in words, and
    the failure a correct client then reaches (None: the scenario's own outcome)."""

    transport: Transport
    what: str
    failure: str | None = None


#: How chaos draws a fault for one request on ``endpoint`` (None: chaos never draws it).
Draw = Callable[[random.Random, Endpoint], Drawn]


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """One network fault: what it does, the ``[transport]`` keys it takes, its direction,
    how a correct client meets it, and how chaos draws it."""

    name: str
    doc: str
    keys: tuple[str, ...]
    meets: str
    #: The shipped scenario that shows it.
    shown_by: str
    direction: Direction = "downstream"
    draw: Draw | None = None
    #: Why it means nothing on a WebSocket ("": it acts there too, on each frame's bytes).
    not_on_websocket: str = ""


def _cut(rng: random.Random, endpoint: Endpoint) -> Drawn:
    size = rng.randint(1, 400)
    failure = "incomplete_stream" if endpoint == "conversation" else "connection"
    return Drawn(Transport((endpoint,), cut_after=size),
                 f"the connection cut after {size} bytes of the {endpoint} answer", failure)  # fmt: skip


def _no_headers(rng: random.Random, endpoint: Endpoint) -> Drawn:
    return Drawn(Transport((endpoint,), no_headers=True), f"the {endpoint} answer's headers never sent",
                 "idle_timeout")  # fmt: skip


def _latency(rng: random.Random, endpoint: Endpoint) -> Drawn:
    return Drawn(
        Transport((endpoint,), latency=0.05), f"50 ms before each write of the {endpoint} answer"
    )


def _bandwidth(rng: random.Random, endpoint: Endpoint) -> Drawn:
    return Drawn(
        Transport((endpoint,), bandwidth=20_000), f"the {endpoint} answer at 20,000 bytes/s"
    )


def _slow_close(rng: random.Random, endpoint: Endpoint) -> Drawn:
    return Drawn(Transport((endpoint,), slow_close=3.0),
                 f"the connection closed 3 s after the {endpoint} answer")  # fmt: skip


#: Every network fault, by the name chaos and the docs know it by.
TOXICS: Final[dict[str, ToxicSpec]] = {
    spec.name: spec
    for spec in (
        ToxicSpec(
            "bandwidth",
            "the answer's bytes at most this many a second, in slices",
            ("bandwidth",),
            "reads at the pace they come",
            "bandwidth_cap",
            draw=_bandwidth,
        ),
        ToxicSpec(
            "latency",
            "a delay before each write: fixed, or drawn (normal, lognormal) from a seed",
            ("latency", "latency_sd", "distribution", "seed"),
            "waits, within its timeouts",
            "latency_lognormal",
            draw=_latency,
        ),
        ToxicSpec(
            "cut",
            "the connection ends after this many bytes of the body, with a FIN or an RST",
            ("cut_after", "cut_with"),
            "fails: incomplete_stream in the stream, connection before it",
            "cut_mid_utf8",
            draw=_cut,
        ),
        ToxicSpec(
            "no_headers",
            "the status line goes out; the headers never do, the connection stays open",
            ("no_headers",),
            "fails: idle_timeout",
            "no_headers",
            draw=_no_headers,
            not_on_websocket="a WebSocket's answers come after its handshake's headers",
        ),
        ToxicSpec(
            "length_error",
            "Content-Length declares this many bytes more (+) or fewer (-) than are sent",
            ("length_error",),
            "harmless once the end event has arrived; else the body is short",
            "content_length_short",
            not_on_websocket="a WebSocket's messages have no Content-Length",
        ),
        ToxicSpec(
            "slow_close",
            "the connection closes this many seconds after the answer (the FIN waits)",
            ("slow_close",),
            "harmless to a client that reads to the end of the body",
            "slow_close",
            draw=_slow_close,
            not_on_websocket="a WebSocket stays open after each answer",
        ),
    )
}
#: The network faults chaos may draw, by name.
CHAOS_TOXICS: Final = tuple(name for name, spec in TOXICS.items() if spec.draw is not None)


def not_on_websocket(transport: Transport) -> str | None:
    """Why ``transport`` cannot be played on a WebSocket's answer (None: it can: its
    latency, bandwidth and cut act on each frame's bytes)."""
    neutral = Transport()
    for spec in TOXICS.values():
        if spec.not_on_websocket and any(
            getattr(transport, k) != getattr(neutral, k) for k in spec.keys
        ):
            return f"its {spec.name} network fault: {spec.not_on_websocket}"
    return None


def reference() -> str:
    """The table of network faults for ``scenarios/README.md``, made from :data:`TOXICS`."""
    rows = ["| fault | keys | direction | what it does | a correct client | on a WebSocket "
            "| shown by |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for spec in TOXICS.values():
        keys = ", ".join(spec.keys)
        ws = f"not played: {spec.not_on_websocket}" if spec.not_on_websocket else "on each frame"
        rows.append(f"| `{spec.name}` | {keys} | {spec.direction} | {spec.doc} | {spec.meets} "
                    f"| {ws} | `{spec.shown_by}` |")  # fmt: skip
    return "\n".join(rows)
