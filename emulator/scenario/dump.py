"""Writing a scenario back out as a TOML file (a fuzz finding becomes a regression test). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .faults import FAULTS
from .model import (
    Expect,
    HttpError,
    RateLimit,
    Recording,
    Reply,
    Scenario,
    Timing,
    Transport,
    Wire,
)
from .recording import chunk_dict

__all__ = ["scenario_to_toml", "toml_value"]

_TABLES: tuple[tuple[str, type[Any]], ...] = (
    ("reply", Reply),
    ("timing", Timing),
    ("wire", Wire),
    ("transport", Transport),
    ("rate_limit", RateLimit),
    ("expect", Expect),
)


def scenario_to_toml(scenario: Scenario) -> str:
    """TOML that :func:`emulator.load_scenario` reads back to an equal scenario."""
    lines = [f"description = {toml_value(scenario.description)}"]
    own = [part.lines() for part in scenario.parts]  # each API's own keys: (top, [wire])
    lines += [line for top, _ in own for line in top]
    for name, cls in _TABLES:
        body = _changed(getattr(scenario, name), cls)
        if name == "wire":
            body += [line for _, wire in own for line in wire]
        if (
            name == "reply"
            and scenario.reply.text is None
            and not scenario.reply.echo
            and not scenario.reply.faker_sentences
        ):
            body.append('text = ""')
        if body:
            lines += ["", f"[{name}]", *body]
        if name == "reply":
            for call in scenario.reply.calls:
                lines += ["", "[[reply.calls]]", f"tool = {toml_value(call.tool)}",
                          f"arguments = {toml_value(call.arguments)}"]  # fmt: skip
    for fault in scenario.faults:
        lines += ["", "[[faults]]", f"kind = {toml_value(fault.kind)}"]
        if fault.at:
            lines.append(f"at = {fault.at}")
        # Only the keys this kind takes (the parser refuses the others).
        default = type(fault)(kind=fault.kind)
        for key in FAULTS[fault.kind].keys:
            value = getattr(fault, key)
            if value != getattr(default, key):
                lines.append(
                    f"raw_hex = {toml_value(value.hex())}"
                    if key == "raw"
                    else f"{key} = {toml_value(value)}"
                )
    if scenario.recording is not None:
        lines += _recording(scenario.recording)
    for error in scenario.http_errors:
        lines += [
            "",
            "[[http_errors]]",
            f"endpoint = {toml_value(error.endpoint)}",
            f"status = {error.status}",
            *_changed(error, HttpError, skip={"endpoint", "status"}),
        ]
    return "\n".join(lines) + "\n"


def _recording(recording: Recording) -> list[str]:
    default = Recording()
    lines = ["", "[recording]"]
    if recording.status != default.status:
        lines.append(f"status = {recording.status}")
    if recording.headers != default.headers:
        pairs = ", ".join(f"{_string(k)} = {toml_value(v)}" for k, v in recording.headers)
        lines.append(f"headers = {{ {pairs} }}" if pairs else "headers = {}")
    if recording.ending != default.ending:
        lines.append(f"ending = {toml_value(recording.ending)}")
    if recording.dialect != default.dialect:
        lines.append(f"dialect = {toml_value(recording.dialect)}")
    if recording.real_time_over != default.real_time_over:
        lines.append(f"real_time_over = {toml_value(recording.real_time_over)}")
    for chunk in recording.chunks:
        item = chunk_dict(chunk)
        key = "text" if "text" in item else "hex"
        lines += ["", "[[recording.chunks]]", f"at = {toml_value(item['at'])}",
                  f"{key} = {toml_value(item[key])}"]  # fmt: skip
        if chunk.message:
            lines.append(f"message = {toml_value(chunk.message)}")
    return lines


def _changed(
    value: Any, cls: type[Any], skip: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    out = []
    defaults = {f.name: f.default for f in fields(cls)}
    for f in fields(cls):
        current = getattr(value, f.name)
        if f.name in skip or current == defaults[f.name]:
            continue
        if isinstance(value, Expect) and f.name == "outcome":
            continue  # implied by text / failure
        if isinstance(value, Reply) and (
            (f.name == "text" and current is None) or f.name == "calls"
        ):
            continue  # the default text; the calls are tables of their own
        out.append(f"{f.name} = {toml_value(current)}")
    return out


def toml_value(value: Any) -> str:
    """``value`` as a TOML value, on one line (a table as an inline table)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return (
        key
        if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii()
        else _string(key)
    )
