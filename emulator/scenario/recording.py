"""A scenario's ``[recording]``: a captured stream, read from TOML or a JSON-lines file. Pure.

A chunk is ``{at = seconds, text = "..."}`` (UTF-8), or ``hex`` / ``base64``
for bytes that are not UTF-8. The same chunks may sit in a JSON-lines file
beside the scenario (``file = "NAME.jsonl"``, one ``{"at": …, "text": …}``
per line), which is also what ``python -m emulator import`` reads and what
the recording proxy writes: a line may also give the answer's ``status``
and ``headers``, how it ``ending``, or the ``dialect`` it was captured from.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast, get_args

from .model import Chunk, ChunkMessage, Ending, Recording, ScenarioError
from .table import Table

__all__ = ["MAX_RECORDING_BYTES", "chunk_dict", "read_jsonl", "recording_from_table"]

_DIALECT_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
#: The most bytes a recording may hold.
MAX_RECORDING_BYTES: Final = 64 * 1024 * 1024
#: Headers a recording never answers with: the server frames the body itself.
FRAMING_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)


def recording_from_table(t: Table, folder: Path | None) -> Recording:
    """``[recording]`` of a scenario; ``folder``: where a ``file`` is looked for (None: nowhere)."""
    file = t.optional_str("file")
    chunks: list[Chunk] = [
        _chunk(c.data, c.source, c.path) for c in t.tables("chunks", limit=1_000_000)
    ]
    for i in range(1, len(chunks)):
        if chunks[i].at < chunks[i - 1].at:
            raise t.error(f"chunks[{i}].at", "chunks must come in time order")
    meta: dict[str, Any] = {}
    if file is not None:
        if chunks:
            raise t.error("file", "give the chunks inline or in a file, not both")
        if folder is None:
            raise t.error(
                "file",
                "a recording file can be named only in a scenario file (requests name no files)",
            )
        path = folder / file
        if path.resolve().parent != folder.resolve() or path.suffix != ".jsonl":
            raise t.error("file", "must be a .jsonl file in the scenario's own folder")
        try:
            chunks, meta = read_jsonl(path.read_bytes(), str(path))
        except OSError as exc:
            raise t.error("file", f"cannot be read: {exc.strerror or exc}") from exc
    default = Recording()
    headers = _headers(t, meta.get("headers"))
    recording = Recording(
        chunks=tuple(chunks),
        status=t.integer("status", int(meta.get("status", default.status)), minimum=100,
                         maximum=599),
        headers=headers if headers is not None else default.headers,
        ending=cast(Ending, t.choice("ending", get_args(Ending),
                                     str(meta.get("ending", default.ending)))),
        real_time_over=t.number("real_time_over", default.real_time_over, minimum=0.0),
        dialect=t.text("dialect", str(meta.get("dialect", default.dialect))),
    )  # fmt: skip
    if not _DIALECT_NAME.fullmatch(recording.dialect):
        raise t.error("dialect", "expected a dialect's name (letters, digits and '-')")
    if recording.ending not in get_args(Ending):
        raise t.error("ending", f"expected one of {', '.join(get_args(Ending))}")
    if recording.size > MAX_RECORDING_BYTES:
        raise t.error("chunks", f"hold {recording.size:,} bytes; the limit is "
                      f"{MAX_RECORDING_BYTES:,}")  # fmt: skip
    t.finish()
    return recording


def _headers(t: Table, fallback: Any) -> tuple[tuple[str, str], ...] | None:
    raw = t.data.get("headers", fallback)
    t.used.add("headers")
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise t.error("headers", "expected a table of header names to strings")
    return tuple((k, v) for k, v in raw.items() if k.lower() not in FRAMING_HEADERS)


def _chunk(data: Any, source: str, where: str) -> Chunk:
    if not isinstance(data, Mapping):
        raise ScenarioError(source, where, "a chunk is a table with 'at' and 'text' or 'hex'")
    unknown = sorted(set(data) - {"at", "text", "hex", "base64", "message"})
    if unknown:
        raise ScenarioError(source, f"{where}.{unknown[0]}",
                            "unknown key (at, text, hex, base64, message)")  # fmt: skip
    message = data.get("message", "")
    if message not in get_args(ChunkMessage):
        raise ScenarioError(source, f"{where}.message",
                            "expected text, binary or heard (a WebSocket's messages)")  # fmt: skip
    at = data.get("at", 0.0)
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at < 86400:
        raise ScenarioError(source, f"{where}.at", "expected seconds since the request, >= 0")
    given = [k for k in ("text", "hex", "base64") if k in data]
    if len(given) != 1 or not isinstance(data[given[0]], str):
        raise ScenarioError(source, where, "give exactly one of text, hex or base64 (a string)")
    value: str = data[given[0]]
    try:
        raw = (
            value.encode("utf-8")
            if given[0] == "text"
            else bytes.fromhex(value)
            if given[0] == "hex"
            else base64.b64decode(value, validate=True)
        )
    except (ValueError, binascii.Error) as exc:
        raise ScenarioError(source, f"{where}.{given[0]}", f"cannot be decoded: {exc}") from None
    return Chunk(float(at), raw, message)


def read_jsonl(raw: bytes, source: str) -> tuple[list[Chunk], dict[str, Any]]:
    """Chunks from JSON lines, and what other lines said (status, headers, ending)."""
    chunks: list[Chunk] = []
    meta: dict[str, Any] = {}
    size = 0
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise ScenarioError(source, where, f"is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ScenarioError(source, where, "expected a JSON object")
        if not {"text", "hex", "base64"} & set(obj):
            extra = sorted(set(obj) - {"status", "headers", "ending", "dialect"})
            if extra:
                raise ScenarioError(source, f"{where}.{extra[0]}", "unknown key")
            meta.update(obj)
            continue
        chunk = _chunk(obj, source, where)
        if chunks and chunk.at < chunks[-1].at:
            raise ScenarioError(source, f"{where}.at", "chunks must come in time order")
        size += len(chunk.data)
        if size > MAX_RECORDING_BYTES:
            raise ScenarioError(source, where, f"over {MAX_RECORDING_BYTES:,} bytes in all")
        chunks.append(chunk)
    return chunks, meta


def chunk_dict(chunk: Chunk) -> dict[str, Any]:
    """A chunk as a TOML table or a JSON line: text when it is UTF-8, hex when not (and
    what it is, in a WebSocket session's recording)."""
    said: dict[str, Any] = {"at": round(chunk.at, 6)}
    try:
        said["text"] = chunk.data.decode("utf-8")
    except UnicodeDecodeError:
        said["hex"] = chunk.data.hex()
    if chunk.message:
        said["message"] = chunk.message
    return said
