"""``plan()``: a scenario and one ``/api/conversation`` request become the exact steps to play. Pure.

Yields :class:`~emulator.protocol.steps.Write`, ``Wait``, ``Drop`` and
``Hold`` steps lazily; never sleeps, holds no state of its own (a server
passes its :class:`~emulator.dialects.fakegpt.cache.TemplateCache`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ...engine.prepare import MAX_STREAM_BYTES, Prepared, estimated_bytes, prepare
from ...protocol.steps import Step
from ...scenario.faults import unshaped
from ...scenario.model import PlanError, Scenario
from ...scenario.text import reply_text
from ..common import recorded_elsewhere
from .cache import TemplateCache
from .part import FakeGptPart
from .shapes import MISSING
from .stream import planned
from .wire import StreamContext

__all__ = ["NAME", "PlanError", "not_applicable", "plan"]

#: Its name in the registry.
NAME: Final = "fakegpt"


def not_applicable(scenario: Scenario) -> str | None:
    """Why ``scenario`` means nothing on the FakeGpt stream (None: it applies)."""
    if scenario.reply.calls_tool:
        return "its reply is a tool call, which the FakeGpt conversation stream has not"
    if scenario.reply.reasoning:
        return "its reply has reasoning, which the FakeGpt stream has not"
    if scenario.reply.refusal:
        return "its reply is a refusal, which the FakeGpt stream has no field for"
    if scenario.wire.azure_filters:
        return "its stream is Azure OpenAI's (content_filter_results), a Chat Completions one"
    if scenario.wire.finish_type == "content_filter":
        return "its reply ends at a content filter, which the FakeGpt stream does not say"
    return unshaped(scenario, MISSING) or recorded_elsewhere(scenario, NAME)


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
    own = scenario.part(FakeGptPart)
    if own.body == "empty":
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
        prepared = prepare(scenario, text, escape=own.cumulative)
    size = estimated_bytes(scenario, prepared, snapshots=own.cumulative)
    if size > max_bytes:
        raise PlanError(
            f"scenario {scenario.name!r} would stream about {size:,} bytes for this prompt; "
            f"the limit is {max_bytes:,} (cut coarser, shorten the reply or use fewer faults)"
        )
    return planned(scenario, ctx, prepared)
