"""Reading cumulative snapshots without reading again what was read before. Pure: no I/O.

An n-token reply sends O(n²) bytes, nearly all of them the text already
received, repeated in every event. Two shortcuts skip that repetition, each
giving exactly what the full path would:

* :func:`_parse_snapshot` (on decoded text): parses an event with its text
  literal cut out, and decodes only the part of the literal that is new.
* :func:`take_extensions` (on raw bytes, before the SSE decoder): takes the
  blocks that are the last event again around a longer literal, comparing
  the repeated bytes in place and decoding only the new ones.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["Frame", "take_extensions"]

# JSON whitespace is exactly these four characters (RFC 8259, section 2).
_PARTS_LITERAL: Final = re.compile(r'"parts"[ \t\r\n]*:[ \t\r\n]*\[[ \t\r\n]*"')
_ESCAPE_OR_CONTROL: Final = re.compile(r"[\x00-\x1f\\]")
# The same on bytes; a quote ends the search for a piece before this runs.
_ESCAPE_OR_CONTROL_BYTES: Final = re.compile(rb"[\x00-\x1f\\]")


class _Placeholder:
    """Stands in for the cut-out text literal while the event is parsed."""


_PLACEHOLDER: Final = _Placeholder()


class _ConstantCounter:
    """``parse_constant`` hook: counts NaN/Infinity tokens, returns the placeholder."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _name: str) -> _Placeholder:
        self.count += 1
        return _PLACEHOLDER


def _parse_snapshot(
    data: str,
    prev_raw: str,
    prev_last: str,
    decoder: json.JSONDecoder | None = None,
    counter: _ConstantCounter | None = None,
    cache: list[Any] | None = None,
) -> tuple[dict[str, Any], str, str | None, str | None] | None:
    """Parse a message event, decoding only the new part of its text literal.

    Returns ``(event, raw literal body, piece, text)``: when the literal's raw
    body starts with ``prev_raw`` (the previous snapshot's), ``piece`` is the
    decoded remainder, so this snapshot's text is the previous one plus
    ``piece``, and ``text`` is None; otherwise ``piece`` is None and ``text``
    is the whole decoded literal. The event's parts[0] is a placeholder
    object (the event is shared with the skeleton cache). ``None`` when the
    shortcut does not apply (the caller then parses whole).

    Why the result equals ``json.loads(data)``: let ``data[a:b+1]`` be the
    candidate literal (an opening quote found after ``"parts": [``, closing
    at the first quote not escaped by an odd run of backslashes). The
    *skeleton* ``data[:a] + "NaN" + data[b+1:]`` is parsed with a
    ``parse_constant`` hook. If it parses, the hook ran exactly once and its
    value sits at ``message.content.parts[0]``, then (1) the tokenizer was
    expecting a value at ``a`` (the prefix is shared, so in ``data`` too it
    opens a string there, which ends at ``b``), (2) everything after ``b`` is
    tokenized identically, and (3) no other NaN/Infinity exists, so the
    placeholder is the value at ``a``. Hence ``data`` parses to the skeleton
    with parts[0] = the literal's value. The literal's body is decoded in two
    pieces only when its first piece is byte-for-byte the previous body,
    which was a complete, valid literal body (so the cut is at a token
    boundary), and the previous text does not end in a lone high surrogate
    (which a ``\\uDCxx`` escape could pair with across the cut).
    """
    if cache is not None and prev_raw:
        # The usual event: the last one's envelope around a longer text. When
        # the text before and after the literal (``head``, ``tail``) is the
        # last parsed event's, and the literal still closes where the tail
        # begins, the general path below would find the same literal start
        # (the first match lies inside the shared head), the same end and
        # the same skeleton: the cached one. So skip straight to the piece.
        head, tail = cache[2], cache[3]
        body = len(head)
        end = len(data) - len(tail)
        if (
            body
            and end >= body + len(prev_raw)
            and data.startswith(head)
            and data.endswith(tail)
            and data.startswith(prev_raw, body)
            and not "\ud800" <= prev_last <= "\udbff"
            and _closing_quote(data, body + len(prev_raw)) == end
        ):
            try:
                piece = _new_piece(data, body + len(prev_raw), end)
            except ValueError:
                return None
            return cache[1], data[body:end], piece, None
    start = _text_literal_start(data)
    if start < 0:
        return None
    body = start + 1
    prefix = bool(prev_raw) and data.startswith(prev_raw, body)
    if prefix and "\ud800" <= prev_last <= "\udbff":
        prefix = False
    end = _closing_quote(data, body + len(prev_raw) if prefix else body)
    if end < 0:
        return None
    skeleton = data[:start] + "NaN" + data[end + 1 :]
    if cache is not None and cache[0] == skeleton:
        # The same skeleton string parses to the same value: the envelope of
        # one reply repeats from event to event, so it is parsed once.
        obj = cache[1]
    else:
        if decoder is None or counter is None:
            counter = _ConstantCounter()
            decoder = json.JSONDecoder(parse_constant=counter)
        counter.count = 0
        try:
            obj = decoder.decode(skeleton)
        except (ValueError, RecursionError):
            return None
        if counter.count != 1 or not isinstance(obj, dict):
            return None
        if cache is not None:
            cache[:] = [skeleton, obj, "", ""]
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts or parts[0] is not _PLACEHOLDER:
        return None
    if cache is not None:
        # The envelope around this literal, for the shortcut above next time.
        cache[2], cache[3] = data[:body], data[end:]
    raw = data[body:end]
    try:
        if prefix:
            return obj, raw, _new_piece(data, body + len(prev_raw), end), None
        return obj, raw, None, json.loads(data[start : end + 1])
    except ValueError:
        return None


def _new_piece(data: str, start: int, end: int) -> str:
    """The value of the literal body ``data[start:end]``; ValueError if it is not valid JSON.

    A piece with no escape and no control character is its own value (strict
    JSON rejects raw control characters: json.loads then raises, as it would
    on the whole event).
    """
    new = data[start:end]
    return new if not _ESCAPE_OR_CONTROL.search(new) else str(json.loads(f'"{new}"'))


def _text_literal_start(data: str) -> int:
    """Index of the quote opening the first string after ``"parts": [``, or -1."""
    match = _PARTS_LITERAL.search(data)
    return match.end() - 1 if match else -1


def _closing_quote(data: str, start: int) -> int:
    """Index of the first ``"`` at or after ``start`` not escaped by a backslash."""
    while True:
        q = data.find('"', start)
        if q < 0:
            return -1
        k = q - 1
        # Bounded: the literal's opening quote stops the walk at the latest.
        while data[k] == "\\":
            k -= 1
        if (q - 1 - k) % 2 == 0:
            return q
        start = q + 1


class Frame:
    """The last message event's block as bytes, cut around its text literal's body."""

    __slots__ = ("head", "raw", "tail")

    def __init__(self, head: bytes, raw: bytes | memoryview, tail: bytes) -> None:
        #: ``data: `` and the event's data up to the literal's body.
        self.head = head
        #: The literal's body, as it was on the wire (JSON, undecoded).
        self.raw = raw
        #: From the literal's closing quote to the end of the line, and the blank line.
        self.tail = tail


def take_extensions(chunk: bytes, pos: int, frame: Frame, pieces: list[str], limit: int) -> int:
    """Take the blocks from ``pos`` on that extend ``frame``; return where the rest starts.

    A block is taken when its bytes are ``frame.head + frame.raw + piece +
    frame.tail``, where ``piece`` holds no quote, backslash or byte below
    0x20, is valid UTF-8, and the line is at most ``limit`` bytes. Each
    taken block's ``piece`` (decoded, when not empty) goes to ``pieces``,
    and ``frame.raw`` becomes its literal body (a view into ``chunk``) for
    the next block. The first block that is anything else, or that ``chunk``
    holds only part of, stops the run.

    Why a taken block reads as the full path would read it, when ``frame``
    is the last event's (see :meth:`client.conversation.ReplyAssembler.
    envelope`) and the SSE decoder is at rest: ``head``, ``raw`` and
    ``tail`` are the UTF-8 of parts of a line the decoder read, so they hold
    no CR or LF, and neither does ``piece``; the block is one ``data:``
    line and a blank line, which the decoder dispatches as a ``message``
    event whose data is the four parts decoded one by one (each is valid
    UTF-8 cut at a character boundary). ``raw`` was a complete literal body,
    so the first quote after it, with no backslash in ``piece``, closes the
    literal where ``tail`` begins: :func:`_parse_snapshot`'s envelope
    shortcut then returns the cached event and ``piece`` as the new text.
    """
    head, raw, tail = frame.head, frame.raw, frame.tail
    after_head, tail_line = len(head), len(tail) - 2
    startswith, find = chunk.startswith, chunk.find
    escape_or_control = _ESCAPE_OR_CONTROL_BYTES.search
    view = memoryview(chunk)
    while True:
        body = pos + after_head
        new = body + len(raw)
        # The repeated text is compared in place (bytes.startswith takes a
        # view): nothing is copied or decoded but the new piece.
        if not startswith(head, pos) or not startswith(raw, body):
            break
        end = find(b'"', new)
        if end < 0 or not startswith(tail, end) or end + tail_line - pos > limit:
            break
        if end > new:
            if escape_or_control(chunk, new, end):
                break
            try:
                pieces.append(str(view[new:end], "utf-8"))
            except UnicodeDecodeError:
                break
        raw = view[body:end]
        pos = end + len(tail)
    frame.raw = raw
    return pos
