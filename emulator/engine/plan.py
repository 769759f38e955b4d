"""``plan()``: a scenario and one request become the exact steps to play. Pure.

Yields :class:`~emulator.protocol.steps.Write`, ``Wait``, ``Drop`` and
``Hold`` steps lazily; never sleeps, holds no state of its own (a server
passes its :class:`~emulator.engine.templates.TemplateCache`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final

from ..protocol.fakegpt import StreamContext
from ..protocol.steps import Step
from ..scenario.faults import FAULTS
from ..scenario.model import PlanError, Scenario
from ..scenario.text import reply_text
from .prepare import Prepared, prepare
from .stream import planned
from .templates import TemplateCache

__all__ = ["MAX_STREAM_BYTES", "PlanError", "estimated_bytes", "not_applicable", "plan"]

#: A stream larger than this (estimated) is refused when planned (a
#: cumulative reply of n characters cut into k snapshots sends about n·k/2
#: bytes); a server's ``max_stream_bytes`` is usually lower.
MAX_STREAM_BYTES: Final = 2 * 1024**3


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on the FakeGpt stream (None: it applies)."""
    if scenario.reply.tool:
        return "its reply is a tool call, which the FakeGpt conversation stream has not"
    return None


def estimated_bytes(scenario: Scenario, prepared: Prepared) -> int:
    """About how many bytes the stream sends (at least its snapshots and fault writes)."""
    text, ends = prepared.text, prepared.ends
    events = len(ends) + 3
    size = (sum(ends) if scenario.wire.encoding == "cumulative" else 0) + len(text)
    size += events * 600  # an event's envelope
    for fault in scenario.faults:
        spec = FAULTS[fault.kind]
        each = spec.size + len(fault.text) + len(fault.raw)
        if spec.resends_text:
            each += len(text)
        if fault.ping_every > 0:
            each = 60 * math.ceil(fault.seconds / fault.ping_every)
        size += each * (1 if spec.once else fault.count)
    return size


def plan(
    scenario: Scenario,
    ctx: StreamContext,
    *,
    max_bytes: int = MAX_STREAM_BYTES,
    prepared: Prepared | None = None,
    text: str | None = None,
    templates: TemplateCache | None = None,
) -> Iterator[Step]:
    """The steps that play ``scenario`` for one ``/api/conversation`` request.

    ``text``, the reply's text for this prompt, and ``prepared`` (its cuts
    and escaping) are computed here when the caller has not already.
    :class:`PlanError` when the reply or the stream would exceed its limit.
    """
    if scenario.wire.body == "empty":
        return iter(())
    if prepared is not None:
        text = prepared.text
    elif text is None:
        text = reply_text(scenario.reply, ctx.prompt)
    if templates is not None:
        steps = templates.steps(scenario, text, ctx, max_bytes)
        if steps is not None:
            return steps
    if prepared is None:
        prepared = prepare(scenario, text)
    size = estimated_bytes(scenario, prepared)
    if size > max_bytes:
        raise PlanError(
            f"scenario {scenario.name!r} would stream about {size:,} bytes for this prompt; "
            f"the limit is {max_bytes:,} (cut coarser, shorten the reply or use fewer faults)"
        )
    return planned(scenario, ctx, prepared)
