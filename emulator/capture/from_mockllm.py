"""mock-llm's YAML config (``rules:``), read into :class:`~.fixtures.Fixture` values. Pure.

The chat route's rules: their JMESPath ``match`` where it is the usual
``contains(body.messages[-1].content, '…')`` or ``body.model == '…'``, ``sequence``
(counted from 0), and ``response`` (the API's JSON body as text: its content, tool calls,
or its error with ``status``); ``streaming``'s chunk size and interval.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from .fixtures import ANYTHING, CHAT_PATH, Fixture, chat_answer, error_tables, paced

_CONTAINS: Final = re.compile(
    r"contains\(\s*body\.messages\[-1\]\.content\s*,\s*'((?:[^'\\]|\\.)*)'\s*\)"
)
_MODEL: Final = re.compile(r"body\.model\s*==\s*'((?:[^'\\]|\\.)*)'")


def from_mockllm(data: dict[str, Any]) -> list[Fixture]:
    found = []
    for i, rule in enumerate(data["rules"]):
        fixture = Fixture(f"rule {i + 1}", {}, {})
        path = rule.get("path", "")
        if not isinstance(path, str) or not re.search(path, CHAT_PATH):
            fixture.drop("path", f"{path!r} is not Chat Completions' path: left out")
            found.append(fixture)
            continue
        fixture.match = _mockllm_match(rule, fixture)
        _mockllm_response(rule.get("response"), fixture)
        found.append(fixture)
    streaming = data.get("streaming")
    if isinstance(streaming, dict):
        for fixture in found:
            paced(fixture, streaming.get("chunkSize"), streaming.get("chunkIntervalMs"))
    return found


def _mockllm_match(rule: dict[str, Any], fixture: Fixture) -> dict[str, Any]:
    said: dict[str, Any] = {}
    expression = rule.get("match")
    if isinstance(expression, str) and expression.strip() not in ("", "@"):
        rest = expression
        for pattern, key in ((_CONTAINS, "user_contains"), (_MODEL, "model")):
            found = pattern.search(rest)
            if found:
                said[key] = found.group(1).replace("\\'", "'")
                rest = rest.replace(found.group(0), "")
        if rest.replace("&&", "").strip():
            fixture.drop("match", f"the JMESPath {expression!r} is more than 'contains(body."
                         "messages[-1].content, …)' and 'body.model == …': read as the "
                         "conditions found in it")  # fmt: skip
    if isinstance(rule.get("sequence"), int):
        said["nth"] = rule["sequence"] + 1
    return said or dict(ANYTHING)


def _mockllm_response(response: Any, fixture: Fixture) -> None:
    if not isinstance(response, dict):
        fixture.drop("response", "missing")
        return
    status = response.get("status", 200)
    content = response.get("content", "")
    if "{{" in str(content):
        if re.fullmatch(r"\s*\{\{\s*jmes request body\.messages\[-1\]\.content\s*\}\}\s*",
                        str(content)):  # fmt: skip
            fixture.tables["reply"] = {"echo": True}
            return
        fixture.drop("response.content", "a template: its placeholders are left as written")
    try:
        body = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        fixture.drop("response.content", "is not JSON once read")
        return
    if isinstance(status, int) and status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        fixture.tables.update(error_tables(fixture, status, message))
        return
    chat_answer(body, fixture, "response.content")
