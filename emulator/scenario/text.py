"""A scenario's reply text for a request, and where its snapshots end. Pure.

Both belong to the scenario's meaning (``check`` uses them to place
faults); the planner builds every event from them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final, Literal, NamedTuple

from .model import MAX_REPLY_CHARS, PlanError, Reply, Scenario

__all__ = [
    "CACHE_TEXT_CHARS",
    "CallEvent",
    "call_events",
    "call_pieces",
    "cut_points",
    "reply_text",
    "told_text",
    "warm",
]

#: Texts up to this many characters have their cut points (and, in the
#: planner, their escaping) cached; longer ones are computed afresh (a server
#: does that off its loop).
CACHE_TEXT_CHARS: Final = 64 * 1024


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
    if reply.repeat == 1:
        return base
    if reply.echo or len(base) * reply.repeat > _KEPT_CHARS:
        return base * reply.repeat
    return _repeated(base, reply.repeat)


#: A repeated text up to this long is kept (8 of them: at most 16 MiB of characters).
_KEPT_CHARS: Final = 2 * 1024 * 1024


@lru_cache(maxsize=8)
def _repeated(base: str, repeat: int) -> str:
    # The same text for every request of a scenario: made once, and one object, whose
    # hash the planner's caches compute once (a long one took a millisecond a request).
    return base * repeat


def told_text(reply: Reply, prompt: str) -> str:
    """All a client is told: the reply's text, then each further call's arguments in
    order (what a client that gathers parallel calls by their index puts together)."""
    return reply_text(reply, prompt) + "".join(call.arguments for call in reply.calls)


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
        ends = _byte_cuts(text, size)
    else:
        pattern = _TOKEN if cut == "token" else _WORD
        units = [m.end() for m in pattern.finditer(text)]
        ends = units[size - 1 :: size]
    if not ends or ends[-1] != len(text):
        ends = [e for e in ends if e < len(text)]
        ends.append(len(text))
    return ends


def _byte_cuts(text: str, size: int) -> list[int]:
    """Where a text cut every ``size`` UTF-8 bytes ends its pieces, in characters: each
    piece ends with the character that brings it to ``size`` bytes or more. At C speed
    (encoding, decoding, slicing): a per-character loop took 150 ms a megabyte."""
    if text.isascii():
        return list(range(size, len(text) + 1, size))
    data = text.encode("utf-8", "surrogatepass")
    ends: list[int] = []
    start = chars = 0
    while start + size <= len(data):
        end = start + size  # the piece's last byte is end - 1: its character ends here...
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end += 1  # ... past its continuation bytes
        chars += len(data[start:end].decode("utf-8", "surrogatepass"))
        ends.append(chars)
        start = end
    return ends


def warm(scenarios: Iterable[Scenario]) -> None:
    """Make the Faker texts these scenarios use now (a server calls this as it starts).

    Importing Faker takes 60-90 ms; done on the first request, it would
    delay that request and stall the loop for every other one.
    """
    for scenario in scenarios:
        reply = scenario.reply
        if reply.faker_sentences:
            _faker_text(reply.faker_locale, reply.faker_seed, reply.faker_sentences)


class CallEvent(NamedTuple):
    """One event of a reply's further call: ``call`` its place in ``Reply.calls`` (from 0).

    Each is numbered as faults count events, after the reply's own pieces; a dialect says
    what each is on its wire (an event with no steps where its API has none, such as a
    call's end on Chat Completions, so a fault's ``at`` means the same on every dialect).
    """

    call: int
    kind: Literal["start", "piece", "stop"]
    text: str = ""


def call_pieces(reply: Reply) -> int:
    """How many pieces the further calls' arguments are cut into (their ``piece`` events),
    counted with the text's as the reply's output."""
    return sum(len(cut_points(c.arguments, reply.cut, reply.cut_size)) for c in reply.calls)


def call_events(reply: Reply) -> list[CallEvent]:
    """The events of ``reply.calls`` in the order they are sent: each call's start, its
    arguments cut as the reply's text is, its stop; with ``interleave``, every start,
    then the calls' pieces in turn, then every stop."""
    pieces = [
        [CallEvent(k, "piece", call.arguments[a:b])
         for a, b in itertools.pairwise([0, *cut_points(call.arguments, reply.cut, reply.cut_size)])]
        for k, call in enumerate(reply.calls)
    ]  # fmt: skip
    starts = [CallEvent(k, "start") for k in range(len(reply.calls))]
    stops = [CallEvent(k, "stop") for k in range(len(reply.calls))]
    if reply.interleave:
        taking_turns = itertools.chain.from_iterable(itertools.zip_longest(*pieces))
        return [*starts, *(e for e in taking_turns if e is not None), *stops]
    return [e for k in range(len(reply.calls)) for e in (starts[k], *pieces[k], stops[k])]
