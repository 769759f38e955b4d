"""The costly part of planning a text: its snapshot ends and its JSON escaping. Pure.

Cached for short texts; for a long one a server runs :func:`prepare` in a
worker thread, so its event loop serves others meanwhile.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Final, NamedTuple

from ..scenario.faults import FAULTS
from ..scenario.model import Scenario
from ..scenario.text import CACHE_TEXT_CHARS, cut_points

__all__ = ["MAX_STREAM_BYTES", "Prepared", "estimated_bytes", "prepare", "whole"]

#: A stream larger than this (estimated) is refused when planned (a
#: cumulative reply of n characters cut into k snapshots sends about n·k/2
#: bytes); a server's ``max_stream_bytes`` is usually lower.
MAX_STREAM_BYTES: Final = 2 * 1024**3


class Prepared(NamedTuple):
    """The costly part of planning for one text: its snapshot ends and escaping.

    Pure and possibly slow for a long text (a server may run :func:`prepare`
    off its event loop); :func:`plan` computes it itself when not given.
    """

    text: str
    ends: list[int]
    escaped: bytes  # the whole text as a JSON string body (cumulative replies)
    offsets: list[int]  # where each snapshot ends in ``escaped``


def whole(prepared: Prepared) -> Prepared:
    """``prepared`` as one piece: a tool call an API sends whole (Gemini's functionCall,
    Ollama's and Mistral's tool calls), not in deltas."""
    text = prepared.text
    return prepared._replace(ends=[len(text)] if text else [],
                             offsets=[len(prepared.escaped)] if text else [])  # fmt: skip


def prepare(scenario: Scenario, text: str, *, escape: bool = True) -> Prepared:
    """Cut points and escaping of ``text`` under ``scenario``; with ``escape`` false, the
    cut points alone (a stream that sends no escaped text). Cached: short texts by
    count, long ones by bytes (:data:`LARGE_CACHE_BYTES`), each made once however many
    requests ask for it at the same moment."""
    reply = scenario.reply
    key = (text, reply.cut, reply.cut_size, escape, scenario.wire.ensure_ascii)
    if len(text) > CACHE_TEXT_CHARS:
        return _LARGE.get(key, lambda: _prepare(*key))
    return _prepare(*key)


def _prepare(text: str, cut: str, size: int, escape: bool, ensure_ascii: bool) -> Prepared:
    ends = cut_points(text, cut, size)
    if not escape:
        return Prepared(text, ends, b"", [])
    escaped, offsets = _escaped_text(text, ends, ensure_ascii)
    return Prepared(text, ends, escaped, offsets)


#: Long texts' preparations are kept up to this many bytes in all (the text, its
#: escaping, its cut points): a long reply served again and again is cut and escaped
#: once, not once a request (it took 150 ms of CPU a megabyte, each time).
LARGE_CACHE_BYTES: Final = 64 * 1024 * 1024


def _size(prepared: Prepared) -> int:
    """About the bytes ``prepared`` holds (a list's int: a pointer and an object)."""
    return (
        2 * len(prepared.text)
        + len(prepared.escaped)
        + 40 * (len(prepared.ends) + len(prepared.offsets))
    )


_Key = tuple[str, str, int, bool, bool]


class _LargeCache:
    """Long texts' preparations, least recently used first out, bounded in bytes; one
    is made once while others asking for it wait (they run in worker threads)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: OrderedDict[_Key, Prepared] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[_Key, threading.Event] = {}

    def get(self, key: _Key, make: Callable[[], Prepared]) -> Prepared:
        while True:
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    self._kept.move_to_end(key)
                    return kept
                making = self._making.get(key)
                if making is None:
                    self._making[key] = threading.Event()
                    break
            making.wait()  # another thread makes it: then it is kept (or too big to keep)
            if key not in self._kept:
                return make()
        try:
            made = make()
            with self._lock:
                self._keep(key, made)
            return made
        finally:
            with self._lock:
                self._making.pop(key).set()

    def _keep(self, key: _Key, made: Prepared) -> None:
        size = _size(made)
        if size > self.budget // 4:
            return  # one text may not take most of the cache
        self._kept[key] = made
        self._bytes += size
        while self._bytes > self.budget:
            _, gone = self._kept.popitem(last=False)
            self._bytes -= _size(gone)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0


_LARGE: Final = _LargeCache(LARGE_CACHE_BYTES)


def _escaped_text(text: str, ends: list[int], ensure_ascii: bool) -> tuple[bytes, list[int]]:
    """The whole text escaped, and where each snapshot ends in it (cached for short texts)."""
    if len(text) > CACHE_TEXT_CHARS:
        return _escape(text, tuple(ends), ensure_ascii)
    return _escaped(text, tuple(ends), ensure_ascii)


@lru_cache(maxsize=64)
def _escaped(text: str, ends: tuple[int, ...], ensure_ascii: bool) -> tuple[bytes, list[int]]:
    return _escape(text, ends, ensure_ascii)


def _escape(text: str, ends: tuple[int, ...], ensure_ascii: bool) -> tuple[bytes, list[int]]:
    pieces = _escape_pieces(ensure_ascii, [text[a:b] for a, b in itertools.pairwise([0, *ends])])
    return b"".join(pieces), list(itertools.accumulate(map(len, pieces)))


def _escape_pieces(ensure_ascii: bool, pieces: list[str]) -> list[bytes]:
    """Every piece's JSON string body, from one json.dumps call.

    The list is dumped whole and split on '", "'. That separator also matches
    where a piece ends in '", ' (escaped: backslash, quote, comma, space): the
    escaped quote, the comma and space, and the piece's closing quote. There
    the part before ends in an odd number of backslashes (the quote's escape),
    and the part after begins with the rest of the true separator (', "').
    """
    out: list[bytes] = []
    # In batches: one json.dumps call holds the GIL throughout, and a long
    # text is escaped in a worker thread while the event loop serves others.
    for i in range(0, len(pieces), _ESCAPE_BATCH):
        batch = pieces[i : i + _ESCAPE_BATCH]
        dumped = json.dumps(batch, ensure_ascii=ensure_ascii, separators=(", ", ": "))
        raw = dumped[2:-2].encode()
        parts = raw.split(b'", "')
        if b'\\", "' not in raw:
            out += parts  # no part can end in an escape
            continue
        cut = False
        for part in parts:
            if cut:
                part = part[3:]  # ', "': the rest of the separator the false match cut
            cut = (len(part) - len(part.rstrip(b"\\"))) % 2 == 1
            out.append(part + b'", ' if cut else part)
    return out


_ESCAPE_BATCH: Final = 8192


def estimated_bytes(scenario: Scenario, prepared: Prepared, *, snapshots: bool) -> int:
    """About how many bytes the stream sends (at least its text, its fault writes, and
    with ``snapshots`` every growing snapshot of the text, not only each piece once)."""
    text, ends = prepared.text, prepared.ends
    events = len(ends) + 3
    size = (sum(ends) if snapshots else 0) + len(text)
    size += events * 600  # an event's envelope
    for fault in scenario.faults:
        spec = FAULTS[fault.kind]
        each = spec.size + len(fault.text) + len(fault.raw)
        if spec.resends_text:
            each += len(text)
        if fault.ping_every > 0:
            each = 60 * math.ceil(fault.seconds / fault.ping_every)
        size += each * (1 if spec.once else fault.count)
    return size
