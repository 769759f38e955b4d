"""An incremental Server-Sent Events decoder: bytes in, events out, no I/O.

It implements the WHATWG HTML Living Standard, section 9.2.6 "Interpreting an
event stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html
#event-stream-interpretation), fed in arbitrary chunks:

* The stream is split into lines on *bytes* (CRLF, LF or CR; a CR that ends a
  chunk is a line end, and an LF opening the next chunk completes it), and
  each line is decoded as UTF-8 with replacement only once it is complete,
  so a chunk boundary inside a multi-byte character is harmless.
* There is no line-length limit unless the caller sets ``max_line``; the
  work done is linear in the input however it is chunked (partial lines are
  kept as a list of pieces and joined once, when the line ends).

Deliberate divergences from the spec, all of them about what a decoder that
is not a browser ``EventSource`` reports:

1. ``retry``: the spec only sets the reconnection time. The decoder keeps it
   in :attr:`SSEDecoder.retry` and also attaches it to the next dispatched
   event as :attr:`ServerSentEvent.retry` (``None`` when the event's block
   had no valid ``retry`` field), as other SSE client libraries do.
2. ``id``: the spec sets ``lastEventId`` on every event from the decoder's
   last-event-ID buffer. :attr:`ServerSentEvent.id` is that same value, so an
   event without an ``id`` field carries the previous one (spec behaviour);
   ``""`` before any ``id`` was seen.
3. ``max_line``: optional, off by default. When set, a line longer than it
   raises :class:`SSELineTooLong` instead of buffering without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

__all__ = ["SSEDecoder", "SSEError", "SSELineTooLong", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10


class SSEError(ValueError):
    """The decoder's own error; it raises no other exception."""


class SSELineTooLong(SSEError):
    """A line grew past the decoder's ``max_line`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an event stream line exceeded {limit} bytes")
        self.limit = limit


class ServerSentEvent(NamedTuple):
    """One dispatched event, as the spec's ``MessageEvent`` would carry it (immutable)."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


# tuple.__new__ directly: several times cheaper than the NamedTuple's own __new__.
_new_event: Callable[[tuple[str, str, str, int | None]], ServerSentEvent] = partial(
    tuple.__new__, ServerSentEvent
)


class SSEDecoder:
    """Feed bytes with :meth:`feed`; call :meth:`close` at end of stream."""

    __slots__ = (
        "_bom_pending",
        "_data",
        "_event",
        "_last_id",
        "_max_line",
        "_pending",
        "_pending_len",
        "_retry_for_event",
        "_skip_lf",
        "discarded",
        "retry",
    )

    def __init__(self, *, max_line: int | None = None) -> None:
        if max_line is not None and max_line < 1:
            raise ValueError(f"max_line must be a positive number of bytes, got {max_line}")
        self._max_line = max_line
        # Bytes of the first line seen so far while they could still be a
        # UTF-8 BOM (spec: "One leading U+FEFF BYTE ORDER MARK character must
        # be ignored if any are present").
        self._bom_pending: bytes | None = b""
        self._pending: list[bytes | memoryview] = []
        self._pending_len = 0
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry_for_event: int | None = None
        #: The reconnection time the stream asked for, in milliseconds.
        self.retry: int | None = None
        #: Bytes of an unterminated last line or event thrown away by close().
        self.discarded = 0

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode one chunk; return the events it completed, in order."""
        if not data:
            return []
        if self._bom_pending is not None:
            data = self._strip_bom(data)
            if not data:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
                if not data:
                    return []
        events: list[ServerSentEvent] = []
        pos = 0
        if self._pending:
            pos = self._finish_pending(data, events)
            if pos < 0:
                return events
        if b"\r" in data:
            # Rare: CR or CRLF line ends. bytes.splitlines splits on exactly CR,
            # LF and CRLF (str.splitlines would also split on U+2028, \x85 …).
            rest = data[pos:]
            lines = rest.splitlines()
            last = rest[-1] if rest else _LF
            tail = b""
            if last == _CR:
                # A CR that ends a chunk ends the line now; an LF opening the
                # next chunk then belongs to this CRLF.
                self._skip_lf = True
            elif last != _LF:
                tail = lines.pop()
            for line in lines:
                self._check_length(len(line))
                event = self._process_line(line)
                if event is not None:
                    events.append(event)
            self._buffer(tail)
            return events
        # Common: LF only. The complete lines are decoded in one call (an LF
        # byte is never part of a UTF-8 sequence, so this equals decoding line
        # by line, replacement characters included) and split with str.find.
        last = data.rfind(b"\n")
        view = memoryview(data)  # buffered pieces are views: joined once, when the line ends
        if last < pos:
            self._buffer(view[pos:])
            return events
        text = str(view[pos : last + 1], "utf-8", "replace")
        if last + 1 < len(data):
            self._buffer(view[last + 1 :])
        find = text.find
        startswith = text.startswith
        data_lines = self._data
        append_data = data_lines.append
        limit = self._max_line
        start = 0
        while True:
            end = find("\n", start)
            if end < 0:
                break
            if end == start:
                # Dispatch, inlined for speed; _dispatch() is the commented twin.
                if data_lines:
                    value = data_lines[0] if len(data_lines) == 1 else "\n".join(data_lines)
                    data_lines.clear()
                    events.append(
                        _new_event(
                            (value, self._event or "message", self._last_id, self._retry_for_event)
                        )
                    )
                self._event = ""
                self._retry_for_event = None
            elif startswith("data: ", start):
                append_data(text[start + 6 : end])
            elif startswith("data:", start):
                append_data(text[start + 5 : end])
            else:
                self._process_text_line(text[start:end])
            start = end + 1
        if limit is not None and last - pos > limit:
            # Checked on bytes, after the fact (the chunk is in memory already),
            # and only where a line could be that long.
            self._check_lines(data, pos, last)
        return events

    def _check_lines(self, data: bytes, pos: int, last: int) -> None:
        while pos <= last:
            end = data.find(b"\n", pos)
            self._check_length(end - pos)
            pos = end + 1

    def _finish_pending(self, data: bytes, events: list[ServerSentEvent]) -> int:
        """Complete the buffered partial line; where the rest of ``data`` starts, or -1."""
        lf = data.find(b"\n")
        cr = data.find(b"\r")
        end = lf if cr < 0 or (0 <= lf < cr) else cr
        if end < 0:
            self._buffer(data)
            return -1
        self._pending.append(memoryview(data)[:end])
        line = b"".join(self._pending)
        self._pending = []
        self._pending_len = 0
        self._check_length(len(line))
        # A data line, the usual one to span chunks: its value is decoded from
        # the joined bytes at its offset, not decoded whole and then sliced.
        skip = 6 if line.startswith(b"data: ") else 5 if line.startswith(b"data:") else 0
        if skip:
            self._data.append(str(memoryview(line)[skip:], "utf-8", "replace"))
        else:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        if data[end] == _CR:
            if end + 1 == len(data):
                self._skip_lf = True
                return -1
            if data[end + 1] == _LF:
                return end + 2
        return end + 1

    def close(self) -> None:
        """End of stream: discard any unterminated line and undispatched event.

        Spec: "Once the end of the file is reached, any pending data must be
        discarded. (If the file ends in the middle of an event, before the
        final empty line, the incomplete event is not dispatched.)"
        """
        self.discarded = self._pending_len + sum(len(d) for d in self._data)
        if self._bom_pending:
            self.discarded += len(self._bom_pending)
        self._pending = []
        self._pending_len = 0
        self._data = []
        self._event = ""
        self._retry_for_event = None
        self._skip_lf = False

    @property
    def has_pending(self) -> bool:
        """True while bytes of an incomplete line or event are buffered."""
        return bool(self._pending_len or self._data or self._bom_pending)

    @property
    def at_rest(self) -> bool:
        """True between events: nothing buffered, no field of an event begun, the BOM settled.

        Bytes fed now start a line of a fresh event, so a block ``data: …``
        + blank line would be dispatched as a ``message`` event with exactly
        that data, the last event ID and no ``retry``, leaving the decoder as
        it is: :class:`client.reader.ReplyReader` relies on this to take such
        blocks without feeding them.
        """
        return not (
            self._pending
            or self._data
            or self._event
            or self._skip_lf
            or self._retry_for_event is not None
            or self._bom_pending is not None
        )

    def _strip_bom(self, data: bytes) -> bytes:
        seen = (self._bom_pending or b"") + data
        if len(seen) < len(_BOM) and _BOM.startswith(seen):
            self._bom_pending = seen
            return b""
        self._bom_pending = None
        return seen[3:] if seen.startswith(_BOM) else seen

    def _buffer(self, piece: bytes | memoryview) -> None:
        if piece:
            self._pending.append(piece)
            self._pending_len += len(piece)
            self._check_length(self._pending_len)

    def _check_length(self, length: int) -> None:
        if self._max_line is not None and length > self._max_line:
            self._pending = []
            self._pending_len = 0
            raise SSELineTooLong(self._max_line)

    def _process_line(self, raw: bytes) -> ServerSentEvent | None:
        # Spec 9.2.6: "If the line is empty (a blank line): Dispatch the event."
        if not raw:
            return self._dispatch()
        return self._process_text_line(raw.decode("utf-8", "replace"))

    def _process_text_line(self, line: str) -> ServerSentEvent | None:
        colon = line.find(":")
        if colon == 0:
            # "If the line starts with a U+003A COLON character: Ignore the line."
            return None
        if colon > 0:
            field = line[:colon]
            # "If value starts with a U+0020 SPACE character, remove it."
            start = colon + 2 if line.startswith(" ", colon + 1) else colon + 1
            value = line[start:]
        else:
            # "Otherwise, the string is not empty but does not contain a
            # U+003A COLON character": the whole line is the field name.
            field = line
            value = ""
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            # "If the field value does not contain U+0000 NULL, then set the
            # last event ID buffer to the field value. Otherwise, ignore."
            if "\x00" not in value:
                self._last_id = value
        elif field == "retry":
            # "If the field value consists of only ASCII digits, then interpret
            # the field value as an integer in base ten"; str.isdigit() alone
            # would also accept other scripts' digits.
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
                self._retry_for_event = self.retry
        # "Otherwise: The field is ignored."
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data = self._data  # cleared in place: feed() holds its append method
        retry = self._retry_for_event
        event_type = self._event
        self._event = ""
        self._retry_for_event = None
        # "If the data buffer is an empty string, set the data buffer and the
        # event type buffer to the empty string and return."
        if not data:
            return None
        # Joining with LF is the spec's "append U+000A after each value" with
        # the final LF removed.
        text = data[0] if len(data) == 1 else "\n".join(data)
        data.clear()
        return _new_event((text, event_type or "message", self._last_id, retry))
