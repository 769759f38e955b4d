"""client.sse: the WHATWG event-stream interpretation, whole and drip-fed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from client.sse import ServerSentEvent, SSEDecoder, SSELineTooLong
from emulator.protocol.sse import SSEFormat


def decode(data: bytes, chunk: int | None = None) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    if chunk is None:
        events = decoder.feed(data)
    else:
        events = [e for i in range(0, len(data), chunk) for e in decoder.feed(data[i : i + chunk])]
    decoder.close()
    return events


def decode_at(data: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += decoder.feed(data[start:cut])
        start = cut
    decoder.close()
    return events


CHUNK_SIZES = [None, *range(1, 12)]


# -- the WHATWG spec's own examples (section 9.2.6 and its notes) --------------


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_spec_example_multiline_data_is_joined_with_lf(chunk: int | None) -> None:
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode(stream, chunk) == [ServerSentEvent(data="YHOO\n+2\n10")]


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_spec_example_comments_ids_and_one_leading_space(chunk: int | None) -> None:
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n\n"
    )
    assert decode(stream, chunk) == [
        ServerSentEvent(data="first event", id="1"),
        ServerSentEvent(data="second event", id=""),
        ServerSentEvent(data=" third event", id=""),
    ]


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_spec_example_empty_data_fields_and_unterminated_last_event(chunk: int | None) -> None:
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert decode(stream, chunk) == [ServerSentEvent(data=""), ServerSentEvent(data="\n")]


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_spec_example_space_after_colon_is_optional(chunk: int | None) -> None:
    assert decode(b"data:test\n\ndata: test\n\n", chunk) == [ServerSentEvent("test")] * 2


# -- line endings, BOM, fields --------------------------------------------------


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_every_line_ending_is_accepted(ending: bytes, chunk: int | None) -> None:
    stream = ending.join([b"event: update", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode(stream, chunk) == [ServerSentEvent("a\nb", event="update"), ServerSentEvent("c")]


def test_cr_at_chunk_end_then_lf_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent("x")]  # CRLF, then CR: blank line
    assert decoder.feed(b"\ndata: y\n\n") == [ServerSentEvent("y")]


def test_cr_cr_is_two_line_ends_across_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\r") == [ServerSentEvent("x")]


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_one_leading_bom_is_ignored_and_a_second_is_not(chunk: int | None) -> None:
    bom = b"\xef\xbb\xbf"
    assert decode(bom + b"data: a\n\n", chunk) == [ServerSentEvent("a")]
    # The second BOM becomes part of the field name, which is then unknown.
    assert decode(bom + bom + b"data: a\n\n", chunk) == []


def test_bom_split_over_chunks_and_a_stream_shorter_than_a_bom() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbfdata: a\n\n") == [ServerSentEvent("a")]
    assert decode(b"\xef\xbb") == []
    assert decode(b"\xefdata: a\n\n") == []  # not a BOM: a mangled field name


def test_event_type_resets_after_dispatch() -> None:
    assert decode(b"event: ping\ndata: 1\n\ndata: 2\n\n") == [
        ServerSentEvent("1", event="ping"),
        ServerSentEvent("2"),
    ]


def test_no_dispatch_when_data_buffer_is_empty_but_id_persists() -> None:
    events = decode(b"id: 7\nevent: x\n\ndata: a\n\nid: 8\n\ndata: b\n\n")
    assert events == [ServerSentEvent("a", id="7"), ServerSentEvent("b", id="8")]


def test_id_containing_nul_is_ignored() -> None:
    assert decode(b"id: 1\n\nid: a\x00b\ndata: x\n\n") == [ServerSentEvent("x", id="1")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b"3000", 3000), (b"0", 0), (b"-1", None), (b"1.5", None), (b"", None), ("٣".encode(), None)],
)
def test_retry_only_when_all_ascii_digits(value: bytes, expected: int | None) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: " + value + b"\ndata: x\n\n")
    assert events == [ServerSentEvent("x", retry=expected)]
    assert decoder.retry == expected


def test_unknown_fields_and_field_without_colon_are_ignored() -> None:
    assert decode(b"foo: bar\nbaz\ndata: x\n\n") == [ServerSentEvent("x")]


def test_nel_and_line_separator_do_not_split_lines() -> None:
    text = "a\x85b\u2028c\u2029d"
    assert decode(f"data: {text}\n\n".encode()) == [ServerSentEvent(text)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_multibyte_characters_split_across_chunks(chunk: int) -> None:
    text = "ж漢👋🏽e\u0301"
    assert decode(f"data: {text}\n\n".encode(), chunk) == [ServerSentEvent(text)]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: \xff\xc3(\n\n") == [ServerSentEvent("\ufffd\ufffd(")]


def test_close_discards_an_unterminated_event_and_reports_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: complete\n\ndata: partial\n") == [ServerSentEvent("complete")]
    assert decoder.has_pending
    decoder.close()
    assert decoder.discarded == len("partial")
    assert not decoder.has_pending


def test_ten_mebibyte_line() -> None:
    payload = b"x" * (10 * 1024 * 1024)
    decoder = SSEDecoder()
    events = [
        e for i in range(0, len(payload), 65536) for e in decoder.feed(payload[i : i + 65536])
    ]
    events += decoder.feed(b"" + b"\n\n")
    assert events == []  # a field named xxxx…, ignored
    events = decode(b"data: " + payload + b"\n\n", 65536)
    assert len(events) == 1 and len(events[0].data) == len(payload)


@pytest.mark.timeout(30)
def test_one_byte_at_a_time_is_linear() -> None:
    # A decoder that re-joins its buffer on every byte would copy ~10^11
    # bytes here and run into the timeout; a linear one takes well under it.
    payload = b"data: " + b"y" * (512 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    events = []
    for i in range(len(payload)):
        events += decoder.feed(payload[i : i + 1])
    assert len(events) == 1 and len(events[0].data) == 512 * 1024


def test_max_line_limits_buffering() -> None:
    decoder = SSEDecoder(max_line=16)
    assert decoder.feed(b"data: short\n\n") == [ServerSentEvent("short")]
    assert decoder.feed(b"data: 0123456789") == []  # 16 bytes: at the limit
    with pytest.raises(SSELineTooLong, match="16 bytes"):
        decoder.feed(b"0")
    with pytest.raises(ValueError, match="positive"):
        SSEDecoder(max_line=0)


def test_empty_feed_is_harmless() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"data: a\n\n") == [ServerSentEvent("a")]


# -- properties ---------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One event block as a test model: what is written and what it must decode to."""

    data: list[str]
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None


line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=20
)
name_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=10,
)
blocks = st.lists(
    st.builds(
        Block,
        data=st.lists(line_text, max_size=3),
        event=st.none() | name_text,
        id=st.none() | name_text,
        retry=st.none() | st.integers(0, 10**6),
        comment=st.none() | line_text,
    ),
    max_size=8,
)
endings = st.sampled_from(["\n", "\r\n", "\r"])


def serialize(items: list[Block], ending: str, bom: bool) -> bytes:
    lines: list[str] = []
    for b in items:
        if b.comment is not None:
            lines.append(":" + b.comment)
        if b.event is not None:
            lines.append("event: " + b.event)
        if b.id is not None:
            lines.append("id: " + b.id)
        if b.retry is not None:
            lines.append(f"retry: {b.retry}")
        lines.extend("data: " + d for d in b.data)
        lines.append("")
    return (b"\xef\xbb\xbf" if bom else b"") + "".join(line + ending for line in lines).encode()


def expected(items: list[Block]) -> list[ServerSentEvent]:
    out = []
    last_id = ""
    for b in items:
        if b.id is not None:
            last_id = b.id
        if b.data:
            out.append(
                ServerSentEvent(
                    "\n".join(b.data), event=b.event or "message", id=last_id, retry=b.retry
                )
            )
    return out


@given(items=blocks, ending=endings, bom=st.booleans(), cuts=st.lists(st.integers(0, 2000)))
@example(items=[Block(["a"], None, None, None, None)], ending="\r\n", bom=False, cuts=[7])
@example(items=[Block(["a"], None, None, None, None)], ending="\r\n", bom=True, cuts=[1, 2])
@example(items=[Block(["\x85\u2028x"], "e", "1", 5, "c")], ending="\r", bom=False, cuts=[3, 8])
@example(items=[Block(["ж👋"], None, None, None, None)], ending="\n", bom=False, cuts=[7, 8, 9])
@example(  # a line spanning three chunks (the tail must not be glued to the pending line)
    items=[Block(["abcdefgh"], None, None, None, None), Block(["ij"], None, None, None, None)],
    ending="\n",
    bom=False,
    cuts=[3, 8, 20],
)
def test_any_split_decodes_to_the_model(
    items: list[Block], ending: str, bom: bool, cuts: list[int]
) -> None:
    data = serialize(items, ending, bom)
    want = expected(items)
    assert decode(data) == want
    assert decode_at(data, [c for c in cuts if c <= len(data)]) == want


@given(items=blocks, ending=endings, size=st.integers(1, 64))
def test_every_chunk_size_decodes_the_same(items: list[Block], ending: str, size: int) -> None:
    data = serialize(items, ending, False)
    assert decode(data, size) == decode(data)


@given(
    events=st.lists(st.tuples(st.text(max_size=40), st.none() | name_text), max_size=6),
    fmt=st.builds(
        SSEFormat,
        line_ending=endings,
        data_prefix=st.sampled_from(["data: ", "data:"]),
    ),
    cuts=st.lists(st.integers(0, 500)),
)
@example(events=[("\r\n", None)], fmt=SSEFormat(), cuts=[])
def test_round_trip_with_the_emulators_encoder(
    events: list[tuple[str, str | None]], fmt: SSEFormat, cuts: list[int]
) -> None:
    # The emulator's encoder splits data on LF; CR in data cannot travel in SSE.
    events = [(d.replace("\r", ""), e) for d, e in events]
    data = b"".join(fmt.event(d, e) for d, e in events)
    got = decode_at(data, [c for c in cuts if c <= len(data)])

    def after_prefix(line: str) -> str:
        # "data:" then a line that starts with a space: the decoder strips that
        # one space, as the spec says; "data: " protects it.
        return line[1:] if fmt.data_prefix == "data:" and line.startswith(" ") else line

    want = [("\n".join(after_prefix(x) for x in d.split("\n")), e or "message") for d, e in events]
    assert [(e.data, e.event) for e in got] == want


@given(st.binary(max_size=400), st.lists(st.integers(0, 400)))
@example(b"\r", [])
@example(b"\xef\xbb", [1])
@example(b"data:\xff\n\n", [6])
@example(b"retry:\xd9\xa3\n\n", [])
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    whole = decode(data)
    assert decode_at(data, [c for c in cuts if c <= len(data)]) == whole
    assert all(isinstance(e.data, str) for e in whole)
