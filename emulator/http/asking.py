"""What every ask does, whatever carries it (an HTTP request, a WebSocket's message): what
the dialect is given, and the scenario (and turn) chosen for it."""

from __future__ import annotations

from aiohttp import web

from ..dialects.dialect import Dialect
from ..dialects.speaker import Given, Whole
from ..dialects.strict import strict_asked
from ..protocol.errors import BadRequest
from ..scenario import Endpoint, Scenario, ScenarioError
from ..scenario.asked import Asked
from ..scenario.match import RegexTimeout
from ..state.matching import NoTurnError, TieError, turn_of
from ..state.store import SCENARIO_HEADER, RuleTimeoutError
from .context import Context

__all__ = ["applicable", "choose", "given_for", "sent"]


def sent(whole: Whole) -> web.Response:
    """A whole answer as aiohttp sends it."""
    return web.Response(body=whole.body, status=whole.status, headers=whole.headers,
                        content_type=whole.content_type, charset=whole.charset)  # fmt: skip


def given_for(request: web.BaseRequest, ctx: Context) -> Given:
    """What a dialect is given for this request (a WebSocket's: for each of its asks)."""
    config = ctx.config

    def gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    return Given(ctx.signer, config.clock, strict_asked(config.strict, request.headers),
                 config.max_prompt, config.max_stream_bytes, config.seed, config.accounts,
                 ctx.state.id, gone=gone, speed=config.speed)  # fmt: skip


def choose(
    request: web.BaseRequest, ctx: Context, endpoint: Endpoint, asked: Asked | None
) -> Scenario:
    """The scenario (or the turn of its [[turns]]) that answers this request, noted in
    the journal with why; a 400 when none can be chosen, a 404 naming the nearest turns
    when no turn of the chosen scenario matches."""
    call, limits = ctx.call, ctx.config.limits
    try:
        choice = ctx.state.choose(endpoint, request.headers.get(SCENARIO_HEADER), asked)
        call.scenario, call.chosen_by = choice.scenario.name, choice.why
        call.near = [n.to_dict() for n in choice.near]
        if asked is None or not choice.scenario.turns:
            return choice.scenario
        scenario, call.turn = turn_of(choice.scenario, asked, limits.rule_seconds,
                                      ctx.state.sequences)  # fmt: skip
        return scenario
    except ScenarioError as exc:
        raise BadRequest(400, f"cannot choose a scenario: {exc.problem}") from exc
    except (RuleTimeoutError, RegexTimeout, TieError) as exc:
        if not isinstance(exc, TieError):
            ctx.state.add_problem(str(exc))
        raise BadRequest(400, f"cannot choose a scenario: {exc}") from exc
    except NoTurnError as exc:
        call.near = [n.to_dict() for n in exc.near]
        raise BadRequest(404, str(exc)) from exc


def applicable(dialect: Dialect, scenario: Scenario) -> None:
    """A 400 saying why, when the chosen scenario means nothing on ``dialect``."""
    reason = dialect.not_applicable(scenario)
    if reason is not None:
        raise BadRequest(
            400, f"scenario {scenario.name!r} does not apply to {dialect.title}: {reason}"
        )
