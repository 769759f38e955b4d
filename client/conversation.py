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
so :func:`client.snapshots._parse_snapshot` parses the event with the text
literal cut out and decodes only the part of the literal that is new (see its
docstring for why that gives exactly what ``json.loads`` would);
:meth:`ReplyAssembler.envelope` and :meth:`ReplyAssembler.extended` let
:class:`client.reader.ReplyReader` take such events before they are decoded.
"""

from __future__ import annotations

import json
from typing import Any, Final

from .errors import (
    IncompleteStreamError,
    NoValidResponseError,
    SnapshotRewriteError,
    UpstreamStreamError,
)
from .snapshots import _ConstantCounter, _parse_snapshot
from .sse import ServerSentEvent

__all__ = ["ReplyAssembler"]

_DONE: Final = "[DONE]"
_FINISHED: Final = "finished_successfully"
_PARTS_PATH: Final = "/message/content/parts/0"


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

    def envelope(self) -> tuple[str, str, str] | None:
        """``(head, raw, tail)``: the last message event's data around its text literal's body.

        Given only when an event whose data is ``head + raw + piece + tail``
        (``piece`` with no quote, backslash or control character) would be
        taken by :meth:`feed` on its hot path, extending the reply by
        ``piece``; ``None`` otherwise. :meth:`extended` then takes a run of
        such events at once.
        """
        skeleton, verdict = self._skeleton, self._verdict
        if (
            self.done
            or self._v1
            or not self._in_sync
            or not self._raw
            or not skeleton[2]
            or verdict[0] is not skeleton[1]
            or not verdict[1]
            or "\ud800" <= self._raw_last <= "\udbff"
        ):
            return None
        return skeleton[2], self._raw, skeleton[3]

    def extended(self, raw: str, pieces: list[str]) -> None:
        """Take events of :meth:`envelope`'s shape, as :meth:`feed` would one by one.

        ``raw`` is the last one's literal body; ``pieces`` the non-empty
        texts they added, in order (the caller yields them as the deltas).
        """
        self._raw = raw
        if self._verdict[2]:
            self.finished = True
        if pieces:
            self._raw_last = pieces[-1][-1]
            self._pieces += pieces

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
