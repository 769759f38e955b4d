"""Byte templates: an event encoded once, with holes for the per-request values. Pure.

A cumulative reply repeats the whole text in every event; encoding the
envelope once and splicing values and text in keeps the emulator's cost at
copying bytes, close to a server writing pre-encoded events.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Final

from ...protocol.sse import SSEFormat
from .wire import StreamContext, message_object

__all__ = [
    "FIELDS",
    "PLACEHOLDER",
    "EnvelopeTemplate",
    "Holes",
    "MessageTemplate",
    "encoded_values",
    "field_placeholder",
    "json_encoders",
]

#: Stands for the reply text while an event is encoded as a template.
PLACEHOLDER: Final = "\ue000PLACEHOLDER\ue000"
#: The per-request values a stream can carry, in the order templates look for them.
FIELDS: Final = (
    "message_id",
    "conversation_id",
    "parent_id",
    "create_time",
    "model",
    "moderation_id",
)


def field_placeholder(name: str) -> str:
    """The string that stands for the value ``name`` while a template is encoded."""
    return f"\ue001{name}\ue001"


class Holes:
    """Bytes with holes where per-request values go: fixed segments alternate with fields.

    Built once from bytes encoded with :func:`field_placeholder` strings in
    place of the values (:meth:`find`); :meth:`fill` joins the segments with
    each value's JSON encoding. A value a template encodes as a JSON string
    may be filled with any JSON value (``create_time`` is a number).
    """

    __slots__ = ("_fmt", "_pick", "_runs", "fields", "segments")

    def __init__(
        self, segments: tuple[bytes, ...], fields: tuple[str, ...], *, runs: bool = True
    ) -> None:
        if len(segments) != len(fields) + 1:
            raise ValueError("a template has one more segment than it has fields")
        self.segments = segments
        self.fields = fields
        # Filled with one C-level %-format: the fixed bytes are escaped once here.
        self._fmt = b"%s".join(seg.replace(b"%", b"%%") for seg in segments)
        pick = operator.itemgetter(*fields) if fields else None
        self._pick: Callable[[Mapping[str, bytes]], Any] | None = (
            (lambda values: (values[fields[0]],)) if len(fields) == 1 else pick
        )
        self._runs = _Runs.of(segments, fields) if runs and len(fields) >= _RUNS_FROM else None

    @classmethod
    def find(cls, encoded: bytes, fmt: SSEFormat) -> Holes:
        """The holes in ``encoded``: one regular-expression pass over it."""
        names, pattern = _marks(fmt.ensure_ascii, fmt.multiline_data)
        segments: list[bytes] = []
        fields: list[str] = []
        start = 0
        for match in pattern.finditer(encoded):
            segments.append(encoded[start : match.start()])
            fields.append(names[match.group()])
            start = match.end()
        segments.append(encoded[start:])
        return cls(tuple(segments), tuple(fields))

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        """The bytes for one request; ``values`` are JSON-encoded already."""
        if self._pick is None:
            return self.segments[0]
        if self._runs is not None:
            return self._runs.fill(values)
        filled: bytes = self._fmt % self._pick(values)
        return filled

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Holes):
            return NotImplemented
        return (self.segments, self.fields) == (other.segments, other.fields)

    def __hash__(self) -> int:
        return hash((self.segments, self.fields))

    def __repr__(self) -> str:
        return f"Holes(segments={self.segments!r}, fields={self.fields!r})"


#: A template with this many holes or more is filled run by run (:class:`_Runs`).
_RUNS_FROM: Final = 16


class _Runs:
    """A large template filled at the speed of copying its bytes.

    A cumulative batch repeats one envelope around each event's text: the
    same values, with the same fixed bytes between them, once an event.
    Each such run (holes joined by segments that recur in the template) is
    filled once a request; the template is then one join of its unique
    segments and the filled runs, instead of one %-substitution per hole
    (1,176 holes in a 256 KiB batch of a 250-token reply: 102 us, against
    about 25 us this way).
    """

    __slots__ = ("_order", "_parts", "_runs")

    def __init__(self, parts: list[bytes], runs: list[Holes], order: tuple[int, ...]) -> None:
        self._parts = parts  # the unique segments, then a slot per distinct run
        self._runs = runs
        self._order = operator.itemgetter(*order)

    @classmethod
    def of(cls, segments: tuple[bytes, ...], fields: tuple[str, ...]) -> _Runs | None:
        """The template's runs, or None when too few of them recur to be worth it."""
        seen: dict[bytes, int] = {}
        for seg in segments[1:-1]:
            seen[seg] = seen.get(seg, 0) + 1
        parts: list[bytes] = []
        order: list[int] = []
        found: dict[tuple[tuple[bytes, ...], tuple[str, ...]], int] = {}
        keys: list[tuple[tuple[bytes, ...], tuple[str, ...]]] = []
        i, n = 0, len(fields)
        parts.append(segments[0])
        order.append(0)
        while i < n:
            # A run: field i, then (recurring segment, field) pairs, as far as they go.
            j = i + 1
            while j < n and seen[segments[j]] > 1:
                j += 1
            key = ((b"", *segments[i + 1 : j], b""), fields[i:j])
            if key not in found:
                found[key] = len(keys)
                keys.append(key)
            order.append(-1 - found[key])  # a run: numbered once the segments are known
            parts.append(segments[j])
            order.append(len(parts) - 1)
            i = j
        if len(keys) * 8 > len(order):  # few runs recur: %-format instead
            return None
        base = len(parts)
        return cls(
            [*parts, *(b"" for _ in keys)],
            [Holes(segs, names, runs=False) for segs, names in keys],
            tuple(base - 1 - k if k < 0 else k for k in order),
        )

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        parts = self._parts.copy()
        base = len(parts) - len(self._runs)
        for k, run in enumerate(self._runs):
            parts[base + k] = run.fill(values)
        return b"".join(self._order(parts))


@lru_cache(maxsize=8)
def _marks(ensure_ascii: bool, multiline_data: bool) -> tuple[dict[bytes, str], re.Pattern[bytes]]:
    """Each field's placeholder as the framing encodes it, and a pattern finding any."""
    fmt = SSEFormat(multiline_data=multiline_data, ensure_ascii=ensure_ascii)
    names = {fmt.dumps(field_placeholder(name)).encode(): name for name in FIELDS}
    return names, re.compile(b"|".join(re.escape(mark) for mark in names))


@dataclass(frozen=True, slots=True)
class EnvelopeTemplate:
    """A message event encoded once, with holes for the per-request values.

    ``head`` and ``tail`` are the parts before and after the text. Filling
    them joins bytes instead of encoding the nested event again for every
    request.
    """

    head: Holes
    tail: Holes

    @classmethod
    def build(cls, fmt: SSEFormat, **kwargs: Any) -> EnvelopeTemplate:
        holes = {name: field_placeholder(name) for name in FIELDS if name != "moderation_id"}
        encoded = fmt.event(fmt.dumps(message_object(**holes, **kwargs, text=PLACEHOLDER)))  # type: ignore[arg-type]
        text = MessageTemplate.split(encoded, fmt)
        return cls(Holes.find(text.head, fmt), Holes.find(text.tail, fmt))

    def fill(self, values: Mapping[str, bytes]) -> MessageTemplate:
        """The event for one request; ``values`` are JSON-encoded already."""
        return MessageTemplate(self.head.fill(values), self.tail.fill(values))


def json_encoders(fmt: SSEFormat) -> tuple[Callable[[str], str], Callable[[Any], bytes]]:
    """Fast encoders for template values: one for strings, one for any JSON value.

    The string encoder is json's own (C) one, which ``json.dumps`` calls for a
    string; the other writes a finite float as its repr, as ``json.dumps``
    does, and hands anything else to the full encoder.
    """
    return (encode_basestring_ascii if fmt.ensure_ascii else encode_basestring), _value_encoder(
        fmt.ensure_ascii
    )


@lru_cache(maxsize=4)
def _value_encoder(ensure_ascii: bool) -> Callable[[Any], bytes]:
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii).encode

    def value(v: Any) -> bytes:
        if v.__class__ is float and v - v == 0:
            return float.__repr__(v).encode()
        return encode(v).encode()

    return value


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A message event pre-encoded around its text: ``head + escaped text + tail``.

    A cumulative reply repeats the whole text in every event; encoding the
    envelope once and splicing the escaped text in keeps the emulator's cost
    at copying bytes, close to a server writing pre-encoded events.
    """

    head: bytes
    tail: bytes

    @classmethod
    def split(cls, encoded: bytes, fmt: SSEFormat) -> MessageTemplate:
        literal = json.dumps(PLACEHOLDER, ensure_ascii=fmt.ensure_ascii)[1:-1].encode()
        head, found, tail = encoded.partition(literal)
        if not found:
            raise ValueError("the message template has no text placeholder")
        return cls(head, tail)

    def render(self, escaped_text: bytes) -> bytes:
        return b"".join((self.head, escaped_text, self.tail))


def encoded_values(fmt: SSEFormat, ctx: StreamContext) -> dict[str, bytes]:
    """The request's values that templates have holes for (:data:`FIELDS`), as JSON."""
    string, value = json_encoders(fmt)
    return {
        "message_id": string(ctx.message_id).encode(),
        "conversation_id": string(ctx.conversation_id).encode(),
        "parent_id": string(ctx.parent_id).encode(),
        "create_time": value(ctx.create_time),
        "model": string(ctx.model).encode(),
        "moderation_id": string(ctx.moderation_id).encode(),
    }
