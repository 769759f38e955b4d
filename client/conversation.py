"""From decoded SSE events to text deltas. Pure: no I/O.

The upstream sends the *whole* reply so far in every message event
(``message.content.parts[0]``, cumulative), ending with ``data: [DONE]``.
:class:`ReplyAssembler` turns that into deltas whose concatenation is exactly
the upstream's final text, or raises one of the client's errors:

* A snapshot that extends what was yielded yields the new suffix.
* A stale or repeated snapshot (a prefix of what was yielded, or equal to it)
  yields nothing. A *final* (``finished_successfully``) snapshot that is a
  strict prefix is a rewrite, not a stale copy: the upstream says its reply
  is shorter than what was already yielded.
* A snapshot that is not an extension (a rewrite) raises
  :class:`~client.errors.SnapshotRewriteError`: deltas cannot be taken back,
  and going on would make the concatenation differ from the upstream's text.
* ``event: ping``, moderation and ``num_variants_in_stream`` events, messages
  whose ``message_type`` is not ``next``, messages not by the assistant, and
  lines that are not JSON are skipped; an ``error`` carried in an event raises
  :class:`~client.errors.UpstreamStreamError`.
* The 2024 ``delta_encoding: v1`` stream (JSON-patch-like appends) is read too.

Speed: an n-token reply sends O(n²) bytes, nearly all of them the repeated
text. Decoding every snapshot whole would cost a full JSON parse per event,
so :func:`_parse_snapshot` parses the event with the text literal cut out and
decodes only the part of the literal that is new (see its docstring for why
that gives exactly what ``json.loads`` would).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from .errors import (
    IncompleteStreamError,
    NoValidResponseError,
    SnapshotRewriteError,
    UpstreamStreamError,
)
from .sse import ServerSentEvent

__all__ = ["ReplyAssembler"]

_DONE: Final = "[DONE]"
_FINISHED: Final = "finished_successfully"
_PARTS_PATH: Final = "/message/content/parts/0"
# JSON whitespace is exactly these four characters (RFC 8259, section 2).
_PARTS_LITERAL: Final = re.compile(r'"parts"[ \t\r\n]*:[ \t\r\n]*\[[ \t\r\n]*"')
_ESCAPE_OR_CONTROL: Final = re.compile(r"[\x00-\x1f\\]")


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


class ReplyAssembler:
    """Feed events with :meth:`feed`; call :meth:`finish` at end of stream."""

    def __init__(self) -> None:
        # The text yielded so far, as pieces joined only when read: rebuilding
        # the cumulative text for every event would copy O(n²) characters.
        self._pieces: list[str] = []
        #: ``data: [DONE]`` arrived: the reply is complete; read no further.
        self.done = False
        #: A ``finished_successfully`` message arrived.
        self.finished = False
        self._counter = _ConstantCounter()
        # One decoder per stream: building one per event cost a scanner each time.
        self._skeleton_decoder = json.JSONDecoder(parse_constant=self._counter)
        # The last skeleton string, its value, and the text before and after
        # the literal of the last event that parsed to it (see _parse_snapshot).
        self._skeleton: list[Any] = ["", None, "", ""]
        self._verdict: tuple[Any, bool, bool] = (None, False, False)  # (event, reply?, final?)
        self._raw = ""  # the JSON body of the last parsed text literal
        self._raw_last = ""  # ... the last character of its text
        self._in_sync = True  # ... whose text is exactly self.text
        self._raw_snapshot = ""  # ... or, when not in sync, that text
        self._v1 = False
        self._v1_path = ""
        self._v1_op = ""
        self._v1_reply = False

    def feed(self, event: ServerSentEvent) -> str:
        """Take one event; return the text it adds (``""`` when none)."""
        if self.done or event.event == "ping":
            return ""
        data = event.data
        if data == _DONE:
            self.done = True
            return ""
        if event.event == "delta_encoding":
            self._v1 = data.strip().strip('"') == "v1"
            return ""
        if self._v1 or event.event == "delta":
            return self._feed_v1(data)
        parsed = self._parse(data)
        if parsed is None:
            return ""
        obj, raw, piece, full = parsed
        if obj is self._verdict[0]:
            # The same cached envelope as the last event: the same verdict.
            reply, final = self._verdict[1], self._verdict[2]
        else:
            error = obj.get("error")
            if error:
                raise UpstreamStreamError(error)
            message = obj.get("message")
            reply = isinstance(message, dict) and _is_reply(message)
            final = reply and isinstance(message, dict) and message.get("status") == _FINISHED
            self._verdict = (obj, reply, final)
        if piece is not None and self._in_sync and reply:
            # The hot path: the previous snapshot is exactly the text yielded,
            # and this one is it plus `piece` (its raw JSON extends the last).
            self._raw = raw
            if final:
                self.finished = True
            if piece:
                self._raw_last = piece[-1]
                self._pieces.append(piece)
            return piece
        if piece is None:
            snapshot = full
        else:
            snapshot = (self.text if self._in_sync else self._raw_snapshot) + piece
        delta = self._accept(snapshot, final=final) if reply and snapshot is not None else ""
        self._raw = raw
        self._raw_last = snapshot[-1:] if snapshot else ""
        self._in_sync = snapshot is not None and snapshot == self.text
        self._raw_snapshot = "" if self._in_sync or snapshot is None else snapshot
        return delta

    @property
    def text(self) -> str:
        """The text yielded so far (the concatenation of every delta)."""
        pieces = self._pieces
        if len(pieces) > 1:
            pieces[:] = ["".join(pieces)]
        return pieces[0] if pieces else ""

    def finish(self, *, dropped: BaseException | None = None) -> str:
        """End of stream: return the complete text, or raise why there is none.

        ``dropped`` is the transport error that ended the stream, if any.
        A reply is complete when ``[DONE]`` arrived, or when the body ended
        cleanly after a ``finished_successfully`` message.
        """
        if self.done or (self.finished and dropped is None):
            if not self.text:
                raise NoValidResponseError()
            return self.text
        if dropped is not None:
            raise IncompleteStreamError(
                f"the connection dropped before the reply was complete "
                f"({len(self.text)} characters received): {dropped!r}",
                self.text,
            ) from dropped
        if not self.text:
            raise NoValidResponseError()
        raise IncompleteStreamError(
            "the stream ended without [DONE] or a finished message "
            f"({len(self.text)} characters received)",
            self.text,
        )

    def _accept(self, snapshot: str, *, final: bool) -> str:
        if final:
            self.finished = True
        text = self.text
        if snapshot.startswith(text):
            self._pieces = [snapshot]
            return snapshot[len(text) :]
        if text.startswith(snapshot) and not final:
            return ""  # stale or repeated
        raise SnapshotRewriteError(text, snapshot)

    def _parse(self, data: str) -> tuple[dict[str, Any], str, str | None, str | None] | None:
        """(event, raw literal body, new piece or None, whole text or None)."""
        fast = _parse_snapshot(
            data, self._raw, self._raw_last, self._skeleton_decoder, self._counter, self._skeleton
        )
        if fast is not None:
            return fast
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return None  # a malformed line: skipped, as the front end does
        if not isinstance(obj, dict):
            return None
        return obj, "", None, _text_of(obj.get("message"))

    def _feed_v1(self, data: str) -> str:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return ""
        if not isinstance(obj, dict):
            return ""
        if obj.get("error"):
            raise UpstreamStreamError(obj["error"])
        if "v" not in obj:
            return ""  # e.g. {"type": "message_stream_complete", ...}
        path = obj.get("p", self._v1_path)
        op = obj.get("o", self._v1_op if "p" not in obj else "replace")
        if not isinstance(path, str) or not isinstance(op, str):
            return ""
        self._v1_path, self._v1_op = path, op
        return self._apply_v1(path, op, obj["v"])

    def _apply_v1(self, path: str, op: str, value: Any) -> str:
        if op == "patch" and isinstance(value, list):
            return "".join(
                [
                    self._apply_v1(item["p"], str(item.get("o", "")), item.get("v"))
                    for item in value
                    if isinstance(item, dict) and isinstance(item.get("p"), str)
                ]
            )
        if path == "" and op == "add" and isinstance(value, dict):
            if value.get("error"):
                raise UpstreamStreamError(value["error"])
            message = value.get("message")
            if not (isinstance(message, dict) and _is_reply(message)):
                self._v1_reply = False
                return ""
            self._v1_reply = True
            text = _text_of(message)
            return self._accept(text, final=message.get("status") == _FINISHED) if text else ""
        if not self._v1_reply:
            return ""
        if path == _PARTS_PATH and op == "append" and isinstance(value, str):
            # An append extends the text by definition: kept as a piece, so a
            # long reply costs O(n), not a join of the whole text per event.
            if value:
                self._pieces.append(value)
            return value
        if path == _PARTS_PATH and op == "replace" and isinstance(value, str):
            return self._accept(value, final=False)
        if path == "/message/status" and op == "replace" and value == _FINISHED:
            self.finished = True
        return ""


def _is_reply(message: dict[str, Any]) -> bool:
    author = message.get("author")
    metadata = message.get("metadata")
    return (
        isinstance(author, dict)
        and author.get("role") == "assistant"
        and isinstance(metadata, dict)
        and metadata.get("message_type", "next") == "next"
    )


def _text_of(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if not isinstance(content, dict):
        return None
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts or not isinstance(parts[0], str):
        return None
    return parts[0]


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
