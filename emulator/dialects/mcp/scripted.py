"""What a scenario scripts of the MCP server (``[mcp]``'s tables): tools with their answers,
resources, resource templates, prompts with their arguments. Pure values, read by
:mod:`.part`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from ...scenario.asked import Asked, Message
from ...scenario.match import Match, misses

__all__ = [
    "ASKS",
    "PromptArgument",
    "ScriptedAnswer",
    "ScriptedPrompt",
    "ScriptedResource",
    "ScriptedTemplate",
    "ScriptedTool",
]


@dataclass(frozen=True, slots=True)
class ScriptedAnswer:
    """One answer of a scripted tool (``[[mcp.tools.answers]]``), for the calls whose
    arguments say what ``when`` says (each of its keys: the same value; a string, the same
    but for case and surrounding space) and meet its ``match``: the rules an agent's turn
    is chosen by, the call's arguments its JSON body (``path``) and, as JSON text, its last
    user message (``user_contains``, ``user_regex``)."""

    when: Mapping[str, Any]
    text: str = ""
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    match: Match | None = None

    def fits(self, arguments: Mapping[str, Any]) -> bool:
        if not all(_same(arguments.get(k), v) for k, v in self.when.items()):
            return False
        if self.match is None:
            return True
        said = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        asked = Asked((Message("user", said),), body=dict(arguments))
        return not misses(self.match, asked)


def _same(given: Any, wanted: Any) -> bool:
    if isinstance(given, str) and isinstance(wanted, str):
        return given.strip().casefold() == wanted.strip().casefold()
    return bool(given == wanted)


@dataclass(frozen=True, slots=True)
class ScriptedTool:
    """A tool a scenario scripts (``[[mcp.tools]]``): listed with its schemas, and answering
    every call with the same result (its text; ``structured`` as ``structuredContent``;
    ``is_error``: a tool's error result)."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    output_schema: Mapping[str, Any] | None = None
    text: str = ""
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    #: An image in its result ("#rrggbb": 8x8 pixels of it, a PNG), a link to a resource.
    image: str = ""
    resource_link: str = ""
    #: What it asks the client first ("elicitation", "sampling", "roots"): the server's own
    #: request, and the answer becomes its result; ``ask_text`` is the question.
    asks: str = ""
    ask_text: str = ""
    #: Answers for some calls, by their arguments (the first that fits; none: the above).
    answers: tuple[ScriptedAnswer, ...] = ()


#: What a scripted tool may ask the client.
ASKS: Final = ("elicitation", "sampling", "roots")


@dataclass(frozen=True, slots=True)
class ScriptedResource:
    """A resource a scenario scripts (``[[mcp.resources]]``): listed, and read as its text;
    with ``updated_text``, a client that subscribes to it is told it was updated
    (``notifications/resources/updated`` on its session's own stream), and reads that text
    from then on."""

    uri: str
    name: str = ""
    mime_type: str = "text/plain"
    text: str = ""
    updated_text: str = ""

    def listed(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name or self.uri, "mimeType": self.mime_type}

    def contents(self, updated: bool = False) -> dict[str, Any]:
        text = self.updated_text if updated and self.updated_text else self.text
        return {"uri": self.uri, "mimeType": self.mime_type, "text": text}


@dataclass(frozen=True, slots=True)
class ScriptedTemplate:
    """A resource template a scenario scripts (``[[mcp.resource_templates]]``): listed, and
    a URI it matches read as its text, each ``{variable}`` the URI's (RFC 6570, level 1:
    a variable is a run of characters but ``/``)."""

    uri_template: str
    name: str = ""
    mime_type: str = "text/plain"
    text: str = ""

    def listed(self) -> dict[str, Any]:
        return {"uriTemplate": self.uri_template, "name": self.name or self.uri_template,
                "mimeType": self.mime_type}  # fmt: skip

    def read(self, uri: str) -> dict[str, Any] | None:
        """The contents of ``uri`` if the template matches it (None: it does not)."""
        parts = re.split(r"\{(\w+)\}", self.uri_template)
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)"
                          for i, p in enumerate(parts))  # fmt: skip
        found = re.fullmatch(pattern, uri)
        if found is None:
            return None
        text = _filled(self.text, {k: unquote(v) for k, v in found.groupdict().items()})
        return {"uri": uri, "mimeType": self.mime_type, "text": text}


@dataclass(frozen=True, slots=True)
class PromptArgument:
    """An argument a scripted prompt takes (its text says it as ``{name}``)."""

    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class ScriptedPrompt:
    """A prompt a scenario scripts (``[[mcp.prompts]]``): listed with its arguments, and
    got as one user message of its text, each ``{argument}`` the one given."""

    name: str
    description: str = ""
    text: str = ""
    arguments: tuple[PromptArgument, ...] = ()

    def listed(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "arguments": [{"name": a.name, "description": a.description,
                               "required": a.required} for a in self.arguments]}  # fmt: skip

    def got(self, given: Mapping[str, Any]) -> str:
        """Its text for the arguments ``given``; a ``ValueError`` naming a required one
        that is missing."""
        missing = [a.name for a in self.arguments if a.required and a.name not in given]
        if missing:
            raise ValueError(f"Missing required argument: {missing[0]}")
        known = {a.name for a in self.arguments}
        return _filled(self.text, {k: str(v) for k, v in given.items() if k in known})


def _filled(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{name}`` in ``values`` replaced (other braces kept)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)
