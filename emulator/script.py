"""Planning: a scenario and one request become the exact steps to play. Pure.

:func:`plan` yields :class:`Write`, :class:`Wait`, :class:`Drop` and
:class:`Hold` steps lazily, so a long cumulative reply (O(n²) bytes) is never
held in memory at once. Only :mod:`emulator.app` plays steps onto a socket,
and only it sleeps.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from .protocol import (
    DONE,
    FIELDS,
    EnvelopeTemplate,
    Holes,
    SSEFormat,
    completion_object,
    error_object,
    field_placeholder,
    json_encoders,
    message_object,
    v1_add_object,
)
from .scenario import MAX_REPLY_CHARS, Fault, Reply, Scenario

__all__ = [
    "CACHE_TEXT_CHARS",
    "COALESCE_BYTES",
    "MAX_REPLY_CHARS",
    "MAX_STREAM_BYTES",
    "Drop",
    "Hold",
    "PlanError",
    "Prepared",
    "Step",
    "StreamContext",
    "Wait",
    "Write",
    "cut_points",
    "estimated_bytes",
    "plan",
    "prepare",
    "reply_text",
]

#: A stream larger than this (estimated) is refused when planned (a
#: cumulative reply of n characters cut into k snapshots sends about n·k/2
#: bytes); the server's ``max_stream_bytes`` is usually lower.
MAX_STREAM_BYTES: Final = 2 * 1024**3
#: Texts up to this many characters have their cut points and escaping
#: cached; longer ones are computed afresh (and a server runs that off its loop).
CACHE_TEXT_CHARS: Final = 64 * 1024
#: The player merges consecutive writes up to this size.
COALESCE_BYTES: Final = 256 * 1024
#: A stream of at most this many bytes (estimated) is planned once per
#: scenario and text, then replayed with each request's values filled in.
TEMPLATE_BYTES: Final = 128 * 1024
#: How many (scenario, text) pairs keep their template (then they start again).
TEMPLATE_COUNT: Final = 64
_DEFAULT_GARBAGE: Final = b"\x00\xff\xfe garbage \xc3\x28 \xed\xa0\x80"


class PlanError(ValueError):
    """The scenario cannot be played for this request (e.g. it would be too large)."""


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause; ``scaled`` pauses follow the server's speed factor, faults do not."""

    seconds: float
    scaled: bool = True


@dataclass(frozen=True, slots=True)
class Drop:
    """Cut the connection (no end of chunked body): a drop mid-stream."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the response open without writing, until the client leaves or time is up."""

    seconds: float


Step = Write | Wait | Drop | Hold


class StreamContext(NamedTuple):
    """What one request contributes to the stream.

    A named tuple rather than a frozen dataclass: one is made per request,
    and a tuple is made in C.
    """

    prompt: str
    message_id: str
    conversation_id: str
    parent_id: str
    create_time: float
    model: str
    moderation_id: str
    timestamp: float = 0.0


def reply_text(reply: Reply, prompt: str) -> str:
    """The reply's full text for this prompt; :class:`PlanError` past :data:`MAX_REPLY_CHARS`."""
    if reply.echo:
        base = prompt
    elif reply.faker_sentences:
        base = _faker_text(reply.faker_locale, reply.faker_seed, reply.faker_sentences)
    else:
        base = reply.text or ""
    if len(base) * reply.repeat > MAX_REPLY_CHARS:
        raise PlanError(
            f"the reply would be {len(base) * reply.repeat:,} characters for this prompt; "
            f"the limit is {MAX_REPLY_CHARS:,} (lower reply.repeat or shorten the text)"
        )
    return base * reply.repeat


@lru_cache(maxsize=8)
def _faker_text(locale: str, seed: int, sentences: int) -> str:
    from faker import Faker  # imported when used: it is slow to import

    fake = Faker(locale)
    fake.seed_instance(seed)
    return " ".join(fake.sentences(sentences))


# An approximation of a GPT tokenizer's pre-split: words with their leading
# space, short digit runs, punctuation runs, whitespace. The alternatives
# cover every character, so the pieces always concatenate to the text.
_TOKEN: Final = re.compile(r"\s?[^\W\d_]+|\s?\d{1,3}|\s?[^\w\s]+|\s?_+|\s+(?!\S)|\s+")
_WORD: Final = re.compile(r"\s*\S+|\s+")


def cut_points(text: str, cut: str, size: int) -> list[int]:
    """End offsets of the cumulative snapshots; the last one is ``len(text)``."""
    if len(text) > CACHE_TEXT_CHARS:  # never kept: a cache of huge texts is unbounded memory
        return _compute_cut_points(text, cut, size)
    return list(_cut_points(text, cut, size))


@lru_cache(maxsize=64)
def _cut_points(text: str, cut: str, size: int) -> tuple[int, ...]:
    # Cached: a scenario is usually served many times with the same text.
    return tuple(_compute_cut_points(text, cut, size))


def _compute_cut_points(text: str, cut: str, size: int) -> list[int]:
    if not text:
        return []
    if cut == "char":
        ends = list(range(size, len(text), size))
    elif cut == "byte":
        ends = []
        taken = 0
        for i, ch in enumerate(text):
            taken += len(ch.encode("utf-8", "surrogatepass"))
            if taken >= size:
                ends.append(i + 1)
                taken = 0
    else:
        pattern = _TOKEN if cut == "token" else _WORD
        units = [m.end() for m in pattern.finditer(text)]
        ends = units[size - 1 :: size]
    if not ends or ends[-1] != len(text):
        ends = [e for e in ends if e < len(text)]
        ends.append(len(text))
    return ends


class Prepared(NamedTuple):
    """The costly part of planning for one text: its snapshot ends and escaping.

    Pure and possibly slow for a long text (a server may run :func:`prepare`
    off its event loop); :func:`plan` computes it itself when not given.
    """

    text: str
    ends: list[int]
    escaped: bytes  # the whole text as a JSON string body (cumulative replies)
    offsets: list[int]  # where each snapshot ends in ``escaped``


def prepare(scenario: Scenario, text: str) -> Prepared:
    """Cut points and escaping of ``text`` under ``scenario`` (cached for short texts)."""
    ends = cut_points(text, scenario.reply.cut, scenario.reply.cut_size)
    if scenario.wire.encoding != "cumulative":
        return Prepared(text, ends, b"", [])
    escaped, offsets = _escaped_text(text, ends, scenario.wire.ensure_ascii)
    return Prepared(text, ends, escaped, offsets)


def estimated_bytes(scenario: Scenario, prepared: Prepared) -> int:
    """About how many bytes the stream sends (at least its snapshots and fault writes)."""
    text, ends = prepared.text, prepared.ends
    events = len(ends) + 3
    size = (sum(ends) if scenario.wire.encoding == "cumulative" else 0) + len(text)
    size += events * 600  # an event's envelope
    for fault in scenario.faults:
        each = _FAULT_BYTES.get(fault.kind, 700) + len(fault.text) + len(fault.raw)
        if fault.kind in ("stale", "repeat"):
            each += len(text)
        if fault.kind == "stall" and fault.ping_every > 0:
            each = 60 * math.ceil(fault.seconds / fault.ping_every)
        size += each * (1 if fault.kind in ("stall", "drop", "done") else fault.count)
    return size


#: About how many bytes one write of a fault kind takes, but for its text
#: (kinds not listed carry a whole message event: 700).
_FAULT_BYTES: Final = {
    "comment": 16,
    "ping": 48,
    "garbage": 32,
    "done": 16,
    "malformed_json": 120,
}


def plan(
    scenario: Scenario,
    ctx: StreamContext,
    *,
    max_bytes: int = MAX_STREAM_BYTES,
    prepared: Prepared | None = None,
) -> Iterator[Step]:
    """The steps that play ``scenario`` for one ``/api/conversation`` request.

    :class:`PlanError` when the reply or the stream would exceed its limit.
    """
    wire = scenario.wire
    if wire.body == "empty":
        return iter(())
    text = prepared.text if prepared is not None else reply_text(scenario.reply, ctx.prompt)
    if len(text) * 4 <= TEMPLATE_BYTES:
        # Looked up by identity: hashing a scenario (a tree of dataclasses)
        # costs more than filling a small template. The entry holds the
        # scenario, so its id cannot be reused by another while the entry
        # lives. A template is built the second time a (scenario, text) pair
        # is seen: a text seen once (an echoed prompt, say) is planned
        # directly, which costs less than building a template that would
        # not be used again. Only short texts are keys (the cache is bounded
        # in bytes too).
        key = (id(scenario), text)
        entry = _TEMPLATES.get(key)
        if entry is None or entry[0] is not scenario:
            if len(_TEMPLATES) >= TEMPLATE_COUNT:
                _TEMPLATES.clear()
            _TEMPLATES[key] = (scenario, _SEEN_ONCE)
        elif entry[1] is _SEEN_ONCE:
            entry = _TEMPLATES[key] = (scenario, _template(scenario, text))
        if entry is not None and isinstance(entry[1], _Template) and entry[1].size <= max_bytes:
            return entry[1].fill(ctx)
    if prepared is None:
        prepared = prepare(scenario, text)
    size = estimated_bytes(scenario, prepared)
    if size > max_bytes:
        raise PlanError(
            f"scenario {scenario.name!r} would stream about {size:,} bytes for this prompt; "
            f"the limit is {max_bytes:,} (cut coarser, shorten the reply or use fewer faults)"
        )
    return _planned(scenario, ctx, prepared)


def _planned(scenario: Scenario, ctx: StreamContext, prepared: Prepared) -> Iterator[Step]:
    """The stream planned step by step (what a template is built from)."""
    return _frame(scenario, _stream(scenario, ctx, _format_of(scenario), prepared))


def _format_of(scenario: Scenario) -> SSEFormat:
    wire = scenario.wire
    return _format(wire.line_ending, wire.data_prefix, wire.multiline_data, wire.ensure_ascii)


@lru_cache(maxsize=16)
def _format(
    line_ending: str, data_prefix: str, multiline_data: bool, ensure_ascii: bool
) -> SSEFormat:
    return SSEFormat(line_ending, data_prefix, multiline_data, ensure_ascii)


# -- templates: a small stream planned once, its per-request values filled in --------


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


@dataclass(frozen=True, slots=True)
class _Template:
    """A planned stream whose writes have holes for the request's values."""

    fmt: SSEFormat
    steps: tuple[Write | Wait | Drop | Hold | Holes, ...]
    size: int  # bytes written, but for the values

    def fill(self, ctx: StreamContext) -> Iterator[Step]:
        values = _encoded(self.fmt, ctx)
        steps = self.steps
        if len(steps) == 1 and isinstance(steps[0], Holes):  # the usual: one write
            return iter((Write(steps[0].fill(values)),))
        return iter([Write(s.fill(values)) if isinstance(s, Holes) else s for s in steps])


def _encoded(fmt: SSEFormat, ctx: StreamContext) -> dict[str, bytes]:
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


_SEEN_ONCE: Final = object()  # a (scenario, text) pair seen once: no template yet
_TEMPLATES: dict[tuple[int, str], tuple[Scenario, _Template | object | None]] = {}


def _template(scenario: Scenario, text: str) -> _Template | None:
    """The stream of ``scenario`` for ``text`` as a template, or None if it cannot be one."""
    ends = cut_points(text, scenario.reply.cut, scenario.reply.cut_size)
    if not _templatable(scenario, text, ends):
        return None
    fmt = _format_of(scenario)
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
    size = 0
    # Consecutive writes become one, as the player would send them anyway.
    run: list[bytes] = []
    for step in _planned(scenario, ctx, prepare(scenario, text)):
        if isinstance(step, Write):
            run.append(step.data)
            continue
        if run:
            steps.append(_holes_or_write(b"".join(run), fmt))
            run = []
        steps.append(step)
    if run:
        steps.append(_holes_or_write(b"".join(run), fmt))
    for part in steps:
        if isinstance(part, Holes):
            size += sum(map(len, part.segments))
        elif isinstance(part, Write):
            size += len(part.data)
    return _Template(fmt, tuple(steps), size)


def _holes_or_write(data: bytes, fmt: SSEFormat) -> Holes | Write:
    found = Holes.find(data, fmt)
    return found if found.fields else Write(data)


# -- planning a stream step by step ---------------------------------------------------


def _stream(
    scenario: Scenario, ctx: StreamContext, fmt: SSEFormat, prepared: Prepared
) -> Iterator[Step]:
    wire = scenario.wire
    text = prepared.text
    if wire.body == "done_only":
        yield Write(fmt.event(DONE))
        yield from _after_done(scenario)
        return
    faults: dict[int, list[Fault]] = {}
    for fault in scenario.faults:
        faults.setdefault(fault.at, []).append(fault)
    events = (
        _cumulative_events(scenario, ctx, fmt, prepared, frozenset(faults))
        if wire.encoding == "cumulative"
        else _v1_events(scenario, ctx, fmt, prepared)
    )
    sent = _Sent(text)  # how far each sent snapshot reached, for stale/repeat
    for index, covered, steps in events:
        for fault in faults.pop(index, ()):
            for step in _fault(fault, fmt, ctx, sent):
                yield step
                if isinstance(step, Drop):
                    return
        yield from steps
        sent.ends.extend(covered)
    # Faults past the last message event, then those placed after it (-1).
    leftover = [f for at in sorted(faults) if at != -1 for f in faults[at]]
    for fault in leftover + faults.get(-1, []):
        for step in _fault(fault, fmt, ctx, sent):
            yield step
            if isinstance(step, Drop):
                return
    if wire.moderation:
        yield Write(
            fmt.json_event(
                completion_object(ctx.conversation_id, ctx.message_id, ctx.moderation_id)
            )
        )
    if wire.done:
        yield Write(fmt.event(DONE))
    yield from _after_done(scenario)


def _after_done(scenario: Scenario) -> Iterator[Step]:
    if scenario.wire.after_done == "keep_open":
        yield Hold(scenario.wire.keep_open_seconds)


def _pauses(scenario: Scenario, count: int) -> Iterator[float]:
    timing = scenario.timing
    if timing.tokens_per_second <= 0:
        yield from (0.0 for _ in range(count))
        return
    base = scenario.reply.cut_size / timing.tokens_per_second
    rng = random.Random(timing.seed)
    for _ in range(count):
        yield base * (1.0 + timing.jitter * rng.uniform(-1.0, 1.0))


def _message(
    scenario: Scenario, ctx: StreamContext, status: str, final: bool, text: str | None = None
) -> dict[str, object]:
    kwargs: dict[str, object] = {} if text is None else {"text": text}
    return message_object(
        message_id=ctx.message_id,
        conversation_id=ctx.conversation_id,
        parent_id=ctx.parent_id,
        create_time=ctx.create_time,
        status=status,
        finish_type=scenario.wire.finish_type if final else None,
        model=ctx.model,
        **kwargs,  # type: ignore[arg-type]
    )


def _cumulative_events(
    scenario: Scenario,
    ctx: StreamContext,
    fmt: SSEFormat,
    prepared: Prepared,
    breaks: frozenset[int],
) -> Iterator[tuple[int, list[int], list[Step]]]:
    """Message events as (first index, snapshot ends covered, steps).

    Events are numbered as faults count them: 0 carries "", then one per
    snapshot, then the final one. Consecutive events with no pause and no
    fault between them (``breaks``) come as one write, up to COALESCE_BYTES.
    """
    text, ends = prepared.text, prepared.ends
    values = _encoded(fmt, ctx)
    progress = _envelope(fmt, "in_progress", None).fill(values)
    final = _envelope(fmt, "finished_successfully", scenario.wire.finish_type).fill(values)
    first: list[Step] = []
    if scenario.timing.first_event > 0:
        first.append(Wait(scenario.timing.first_event))
    yield 0, [0], [*first, Write(progress.render(b""))]
    # Each snapshot is a prefix of the whole escaped text (JSON escapes
    # character by character), rendered from a view: one copy per event.
    escaped, offsets = prepared.escaped, prepared.offsets
    view = memoryview(escaped)
    head, tail = progress.head, progress.tail
    overhead = len(head) + len(tail)
    if scenario.timing.tokens_per_second <= 0:
        # No pacing: batches split only at faults and at COALESCE_BYTES, built
        # with one comprehension each (the per-event loop below costs ~1 µs
        # an event, a fifth of a 2000-token reply's time).
        yield from _unpaced_batches(ends, breaks, offsets, head, view, tail)
        yield len(ends) + 1, [len(text)], [Write(final.render(escaped))]
        return
    pauses = _pauses(scenario, len(ends))
    parts: list[bytes | memoryview] = []
    covered: list[int] = []
    lead: list[Step] = []
    start = size = offset = 0
    for i, end in enumerate(ends):
        index = i + 1
        pause = next(pauses)
        paused = pause > 0 and i > 0
        if covered and (paused or index in breaks or size >= COALESCE_BYTES):
            yield start, covered, [*lead, Write(b"".join(parts))]
            parts, covered, lead, size = [], [], [], 0
        if not covered:
            start = index
            if paused:
                lead = [Wait(pause)]
        offset = offsets[i]
        parts += (head, view[:offset], tail)
        covered.append(end)
        size += offset + overhead
    if covered:
        yield start, covered, [*lead, Write(b"".join(parts))]
    yield len(ends) + 1, [len(text)], [Write(final.render(escaped))]


@lru_cache(maxsize=64)
def _envelope(fmt: SSEFormat, status: str, finish_type: str | None) -> EnvelopeTemplate:
    """The reply's message event for this framing and status, encoded once."""
    return EnvelopeTemplate.build(fmt, status=status, finish_type=finish_type)


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


def _unpaced_batches(
    ends: list[int],
    breaks: frozenset[int],
    offsets: list[int],
    head: bytes,
    view: memoryview,
    tail: bytes,
) -> Iterator[tuple[int, list[int], list[Step]]]:
    overhead = len(head) + len(tail)
    n = len(ends)
    i = 0
    while i < n:
        j, size = i + 1, offsets[i] + overhead
        while j < n and (j + 1) not in breaks and size < COALESCE_BYTES:
            size += offsets[j] + overhead
            j += 1
        data = b"".join([part for off in offsets[i:j] for part in (head, view[:off], tail)])
        yield i + 1, ends[i:j], [Write(data)]
        i = j


def _escape_pieces(ensure_ascii: bool, pieces: list[str]) -> list[bytes]:
    """Every piece's JSON string body, from one json.dumps call.

    The list is dumped whole and split on '", "': inside an escaped string
    every quote is preceded by a backslash, so that separator cannot occur
    within one.
    """
    out: list[bytes] = []
    # In batches: one json.dumps call holds the GIL throughout, and a long
    # text is escaped in a worker thread while the event loop serves others.
    for i in range(0, len(pieces), _ESCAPE_BATCH):
        batch = pieces[i : i + _ESCAPE_BATCH]
        dumped = json.dumps(batch, ensure_ascii=ensure_ascii, separators=(", ", ": "))
        out += dumped[2:-2].encode().split(b'", "')
    return out


_ESCAPE_BATCH: Final = 8192


def _v1_events(
    scenario: Scenario, ctx: StreamContext, fmt: SSEFormat, prepared: Prepared
) -> Iterator[tuple[int, list[int], list[Step]]]:
    """The 2024 delta_encoding v1 stream: an "add", then appends, then a patch."""
    first: list[Step] = [Write(fmt.event('"v1"', "delta_encoding"))]
    if scenario.timing.first_event > 0:
        first.append(Wait(scenario.timing.first_event))
    add = v1_add_object(_message(scenario, ctx, "in_progress", False, text=""))
    first.append(Write(fmt.json_event(add, "delta")))
    yield 0, [0], first
    start = 0
    text, ends = prepared.text, prepared.ends
    pauses = _pauses(scenario, len(ends))
    for i, end in enumerate(ends):
        piece = text[start:end]
        start = end
        op: dict[str, object] = (
            {"p": "/message/content/parts/0", "o": "append", "v": piece}
            if i == 0
            else {"v": piece}
        )
        pause = next(pauses)
        steps: list[Step] = [Wait(pause)] if pause > 0 and i > 0 else []
        steps.append(Write(fmt.json_event(op, "delta")))
        yield i + 1, [end], steps
    patch = {
        "p": "",
        "o": "patch",
        "v": [
            {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
            {"p": "/message/end_turn", "o": "replace", "v": True},
            {
                "p": "/message/metadata",
                "o": "append",
                "v": {
                    "is_complete": True,
                    "finish_details": {"type": scenario.wire.finish_type, "stop_tokens": [100260]},
                },
            },
        ],
    }
    yield (
        len(ends) + 1,
        [len(text)],
        [
            Write(fmt.json_event(patch, "delta")),
            Write(
                fmt.json_event(
                    {"type": "message_stream_complete", "conversation_id": ctx.conversation_id}
                )
            ),
        ],
    )


class _Sent:
    """The snapshots sent so far, as end offsets into the text (strings made on demand)."""

    __slots__ = ("ends", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [0]

    def back(self, n: int) -> str:
        """The snapshot sent ``n`` events ago (0: the last one)."""
        return self.text[: self.ends[max(0, len(self.ends) - 1 - n)]]


def _fault(fault: Fault, fmt: SSEFormat, ctx: StreamContext, sent: _Sent) -> Iterator[Step]:
    kind = fault.kind
    for _ in range(fault.count if kind not in ("stall", "drop", "done") else 1):
        if kind == "malformed_json":
            yield Write(
                fmt.event(fault.text or '{"message": {"id": "' + ctx.message_id + '", "content": ')
            )
        elif kind == "garbage":
            # Framed as a line of its own, so it cannot glue itself to the next field.
            end = fmt.line_ending.encode()
            yield Write((fault.raw or _DEFAULT_GARBAGE) + end + end)
        elif kind == "ping":
            yield Write(fmt.event(_timestamp(ctx), "ping"))
        elif kind == "comment":
            yield Write(fmt.comment(fault.text or " keep-alive"))
        elif kind == "foreign_message":
            obj = message_object(
                message_id="foreign-" + ctx.message_id,
                conversation_id=ctx.conversation_id,
                parent_id=ctx.parent_id,
                create_time=ctx.create_time,
                status="in_progress",
                role=fault.role,
                message_type=fault.message_type,
                model=ctx.model,
                text=fault.text or "This message is not part of the reply.",
            )
            yield Write(fmt.json_event(obj))
        elif kind == "error":
            yield Write(
                fmt.json_event(
                    error_object(ctx.conversation_id, fault.text or "Something went wrong.")
                )
            )
        elif kind == "moderation":
            yield Write(
                fmt.json_event(
                    completion_object(ctx.conversation_id, ctx.message_id, ctx.moderation_id)
                )
            )
        elif kind == "num_variants":
            yield Write(
                fmt.json_event(
                    {"conversation_id": ctx.conversation_id, "num_variants_in_stream": 2}
                )
            )
        elif kind in ("stale", "repeat", "rewrite"):
            snapshot = (
                sent.back(2)
                if kind == "stale"
                else sent.back(0)
                if kind == "repeat"
                else fault.text
            )
            obj = message_object(
                message_id=ctx.message_id,
                conversation_id=ctx.conversation_id,
                parent_id=ctx.parent_id,
                create_time=ctx.create_time,
                status="in_progress",
                model=ctx.model,
                text=snapshot,
            )
            yield Write(fmt.json_event(obj))
        elif kind == "done":
            yield Write(fmt.event(DONE))
        elif kind == "drop":
            yield Drop()
        elif kind == "stall":
            yield from _stall(fault, fmt, ctx)


def _stall(fault: Fault, fmt: SSEFormat, ctx: StreamContext) -> Iterator[Step]:
    if fault.ping_every <= 0:
        yield Wait(fault.seconds, scaled=False)
        return
    left = fault.seconds
    while left > 1e-9:
        step = min(fault.ping_every, left)
        yield Wait(step, scaled=False)
        left -= step
        yield Write(fmt.event(_timestamp(ctx), "ping"))


def _timestamp(ctx: StreamContext) -> str:
    return f"{ctx.timestamp or ctx.create_time:.6f}"


def _frame(scenario: Scenario, steps: Iterator[Step]) -> Iterator[Step]:
    """Add the BOM and split writes where the scenario says.

    Merging small writes is the player's job: it knows the speed factor, so
    it knows which scaled waits are zero. An unscaled wait (a fault's) always
    separates writes, even a zero one between split pieces.
    """
    wire = scenario.wire
    bom = wire.bom
    splitting = wire.chunk_size > 0 or bool(wire.split_at)
    offset = 0
    for step in steps:
        if not isinstance(step, Write):
            yield step
            continue
        data = step.data
        if bom:
            data = b"\xef\xbb\xbf" + data
            bom = False
        if not splitting:
            yield Write(data) if data is not step.data else step
            continue
        for i, piece in enumerate(_split(data, offset, wire.chunk_size, wire.split_at)):
            if i:
                yield Wait(wire.split_pause, scaled=False)
            yield Write(piece)
        offset += len(data)


def _split(
    data: bytes, offset: int, chunk_size: int, split_at: tuple[int, ...]
) -> Iterator[bytes]:
    """Cut ``data`` (which starts at stream ``offset``) at the stream offsets asked for."""
    end = offset + len(data)
    cuts = {at - offset for at in split_at if offset < at < end}
    if chunk_size:
        first = (offset // chunk_size + 1) * chunk_size
        cuts.update(range(first - offset, len(data), chunk_size))
    start = 0
    for cut in sorted(cuts):
        yield data[start:cut]
        start = cut
    yield data[start:]
