"""emulator.engine: planning a scenario into writes, waits and faults, without sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from emulator import Fault, Reply, Scenario, Timing, Wire
from emulator.dialects.fakegpt import cache as templates
from emulator.dialects.fakegpt.cache import TemplateCache
from emulator.dialects.fakegpt.part import FakeGptPart
from emulator.dialects.fakegpt.plan import PlanError, plan
from emulator.dialects.fakegpt.stream import planned
from emulator.dialects.fakegpt.templates import FIELDS, Holes
from emulator.dialects.fakegpt.wire import StreamContext
from emulator.engine import stream
from emulator.engine.pieces import escaped_piece, piece_template
from emulator.engine.prepare import Prepared, _escape, prepare
from emulator.protocol.steps import Drop, Hold, Paced, Wait, Write
from emulator.scenario.text import cut_points, reply_text
from emulator.strategies import replies, wires

CTX = StreamContext(
    prompt="Tell me something.",
    message_id="m",
    conversation_id="c",
    parent_id="p",
    create_time=1.0,
    model="model",
    moderation_id="modr-1",
)


def scenario(**kwargs: object) -> Scenario:
    return Scenario(name="t", description="test", **kwargs)  # type: ignore[arg-type]


def written(s: Scenario) -> bytes:
    return b"".join(step.data for step in plan(s, CTX) if isinstance(step, Write))


@given(
    text=st.text(), cut=st.sampled_from(["token", "word", "char", "byte"]), size=st.integers(1, 9)
)
@example(text="a_b  c\u0301 👋🏽\n", cut="token", size=1)
@example(text="   ", cut="word", size=2)
def test_cut_points_partition_the_text(text: str, cut: str, size: int) -> None:
    ends = cut_points(text, cut, size)
    if not text:
        assert ends == []
        return
    assert ends[-1] == len(text)
    assert ends == sorted(set(ends)) and ends[0] > 0


def _bytes_each(text: str, size: int) -> list[int]:
    """A byte cut by its definition, a character at a time: each piece ends with the
    character that brings it to ``size`` UTF-8 bytes or more."""
    ends, taken = [], 0
    for i, ch in enumerate(text):
        taken += len(ch.encode("utf-8", "surrogatepass"))
        if taken >= size:
            ends.append(i + 1)
            taken = 0
    return [*(e for e in ends if e < len(text)), len(text)] if text else []


@given(
    text=st.text(st.characters(codec=None), max_size=60)
    | st.text(st.sampled_from("aé€😀\ud800 "), max_size=60),
    size=st.integers(1, 12),
)
@example(text="é" * 5, size=3)  # a piece ends past a two-byte character's first byte
@example(text="😀\ud800a", size=1)
@example(text="abcdef", size=3)  # ASCII, a whole number of pieces
def test_a_byte_cut_ends_each_piece_at_the_character_reaching_size_bytes(
    text: str, size: int
) -> None:
    assert cut_points(text, "byte", size) == _bytes_each(text, size)


def test_token_cuts_look_like_tokens() -> None:
    text = "Hello! How can I help you today?"
    ends = cut_points(text, "token", 1)
    pieces = [text[a:b] for a, b in zip([0, *ends], ends, strict=False)]
    assert pieces == ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]


def test_the_default_stream_ends_with_completion_and_done() -> None:
    data = written(scenario()).decode()
    blocks = data.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    assert json.loads(blocks[-3].removeprefix("data: "))["is_completion"] is True


def test_pacing_waits_are_scaled_and_add_up() -> None:
    s = scenario(
        timing=Timing(first_event=0.2, tokens_per_second=50),
        reply=Reply(text="a b c d e f g h i j", cut="word"),
    )
    waits = [step for step in plan(s, CTX) if isinstance(step, Wait)]
    assert waits[0] == Wait(0.2)
    assert all(w.scaled for w in waits)
    assert sum(w.seconds for w in waits[1:]) == pytest.approx(9 / 50)


def test_jitter_is_reproducible_from_its_seed() -> None:
    s = scenario(timing=Timing(tokens_per_second=10, jitter=0.5, seed=4))
    first = [w.seconds for w in plan(s, CTX) if isinstance(w, Wait)]
    assert first == [w.seconds for w in plan(s, CTX) if isinstance(w, Wait)]
    assert len(set(first)) > 1 and all(0.05 <= x <= 0.15 for x in first)


def test_a_stall_with_pings_is_unscaled_waits_and_pings() -> None:
    s = scenario(faults=(Fault("stall", at=1, seconds=1.0, ping_every=0.3),))
    steps = list(plan(s, CTX))
    waits = [w for w in steps if isinstance(w, Wait)]
    assert [w.seconds for w in waits] == pytest.approx([0.3, 0.3, 0.3, 0.1])
    assert not any(w.scaled for w in waits)
    assert sum(s.data.count(b"event: ping") for s in steps if isinstance(s, Write)) == 4


def test_drop_ends_the_plan_and_keep_open_holds() -> None:
    steps = list(plan(scenario(faults=(Fault("drop", at=2),)), CTX))
    assert isinstance(steps[-1], Drop) and b"[DONE]" not in b"".join(
        s.data for s in steps if isinstance(s, Write)
    )
    steps = list(plan(scenario(wire=Wire(after_done="keep_open", keep_open_seconds=3)), CTX))
    assert steps[-1] == Hold(3)


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_split_writes_cover_the_stream_exactly(chunk: int) -> None:
    whole = written(scenario())
    split = scenario(wire=Wire(chunk_size=chunk, split_pause=0))
    writes = [s.data for s in plan(split, CTX) if isinstance(s, Write)]
    assert b"".join(writes) == whole
    assert all(len(w) <= chunk for w in writes)


def test_split_at_offsets() -> None:
    writes = [
        s.data
        for s in plan(scenario(wire=Wire(split_at=(5, 9), split_pause=0)), CTX)
        if isinstance(s, Write)
    ]
    assert [len(w) for w in writes[:2]] == [5, 4]


def test_bom_line_endings_and_prefix() -> None:
    data = written(scenario(wire=Wire(bom=True, line_ending="\r\n", data_prefix="data:")))
    assert data.startswith(b"\xef\xbb\xbfdata:{") and data.endswith(b"data:[DONE]\r\n\r\n")
    assert b"\n\n" not in data.replace(b"\r\n", b"")


def test_empty_and_done_only_bodies() -> None:
    assert list(plan(scenario(parts=(FakeGptPart(body="empty"),)), CTX)) == []
    assert written(scenario(parts=(FakeGptPart(body="done_only"),))) == b"data: [DONE]\n\n"


def test_reply_text_sources() -> None:
    assert reply_text(Reply(echo=True, text=None), "abc") == "abc"
    assert reply_text(Reply(text="ab", repeat=3), "") == "ababab"
    faker = Reply(text=None, faker_sentences=3, faker_seed=1)
    assert (
        reply_text(faker, "") == reply_text(faker, "x") and reply_text(faker, "").count(".") >= 3
    )


def test_a_stream_too_large_to_send_is_refused() -> None:
    huge = scenario(reply=Reply(text="x" * 100_000, cut="char"))
    with pytest.raises(PlanError, match="would stream about"):
        plan(huge, CTX)


# -- templates: small streams are planned once and filled per request -----------------


def _afresh(s: Scenario, ctx: StreamContext) -> list[object]:
    """The stream planned step by step, as for a scenario no template covers."""
    own = s.part(FakeGptPart)
    if own.body == "empty":
        return []
    text = reply_text(s.reply, ctx.prompt)
    return _merged(planned(s, ctx, prepare(s, text, escape=own.cumulative)))


def _merged(steps: Iterable[object]) -> list[object]:
    """Steps with consecutive writes joined, as the player sends them (a paced stream:
    its writes and pauses, as the player plays it)."""
    out: list[object] = []
    for step in itertools.chain.from_iterable(
        s.writes if isinstance(s, Paced) else (s,) for s in steps
    ):
        if isinstance(step, Write) and out and isinstance(out[-1], Write):
            out[-1] = Write(out[-1].data + step.data)
        else:
            out.append(step)
    return out


_awkward = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@given(
    s=st.builds(
        Scenario,
        name=st.just("t"),
        description=st.just("template"),
        reply=replies(),
        wire=wires().flatmap(
            lambda w: st.builds(
                replace,
                st.just(w),
                chunk_size=st.just(0),
                after_done=st.sampled_from(["close", "keep_open"]),
                finish_type=st.sampled_from(["stop", "max_tokens"]),
            )
        ),
        parts=st.tuples(
            st.builds(
                FakeGptPart,
                encoding=st.sampled_from(["cumulative", "delta_v1"]),
                body=st.sampled_from(["stream", "stream", "done_only", "empty"]),
                moderation=st.booleans(),
            )
        ),
        timing=st.builds(
            Timing,
            first_event=st.sampled_from([0.0, 0.2]),
            tokens_per_second=st.sampled_from([0.0, 0.0, 40.0]),
            jitter=st.sampled_from([0.0, 0.3]),
        ),
    ),
    ids=st.tuples(_awkward, _awkward, _awkward, _awkward),
    create_time=st.floats(0, 2e9, allow_nan=False),
)
@example(
    s=scenario(reply=Reply(text="100% %s %(x)s \ue000")),
    ids=("%s", '"\\', "m\u2028", "%%"),
    create_time=1e-7,
)
def test_a_template_fills_in_exactly_the_stream_planned_afresh(
    s: Scenario, ids: tuple[str, str, str, str], create_time: float
) -> None:
    message_id, conversation_id, parent_id, model = ids
    ctx = CTX._replace(
        message_id=message_id,
        conversation_id=conversation_id,
        parent_id=parent_id,
        model=model,
        create_time=create_time,
    )
    cache = TemplateCache()
    assert _merged(plan(s, ctx, templates=cache)) == _afresh(s, ctx)
    # The second request is served from the template: the same again for other values.
    other = ctx._replace(message_id=ctx.message_id + "2", create_time=create_time + 1)
    assert _merged(plan(s, other, templates=cache)) == _afresh(s, other)


def test_small_fault_free_streams_are_templated_and_others_are_not() -> None:
    cache = TemplateCache()
    plain = scenario()
    first = _merged(plan(plain, CTX, templates=cache))
    # Seen once: planned directly, no template built yet.
    (entry,) = cache._entries.values()
    assert entry[0] is plain and entry[1] is templates._SEEN_ONCE
    # Seen twice: the template is built and used from then on.
    assert _merged(plan(plain, CTX, templates=cache)) == first
    (entry,) = cache._entries.values()
    assert isinstance(entry[1], templates._Template)
    assert _merged(plan(plain, CTX, templates=cache)) == first and len(cache._entries) == 1
    # An equal scenario that is another object gets its own entry, never another's.
    twin = scenario()
    assert _merged(plan(twin, CTX, templates=cache)) == first and len(cache._entries) == 2
    for other in (
        scenario(faults=(Fault("ping", at=1),)),
        scenario(wire=Wire(chunk_size=7)),
        scenario(wire=Wire(split_at=(3,))),
        scenario(reply=Reply(text="x" * 3000, cut="char")),  # 4.5 MB of snapshots
        scenario(reply=Reply(text="looks like a hole: \ue001model\ue001")),
    ):
        assert templates._template(other, reply_text(other.reply, "")) is None
        assert _merged(plan(other, CTX, templates=cache)) == _afresh(other, CTX)


def test_the_template_memory_is_bounded() -> None:
    cache = TemplateCache()
    echo = scenario(reply=Reply(echo=True))
    for i in range(templates.TEMPLATE_COUNT + 3):
        list(plan(echo, CTX._replace(prompt=f"prompt {i}"), templates=cache))
        list(plan(echo, CTX._replace(prompt=f"prompt {i}"), templates=cache))  # templated
    assert 0 < len(cache._entries) <= templates.TEMPLATE_COUNT


def test_the_templates_kept_are_bounded_in_bytes_oldest_first() -> None:
    # 1,000-character replies cut per character: about 600 kB of snapshots each.
    replies = [scenario(reply=Reply(text=f"{i}" + "y" * 999, cut="char")) for i in range(4)]
    cache = TemplateCache(budget=2 * 1024 * 1024)
    sizes: list[int] = []
    for s in replies:
        list(plan(s, CTX, templates=cache))
        steps = list(plan(s, CTX, templates=cache))  # templated
        assert _merged(iter(steps)) == _afresh(s, CTX)
        # Written in slices the player would send anyway, never one huge write.
        writes = [len(step.data) for step in steps if isinstance(step, Write)]
        assert len(writes) > 1 and max(writes) < stream.COALESCE_BYTES + 8 * 1024
        sizes.append(sum(writes))
        assert cache.kept <= cache.budget
    entries = cache._entries
    kept = [s for s in replies if (id(s), s.reply.text) in entries]
    assert kept == replies[-len(kept) :] and 1 <= len(kept) < len(replies)  # the newest
    held = [e[1] for e in cache._entries.values() if isinstance(e[1], templates._Template)]
    assert cache.kept == sum(t.size for t in held) > cache.budget - max(sizes)


async def test_a_due_template_is_built_once_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = TemplateCache()
    threads: list[int] = []
    real = templates._template

    def recording(s: Scenario, t: str) -> object:
        threads.append(threading.get_ident())
        return real(s, t)

    monkeypatch.setattr(templates, "_template", recording)
    # A text that is the same for every prompt: built on its first sight, once for a
    # burst of requests (they wait for the build), off the loop's thread.
    plain = scenario()
    text = reply_text(plain.reply, "")
    await asyncio.gather(*(cache.build_due(plain, text) for _ in range(5)))
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert _merged(plan(plain, CTX, templates=cache)) == _afresh(plain, CTX)
    await cache.build_due(plain, text)  # built already: nothing more
    assert len(threads) == 1
    # An echoed prompt: nothing on its first sight, built on its second.
    echo = scenario(reply=Reply(echo=True))
    ctx = CTX._replace(prompt="an echoed prompt")
    await cache.build_due(echo, ctx.prompt)
    assert len(threads) == 1
    list(plan(echo, ctx, templates=cache))  # seen once
    await cache.build_due(echo, ctx.prompt)
    assert len(threads) == 2 and threads[1] != threading.get_ident()
    assert _merged(plan(echo, ctx, templates=cache)) == _afresh(echo, ctx)
    assert sum(isinstance(e[1], templates._Template) for e in cache._entries.values()) == 2


def test_a_text_seen_once_costs_no_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Echoed prompts are mostly unique: building a template for each would be waste."""
    cache = TemplateCache()
    built: list[str] = []
    real = templates._template

    def counting(s: Scenario, text: str) -> object:
        built.append(text)
        return real(s, text)

    monkeypatch.setattr(templates, "_template", counting)
    echo = scenario(reply=Reply(echo=True))
    for i in range(20):
        list(plan(echo, CTX._replace(prompt=f"unique prompt {i}"), templates=cache))
    assert built == []
    list(plan(echo, CTX._replace(prompt="unique prompt 3"), templates=cache))
    assert built == ["unique prompt 3"]


def test_the_size_limit_holds_for_templated_streams_too() -> None:
    small = scenario()
    cache = TemplateCache()
    list(plan(small, CTX, templates=cache))
    list(plan(small, CTX, templates=cache))  # templated now
    with pytest.raises(PlanError, match="would stream about"):
        plan(small, CTX, max_bytes=10, templates=cache)


_FIELD_NAMES = st.sampled_from(list(FIELDS))


@given(
    st.lists(
        st.tuples(st.sampled_from([b"", b", ", b'"}, {"id": ', b"%s%%"]), _FIELD_NAMES),
        min_size=1,
        max_size=80,
    ),
    st.lists(st.binary(max_size=40), min_size=1, max_size=80),
    st.fixed_dictionaries({name: st.binary(max_size=12) for name in FIELDS}),
)
@example(  # a cumulative batch's shape: one envelope run between growing texts
    [(b", ", "message_id"), (b'"}, {"id": ', "model")] * 20,
    [b"data: " + b"x" * i for i in range(40)],
    {name: f'"{name}"'.encode() for name in FIELDS},
)
def test_a_large_template_fills_run_by_run_exactly_as_hole_by_hole(
    glue: list[tuple[bytes, str]], texts: list[bytes], values: dict[str, bytes]
) -> None:
    """Runs of holes joined by recurring segments are filled once; the bytes are the same."""
    segments: list[bytes] = [texts[0]]
    fields: list[str] = []
    for i, (seg, name) in enumerate(glue):
        fields.append(name)
        # Every other segment is glue that recurs, the rest a text of its own.
        segments.append(seg if i % 2 == 0 else texts[i % len(texts)] + bytes([i % 256]))
    holes = Holes(tuple(segments), tuple(fields))
    plain = Holes(tuple(segments), tuple(fields), runs=False)
    expected = b"".join(s + values[f] for s, f in zip(segments, fields, strict=False))
    expected += segments[-1]
    assert holes.fill(values) == plain.fill(values) == expected
    if len(fields) >= 40:
        assert holes._runs is not None  # the large, repetitive ones take the fast path


_NASTY_CHARS = st.text(st.sampled_from(['"', ",", " ", "\\", "a", "é", "\n", "👋", "\u2028"]))


@given(pieces=st.lists(_NASTY_CHARS, min_size=1, max_size=12), ensure_ascii=st.booleans())
@example(pieces=['", ', '"un'], ensure_ascii=False)  # the separator inside a piece
@example(pieces=['", ', '", ', "x"], ensure_ascii=True)
@example(pieces=['\\", ', "y"], ensure_ascii=False)  # an escaped backslash, then the quote
def test_every_piece_is_escaped_as_json_dumps_escapes_it_alone(
    pieces: list[str], ensure_ascii: bool
) -> None:
    text = "".join(pieces)
    ends = list(itertools.accumulate(map(len, pieces)))
    escaped, offsets = _escape(text, tuple(ends), ensure_ascii)
    prepared = Prepared(text, ends, escaped, offsets)
    for number, piece in enumerate(pieces, 1):
        want = json.dumps(piece, ensure_ascii=ensure_ascii)[1:-1].encode()
        assert escaped_piece(prepared, number) == want


def test_a_piece_template_fills_as_a_whole_dump_would_and_declines_an_ambiguous_marker() -> None:
    def event(number: str, text: str, model: str = "m") -> bytes:
        return json.dumps({"n": number, "model": model, "delta": text}).encode()

    template = piece_template(event, "value", "text")
    assert template is not None
    filled = template.fill(b"7", json.dumps('say "hi" 👋')[1:-1].encode())
    assert json.loads(filled) == {"n": 7, "model": "m", "delta": 'say "hi" 👋'}
    # A request that puts a marker in the event itself: no template, each event dumped.
    assert piece_template(lambda n, t: event(n, t, model="~<hole1>~"), "value", "text") is None
