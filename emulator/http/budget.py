"""A scenario's ``[rate_limit]`` on the conversation endpoints: each answer spends from
the session's token budget and says what is left in the API's headers; a request the
rest cannot cover gets the API's 429 with ``Retry-After``."""

from __future__ import annotations

import math
from dataclasses import replace

from ..dialects.dialect import Errors
from ..dialects.speaker import Whole
from ..scenario import HttpError, Scenario
from ..scenario.asked import Asked
from ..scenario.text import told_text
from .context import Context

__all__ = ["spent"]


def spent(
    ctx: Context, errors: Errors, scenario: Scenario, asked: Asked | None
) -> tuple[Whole | None, dict[str, str]]:
    """Spend this request's tokens (its messages' and its reply's) from the session's
    budget for ``scenario``: the 429 to answer instead when the rest cannot cover them,
    else the headers that say what is left (in the words of the API's ``errors``)."""
    limit = scenario.rate_limit
    name = ctx.call.scenario or scenario.name
    now = ctx.config.clock.time()
    budgets = ctx.state.budgets
    prompt = asked.prompt if asked is not None else ""
    reply = told_text(scenario.reply, prompt) if scenario.reply.text is not None else ""
    cost = (asked.tokens if asked is not None else 0) + len(reply.split())
    shape = errors.budget
    left = budgets.left(name, limit, now)
    if left.remaining < cost:
        message = shape.message(left, cost, asked.model if asked else "")
        error = HttpError("conversation", 429, detail=message,
                          retry_after=max(1, math.ceil(left.reset)))  # fmt: skip
        refused = errors.scripted(error)
        return replace(refused, headers={**refused.headers, **shape.headers(left)}), {}
    budget = budgets.spend(name, limit, cost, now)
    return None, dict(shape.headers(budget))
