"""A transcript noted a batch at a time (the player's coalesced writes) is the transcript
noted a write at a time: the same writes kept at each end, the same counts left out."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from emulator.core.endings import Label
from emulator.state.transcript import Transcript

_LABELS = [Label("event", "chunk"), Label("fault", "ping"), Label("fault", "error")]

writes = st.lists(
    st.lists(st.tuples(st.binary(max_size=40), st.sampled_from(_LABELS)), max_size=30),
    max_size=8,
)


def _state(t: Transcript) -> tuple[object, ...]:
    return (list(t.head), list(t.tail), t.omitted_writes, t.omitted_bytes, dict(t.faults),
            t._head_bytes, t._tail_bytes)  # fmt: skip


@given(writes, st.integers(1, 6), st.integers(1, 120))
@example([[(b"x" * 40, _LABELS[0])] * 30] * 3, 3, 50)  # the tail's bytes bind, not its count
@example([[(b"", _LABELS[1])] * 10], 2, 1)  # empty writes (a stall's), all faults
def test_a_batch_is_noted_as_its_writes_one_by_one(
    batches: list[list[tuple[bytes, Label]]], keep_writes: int, keep_bytes: int
) -> None:
    one = Transcript(keep_bytes=keep_bytes, keep_writes=keep_writes)
    many = Transcript(keep_bytes=keep_bytes, keep_writes=keep_writes)
    offset = 0
    for batch in batches:
        start = offset
        for data, what in batch:
            one.wrote(offset, 1.0, data, what)
            offset += len(data)
        many.wrote_all(start, 1.0, [d for d, _ in batch], [w for _, w in batch])
    assert _state(many) == _state(one)


runs = st.lists(
    st.lists(st.tuples(st.binary(max_size=40), st.sampled_from(_LABELS[:1])), max_size=30),
    max_size=8,
)


@given(runs, st.integers(1, 6), st.integers(1, 120))
@example([[(b"x" * 40, _LABELS[0])] * 30] * 3, 3, 50)  # the tail's bytes bind, not its count
@example([[(b"", _LABELS[0])] * 10], 2, 1)  # empty writes
@example([[(b"ab", _LABELS[0])], [(b"c" * 40, _LABELS[0])] * 2], 1, 39)  # one, then too big
def test_a_run_is_noted_as_its_writes_one_by_one(
    batches: list[list[tuple[bytes, Label]]], keep_writes: int, keep_bytes: int
) -> None:
    """A stream planned before (its writes joined, and where each ends) is noted as its
    writes would be one at a time."""
    one = Transcript(keep_bytes=keep_bytes, keep_writes=keep_writes)
    run = Transcript(keep_bytes=keep_bytes, keep_writes=keep_writes)
    offset = 0
    for batch in batches:
        start, ends = offset, []
        for data, what in batch:
            one.wrote(offset, 1.0, data, what)
            offset += len(data)
            ends.append(offset - start)
        run.wrote_run(start, 1.0, b"".join(d for d, _ in batch), ends, [w for _, w in batch])
    assert _state(run) == _state(one)
