"""Templates: a small stream planned once per (scenario, text), its per-request values filled in.

A :class:`TemplateCache` belongs to one server (the app makes one); it is
bounded in count and in the size of what it keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ..protocol.fakegpt import StreamContext
from ..protocol.sse import SSEFormat
from ..protocol.steps import Drop, Hold, Step, Wait, Write
from ..protocol.templates import FIELDS, Holes, encoded_values, field_placeholder
from ..scenario.model import Scenario
from ..scenario.text import cut_points
from .prepare import prepare
from .stream import format_of, planned

__all__ = ["TEMPLATE_BYTES", "TEMPLATE_COUNT", "TemplateCache"]

#: A stream of at most this many bytes (estimated) is planned once per
#: scenario and text, then replayed with each request's values filled in.
TEMPLATE_BYTES: Final = 128 * 1024
#: How many (scenario, text) pairs keep their template (then they start again).
TEMPLATE_COUNT: Final = 64


def _templatable(scenario: Scenario, text: str, ends: list[int]) -> bool:
    """Whether the stream is the same for every request but for the :data:`FIELDS` values.

    Faults may splice values into the stream in other ways (a raw message id
    in malformed JSON, a formatted timestamp), and split points count bytes,
    which values of another length would move; such streams are planned
    afresh for every request, as are large ones, which would not be worth
    keeping.
    """
    if scenario.faults or scenario.wire.chunk_size or scenario.wire.split_at:
        return False
    if "\ue001" in text:  # could be mistaken for a placeholder
        return False
    events = len(ends) + 3
    size = (sum(ends) if scenario.wire.encoding == "cumulative" else 0) + len(text)
    return size * 4 + events * 1024 <= TEMPLATE_BYTES  # *4: escaping, at worst \uXXXX per char


class TemplateCache:
    """Templates of the small streams this server plans, looked up by (scenario, text).

    Looked up by identity: hashing a scenario (a tree of dataclasses) costs
    more than filling a small template. An entry holds its scenario, so the
    scenario's id cannot be reused by another while the entry lives. A
    template is built the second time a (scenario, text) pair is seen: a
    text seen once (an echoed prompt, say) is planned directly, which costs
    less than building a template that would not be used again. Only short
    texts are keys, so the cache is bounded in bytes as well as in count.
    """

    def __init__(self, count: int = TEMPLATE_COUNT) -> None:
        self.count = count
        self._entries: dict[tuple[int, str], tuple[Scenario, _Template | object | None]] = {}

    def steps(
        self, scenario: Scenario, text: str, ctx: StreamContext, max_bytes: int
    ) -> Iterator[Step] | None:
        """The stream from a template, or None when there is none (yet) for this pair."""
        if len(text) * 4 > TEMPLATE_BYTES:
            return None
        key = (id(scenario), text)
        entries = self._entries
        entry = entries.get(key)
        if entry is None or entry[0] is not scenario:
            if len(entries) >= self.count:
                entries.clear()
            entries[key] = (scenario, _SEEN_ONCE)
            return None
        if entry[1] is _SEEN_ONCE:
            entry = entries[key] = (scenario, _template(scenario, text))
        template = entry[1]
        if isinstance(template, _Template) and template.size <= max_bytes:
            return template.fill(ctx)
        return None

    def texts(self) -> list[str]:
        """The texts this cache keeps entries for."""
        return [text for _, text in self._entries]


_SEEN_ONCE: Final = object()  # a (scenario, text) pair seen once: no template yet


@dataclass(frozen=True, slots=True)
class _Template:
    """A planned stream whose writes have holes for the request's values."""

    fmt: SSEFormat
    steps: tuple[Write | Wait | Drop | Hold | Holes, ...]
    whats: tuple[str, ...]  # what each step's writes carry
    size: int  # bytes written, but for the values

    def fill(self, ctx: StreamContext) -> Iterator[Step]:
        values = encoded_values(self.fmt, ctx)
        steps = self.steps
        if len(steps) == 1 and isinstance(steps[0], Holes):  # the usual: one write
            return iter((Write(steps[0].fill(values), self.whats[0]),))
        return iter(
            [
                Write(s.fill(values), what) if isinstance(s, Holes) else s
                for s, what in zip(steps, self.whats, strict=True)
            ]
        )


def _template(scenario: Scenario, text: str) -> _Template | None:
    """The stream of ``scenario`` for ``text`` as a template, or None if it cannot be one."""
    ends = cut_points(text, scenario.reply.cut, scenario.reply.cut_size)
    if not _templatable(scenario, text, ends):
        return None
    fmt = format_of(scenario)
    holes = {name: field_placeholder(name) for name in FIELDS}
    ctx = StreamContext(
        prompt="",
        message_id=holes["message_id"],
        conversation_id=holes["conversation_id"],
        parent_id=holes["parent_id"],
        create_time=holes["create_time"],  # type: ignore[arg-type]  # encoded like a string
        model=holes["model"],
        moderation_id=holes["moderation_id"],
    )
    steps: list[Write | Wait | Drop | Hold | Holes] = []
    whats: list[str] = []
    size = 0
    # Consecutive writes become one, as the player would send them anyway.
    run: list[Write] = []
    for step in [*planned(scenario, ctx, prepare(scenario, text)), None]:
        if isinstance(step, Write):
            run.append(step)
            continue
        if run:
            what = ", ".join(dict.fromkeys(w.what for w in run))
            steps.append(_holes_or_write(b"".join(w.data for w in run), what, fmt))
            whats.append(what)
            run = []
        if step is not None:
            steps.append(step)
            whats.append("")
    for part in steps:
        if isinstance(part, Holes):
            size += sum(map(len, part.segments))
        elif isinstance(part, Write):
            size += len(part.data)
    return _Template(fmt, tuple(steps), tuple(whats), size)


def _holes_or_write(data: bytes, what: str, fmt: SSEFormat) -> Holes | Write:
    found = Holes.find(data, fmt)
    return found if found.fields else Write(data, what)
