"""What more than one dialect shares: the fault shapes of delta streams, and why a
scenario means nothing on an API with a key (every shipped one but FakeGpt). Pure."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from ..protocol.sse import DONE, SSEFormat
from ..protocol.steps import Step, Write
from ..scenario.faults import Sent, ShapeWriter, unshaped
from ..scenario.model import Fault, Scenario

__all__ = [
    "DELTA_MISSING",
    "NO_DONE",
    "UNNUMBERED",
    "done",
    "json_lines",
    "keyed_api_not_applicable",
    "ping",
    "recorded_elsewhere",
    "session_not_applicable",
    "sse_framing",
]


#: What a stream of deltas has not, whatever the API: the FakeGpt events and snapshots.
DELTA_MISSING: Final[Mapping[str, str]] = {
    "foreign_message": "chunks carry no message of another author",
    "moderation": "there is no moderation event",
    "num_variants": "there is no num_variants event",
    "rewrite": "deltas cannot rewrite what was sent",
}
#: What a stream of deltas that are not numbered has not.
UNNUMBERED: Final[Mapping[str, str]] = {
    "stale": "a delta sent again cannot be told from a new one: the events are not numbered",
    "repeat": "a delta sent again cannot be told from a new one: the events are not numbered",
}
#: Why a scenario that ends with (or sends) ``[DONE]`` means nothing here.
NO_DONE: Final = "there is no [DONE] in this API (message_stop ends a message)"


def ping(timestamp: float) -> ShapeWriter:
    """``event: ping`` with a timestamp as its data."""
    data = f"{timestamp:.6f}"

    def write(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
        yield Write(fmt.event(data, "ping"))

    return write


def done(fault: Fault, fmt: SSEFormat, sent: Sent) -> Iterator[Step]:
    """``data: [DONE]``, early."""
    yield Write(fmt.event(DONE))


def sse_framing(scenario: Scenario, form: str) -> str | None:
    """Why ``scenario`` means nothing on a stream that is not SSE (``form``, such as "a
    binary event stream"): its faults or quirks are SSE framing. None: they are not."""
    reason = unshaped(scenario, {
        "comment": f"a comment line is SSE framing, which {form} has not",
        "garbage": f"a line of raw bytes is SSE framing, which {form} has not",
    })  # fmt: skip
    if reason is not None:
        return reason
    wire = scenario.wire
    if wire.bom or wire.line_ending != "\n" or wire.data_prefix != "data: " or wire.multiline_data:
        return f"its wire quirks are SSE framing, which {form} has not"
    return None


def recorded_elsewhere(scenario: Scenario, dialect: str) -> str | None:
    """Why ``scenario`` means nothing on ``dialect``: its recording is of another API."""
    recording = scenario.recording
    if recording is not None and recording.dialect != dialect:
        return f"its recording is of another API ({recording.dialect})"
    return None


def keyed_api_not_applicable(
    scenario: Scenario,
    dialect: str,
    missing: Mapping[str, str],
    *,
    refusal: bool = False,
    azure: bool = False,
) -> str | None:
    """Why ``scenario`` means nothing on ``dialect``, an API with a key whose stream has
    none of the fault shapes in ``missing`` (kind -> why), no login to cure a 401, no
    refusal of its own (but with ``refusal``: OpenAI's field), nor Azure OpenAI's filter
    results (but with ``azure``). (Another API's own part of a scenario means nothing on
    any dialect but that one: :meth:`~.dialect.Dialect.not_applicable` says so.)"""
    reason = unshaped(scenario, missing) or recorded_elsewhere(scenario, dialect)
    if reason is not None:
        return reason
    if scenario.reply.refusal and not refusal:
        return (
            "its reply is a refusal in OpenAI's refusal field, which this API has not (its "
            "content filter's stop says a refusal: content_filtered)"
        )
    if scenario.wire.azure_filters and not azure:
        return "its stream is Azure OpenAI's (content_filter_results), a Chat Completions one"
    if scenario.expect.outcome != "failure" and any(
        e.status in (401, 403) for e in scenario.http_errors
    ):
        return "it expects a fresh login to cure a 401; an API key has no login"
    return None


def session_not_applicable(
    scenario: Scenario, dialect: str, title: str, missing: Mapping[str, str]
) -> str | None:
    """Why ``scenario`` means nothing on a session-speaking dialect over a WebSocket (its
    reply said as text or audio pieces, calls whole or as arguments; ``title`` names it):
    SSE framing, the shapes in ``missing``, a refusal, reasoning, a finish of its own, a
    prompt cache. None: it applies."""
    reason = sse_framing(scenario, "a WebSocket's messages") or keyed_api_not_applicable(
        scenario, dialect, missing
    )
    if reason is not None:
        return reason
    reply, wire = scenario.reply, scenario.wire
    if reply.refusal:
        return f"its reply is a refusal in OpenAI's refusal field, which {title} has not"
    if reply.reasoning:
        return f"its reply has reasoning, which this emulator's {title} does not stream"
    if wire.finish_type != "stop":
        return f"its reply ends at {wire.finish_type}, which this emulator's {title} does not say"
    if reply.cached_tokens:
        return f"it says what a prompt cache served, which this emulator's {title} does not"
    return None


def json_lines(body: bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects of a captured session, one message a line (other lines skipped)."""
    for line in body.splitlines():
        try:
            said = json.loads(line)
        except ValueError:
            continue
        if isinstance(said, dict):
            yield said
