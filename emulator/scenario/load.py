"""Reading scenario files: strict TOML into :mod:`~emulator.scenario.model` values. Pure.

Files are parsed eagerly and strictly: an unknown key, a wrong type or an
out-of-range value raises one :class:`ScenarioError` naming the file, the
key (``faults[2].kind``) and what was expected. See ``scenarios/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast, get_args

from .faults import FAULT_KINDS, FAULTS
from .model import (
    ENDPOINTS,
    MAX_FAULT_WRITES,
    MAX_FAULTS,
    MAX_HTTP_ERRORS,
    MAX_REPLY_CHARS,
    AfterDone,
    Body,
    Cut,
    DataPrefix,
    Encoding,
    Endpoint,
    ErrorBody,
    Expect,
    Fault,
    FinishType,
    HttpError,
    LineEnding,
    Reply,
    Scenario,
    ScenarioError,
    Timing,
    Wire,
)
from .outcomes import FAILURES

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
    return scenario_from_dict(data, name=path.stem, source=source)


def load_scenarios(folder: str | Path) -> dict[str, Scenario]:
    """Every ``*.toml`` in a folder, by name; the first bad file raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "is not a folder of scenario files")
    return {p.stem: load_scenario(p) for p in sorted(folder.glob("*.toml"))}


def scenario_from_dict(
    data: Mapping[str, Any], *, name: str | None = None, source: str = "<python>"
) -> Scenario:
    """Validate a scenario given as a dict (a parsed TOML file, or JSON from the admin API)."""
    top = _Table(source, "", data)
    scenario_name = top.text("name", name or _inline_name(data))
    description = top.text("description", "")
    if not description.strip():
        raise ScenarioError(source, "description", "is required: one line saying what happens")
    reply = _reply(top.table("reply"))
    timing = _timing(top.table("timing"))
    wire = _wire(top.table("wire"))
    faults = tuple(_fault(t) for t in top.tables("faults", limit=MAX_FAULTS))
    writes = sum(f.count for f in faults)
    if writes > MAX_FAULT_WRITES:
        raise ScenarioError(
            source,
            "faults",
            f"ask for {writes:,} writes in all; the limit is {MAX_FAULT_WRITES:,}",
        )
    http_errors = tuple(_http_error(t) for t in top.tables("http_errors", limit=MAX_HTTP_ERRORS))
    accounts = top.optional_int("accounts", minimum=0)
    login_cookie = top.boolean("login_cookie", True)
    session_tokens = top.boolean("session_tokens", False)
    expect = _expect(top.table("expect"), reply)
    top.finish()
    if wire.encoding == "delta_v1":
        for i, fault in enumerate(faults):
            if FAULTS[fault.kind].cumulative_only:
                raise ScenarioError(
                    source,
                    f"faults[{i}].kind",
                    f"{fault.kind!r} needs cumulative snapshots, not delta_v1",
                )
    return Scenario(
        name=scenario_name,
        description=description.strip(),
        reply=reply,
        timing=timing,
        wire=wire,
        faults=faults,
        http_errors=http_errors,
        accounts=accounts,
        login_cookie=login_cookie,
        session_tokens=session_tokens,
        expect=expect,
        source=source,
    )


def _inline_name(data: Mapping[str, Any]) -> str:
    """A name for a scenario given without one: ``inline-`` and a digest of its content,
    so two different tables never share a name (and one table keeps its name)."""
    digest = hashlib.blake2b(
        json.dumps(data, sort_keys=True, default=repr).encode(), digest_size=4
    ).hexdigest()
    return f"inline-{digest}"


def _reply(t: _Table) -> Reply:
    d = Reply()
    text = t.optional_str("text")
    echo = t.boolean("echo", False)
    sentences = t.integer("faker_sentences", 0, minimum=0)
    if sum((text is not None, echo, sentences > 0)) > 1:
        raise t.error("", "give only one of 'text', 'echo' or 'faker_sentences'")
    if sentences > _MAX_SENTENCES:
        raise t.error("faker_sentences", f"must be at most {_MAX_SENTENCES:,}, got {sentences}")
    reply = Reply(
        text=text if (text is not None or echo or sentences) else d.text,
        echo=echo,
        faker_sentences=sentences,
        faker_seed=t.integer("faker_seed", 0),
        faker_locale=t.text("faker_locale", d.faker_locale),
        repeat=t.integer("repeat", 1, minimum=1, maximum=MAX_REPLY_CHARS),
        cut=cast(Cut, t.choice("cut", get_args(Cut), d.cut)),
        cut_size=t.integer("cut_size", 1, minimum=1),
    )
    if reply.text and not echo and not sentences:
        length = len(reply.text) * reply.repeat
        if length > MAX_REPLY_CHARS:
            raise t.error(
                "repeat",
                f"the reply would be {length:,} characters; the limit is {MAX_REPLY_CHARS:,}",
            )
    t.finish()
    return reply


_MAX_SENTENCES: Final = 10_000


def _timing(t: _Table) -> Timing:
    timing = Timing(
        first_event=t.number("first_event", 0.0, minimum=0.0),
        tokens_per_second=t.number("tokens_per_second", 0.0, minimum=0.0),
        jitter=t.number("jitter", 0.0, minimum=0.0, maximum=1.0),
        seed=t.integer("seed", 0),
    )
    t.finish()
    return timing


def _wire(t: _Table) -> Wire:
    d = Wire()
    split_at = tuple(t.int_list("split_at", minimum=1))
    wire = Wire(
        line_ending=cast(LineEnding, t.choice("line_ending", get_args(LineEnding), d.line_ending)),
        data_prefix=cast(DataPrefix, t.choice("data_prefix", get_args(DataPrefix), d.data_prefix)),
        bom=t.boolean("bom", d.bom),
        multiline_data=t.boolean("multiline_data", d.multiline_data),
        ensure_ascii=t.boolean("ensure_ascii", d.ensure_ascii),
        encoding=cast(Encoding, t.choice("encoding", get_args(Encoding), d.encoding)),
        body=cast(Body, t.choice("body", get_args(Body), d.body)),
        chunk_size=t.integer("chunk_size", 0, minimum=0),
        split_at=tuple(sorted(set(split_at))),
        split_pause=t.number("split_pause", d.split_pause, minimum=0.0, maximum=10.0),
        done=t.boolean("done", d.done),
        after_done=cast(AfterDone, t.choice("after_done", get_args(AfterDone), d.after_done)),
        keep_open_seconds=t.number("keep_open_seconds", d.keep_open_seconds, minimum=0.0),
        moderation=t.boolean("moderation", d.moderation),
        finish_type=cast(FinishType, t.choice("finish_type", get_args(FinishType), d.finish_type)),
    )
    t.finish()
    return wire


def _fault(t: _Table) -> Fault:
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


def _raw(t: _Table) -> bytes:
    raw_hex = t.optional_str("raw_hex")
    if raw_hex is None:
        return b""
    try:
        return bytes.fromhex(raw_hex)
    except ValueError as exc:
        raise t.error("raw_hex", f"expected hex digits, got {raw_hex!r}") from exc


#: How each key a fault kind may take is read (the table says which kind takes which).
_FAULT_KEYS: Final[Mapping[str, Callable[[_Table], Any]]] = {
    "seconds": lambda t: t.number("seconds", 0.0, minimum=0.0, maximum=3600.0),
    "ping_every": lambda t: t.number("ping_every", 0.0, minimum=0.0),
    "text": lambda t: t.text("text", ""),
    "raw": _raw,
    "role": lambda t: t.text("role", "assistant"),
    "message_type": lambda t: t.text("message_type", "variant"),
    "count": lambda t: t.integer("count", 1, minimum=1, maximum=100_000),
}


def _http_error(t: _Table) -> HttpError:
    error = HttpError(
        endpoint=cast(Endpoint, t.choice("endpoint", ENDPOINTS, None)),
        status=t.integer("status", 500, minimum=400, maximum=599),
        on_call=t.integer("on_call", 0, minimum=0),
        body=cast(ErrorBody, t.choice("body", get_args(ErrorBody), "upstream")),
        detail=t.text("detail", ""),
        retry_after=t.optional_int("retry_after", minimum=0),
    )
    t.finish()
    return error


def _expect(t: _Table, reply: Reply) -> Expect:
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


_T = TypeVar("_T")
_N = TypeVar("_N", int, float)


class _Table:
    """Typed, strict access to one TOML table; :meth:`finish` rejects unknown keys."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(source, path, f"expected a table, got {_kind(data)}")
        self.source = source
        self.path = path
        self.data = data
        self.used: set[str] = set()

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, self._key(key), problem)

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def _typed(self, key: str, types: type | tuple[type, ...], what: str, default: _T) -> Any:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)
        ):
            raise self.error(key, f"expected {what}, got a boolean")
        if not isinstance(value, types):
            raise self.error(key, f"expected {what}, got {_kind(value)} {value!r:.60}")
        return value

    def text(self, key: str, default: str) -> str:
        return cast(str, self._typed(key, str, "a string", default))

    def optional_str(self, key: str) -> str | None:
        return cast("str | None", self._typed(key, str, "a string", None))

    def boolean(self, key: str, default: bool) -> bool:
        return cast(bool, self._typed(key, bool, "true or false", default))

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = cast(int, self._typed(key, int, "an integer", default))
        return self._ranged(key, value, minimum, maximum)

    def optional_int(
        self, key: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = cast("int | None", self._typed(key, int, "an integer", None))
        return None if value is None else self._ranged(key, value, minimum, maximum)

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = float(self._typed(key, (int, float), "a number", default))
        if value != value or value in (float("inf"), float("-inf")):
            raise self.error(key, "expected a finite number")
        return self._ranged(key, value, minimum, maximum)

    def int_list(self, key: str, *, minimum: int) -> list[int]:
        value = self._typed(key, list, "a list of integers", [])
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.error(key, f"expected a list of integers, got {value!r:.60}")
        return [self._ranged(key, v, minimum, None) for v in value]

    def choice(self, key: str, options: Iterable[str], default: str | None) -> str:
        options = tuple(options)
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, f"is required: one of {', '.join(map(repr, options))}")
            return default
        if value not in options:
            raise self.error(
                key, f"expected one of {', '.join(map(repr, options))}, got {value!r}"
            )
        return cast(str, value)

    def table(self, key: str) -> _Table:
        return _Table(self.source, self._key(key), self._get(key) or {})

    def tables(self, key: str, *, limit: int) -> list[_Table]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables ([[{key}]]), got {_kind(value)}")
        if len(value) > limit:
            raise self.error(key, f"at most {limit:,} entries, got {len(value):,}")
        return [_Table(self.source, f"{self._key(key)}[{i}]", v) for i, v in enumerate(value)]

    def _ranged(self, key: str, value: _N, minimum: float | None, maximum: float | None) -> _N:
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise self.error(unknown[0], f"unknown key (known here: {known})")


def _kind(value: Any) -> str:
    return {
        dict: "a table",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
