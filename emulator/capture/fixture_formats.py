"""The other mocks' fixture files, read into :class:`~.fixtures.Fixture` values. Pure.

- aimock (``{"fixtures": [{"match": …, "response": …}]}``, JSON): ``userMessage``,
  ``sequenceIndex``, ``toolCallId``, ``toolName``, ``model``, ``systemMessage``,
  ``turnIndex``, ``hasToolResult``, ``responseFormat``; ``content``, ``toolCalls``,
  ``reasoning``, ``error`` and ``status``, ``finishReason``; ``chunkSize``, ``latency``,
  ``truncateAfterChunks``.
- mock-llm (``rules:`` YAML): the chat route's rules, their JMESPath ``match`` where it
  is the usual ``contains(body.messages[-1].content, '…')`` or ``body.model == '…'``,
  ``sequence``, and ``response`` (the API's JSON body as text: its content, tool calls,
  or its error with ``status``).
- llmposter (``fixtures:`` YAML): ``user_message`` and ``model`` (a substring, or
  ``{regex: …}``), ``response`` (``content``, ``tool_calls``), ``error``, ``refusal``,
  ``streaming``, ``failure.truncate_after_frames``, ``catch_all``.
- VidaiMock (a provider's YAML, ``name`` and ``matcher``, with its template; or a
  ``*.json.j2`` template): its chat answer, the template's first branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .fixtures import Imported, fixture_scenario
from .from_aimock import from_aimock
from .from_llmposter import from_llmposter
from .from_mockllm import from_mockllm
from .from_vidaimock import from_vidaimock

__all__ = ["imported_fixtures", "recognized"]


def imported_fixtures(raw: bytes, path: Path, name: str) -> Imported | None:
    """The scenario another mock's fixture file at ``path`` (its bytes ``raw``) answers as
    (None: it is none of theirs); a :class:`ScenarioError` naming the file when it is
    theirs but cannot be read."""
    source = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data: Any = text
    if not source.endswith(".j2"):
        try:
            data = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError:
            return None
    tool = recognized(data, source)
    if tool is None:
        return None
    if tool == "aimock":
        fixtures = from_aimock(data)
    elif tool == "mock-llm":
        fixtures = from_mockllm(data)
    elif tool == "llmposter":
        fixtures = from_llmposter(data)
    else:
        fixtures = from_vidaimock(data, path)
    return fixture_scenario(tool, fixtures, source, name, last_wins=tool == "mock-llm")


def recognized(data: Any, source: str) -> str | None:
    """Which mock's fixtures ``data`` (a file's JSON or YAML) are, by content (None:
    none's)."""
    if source.endswith(".j2"):
        return "vidaimock"
    if not isinstance(data, dict):
        return None
    fixtures = data.get("fixtures")
    if isinstance(fixtures, list) and fixtures and all(isinstance(f, dict) for f in fixtures):
        keys = {
            k for f in fixtures for k in f.get("match", {}) if isinstance(f.get("match"), dict)
        }
        if keys & {"user_message", "tool_schema", "system_prompt"} or any(
            k in f for f in fixtures for k in ("catch_all", "refusal", "failure", "scenario")
        ):
            return "llmposter"
        return "aimock"
    rules = data.get("rules")
    if isinstance(rules, list) and all(isinstance(r, dict) and "response" in r for r in rules):
        return "mock-llm"
    if isinstance(data.get("matcher"), str) and "name" in data:
        return "vidaimock"
    return None
