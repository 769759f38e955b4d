"""Hypothesis strategies for scenarios (needs the ``hypothesis`` package).

``scenarios()`` builds streams that a correct client must read exactly, or
fail on with the error the scenario's ``expect`` states: any Unicode text
(astral, combining, RTL), every cut, every framing, writes split at any
byte, and skippable junk (malformed lines, garbage, pings, comments, foreign
messages, moderation events, stale and repeated snapshots) at any place,
optionally ending in a drop, an in-stream error or an early ``[DONE]``.
Serve one with ``emulator.use(scenario)``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, get_args

from hypothesis import strategies as st

from .dialects.registry import dialect_named
from .scenario import FAULTS, Expect, Fault, Reply, Scenario, Transport, Wire
from .scenario.model import Cut, DataPrefix, LineEnding
from .scenario.text import cut_points

__all__ = ["SKIPPABLE_FAULTS", "replies", "scenarios", "skippable_faults", "wires"]

#: Faults a correct client reads past without changing the text (from the fault table).
SKIPPABLE_FAULTS = tuple(
    kind for kind, spec in FAULTS.items() if spec.skippable and not spec.websocket
)

texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=120)


def replies() -> st.SearchStrategy[Reply]:
    return st.builds(
        Reply,
        text=texts,
        cut=st.sampled_from(get_args(Cut)),
        cut_size=st.integers(1, 6),
    )


def wires() -> st.SearchStrategy[Wire]:
    return st.builds(
        Wire,
        line_ending=st.sampled_from(get_args(LineEnding)),
        data_prefix=st.sampled_from(get_args(DataPrefix)),
        bom=st.booleans(),
        multiline_data=st.booleans(),
        ensure_ascii=st.booleans(),
        chunk_size=st.sampled_from([0, 0, 1, 2, 3, 5, 8, 13, 64, 1000]),
        split_pause=st.just(0.0),
        done=st.booleans(),
    )


# Garbage is one line of bytes: no line ends, and nothing that reads as [DONE].
_garbage = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"[DONE]", b"") or b"\x00"
)


#: How each key a fault kind may take is drawn (the table says which kind takes which).
_FAULT_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "raw": _garbage,
    "text": st.sampled_from(["", "{not json", "[1, 2]", '{"message": null}']),
    "role": st.sampled_from(["user", "assistant", "system", "tool"]),
    "message_type": st.sampled_from(["variant", "continue", "next"]),
    "count": st.integers(1, 3),
}


def skippable_faults(max_at: int = 40, dialect: str = "fakegpt") -> st.SearchStrategy[Fault]:
    """Any skippable fault ``dialect`` has, drawing only the keys its kind takes."""
    missing = dialect_named(dialect).shapes.missing
    return st.one_of(
        [
            st.builds(
                Fault,
                kind=st.just(kind),
                at=st.integers(-1, max_at),
                **{key: _FAULT_KEYS[key] for key in FAULTS[kind].keys},
            )
            for kind in SKIPPABLE_FAULTS
            if kind not in missing
        ]
    ).map(_fix_foreign)


def _fix_foreign(fault: Fault) -> Fault:
    # A fault that sends a message of some author (a foreign message) must be
    # foreign: an assistant "next" message *is* the reply.
    if "role" not in FAULTS[fault.kind].keys:
        return fault
    if fault.role == "assistant" and fault.message_type == "next":
        return replace(fault, message_type="variant")
    if fault.text.startswith(("{", "[")):
        return replace(fault, text="")
    return fault


@st.composite
def scenarios(draw: st.DrawFn, dialect: str = "fakegpt") -> Scenario:
    """A scenario and, in its ``expect``, the outcome a correct client reaches, with only
    the skippable faults ``dialect`` has (its other reasons not to serve it aside)."""
    reply = draw(replies())
    wire = draw(wires())
    text = reply.text or ""
    ends = cut_points(text, reply.cut, reply.cut_size)
    events = len(ends) + 2  # the empty first message, the snapshots, the final one
    faults = draw(st.lists(skippable_faults(events, dialect), max_size=6))
    ending = draw(st.sampled_from(["none", "none", "drop", "reset", "close", "error", "done"]))
    expect = Expect(outcome="reply") if text else Expect(outcome="failure", failure="no_reply")
    if ending != "none":
        at = draw(st.integers(0, events))
        if ending in ("drop", "reset", "close"):
            faults.append(Fault(ending, at=at))
            expect = Expect(outcome="failure", failure="incomplete_stream")
        elif ending == "error":
            faults.append(Fault("error", at=at, text="upstream failure"))
            expect = Expect(
                outcome="failure", failure="upstream_error", message="upstream failure"
            )
        else:
            faults.append(Fault("done", at=at))
            # Message event j carries "" (j = 0), text[:ends[j-1]], then the whole text.
            before = "" if at <= 1 else text if at - 1 > len(ends) else text[: ends[at - 2]]
            expect = (
                Expect(outcome="text", text=before)
                if before
                else Expect(outcome="failure", failure="no_reply")
            )
    if ending == "none" and not wire.done and text:
        expect = Expect(outcome="reply")  # a finished message without [DONE] is complete
    faults.sort(key=lambda f: (f.at == -1, f.at))
    # The network: quick enough for a fuzz run, and a Content-Length promising
    # more than comes only where [DONE] makes the reply whole before the close.
    lies = ending == "none" and wire.done and bool(text) and draw(st.booleans())
    transport = Transport(
        endpoints=("conversation",),
        # Latency comes before every write: only where writes are few (not split).
        latency=draw(st.sampled_from([0.0, 0.0, 0.001]))
        if not (wire.chunk_size or wire.split_at)
        else 0.0,
        latency_sd=0.0005,
        distribution=draw(st.sampled_from(["normal", "lognormal"])),
        seed=draw(st.integers(0, 2**16)),
        bandwidth=draw(st.sampled_from([0, 0, 2_000_000])),
        length_error=draw(st.integers(1, 500)) if lies else 0,
    )
    if not transport.latency:
        transport = Transport(
            endpoints=transport.endpoints,
            bandwidth=transport.bandwidth,
            length_error=transport.length_error,
        )
    return Scenario(
        name="fuzz",
        description="A generated stream (emulator.strategies.scenarios).",
        reply=reply,
        wire=wire,
        faults=tuple(_terminal_last(faults)),
        transport=transport,
        expect=expect,
    )


def _terminal_last(faults: list[Fault]) -> list[Fault]:
    """Skippable faults placed after a terminal one at the same index run first."""
    return sorted(faults, key=lambda f: (f.at == -1, f.at, FAULTS[f.kind].terminal))
