"""Piece templates: a delta event built once per request with a marker where each of a
piece's values goes, then filled with bytes for every piece. Pure.

A delta dialect sends one event per piece of the reply, the same event but for
the piece's text (and a number or two). Dumping each as JSON costs about 6 µs;
filling the bytes around its holes with the piece's text, escaped once for the
whole reply (:attr:`~emulator.engine.prepare.Prepared.escaped`), costs a join.
(FakeGpt's cumulative stream has templates of its own, cached across requests:
:mod:`emulator.dialects.fakegpt.templates`.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from .prepare import Prepared

__all__ = ["PieceTemplate", "escaped_piece", "piece_template"]

#: What marks hole ``i`` where the event is built: plain ASCII, which JSON never escapes.
_MARK: Final = "~<hole{}>~"
#: ``text``: the marker stands inside a JSON string, and is filled with escaped text;
#: ``value``: it stands for a whole JSON value (a number), and so do its bytes.
Hole = Literal["text", "value"]


#: Below this many bytes of values, an event of several holes is filled by ``%``: in C,
#: about a sixth of a join's cost (past it, ``%`` copies more than a join does).
_FORMATTED_BYTES: Final = 2048


class PieceTemplate:
    """The bytes of an event around its holes, in the order the holes were asked for."""

    __slots__ = ("form", "in_order", "order", "parts")

    def __init__(self, parts: tuple[bytes, ...], order: tuple[int, ...]) -> None:
        self.parts = parts
        self.order = order  # the hole each gap between parts takes, by its argument index
        #: The parts as a ``%b`` format (their own ``%`` doubled), for several holes.
        self.form = b"%b".join(p.replace(b"%", b"%%") for p in parts)
        self.in_order = order == tuple(range(len(order)))

    def fill(self, *values: bytes | memoryview) -> bytes:
        parts = self.parts
        if len(parts) == 2:
            return b"".join((parts[0], values[0], parts[1]))  # one copy, however long
        if sum(map(len, values)) < _FORMATTED_BYTES:
            if self.in_order:
                return self.form % values
            return self.form % tuple(values[gap] for gap in self.order)
        out: list[bytes | memoryview] = [parts[0]]
        for gap, part in zip(self.order, parts[1:], strict=True):
            out += (values[gap], part)
        return b"".join(out)


def piece_template(build: Callable[..., bytes], *kinds: Hole) -> PieceTemplate | None:
    """The event ``build(*markers)`` makes, with its holes (``kinds``, one a marker) cut out;
    None when a marker is not found exactly once (what the request put in the event
    contains one): the caller then builds each event whole."""
    marks = [_MARK.format(i) for i in range(len(kinds))]
    built = build(*marks)
    found: list[tuple[int, int, int]] = []  # (start, end, hole)
    for i, (mark, kind) in enumerate(zip(marks, kinds, strict=True)):
        needle = (f'"{mark}"' if kind == "value" else mark).encode()
        at = built.find(needle)
        if at < 0 or built.find(needle, at + 1) >= 0:
            return None
        found.append((at, at + len(needle), i))
    found.sort()
    parts, start = [], 0
    for at, end, _ in found:
        parts.append(built[start:at])
        start = end
    parts.append(built[start:])
    return PieceTemplate(tuple(parts), tuple(hole for _, _, hole in found))


def escaped_piece(prepared: Prepared, number: int) -> memoryview:
    """Piece ``number`` (from 1) of the reply, escaped as in a JSON string: a view of the
    whole reply's escaping (no copy: a long piece is copied once, into its event)."""
    offsets = prepared.offsets
    start = offsets[number - 2] if number > 1 else 0
    return memoryview(prepared.escaped)[start : offsets[number - 1]]
