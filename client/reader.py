"""A conversation stream's bytes in, text deltas out. Pure: no I/O.

:class:`ReplyReader` is the :class:`~client.sse.SSEDecoder` feeding the
:class:`~client.conversation.ReplyAssembler`, with one shortcut between them:
while the decoder is between events and the last event is a reply snapshot,
the blocks that repeat it around a longer text are taken straight from the
bytes (:func:`~client.snapshots.take_extensions`), so the text every event
repeats is compared in place, never decoded or copied. Everything else, and
every block the shortcut declines, goes the full way. Both ways give the same
deltas and the same errors; only the speed differs (a cumulative reply sends
O(n²) bytes, nearly all of them repeated).
"""

from __future__ import annotations

import sys

from .conversation import ReplyAssembler
from .snapshots import Frame, take_extensions
from .sse import SSEDecoder

__all__ = ["ReplyReader"]

_BLOCK_END = b"\n\n"
_LF = 10


class ReplyReader:
    """Feed chunks with :meth:`feed`; call :meth:`finish` at end of stream."""

    __slots__ = ("_carry", "_frame", "_frame_of", "_limit", "assembler", "decoder")

    def __init__(self, *, max_line: int | None = None) -> None:
        self.decoder = SSEDecoder(max_line=max_line)
        self.assembler = ReplyAssembler()
        self._limit = sys.maxsize if max_line is None else max_line
        self._frame: Frame | None = None
        # The assembler's (head, raw, tail) strings the frame was made of.
        self._frame_of: tuple[str, str, str] = ("", "", "")
        # The start of a block the last chunk ended in, not yet fed to anything.
        self._carry = b""

    def feed(self, chunk: bytes, deltas: list[str]) -> None:
        """Read one chunk, appending the text it adds to ``deltas``.

        Raises what the decoder and the assembler raise
        (:class:`~client.sse.SSELineTooLong`, the client's errors); the
        deltas of the chunk's earlier events are in ``deltas`` by then.
        Reads nothing after ``[DONE]``.
        """
        assembler = self.assembler
        pos, size = 0, len(chunk)
        if self._carry:
            pos = self._complete_carry(chunk, deltas)
        while pos < size and not assembler.done:
            frame = self._frame_now()
            if frame is not None:
                pos = self._take(chunk, pos, frame, deltas)
                if pos == size:
                    break
                if self._can_carry(chunk, pos):
                    # The chunk ends inside a block: kept until the next one
                    # completes it, rather than read the full way.
                    self._carry = chunk[pos:]
                    break
            # When the last event is not a snapshot to extend, the rest of the
            # chunk goes the full way at once; else one block (the decoder
            # holds part of it, or it is not an extension), then the shortcut.
            end = size if frame is None and self.decoder.at_rest else _block_end(chunk, pos)
            self._full_way(chunk[pos:end] if pos or end < size else chunk, deltas)
            pos = end

    def finish(self, *, dropped: BaseException | None = None) -> str:
        """End of stream: the whole text, or the error that says why there is none."""
        if self._carry:
            # Part of a line: the decoder buffers it, and close() discards it.
            self.decoder.feed(self._carry)
            self._carry = b""
        self.decoder.close()
        return self.assembler.finish(dropped=dropped)

    def _frame_now(self) -> Frame | None:
        if not self.decoder.at_rest:
            return None
        envelope = self.assembler.envelope()
        if envelope is None:
            return None
        head, raw, tail = envelope
        made_of, frame = self._frame_of, self._frame
        if frame is None or made_of[0] is not head or made_of[2] is not tail:
            frame = self._frame = Frame(
                b"data: " + head.encode(), raw.encode(), tail.encode() + _BLOCK_END
            )
        elif made_of[1] is not raw:
            frame.raw = raw.encode()
        self._frame_of = envelope
        return frame

    def _take(self, buffer: bytes, pos: int, frame: Frame, deltas: list[str]) -> int:
        pieces: list[str] = []
        end = take_extensions(buffer, pos, frame, pieces, self._limit)
        if end > pos:
            raw = str(frame.raw, "utf-8")
            self._frame_of = (self._frame_of[0], raw, self._frame_of[2])
            self.assembler.extended(raw, pieces)
            deltas += pieces
        return end

    def _can_carry(self, chunk: bytes, pos: int) -> bool:
        """True when the rest of ``chunk`` is part of one line (no CR or LF) within the limit."""
        return (
            len(chunk) - pos <= self._limit
            and chunk.find(b"\n", pos) < 0
            and chunk.find(b"\r", pos) < 0
        )

    def _complete_carry(self, chunk: bytes, deltas: list[str]) -> int:
        """Read the block the last chunk ended in; return where the rest of ``chunk`` starts.

        Taken whole when it extends the frame. Otherwise the decoder reads
        the carried bytes (part of one line, so no event yet), and ``chunk``
        then goes on from its start as usual.
        """
        carry, self._carry = self._carry, b""
        end = _block_end(chunk, 0)
        block = carry + chunk[:end]
        frame = self._frame_now()
        if frame is not None and self._take(block, 0, frame, deltas) == len(block):
            return end
        self._full_way(carry, deltas)
        return 0

    def _full_way(self, data: bytes, deltas: list[str]) -> None:
        assembler = self.assembler
        for event in self.decoder.feed(data):
            delta = assembler.feed(event)
            if delta:
                deltas.append(delta)
            if assembler.done:
                return


def _block_end(chunk: bytes, pos: int) -> int:
    """Where the first block from ``pos`` ends (after its blank line); the chunk's end if not in it.

    LF by LF (memchr) rather than ``find(b"\\n\\n")``, a two-byte search
    several times slower over the same bytes.
    """
    find, last = chunk.find, len(chunk) - 1
    while True:
        lf = find(b"\n", pos)
        if lf < 0 or lf == last:
            return last + 1
        if chunk[lf + 1] == _LF:
            return lf + 2
        pos = lf + 1
