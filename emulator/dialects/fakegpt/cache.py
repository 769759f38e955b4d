"""Templates: a small stream planned once per (scenario, text), its per-request values filled in.

A :class:`TemplateCache` belongs to one server (the app makes one); it is
bounded in count and in the size of what it keeps.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar, cast

from ...core.endings import Label, LabelKind
from ...engine.prepare import Prepared, prepare
from ...engine.stream import COALESCE_BYTES, format_of
from ...protocol.sse import SSEFormat
from ...protocol.steps import Paced, Step, Wait, Write
from ...scenario.model import Scenario
from .part import FakeGptPart
from .stream import planned
from .templates import FIELDS, Holes, encoded_values, field_placeholder
from .wire import StreamContext

__all__ = [
    "TEMPLATE_BUDGET",
    "TEMPLATE_BYTES",
    "TEMPLATE_COUNT",
    "TEMPLATE_TEXT_CHARS",
    "TemplateCache",
]

#: A stream of at most this many bytes is planned once per scenario and text,
#: then replayed with each request's values filled in (a 1,000-token cumulative
#: reply sends about 3.4 MB).
TEMPLATE_BYTES: Final = 4 * 1024 * 1024
#: What one cache's templates keep together, at most (the oldest go first).
TEMPLATE_BUDGET: Final = 32 * 1024 * 1024
#: How many (scenario, text) pairs keep their template (the oldest go first).
TEMPLATE_COUNT: Final = 64
#: Longer texts are never keys: they are planned afresh every time.
TEMPLATE_TEXT_CHARS: Final = 16 * 1024


def _templatable(scenario: Scenario, text: str, prepared: Prepared) -> bool:
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
    events = len(prepared.ends) + 3
    if scenario.part(FakeGptPart).cumulative:  # the escaped snapshots, exactly
        size = sum(prepared.offsets) + len(prepared.escaped)
    else:
        size = len(text) * 4  # escaping, at worst \uXXXX per character
    return size + events * 1024 <= TEMPLATE_BYTES


_T = TypeVar("_T")


class TemplateCache:
    """Templates of the small streams this server plans, looked up by (scenario, text).

    Looked up by identity: hashing a scenario (a tree of dataclasses) costs
    more than filling a small template. An entry holds its scenario, so the
    scenario's id cannot be reused by another while the entry lives. A
    template is built the second time a (scenario, text) pair is seen: a
    text seen once (an echoed prompt, say) is planned directly, which costs
    less than building a template that would not be used again; a server
    builds a text that is no echo on its first sight (:meth:`build_due`). Only short
    texts are keys, and the templates kept are bounded in bytes together
    (``budget``) as well as in count: the oldest entries go first.
    """

    def __init__(self, count: int = TEMPLATE_COUNT, budget: int = TEMPLATE_BUDGET) -> None:
        self.count = count
        self.budget = budget
        self.kept = 0  # bytes the templates in the cache hold
        self._entries: dict[tuple[int, str], tuple[Scenario, _Template | object | None]] = {}

    def steps(
        self, scenario: Scenario, text: str, ctx: StreamContext, max_bytes: int
    ) -> Iterator[Step] | None:
        """The stream from a template, or None when there is none (yet) for this pair.

        A pair seen for the second time has its template built here, unless
        :meth:`build_due` is building it in a worker thread meanwhile.
        """
        if len(text) > TEMPLATE_TEXT_CHARS:
            return None
        key = (id(scenario), text)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not scenario:
            self._keep(key, scenario, _SEEN_ONCE)
            return None
        template = entry[1]
        if template is _SEEN_ONCE:
            template = self._keep(key, scenario, _template(scenario, text))
        if isinstance(template, _Template) and template.size <= max_bytes:
            return template.fill(ctx)
        return None

    async def build_due(self, scenario: Scenario, text: str) -> None:
        """Build the pair's template in a worker thread if it is due, and wait for it.

        Due: on the pair's second sight, or on its first when the scenario's
        text is the same whatever the prompt (not an echo), so a first burst of
        requests is served from the template too. A template of a few MB takes
        tens of milliseconds to build; a server awaits this before it plans, so
        its loop serves the others meanwhile, and the requests that come during
        the build wait for it rather than planning afresh.
        """
        if len(text) > TEMPLATE_TEXT_CHARS:
            return
        key = (id(scenario), text)
        entry = self._entries.get(key)
        value = entry[1] if entry is not None and entry[0] is scenario else _UNSEEN
        if isinstance(value, asyncio.Future):  # being built: wait for it
            await asyncio.wait((value,))
            return
        if not (value is _SEEN_ONCE or (value is _UNSEEN and not scenario.reply.echo)):
            return
        task = asyncio.ensure_future(asyncio.to_thread(_template, scenario, text))

        def done(task: asyncio.Future[_Template | None]) -> None:
            failed = task.cancelled() or task.exception() is not None
            self._keep(key, scenario, None if failed else task.result())

        task.add_done_callback(done)
        self._keep(key, scenario, task)
        await asyncio.wait((task,))  # a client gone meanwhile leaves the build to finish

    def _keep(self, key: tuple[int, str], scenario: Scenario, value: _T) -> _T:
        """Keep ``value`` for ``key``, the oldest entries making room for it."""
        entries = self._entries
        _, old = entries.pop(key, (None, None))
        if isinstance(old, _Template):
            self.kept -= old.size
        size = value.size if isinstance(value, _Template) else 0
        while entries and (len(entries) >= self.count or self.kept + size > self.budget):
            _, old = entries.pop(next(iter(entries)))
            if isinstance(old, _Template):
                self.kept -= old.size
        entries[key] = (scenario, value)
        self.kept += size
        return value

    def texts(self) -> list[str]:
        """The texts this cache keeps entries for."""
        return [text for _, text in self._entries]


_SEEN_ONCE: Final = object()  # a (scenario, text) pair seen once: no template yet
_UNSEEN: Final = object()  # a pair the cache has no entry for


@dataclass(frozen=True, slots=True)
class _Template:
    """A planned stream whose writes have holes for the request's values."""

    fmt: SSEFormat
    steps: tuple[Step | Holes, ...]
    whats: tuple[Label, ...]  # what each step's writes carry
    size: int  # bytes written, but for the values
    #: Its steps are writes and the pauses the speed scales, and it pauses: it is played
    #: as one :class:`Paced` (by the pacer, where it can be).
    paced: bool = False

    def fill(self, ctx: StreamContext) -> Iterator[Step]:
        """The stream for one request, each write filled in as it is sent."""
        values = encoded_values(self.fmt, ctx)
        steps = self.steps
        if len(steps) == 1 and isinstance(steps[0], Holes):  # the usual: one write
            return iter((Write(steps[0].fill(values), self.whats[0]),))
        filled = (
            Write(s.fill(values), what) if isinstance(s, Holes) else s
            for s, what in zip(steps, self.whats, strict=True)
        )
        if self.paced:
            return iter((Paced(cast("Iterator[Write | Wait]", filled)),))
        return filled


def _paced(steps: Sequence[Step | Holes]) -> bool:
    """Whether ``steps`` are writes and the pauses the speed scales, and pause."""
    plain = all(isinstance(s, (Holes, Write)) or (isinstance(s, Wait) and s.scaled)
                for s in steps)  # fmt: skip
    return plain and any(isinstance(s, Wait) and s.seconds > 0 for s in steps)


def _template(scenario: Scenario, text: str) -> _Template | None:
    """The stream of ``scenario`` for ``text`` as a template, or None if it cannot be one."""
    prepared = prepare(scenario, text, escape=scenario.part(FakeGptPart).cumulative)
    if not _templatable(scenario, text, prepared):
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
    steps: list[Step | Holes] = []
    whats: list[Label] = []
    # Consecutive writes become one up to COALESCE_BYTES, as the player would send them.
    run: list[Write] = []
    size = 0
    for step in itertools.chain(planned(scenario, ctx, prepared), (None,)):
        if isinstance(step, Write):
            run.append(step)
            size += len(step.data)
            if size < COALESCE_BYTES:
                continue
        if run:
            what = _what(run)
            steps.append(_holes_or_write(b"".join(w.data for w in run), what, fmt))
            whats.append(what)
            run, size = [], 0
        if step is not None and not isinstance(step, Write):
            steps.append(step)
            whats.append(_NOTHING)
    kept = 0
    for part in steps:
        if isinstance(part, Holes):
            kept += sum(map(len, part.segments))
        elif isinstance(part, Write):
            kept += len(part.data)
    if kept > TEMPLATE_BYTES:
        return None
    return _Template(fmt, tuple(steps), tuple(whats), kept, _paced(steps))


#: What a step that writes nothing (a wait, a drop) carries.
_NOTHING: Final = Label("pause")


def _what(run: list[Write]) -> Label:
    """What a run of writes merged into one carries (its first and last, when long): the
    label of its end marker, if it holds one, else of an event."""
    names = list(dict.fromkeys(str(w.what) for w in run))
    said = ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"
    kind: LabelKind = "end" if any(w.what.kind == "end" for w in run) else "event"
    return Label(kind, said)


def _holes_or_write(data: bytes, what: Label, fmt: SSEFormat) -> Holes | Write:
    found = Holes.find(data, fmt)
    return found if found.fields else Write(data, what)
