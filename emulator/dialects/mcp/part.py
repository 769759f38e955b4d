"""The MCP server's own part of a scenario (``[mcp]``): how its answers go wrong in ways only
MCP has. Pure.

Written as a table of its own in a scenario file (``[mcp]``), or as dotted keys at its top
(``mcp.error_code = -32602``); no other API has these: a scenario that says them means
nothing there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ...scenario.dump import toml_value
from ...scenario.match import Match, match_from_table
from ...scenario.parts import ApiPart
from .scripted import (
    ASKS,
    PromptArgument,
    ScriptedAnswer,
    ScriptedPrompt,
    ScriptedResource,
    ScriptedTemplate,
    ScriptedTool,
)
from .tools import BUILTIN_TOOLS, CallResult, Tool

if TYPE_CHECKING:
    from typing import Self

    from ...scenario.table import Table

__all__ = ["McpPart"]

#: The most notifications one answer may flood a client with.
MAX_NOTIFICATIONS: Final = 10_000
#: The most tools a scenario may script.
MAX_TOOLS: Final = 200


@dataclass(frozen=True, slots=True)
class McpPart(ApiPart):
    """What a scenario says of the MCP server alone."""

    dialect: ClassVar[str] = "mcp"

    #: A request's answer as one JSON body, not an event stream (so no fault can happen
    #: inside it, and there is nothing to resume).
    json_response: bool = False
    #: > 0: the session is forgotten once it has made this many requests (the next gets a
    #: 404, and the client must initialize again).
    session_expires_after: int = 0
    #: The protocol version ``initialize`` answers with ("": the one the client asked, when
    #: spoken here): a version the client does not speak is a mismatch it must refuse.
    protocol_version: str = ""
    #: != 0: ``tools/call`` is answered with this JSON-RPC error code (-32602, -32603, …).
    error_code: int = 0
    error_message: str = ""
    #: Before the result, a response for a request id the client never used.
    stray_result: bool = False
    #: The result sent twice (a client takes the first and ignores the second).
    duplicate_result: bool = False
    #: Logging notifications (``notifications/message``) sent before the result.
    notifications: int = 0
    #: Seconds the tool takes before its result (``notifications/progress`` each second
    #: when the client gave a progress token): a tool slower than a client's timeout.
    tool_seconds: float = 0.0
    #: The tools the server lists and answers before its own (one of a built-in's name
    #: replaces it).
    tools: tuple[ScriptedTool, ...] = ()
    #: The resources it lists and reads (``resources/list``, ``resources/read``).
    resources: tuple[ScriptedResource, ...] = ()
    #: The prompts it lists and gives (``prompts/list``, ``prompts/get``).
    prompts: tuple[ScriptedPrompt, ...] = ()
    #: The resource templates it lists and reads (``resources/templates/list``).
    resource_templates: tuple[ScriptedTemplate, ...] = ()
    #: The lists ("tools", "resources", "prompts") whose change it tells before each
    #: ``tools/call`` result (``notifications/tools/list_changed``, …; ``initialize``
    #: declares it).
    list_changed: tuple[str, ...] = ()

    @classmethod
    def read(cls, top: Table, wire: Table) -> Self:
        d = cls()
        table = top.table("mcp")
        part = cls(
            json_response=table.boolean("json_response", d.json_response),
            session_expires_after=table.integer("session_expires_after", 0, minimum=0),
            protocol_version=table.text("protocol_version", ""),
            error_code=table.integer("error_code", 0),
            error_message=table.text("error_message", ""),
            stray_result=table.boolean("stray_result", False),
            duplicate_result=table.boolean("duplicate_result", False),
            notifications=table.integer("notifications", 0, minimum=0, maximum=MAX_NOTIFICATIONS),
            tool_seconds=table.number("tool_seconds", 0.0, minimum=0.0, maximum=3600.0),
            tools=tuple(_tool(t) for t in table.tables("tools", limit=MAX_TOOLS)),
            resources=tuple(_resource(t) for t in table.tables("resources", limit=MAX_TOOLS)),
            prompts=tuple(_prompt(t) for t in table.tables("prompts", limit=MAX_TOOLS)),
            resource_templates=tuple(
                _template(t) for t in table.tables("resource_templates", limit=MAX_TOOLS)
            ),
            list_changed=_lists(table),
        )
        table.finish()
        for key, names in (("tools", [t.name for t in part.tools]),
                           ("resources", [r.uri for r in part.resources]),
                           ("prompts", [p.name for p in part.prompts])):  # fmt: skip
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise table.error(key, f"two {key} are called {twice[0]!r}")
        return part

    def lines(self) -> tuple[list[str], list[str]]:
        d = type(self)()
        top = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(d, f.name):
                if f.name in ("tools", "resources", "prompts", "resource_templates"):
                    value = [_table(each) for each in value]
                top.append(f"mcp.{f.name} = {toml_value(value)}")
        return top, []

    def listed_tools(self) -> tuple[Tool, ...]:
        """The tools the server lists and answers under this part: its scripted ones, then
        the built-in ones it does not replace (a scripted tool of a built-in's name)."""
        if not self.tools:
            return BUILTIN_TOOLS
        scripted = tuple(Tool(t.name, t.description, t.input_schema, _answers(t),
                              t.output_schema) for t in self.tools)  # fmt: skip
        names = {t.name for t in scripted}
        return scripted + tuple(t for t in BUILTIN_TOOLS if t.name not in names)

    def resource(self, uri: Any) -> ScriptedResource | None:
        return next((r for r in self.resources if r.uri == uri), None)

    def prompt(self, name: Any) -> ScriptedPrompt | None:
        return next((p for p in self.prompts if p.name == name), None)

    def asking(self, name: Any) -> ScriptedTool | None:
        """The scripted tool ``name`` if it asks the client something first."""
        return next((t for t in self.tools if t.name == name and t.asks), None)

    def templated(self, uri: Any) -> dict[str, Any] | None:
        """The contents of ``uri`` as the first template that matches it makes them."""
        if not isinstance(uri, str):
            return None
        return next((got for t in self.resource_templates if (got := t.read(uri))), None)

    def elsewhere(self) -> str | None:
        return "it scripts the MCP server ([mcp]), which this API is not"

    @property
    def streams(self) -> bool:
        return not self.json_response

    def problems(self, faulted: bool, replies: bool) -> list[tuple[str, str]]:
        if faulted and self.json_response:
            return [("faults", "never happen: mcp.json_response answers with one JSON body")]
        return []

    def effects(self) -> list[str]:
        said = []
        if self.session_expires_after:
            said.append(f"the MCP session expires after {self.session_expires_after} requests")
        if self.protocol_version:
            said.append(f"initialize answers protocol version {self.protocol_version}")
        if self.error_code:
            said.append(f"tools/call answers JSON-RPC error {self.error_code}")
        return said


def _tool(t: Table) -> ScriptedTool:
    name = t.text("name", "")
    if not name:
        raise t.error("name", "is required: the tool's name")
    schema = t.mapping("input_schema") or {"type": "object"}
    tool = ScriptedTool(name, t.text("description", ""), schema, t.mapping("output_schema"),
                        t.text("text", ""), t.mapping("structured"),
                        t.boolean("is_error", False), image=_colour(t),
                        resource_link=t.text("resource_link", ""),
                        asks=t.choice("asks", ("", *ASKS), ""), ask_text=t.text("ask_text", ""),
                        answers=tuple(_answer(a) for a in t.tables("answers",
                                                                   limit=MAX_TOOLS)))  # fmt: skip
    t.finish()
    return tool


def _answers(
    tool: ScriptedTool,
) -> Callable[[Mapping[str, Any], Callable[[str], str]], CallResult]:
    result = CallResult(tool.text, tool.structured, tool.is_error, tool.image,
                        tool.resource_link)  # fmt: skip
    by_arguments = [(a, CallResult(a.text, a.structured, a.is_error)) for a in tool.answers]

    def answer(arguments: Mapping[str, Any], replied: Callable[[str], str]) -> CallResult:
        return next((made for a, made in by_arguments if a.fits(arguments)), result)

    return answer


def _colour(t: Table) -> str:
    colour = t.text("image", "")
    if colour and not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise t.error("image", f"expected a colour as #rrggbb, got {colour!r}")
    return colour


def _answer(t: Table) -> ScriptedAnswer:
    when = t.mapping("when") or {}
    match = match_from_table(t.table("match")) if "match" in t.data else None
    if not when and match is None:
        raise t.error("when", "give 'when' (the arguments this answer is for) or [match]")
    made = ScriptedAnswer(when, t.text("text", ""), t.mapping("structured"),
                          t.boolean("is_error", False), match)  # fmt: skip
    t.finish()
    return made


def _resource(t: Table) -> ScriptedResource:
    uri = t.text("uri", "")
    if not uri:
        raise t.error("uri", "is required: the resource's URI")
    made = ScriptedResource(uri, t.text("name", ""), t.text("mime_type", "text/plain"),
                            t.text("text", ""), t.text("updated_text", ""))  # fmt: skip
    t.finish()
    return made


def _prompt(t: Table) -> ScriptedPrompt:
    name = t.text("name", "")
    if not name:
        raise t.error("name", "is required: the prompt's name")
    arguments = tuple(_argument(a) for a in t.tables("arguments", limit=64))
    made = ScriptedPrompt(name, t.text("description", ""), t.text("text", ""), arguments)
    t.finish()
    return made


def _argument(t: Table) -> PromptArgument:
    name = t.text("name", "")
    if not re.fullmatch(r"\w{1,64}", name):
        raise t.error("name", "is required: the argument's name (letters, digits, '_')")
    made = PromptArgument(name, t.text("description", ""), t.boolean("required", False))
    t.finish()
    return made


def _template(t: Table) -> ScriptedTemplate:
    template = t.text("uri_template", "")
    if "{" not in template:
        raise t.error("uri_template", "is required: a URI with {variables} (RFC 6570)")
    made = ScriptedTemplate(template, t.text("name", ""), t.text("mime_type", "text/plain"),
                            t.text("text", ""))  # fmt: skip
    t.finish()
    return made


#: The lists whose changes a server tells.
_LISTS: Final = ("tools", "resources", "prompts")


def _lists(t: Table) -> tuple[str, ...]:
    said = t.data.get("list_changed", [])
    t.used.add("list_changed")
    if not isinstance(said, list) or not all(s in _LISTS for s in said):
        raise t.error("list_changed", f"expected a list of {', '.join(_LISTS)}")
    return tuple(dict.fromkeys(said))


def _table(scripted: Any) -> dict[str, Any]:
    """A scripted tool's (resource's, prompt's) keys as a scenario file says them: those it
    needs, and those that differ from the defaults."""
    said: dict[str, Any] = {}
    for f in fields(scripted):
        value = getattr(scripted, f.name)
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            said[f.name] = value  # required
            continue
        if value != default:
            if isinstance(value, Match):  # an answer's [match], as a file says it
                value = {("path" if k == "paths" else k): (dict(v) if k == "paths" else v)
                         for k in (f.name for f in fields(value))
                         if (v := getattr(value, k)) not in (None, ())}  # fmt: skip
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
                value = [_table(each) for each in value]  # a prompt's arguments
            said[f.name] = value
    return said
