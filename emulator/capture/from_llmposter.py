"""llmposter's YAML fixtures (``fixtures:``), read into :class:`~.fixtures.Fixture`
values. Pure.

``user_message`` and ``system_prompt`` (a substring, or ``{regex: …}``), ``model``,
``response`` (``content``, ``tool_calls``), ``error``, ``refusal``, ``streaming``,
``failure.truncate_after_frames``, ``catch_all``.
"""

from __future__ import annotations

from typing import Any

from .fixtures import ANYTHING, Fixture, calls_reply, error_tables, paced


def from_llmposter(data: dict[str, Any]) -> list[Fixture]:
    found = []
    for i, raw in enumerate(data["fixtures"]):
        fixture = Fixture(f"fixture {i + 1}", {}, {})
        match = raw.get("match") if isinstance(raw.get("match"), dict) else {}
        said: dict[str, Any] = {}
        for theirs, contains, regex in (("user_message", "user_contains", "user_regex"),
                                        ("system_prompt", "system_contains", None)):  # fmt: skip
            value = match.get(theirs)
            if isinstance(value, str) and value:
                said[contains] = value
            elif isinstance(value, dict) and isinstance(value.get("regex"), str) and regex:
                said[regex] = value["regex"]
            elif value is not None:
                fixture.drop(f"match.{theirs}", "a regex here is not tested")
        if isinstance(match.get("model"), str):
            said["model"] = match["model"]
            fixture.drop("match.model", "taken as the exact model (llmposter takes any model "
                         "that contains it)")  # fmt: skip
        for key in match:
            if key not in ("user_message", "model", "system_prompt"):
                fixture.drop(f"match.{key}", "no condition here tests it")
        fixture.match = said or dict(ANYTHING)
        _llmposter_answer(raw, fixture)
        found.append(fixture)
    return found


def _llmposter_answer(raw: dict[str, Any], fixture: Fixture) -> None:
    given = raw.get("response")
    response: dict[str, Any] = given if isinstance(given, dict) else {}
    error = raw.get("error")
    if isinstance(error, dict):
        fixture.tables.update(error_tables(fixture, error.get("status"), error.get("message")))
        if error.get("headers"):
            fixture.drop("error.headers", "an error's headers are the API's own")
    elif isinstance(raw.get("refusal"), dict):
        reason = raw["refusal"].get("reason") or "I can't help with that."
        fixture.tables["reply"] = {"text": str(reason), "refusal": True}
    elif isinstance(response.get("tool_calls"), list):
        fixture.tables["reply"] = calls_reply(
            response["tool_calls"], fixture, "response.tool_calls"
        )
    elif isinstance(response.get("content"), str):
        fixture.tables["reply"] = {"text": response["content"]}
    else:
        fixture.drop("response", "says no content, tool calls, error or refusal")
    streaming = raw.get("streaming")
    if isinstance(streaming, dict):
        paced(fixture, streaming.get("chunk_size"), streaming.get("latency"))
    failure = raw.get("failure")
    if isinstance(failure, dict):
        cut = failure.get("truncate_after_frames", failure.get("truncate_after_chunks"))
        if isinstance(cut, int):
            fixture.tables["faults"] = [{"kind": "drop", "at": cut + 1}]
        for key in failure:
            if key not in ("truncate_after_frames", "truncate_after_chunks"):
                fixture.drop(f"failure.{key}", "no equivalent: give the turn [[faults]]")
    for key in ("scenario", "priority", "provider", "content_template"):
        if key in raw or key in response:
            fixture.drop(key, "no equivalent (states: write [[turns]] with nth or "
                         "tool_result; a provider: every dialect is served)")  # fmt: skip
    if raw.get("catch_all"):
        fixture.match = dict(ANYTHING)
