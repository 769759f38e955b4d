"""A scenario's ``[reply]`` table: its text, how it is cut, and the tool calls it makes. Pure."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Final, cast, get_args

from .model import MAX_CALLS, MAX_REPLY_CHARS, Call, Cut, Reply
from .table import Table

__all__ = ["reply_from_table"]


def reply_from_table(t: Table) -> Reply:
    """The ``[reply]`` table ``t`` as a :class:`Reply` (every key read, checked)."""
    d = Reply()
    text = t.optional_str("text")
    echo = t.boolean("echo", False)
    sentences = t.integer("faker_sentences", 0, minimum=0)
    if sum((text is not None, echo, sentences > 0)) > 1:
        raise t.error("", "give only one of 'text', 'echo' or 'faker_sentences'")
    if sentences > _MAX_SENTENCES:
        raise t.error("faker_sentences", f"must be at most {_MAX_SENTENCES:,}, got {sentences}")
    reply = Reply(
        text=text if (text is not None or echo or sentences) else d.text,
        echo=echo,
        faker_sentences=sentences,
        faker_seed=t.integer("faker_seed", 0),
        faker_locale=t.text("faker_locale", d.faker_locale),
        repeat=t.integer("repeat", 1, minimum=1, maximum=MAX_REPLY_CHARS),
        cut=cast(Cut, t.choice("cut", get_args(Cut), d.cut)),
        cut_size=t.integer("cut_size", 1, minimum=1),
        tool=t.text("tool", ""),
        reasoning=t.text("reasoning", ""),
        redacted=t.boolean("redacted", False),
        interleave=t.boolean("interleave", False),
        refusal=t.boolean("refusal", False),
        cached_tokens=t.integer("cached_tokens", 0, minimum=0),
        heard=t.text("heard", ""),
        vector=_vector(t),
    )
    if reply.redacted and not reply.reasoning:
        raise t.error("redacted", "redacts the reply's 'reasoning', which it has not")
    if reply.tool:
        _tool_call(t, reply)
    calls = tuple(_call(c) for c in t.tables("calls", limit=MAX_CALLS))
    if calls:  # parallel calls, after the reply's text (none unless it has some)
        no_text = text is None and not echo and not sentences
        reply = replace(reply, calls=calls, text="" if no_text else reply.text)
    if reply.refusal and reply.calls_tool:
        raise t.error("refusal", "a refusal is words: no 'tool' or [[reply.calls]] beside it")
    if reply.interleave and len(reply.calls) < 2:
        raise t.error("interleave", "interleaves the arguments of two or more [[reply.calls]]")
    if reply.text and not echo and not sentences:
        length = len(reply.text) * reply.repeat
        if length > MAX_REPLY_CHARS:
            raise t.error(
                "repeat",
                f"the reply would be {length:,} characters; the limit is {MAX_REPLY_CHARS:,}",
            )
    t.finish()
    return reply


_MAX_SENTENCES: Final = 10_000
#: The most values a scripted vector has (the longest model's).
_MAX_VECTOR: Final = 4096


def _vector(t: Table) -> tuple[float, ...]:
    return tuple(t.number_list("vector", longest=_MAX_VECTOR))


#: A tool's name, as the OpenAI and Anthropic APIs accept it.
_TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _tool_call(t: Table, reply: Reply) -> None:
    """A reply that calls a tool: a name the APIs take, and arguments that are one JSON
    object (Anthropic's ``input`` is an object; clients parse the arguments as JSON)."""
    if not _TOOL_NAME.fullmatch(reply.tool):
        raise t.error("tool", f"must be 1-64 letters, digits, '_' or '-', got {reply.tool!r}")
    if reply.echo or reply.faker_sentences or reply.repeat != 1:
        raise t.error(
            "tool", "a tool call's arguments are a fixed 'text' (no echo, faker, repeat)"
        )
    try:
        arguments = json.loads(reply.text or "")
    except ValueError as exc:
        raise t.error("text", f"a tool call's arguments must be a JSON object: {exc}") from None
    if not isinstance(arguments, dict):
        raise t.error("text", "a tool call's arguments must be a JSON object")


def _call(t: Table) -> Call:
    """One of ``[[reply.calls]]``: ``tool`` and ``arguments`` (a JSON object, as a table or
    its text)."""
    tool = t.text("tool", "")
    if not _TOOL_NAME.fullmatch(tool):
        raise t.error("tool", f"must be 1-64 letters, digits, '_' or '-', got {tool!r}")
    value = t.data.get("arguments", {})
    t.used.add("arguments")
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise t.error("arguments", f"must be a JSON object: {exc}") from None
        if not isinstance(parsed, dict):
            raise t.error("arguments", "must be a JSON object")
        arguments = value
    elif isinstance(value, dict):
        arguments = json.dumps(value, ensure_ascii=False)
    else:
        raise t.error("arguments", "must be a table or a JSON object's text")
    t.finish()
    return Call(tool, arguments)
