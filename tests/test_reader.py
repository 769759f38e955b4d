"""client.reader: the byte shortcut gives what the decoder and the assembler give, chunk by chunk."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from client import reader as reader_module
from client.conversation import ReplyAssembler
from client.errors import FakeGptError
from client.reader import ReplyReader
from client.sse import SSEDecoder, SSELineTooLong
from tests.test_conversation import message


def snapshot(
    text: str, *, status: str = "in_progress", role: str = "assistant", **dumps: Any
) -> bytes:
    """A message event's block on the wire, as the emulator encodes one."""
    return b"data: " + message(text, status=status, role=role, **dumps).data.encode() + b"\n\n"


@dataclass
class Outcome:
    """What a reader gave: the deltas of each chunk, then the end."""

    chunks: list[str] = field(default_factory=list)
    error: str = ""
    text: str = ""
    discarded: int = 0


def reference(chunks: list[bytes], max_line: int | None = None) -> Outcome:
    """The full way for every event: SSEDecoder.feed, then ReplyAssembler.feed per event."""
    decoder, assembler, out = SSEDecoder(max_line=max_line), ReplyAssembler(), Outcome()
    for chunk in chunks:
        parts: list[str] = []
        try:
            # Appended one by one: the deltas before an error stay.
            parts.extend(assembler.feed(event) for event in decoder.feed(chunk))
        except (FakeGptError, SSELineTooLong) as exc:
            out.chunks.append("".join(parts))
            out.error = type(exc).__name__
            return out
        out.chunks.append("".join(parts))
        if assembler.done:
            break
    decoder.close()
    # After [DONE] the rest is not read, so what close() throws away is moot.
    out.discarded = 0 if assembler.done else decoder.discarded
    try:
        out.text = assembler.finish()
    except FakeGptError as exc:
        out.error = type(exc).__name__
    return out


def ours(chunks: list[bytes], max_line: int | None = None) -> Outcome:
    reader, out = ReplyReader(max_line=max_line), Outcome()
    for chunk in chunks:
        parts: list[str] = []
        try:
            reader.feed(chunk, parts)
        except (FakeGptError, SSELineTooLong) as exc:
            out.chunks.append("".join(parts))
            out.error = type(exc).__name__
            return out
        out.chunks.append("".join(parts))
        if reader.assembler.done:
            break
    try:
        out.text = reader.finish()
    except FakeGptError as exc:
        out.error = type(exc).__name__
    out.discarded = 0 if reader.assembler.done else reader.decoder.discarded
    return out


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


# -- generated streams --------------------------------------------------------------------

pieces = st.text(st.characters(blacklist_categories=["Cs"]), max_size=6) | st.sampled_from(
    ['"', "\\", "é", "😀", "\n", "\r", "\x00", "\u2028", "tok ", " ", ""]
)
OTHER_BLOCKS = [
    b"event: ping\ndata: {}\n\n",
    b": a comment\n",
    b"id: 7\n",
    b"retry: 15\n",
    b"event: moderation\n",
    b'data: {"message": null}\n\n',
    b"data: not json\n\n",
    b"\n",
    b"data: [DONE]\n\n",
    b'data: {"error": "upstream says no"}\n\n',
    b"\xef\xbb\xbf",
]


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """A cumulative reply with everything the shortcut must hand back: rewrites, odd encodings, other events."""
    text = draw(pieces)
    out: list[bytes] = []
    for _ in range(draw(st.integers(1, 14))):
        step = draw(
            st.sampled_from(
                ["extend"] * 6
                + ["repeat", "stale", "rewrite", "other", "final", "ascii", "crlf", "bad utf-8"]
                + ["no space", "two lines", "not a reply"]
            )
        )
        if step in ("extend", "ascii", "crlf", "bad utf-8", "no space", "two lines"):
            text += draw(pieces)
        elif step == "stale":
            text = text[: len(text) // 2]
        elif step == "rewrite":
            text = draw(pieces) + text[1:]
        if step == "other":
            out.append(draw(st.sampled_from(OTHER_BLOCKS)))
            continue
        block = snapshot(
            text,
            status="finished_successfully" if step == "final" else "in_progress",
            role="user" if step == "not a reply" else "assistant",
            ensure_ascii=step == "ascii",
        )
        if step == "crlf":
            block = block.replace(b"\n", b"\r\n")
        elif step == "bad utf-8":
            block = block.replace(b'"]', b'\xff"]', 1)
        elif step == "no space":
            block = b"data:" + block[6:]
        elif step == "two lines":
            block = block.replace(b'", ', b'",\ndata: ', 1)
        out.append(block)
    if draw(st.booleans()):
        out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def steady(n: int, *, final: bool = True) -> bytes:
    blocks = [snapshot("A" + " tok" * i) for i in range(n)]
    if final:
        blocks += [snapshot("A" + " tok" * n, status="finished_successfully"), b"data: [DONE]\n\n"]
    return b"".join(blocks)


@given(data=streams(), cuts=st.lists(st.integers(0, 10**6), max_size=12))
@example(data=steady(6), cuts=[])
@example(data=steady(6), cuts=[1, 700, 701, 1500])
@example(data=steady(3) + snapshot("B"), cuts=[50])  # a rewrite after a run
@example(data=steady(4, final=False)[:-1], cuts=[300])  # ends inside a block: discarded
@example(data=steady(3) + b'data: {"error": "x"}\n\n', cuts=[2])
@example(data=steady(2).replace(b"\n\n", b"\r\n\r\n"), cuts=[299])
def test_the_reader_gives_what_the_full_way_gives_at_any_cut(data: bytes, cuts: list[int]) -> None:
    chunks = cut(data, cuts)
    assert ours(chunks) == reference(chunks)


@given(data=streams(), size=st.integers(1, 64))
def test_the_reader_gives_what_the_full_way_gives_when_drip_fed(data: bytes, size: int) -> None:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert ours(chunks) == reference(chunks)


@given(data=streams(), cuts=st.lists(st.integers(0, 10**6), max_size=6), limit=st.integers(1, 400))
def test_a_line_limit_stops_both_ways_at_the_same_chunk(
    data: bytes, cuts: list[int], limit: int
) -> None:
    """The shortcut may deliver a chunk's text before the long line; never other text.

    And it reads nothing after ``[DONE]``, where the full way decodes the
    whole chunk ``[DONE]`` came in and so may meet a long line after it.
    """
    chunks = cut(data, cuts)
    got, want = ours(chunks, limit), reference(chunks, limit)
    if want.error != SSELineTooLong.__name__:
        assert got == want
        return
    unlimited = reference(chunks)
    if got.error != SSELineTooLong.__name__:
        assert got == unlimited
        return
    assert len(got.chunks) == len(want.chunks)
    assert got.chunks[:-1] == want.chunks[:-1]
    assert unlimited.chunks[len(got.chunks) - 1].startswith(got.chunks[-1])


def test_a_steady_reply_is_read_by_the_shortcut_but_for_one_block_per_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cumulative reply goes the full way for its first and last events only."""
    full_way: list[bytes] = []
    real = ReplyReader._full_way

    def counting(self: ReplyReader, data: bytes, deltas: list[str]) -> None:
        full_way.append(data)
        real(self, data, deltas)

    monkeypatch.setattr(ReplyReader, "_full_way", counting)
    data = steady(200)
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert ours(chunks) == reference(chunks)
    assert len(chunks) > 20
    # The first snapshot (its chunk), the final one and [DONE]: nothing between.
    assert len(full_way) <= 3
    assert sum(map(len, full_way)) < 4096 + 2 * len(data) // 200


def test_the_shortcut_compares_the_repeated_text_and_catches_a_changed_byte() -> None:
    """A rewrite deep inside the repeated text is found, not skipped over."""
    blocks = [snapshot("A" * 500 + "b" * i) for i in range(5)]
    blocks.append(snapshot("A" * 250 + "X" + "A" * 249 + "b" * 5))
    chunks = [b"".join(blocks)]
    got = ours(chunks)
    assert got.error == "SnapshotRewriteError"
    assert got == reference(chunks)


def test_the_block_end_search_finds_the_blank_line() -> None:
    block_end = reader_module._block_end
    assert block_end(b"data: a\n\ndata: b\n\n", 0) == 9
    assert block_end(b"data: a\nid: 1\n\nrest", 0) == 15
    assert block_end(b"data: a\n", 0) == 8  # the blank line is in the next chunk
    assert block_end(b"data: a", 0) == 7
    assert block_end(b"x\n\ny\n\n", 3) == 6
