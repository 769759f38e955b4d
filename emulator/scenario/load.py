"""Reading scenario files: strict TOML into :mod:`~emulator.scenario.model` values. Pure.

Files are parsed eagerly and strictly: an unknown key, a wrong type or an
out-of-range value raises one :class:`ScenarioError` naming the file, the
key (``faults[2].kind``) and what was expected. See ``scenarios/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from .faults import FAULT_KINDS, FAULTS
from .match import match_from_table
from .model import (
    MAX_FAULT_WRITES,
    MAX_FAULTS,
    MAX_HTTP_ERRORS,
    AfterDone,
    ApiPart,
    CutWith,
    DataPrefix,
    Distribution,
    ErrorBody,
    ErrorCause,
    Expect,
    Fault,
    FinishType,
    HttpError,
    LineEnding,
    RateLimit,
    Reply,
    Scenario,
    ScenarioError,
    Timing,
    Transport,
    Turn,
    Wire,
)
from .outcomes import FAILURES
from .parts import endpoints, parts
from .recording import recording_from_table
from .reply import reply_from_table
from .table import Table
from .turns import check_ties, turn_tables

__all__ = ["load_scenario", "load_scenarios", "scenario_from_dict"]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; its name is the file's stem."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot be read: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"is not valid TOML: {exc}") from exc
    return scenario_from_dict(data, name=path.stem, source=source, folder=path.parent)


def load_scenarios(folder: str | Path) -> dict[str, Scenario]:
    """Every ``*.toml`` in a folder, by name; the first bad file raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "is not a folder of scenario files")
    return {p.stem: load_scenario(p) for p in sorted(folder.glob("*.toml"))}


def scenario_from_dict(
    data: Mapping[str, Any],
    *,
    name: str | None = None,
    source: str = "<python>",
    folder: Path | None = None,
    path: str = "",
) -> Scenario:
    """Validate a scenario given as a dict (a parsed TOML file, or JSON from the admin API).

    ``folder``: where the file it came from lies (a recording's ``file`` is
    looked for there); None for a table that came from no file. ``path``: where
    the table is in its file ("": the whole file; ``turns[1]`` for a turn's).
    """
    top = Table(source, path, data)
    scenario_name = top.text("name", name or _inline_name(data))
    description = top.text("description", "")
    if not description.strip():
        raise ScenarioError(source, "description", "is required: one line saying what happens")
    reply = reply_from_table(top.table("reply"))
    timing = _timing(top.table("timing"))
    wire_table = top.table("wire")
    wire = _wire(wire_table)
    # Each API's own keys, where files have always written them (FakeGpt's login, …).
    own = tuple(p.read(top, wire_table) for p in parts())
    wire_table.finish()
    own = tuple(p for p in own if p != type(p)())
    faults = tuple(_fault(t) for t in top.tables("faults", limit=MAX_FAULTS))
    writes = sum(f.count for f in faults)
    if writes > MAX_FAULT_WRITES:
        raise ScenarioError(
            source,
            "faults",
            f"ask for {writes:,} writes in all; the limit is {MAX_FAULT_WRITES:,}",
        )
    http_errors = tuple(_http_error(t) for t in top.tables("http_errors", limit=MAX_HTTP_ERRORS))
    transport = _transport(top.table("transport"))
    recording = (
        recording_from_table(top.table("recording"), folder) if "recording" in data else None
    )
    if recording is not None and "reply" in data:
        raise ScenarioError(source, "reply", "a recording replaces the reply: give one of them")
    limit = top.table("rate_limit")
    rate_limit = RateLimit(limit.integer("tokens", 0, minimum=0),
                           limit.number("window", 60.0, minimum=0.01, maximum=86_400.0))  # fmt: skip
    limit.finish()
    expect = _expect(top.table("expect"), reply)
    match = match_from_table(top.table("match")) if "match" in data else None
    if match is not None and match.nth is not None:
        raise ScenarioError(source, "match.nth", "counts the requests of one scenario's "
                            "turns: give it in a [turns.match]")  # fmt: skip
    turns = _turns(top, scenario_name, source, folder)
    top.finish()
    for i, fault in enumerate(faults if recording is not None else ()):
        if FAULTS[fault.kind].cumulative_only:
            raise ScenarioError(
                source,
                f"faults[{i}].kind",
                f"{fault.kind!r} resends a snapshot of the reply; a recording has none to resend",
            )
    _check_fit(own, faults, source)
    return Scenario(
        name=scenario_name,
        description=description.strip(),
        reply=reply,
        timing=timing,
        wire=wire,
        faults=faults,
        http_errors=http_errors,
        transport=transport,
        recording=recording,
        rate_limit=rate_limit,
        expect=expect,
        source=source,
        match=match,
        turns=turns,
        parts=own,
    )


def _check_fit(own: tuple[ApiPart, ...], faults: tuple[Fault, ...], source: str) -> None:
    """A fault an API's part rules out (FakeGpt's delta_v1 has no snapshots to resend)."""
    for part in own:
        for i, fault in enumerate(faults):
            reason = part.unfit(FAULTS[fault.kind])
            if reason is not None:
                raise ScenarioError(source, f"faults[{i}].kind", f"{fault.kind!r} {reason}")


def _turns(top: Table, name: str, source: str, folder: Path | None) -> tuple[Turn, ...]:
    """The scenario's ``[[turns]]``, each read as a scenario of its own (``NAME#N``)."""
    if "turns" not in top.data:
        return ()
    turns = []
    for i, (t, match, data) in enumerate(turn_tables(top)):
        turn = scenario_from_dict(data, name=f"{name}#{i + 1}", source=source, folder=folder,
                                  path=t.path)  # fmt: skip
        turns.append(Turn(match, turn))
    check_ties(((f"turns[{i}]", t.match, source) for i, t in enumerate(turns)), "{name}.match")
    return tuple(turns)


def _inline_name(data: Mapping[str, Any]) -> str:
    """A name for a scenario given without one: ``inline-`` and a digest of its content,
    so two different tables never share a name (and one table keeps its name)."""
    digest = hashlib.blake2b(
        json.dumps(data, sort_keys=True, default=repr).encode(), digest_size=4
    ).hexdigest()
    return f"inline-{digest}"


def _timing(t: Table) -> Timing:
    timing = Timing(
        first_event=t.number("first_event", 0.0, minimum=0.0),
        tokens_per_second=t.number("tokens_per_second", 0.0, minimum=0.0),
        jitter=t.number("jitter", 0.0, minimum=0.0, maximum=1.0),
        seed=t.integer("seed", 0),
    )
    t.finish()
    return timing


def _wire(t: Table) -> Wire:
    d = Wire()
    split_at = tuple(t.int_list("split_at", minimum=1))
    # Finished by the caller, once the APIs' parts have read their keys.
    return Wire(
        line_ending=cast(LineEnding, t.choice("line_ending", get_args(LineEnding), d.line_ending)),
        data_prefix=cast(DataPrefix, t.choice("data_prefix", get_args(DataPrefix), d.data_prefix)),
        bom=t.boolean("bom", d.bom),
        multiline_data=t.boolean("multiline_data", d.multiline_data),
        ensure_ascii=t.boolean("ensure_ascii", d.ensure_ascii),
        chunk_size=t.integer("chunk_size", 0, minimum=0),
        split_at=tuple(sorted(set(split_at))),
        split_pause=t.number("split_pause", d.split_pause, minimum=0.0, maximum=10.0),
        done=t.boolean("done", d.done),
        after_done=cast(AfterDone, t.choice("after_done", get_args(AfterDone), d.after_done)),
        keep_open_seconds=t.number("keep_open_seconds", d.keep_open_seconds, minimum=0.0),
        finish_type=cast(FinishType, t.choice("finish_type", get_args(FinishType), d.finish_type)),
        azure_filters=t.boolean("azure_filters", False),
    )


def _fault(t: Table) -> Fault:
    spec = FAULTS[t.choice("kind", FAULT_KINDS, None)]
    values = {key: _FAULT_KEYS[key](t) for key in spec.keys}
    fault = Fault(kind=spec.kind, at=t.integer("at", 0, minimum=-1), **values)
    if 0 < fault.ping_every < 0.01:
        raise t.error(
            "ping_every", f"must be 0 (no pings) or at least 0.01, got {fault.ping_every}"
        )
    for key, what in (spec.required or {}).items():
        if not getattr(fault, key):
            raise t.error(key, f"a {spec.kind} needs {what}")
    t.finish()  # a key this kind does not take is unknown here
    return fault


def _raw(t: Table) -> bytes:
    raw_hex = t.optional_str("raw_hex")
    if raw_hex is None:
        return b""
    try:
        return bytes.fromhex(raw_hex)
    except ValueError as exc:
        raise t.error("raw_hex", f"expected hex digits, got {raw_hex!r}") from exc


def _close_code(t: Table) -> int:
    """A close code a server may send (RFC 6455, 7.4): 1000-1014 but the reserved ones
    (1004, and 1005, 1006 and 1015, which never go on the wire), or 3000-4999."""
    code = t.integer("code", 1000, minimum=1000, maximum=4999)
    if code in (1004, 1005, 1006, 1015) or 1014 < code < 3000:
        raise t.error("code", f"must be a close code a server may send (1000-1003, "
                      f"1007-1014, 3000-4999), got {code}")  # fmt: skip
    return code


#: How each key a fault kind may take is read (the table says which kind takes which).
_FAULT_KEYS: Final[Mapping[str, Callable[[Table], Any]]] = {
    "seconds": lambda t: t.number("seconds", 0.0, minimum=0.0, maximum=3600.0),
    "ping_every": lambda t: t.number("ping_every", 0.0, minimum=0.0),
    "text": lambda t: t.text("text", ""),
    "raw": _raw,
    "role": lambda t: t.text("role", "assistant"),
    "message_type": lambda t: t.text("message_type", "variant"),
    "count": lambda t: t.integer("count", 1, minimum=1, maximum=100_000),
    "cause": lambda t: cast(ErrorCause, t.choice("cause", get_args(ErrorCause), "")),
    "code": _close_code,
}


def _http_error(t: Table) -> HttpError:
    error = HttpError(
        endpoint=t.choice("endpoint", endpoints(), None),
        status=t.integer("status", 500, minimum=400, maximum=599),
        on_call=t.integer("on_call", 0, minimum=0),
        body=cast(ErrorBody, t.choice("body", get_args(ErrorBody), "upstream")),
        detail=t.text("detail", ""),
        retry_after=t.optional_int("retry_after", minimum=0),
    )
    t.finish()
    return error


def _transport(t: Table) -> Transport:
    d = Transport()
    transport = Transport(
        endpoints=tuple(t.choices("endpoints", endpoints(), d.endpoints)),
        bandwidth=t.integer("bandwidth", 0, minimum=0),
        latency=t.number("latency", 0.0, minimum=0.0, maximum=60.0),
        latency_sd=t.number("latency_sd", 0.0, minimum=0.0, maximum=60.0),
        distribution=cast(
            Distribution, t.choice("distribution", get_args(Distribution), d.distribution)
        ),
        seed=t.integer("seed", 0),
        cut_after=t.integer("cut_after", 0, minimum=0),
        cut_with=cast(CutWith, t.choice("cut_with", get_args(CutWith), d.cut_with)),
        no_headers=t.boolean("no_headers", False),
        length_error=t.integer("length_error", 0, minimum=-(2**31), maximum=2**31),
        slow_close=t.number("slow_close", 0.0, minimum=0.0, maximum=3600.0),
    )
    if 0 < transport.bandwidth < 10:
        raise t.error(
            "bandwidth", f"must be 0 (no cap) or at least 10 bytes/s, got {transport.bandwidth}"
        )
    if transport.latency_sd and transport.distribution == "fixed":
        raise t.error("latency_sd", "needs distribution = 'normal' or 'lognormal'")
    if transport.distribution == "lognormal" and transport.latency_sd and not transport.latency:
        raise t.error("latency", "a lognormal latency needs its mean (latency > 0)")
    t.finish()
    return transport


def _expect(t: Table, reply: Reply) -> Expect:
    if t.data.get("error") is not None:
        raise t.error(
            "error",
            "expect.error (a client's class name) was replaced by expect.failure, one of "
            + ", ".join(FAILURES),
        )
    text = t.optional_str("text")
    failure = t.optional_str("failure")
    if text is not None and failure is not None:
        raise t.error("", "give 'text' or 'failure', not both")
    if failure is not None and failure not in FAILURES:
        raise t.error(
            "failure", f"expected one of {', '.join(map(repr, FAILURES))}, got {failure!r}"
        )
    outcome: Literal["reply", "text", "failure"] = (
        "failure" if failure is not None else "text" if text is not None else "reply"
    )
    expect = Expect(
        outcome=outcome,
        text=text or "",
        failure=failure or "",
        status=t.optional_int("status", minimum=100, maximum=599),
        message=t.text("message", ""),
        idle_timeout=t.number("idle_timeout", 5.0, minimum=0.01, maximum=600.0),
    )
    if failure == "http_status" and expect.status is None:
        raise t.error("status", "an http_status failure needs the status")
    t.finish()
    return expect
