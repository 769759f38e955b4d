"""client.conversation: events to deltas, and the snapshot fast path's equivalence to json.loads."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from client import snapshots
from client.conversation import ReplyAssembler
from client.errors import (
    IncompleteStreamError,
    NoValidResponseError,
    SnapshotRewriteError,
    UpstreamStreamError,
)
from client.snapshots import _parse_snapshot
from client.sse import ServerSentEvent
from emulator.dialects.fakegpt.wire import message_object


def message(
    text: str,
    *,
    status: str = "in_progress",
    role: str = "assistant",
    kind: str = "next",
    **dumps: Any,
) -> ServerSentEvent:
    obj = message_object(
        message_id="m",
        conversation_id="c",
        parent_id="p",
        create_time=1.0,
        status=status,
        finish_type="stop" if status == "finished_successfully" else None,
        role=role,
        message_type=kind,
        text=text,
    )
    return ServerSentEvent(json.dumps(obj, **dumps))


DONE = ServerSentEvent("[DONE]")


def run(events: list[ServerSentEvent], *, dropped: BaseException | None = None) -> list[str]:
    assembler = ReplyAssembler()
    deltas = [d for e in events if (d := assembler.feed(e))]
    assert assembler.finish(dropped=dropped) == "".join(deltas)
    return deltas


def test_cumulative_snapshots_become_deltas() -> None:
    events = [
        message(""),
        message("Hel"),
        message("Hello"),
        message("Hello!", status="finished_successfully"),
        DONE,
    ]
    assert run(events) == ["Hel", "lo", "!"]


def test_stale_and_repeated_snapshots_add_nothing() -> None:
    events = [message("Hello"), message("Hel"), message("Hello"), message("Hello world"), DONE]
    assert run(events) == ["Hello", " world"]


def test_a_rewrite_raises_rather_than_yield_wrong_text() -> None:
    assembler = ReplyAssembler()
    assert assembler.feed(message("Hello wor")) == "Hello wor"
    with pytest.raises(SnapshotRewriteError) as caught:
        assembler.feed(message("Goodbye"))
    assert caught.value.yielded == "Hello wor"
    assert caught.value.snapshot == "Goodbye"
    assert "diverges at character 0" in str(caught.value)


def test_a_final_snapshot_shorter_than_what_was_yielded_is_a_rewrite() -> None:
    assembler = ReplyAssembler()
    assembler.feed(message("Hello world"))
    with pytest.raises(SnapshotRewriteError):
        assembler.feed(message("Hello", status="finished_successfully"))


@pytest.mark.parametrize(
    "event",
    [
        ServerSentEvent("1701830889.4", event="ping"),
        ServerSentEvent('{"conversation_id": "c", "num_variants_in_stream": 2}'),
        ServerSentEvent('{"conversation_id": "c", "message_id": "m", "is_completion": true}'),
        ServerSentEvent('{"message": {"id": '),
        ServerSentEvent("[1, 2, 3]"),
        ServerSentEvent("[" * 100_000),
        message("a user echo", role="user"),
        message("a variant", kind="variant"),
    ],
    ids=[
        "ping",
        "num_variants",
        "moderation",
        "malformed",
        "not-an-object",
        "deep",
        "user",
        "variant",
    ],
)
def test_events_that_are_not_the_reply_are_skipped(event: ServerSentEvent) -> None:
    assert run(
        [message("Hi"), event, message("Hi there", status="finished_successfully"), DONE]
    ) == [
        "Hi",
        " there",
    ]


def test_an_error_in_the_stream_raises_with_its_text() -> None:
    assembler = ReplyAssembler()
    assembler.feed(message("Hi"))
    with pytest.raises(UpstreamStreamError, match="rate limited, sorry"):
        assembler.feed(
            ServerSentEvent(
                '{"message": null, "conversation_id": "c", "error": "rate limited, sorry"}'
            )
        )


def test_done_stops_reading() -> None:
    assert run([message("One"), DONE, message("One two")]) == ["One"]


@pytest.mark.parametrize(
    "events", [[], [DONE], [message(""), DONE]], ids=["empty", "done-only", "empty-text"]
)
def test_no_text_is_no_valid_response(events: list[ServerSentEvent]) -> None:
    assembler = ReplyAssembler()
    for e in events:
        assert assembler.feed(e) == ""
    with pytest.raises(NoValidResponseError, match="No valid response") as caught:
        assembler.finish()
    assert isinstance(caught.value, RuntimeError)


def test_end_without_done_is_complete_only_after_a_finished_message() -> None:
    assert run([message("Hi"), message("Hi!", status="finished_successfully")]) == ["Hi", "!"]
    assembler = ReplyAssembler()
    assembler.feed(message("Hi"))
    with pytest.raises(IncompleteStreamError) as caught:
        assembler.finish()
    assert caught.value.text == "Hi"


def test_a_drop_is_never_a_complete_reply() -> None:
    assembler = ReplyAssembler()
    assembler.feed(message("Hi", status="finished_successfully"))
    with pytest.raises(IncompleteStreamError, match="dropped"):
        assembler.finish(dropped=ConnectionResetError())


def test_delta_encoding_v1() -> None:
    add = {"p": "", "o": "add", "v": json.loads(message("").data), "c": 0}
    events = [
        ServerSentEvent('"v1"', event="delta_encoding"),
        ServerSentEvent(json.dumps(add), event="delta"),
        ServerSentEvent(
            json.dumps({"p": "/message/content/parts/0", "o": "append", "v": "Hel"}), event="delta"
        ),
        ServerSentEvent(json.dumps({"v": "lo"}), event="delta"),
        ServerSentEvent(
            json.dumps(
                {
                    "p": "",
                    "o": "patch",
                    "v": [
                        {"p": "/message/content/parts/0", "o": "append", "v": "!"},
                        {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
                    ],
                }
            ),
            event="delta",
        ),
        DONE,
    ]
    assert run(events) == ["Hel", "lo", "!"]


# -- the fast path gives exactly what json.loads gives ------------------------------


def snapshot_text(parsed: tuple[Any, str, str | None, str | None], previous: str) -> str:
    """The snapshot's text from the fast path's answer (a piece, or the whole)."""
    _, _, piece, text = parsed
    return previous + piece if piece is not None else str(text)


def with_text(obj: dict[str, Any], text: str) -> dict[str, Any]:
    """The fast path's event with its text put back where the placeholder stands."""
    out = copy.deepcopy(obj)
    out["message"]["content"]["parts"][0] = text
    return out


def test_the_fast_path_is_taken_for_every_snapshot_of_a_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fast path that silently falls back to a full parse is still correct,
    # which no equality check can see: count the full parses instead.
    full_parses: list[str] = []
    real_loads = json.loads

    def counting_loads(s: str, **kwargs: Any) -> Any:
        full_parses.append(s)
        return real_loads(s, **kwargs)

    monkeypatch.setattr(snapshots.json, "loads", counting_loads)
    events = [message("A"), *(message("A" + "b" * n) for n in range(1, 40)), DONE]
    assert "".join(run(events)) == "A" + "b" * 39
    # Only the first snapshot's text literal is decoded with json.loads; no
    # event is ever parsed whole.
    assert [s for s in full_parses if s.startswith("{")] == []


texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30) | st.sampled_from(
    ['\\"', '"', "\\", "\\\\", '\\\\"', "\ud83d", "NaN", '"parts": ["x"]', "\u2028"]
)


@given(
    prefix=texts,
    suffix=texts,
    ensure_ascii=st.booleans(),
    indent=st.none() | st.just(1),
    separators=st.sampled_from([None, (",", ":")]),
)
@example(prefix="a\\", suffix='"b', ensure_ascii=False, indent=None, separators=None)
@example(prefix="\ud83d", suffix="\ude00", ensure_ascii=True, indent=None, separators=None)
@example(prefix='"parts": ["', suffix="x", ensure_ascii=False, indent=None, separators=None)
def test_fast_path_equals_full_parse(
    prefix: str,
    suffix: str,
    ensure_ascii: bool,
    indent: int | None,
    separators: tuple[str, str] | None,
) -> None:
    dumps = {"ensure_ascii": ensure_ascii, "indent": indent, "separators": separators}
    first = message(prefix, **dumps).data
    second = message(prefix + suffix, **dumps).data
    parsed_first = _parse_snapshot(first, "", "")
    assert parsed_first is not None
    obj, raw, piece, text = parsed_first
    assert piece is None and text is not None
    assert with_text(obj, text) == json.loads(first) and text == prefix
    parsed = _parse_snapshot(second, raw, text[-1:])
    assert parsed is not None
    full = json.loads(second)
    second_text = snapshot_text(parsed, text)
    assert with_text(parsed[0], second_text) == full
    # Equal to the full parse, which pairs a \ud83d\ude00 split across snapshots.
    assert second_text == full["message"]["content"]["parts"][0]


@pytest.mark.parametrize(
    "data",
    [
        '{"message": {"content": {"parts": ["a"]}}, "x": NaN}',  # a second constant
        '{"message": {"content": {"parts": ["a"]}}, "message": {"content": {"parts": ["b"]}}}',
        '{"k": "\\"parts\\": [\\"", "message": {"content": {"parts": ["real"]}}}',
        '{"message": {"content": {"parts": ["unterminated',
        '{"message": {"content": {"parts": ["bad \\x escape"]}}}',
    ],
)
def test_fast_path_declines_or_agrees_on_tricky_events(data: str) -> None:
    parsed = _parse_snapshot(data, "", "")
    try:
        full = json.loads(data)
    except ValueError:
        assert parsed is None
        return
    if parsed is not None:
        text = snapshot_text(parsed, "")
        assert with_text(parsed[0], text) == full
        assert text == full["message"]["content"]["parts"][0]


@given(
    steps=st.lists(
        st.tuples(
            texts,
            st.sampled_from(["extend", "extend", "extend", "replace"]),
            st.sampled_from(["in_progress", "in_progress", "finished_successfully"]),
            st.sampled_from(["next", "variant", "nexy"]),
        ),
        min_size=1,
        max_size=8,
    ),
    ensure_ascii=st.booleans(),
)
@example(
    steps=[
        ("a", "extend", "in_progress", "next"),
        ('"], "x": ["', "extend", "in_progress", "next"),
    ],
    ensure_ascii=False,
)
@example(
    steps=[
        ("\ud83d", "extend", "in_progress", "next"),
        ("\ude00", "extend", "in_progress", "next"),
    ],
    ensure_ascii=True,
)
@example(  # a tail of the same length but other content: not the cached envelope
    steps=[("a", "extend", "in_progress", "next"), ("b", "extend", "in_progress", "nexy")],
    ensure_ascii=False,
)
def test_the_envelope_shortcut_answers_as_parsing_afresh(
    steps: list[tuple[str, str, str, str]], ensure_ascii: bool
) -> None:
    """With the cache (as the assembler calls it) or without, the same answer."""
    counter = snapshots._ConstantCounter()
    decoder = json.JSONDecoder(parse_constant=counter)
    cache: list[Any] = ["", None, "", ""]
    text = prev_raw = prev_last = ""
    for piece, how, status, kind in steps:
        text = text + piece if how == "extend" else piece
        data = message(text, status=status, kind=kind, ensure_ascii=ensure_ascii).data
        cached = _parse_snapshot(data, prev_raw, prev_last, decoder, counter, cache)
        fresh = _parse_snapshot(data, prev_raw, prev_last)
        assert (cached is None) == (fresh is None)
        if cached is None or fresh is None:
            prev_raw = prev_last = ""
            continue
        assert cached[1:] == fresh[1:]
        previous = json.loads(f'"{prev_raw}"') if prev_raw else ""
        got = snapshot_text(cached, previous)
        assert with_text(cached[0], got) == with_text(fresh[0], got) == json.loads(data)
        prev_raw, prev_last = cached[1], got[-1:]


def test_the_envelope_shortcut_is_taken_for_every_snapshot_after_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    searches: list[str] = []
    real = snapshots._text_literal_start

    def counting(data: str) -> int:
        searches.append(data)
        return real(data)

    monkeypatch.setattr(snapshots, "_text_literal_start", counting)
    events = [message("A"), *(message("A" + "b" * n) for n in range(1, 40))]
    events.append(message("A" + "b" * 40, status="finished_successfully"))
    assert "".join(run([*events, DONE])) == "A" + "b" * 40
    # The first event, and the final one (its envelope differs): searched.
    assert len(searches) == 2


def test_the_envelope_shortcut_ends_the_literal_where_json_does() -> None:
    """Same head, same tail, but the text closes early: the general path decides."""
    counter = snapshots._ConstantCounter()
    decoder = json.JSONDecoder(parse_constant=counter)
    cache: list[Any] = ["", None, "", ""]
    first = message("ab").data
    parsed = _parse_snapshot(first, "", "", decoder, counter, cache)
    assert parsed is not None
    head, tail = cache[2], cache[3]
    forged = head + 'ab", "c' + tail  # parts is now ["ab", "c"]: its first part is "ab"
    cached = _parse_snapshot(forged, parsed[1], "b", decoder, counter, cache)
    assert cached == _parse_snapshot(forged, parsed[1], "b")
    if cached is not None:
        assert snapshot_text(cached, "ab") == json.loads(forged)["message"]["content"]["parts"][0]
