"""Turning a capture into a scenario: a HAR file, JSON lines of timed chunks, or a raw SSE body.

What is written is only what the scenario needs (the conversation's status,
headers that describe the body, the body itself write by write with its
times, and what the login calls answered): cookies, tokens, passwords and
request bodies are never copied, and :class:`Imported` says what was left
out and what could not be kept as it was.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..dialects.dialect import Plain
from ..dialects.fakegpt.part import FakeGptPart
from ..dialects.registry import DIALECTS
from ..scenario.model import (
    Chunk,
    Endpoint,
    HttpError,
    Recording,
    Scenario,
    ScenarioError,
)
from ..scenario.outcomes import Reading
from ..scenario.recording import FRAMING_HEADERS, MAX_RECORDING_BYTES, read_jsonl
from .decode import expected_outcome
from .mcp_har import mcp_from_har

__all__ = ["Imported", "content_headers", "import_capture"]

#: Response headers worth replaying: what describes the body, not who asked for it.
_KEPT_HEADERS: Final = frozenset(
    {"content-type", "cache-control", "x-accel-buffering", "retry-after", "vary"}
)
_FAKEGPT: Final = "fakegpt"
#: The FakeGpt upstream's paths, by endpoint (its login calls' answers are kept).
_PATHS: Final[dict[str, Endpoint]] = {
    path: route.endpoint
    for path, methods in DIALECTS[_FAKEGPT].routes.items()
    for route in methods.values()
    if not isinstance(route, Plain)
}
_SECRET_WORDS: Final = ("accesstoken", "session_password", "token_key", "credential")


@dataclass
class Imported:
    """A scenario made from a capture, and what the import left out or changed."""

    scenario: Scenario
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def import_capture(raw: bytes, source: str, name: str, dialect: str = "fakegpt") -> Imported:
    """The scenario that replays the capture ``raw`` (read from ``source``), named ``name``.

    ``dialect``: the API a body or JSON lines were captured from (a HAR says it
    by its paths; JSON lines may say it on a line of their own).
    """
    if dialect not in DIALECTS:
        raise ScenarioError(source, "dialect", f"unknown dialect {dialect!r}; known: "
                            f"{', '.join(DIALECTS)}")  # fmt: skip
    stripped = raw.lstrip()
    if stripped.startswith(b"{"):
        try:
            har = json.loads(raw)
        except ValueError:
            har = None  # JSON lines: several objects
        if isinstance(har, dict) and isinstance(har.get("log"), dict):
            mcp = mcp_from_har(har, source, name)  # an MCP session: its server scripted
            if mcp is not None:
                return Imported(*mcp)
            return _from_har(har, source, name)
        chunks, meta = read_jsonl(raw, source)
        removed: list[str] = []
        recording = Recording(
            chunks=tuple(chunks),
            status=int(meta.get("status", 200)),
            headers=content_headers(meta.get("headers"), removed) or Recording().headers,
            ending=meta.get("ending", "complete"),
            dialect=str(meta.get("dialect", dialect)),
        )
        return _made(recording, source, name, f"JSON lines ({len(chunks)} timed chunks)",
                     removed=removed)  # fmt: skip
    if len(raw) > MAX_RECORDING_BYTES:
        raise ScenarioError(source, "", f"holds {len(raw):,} bytes; at most "
                            f"{MAX_RECORDING_BYTES:,} can be replayed")  # fmt: skip
    headers = DIALECTS[dialect].capture.headers
    recording = Recording(chunks=(Chunk(0.0, raw),) if raw else (), headers=headers,
                          dialect=dialect)  # fmt: skip
    return _made(recording, source, name, f"a raw {DIALECTS[dialect].title} body (no times: one write)",
                 changed=["a raw body has no timing: it is replayed as one write"])  # fmt: skip


def _made(
    recording: Recording,
    source: str,
    name: str,
    what: str,
    *,
    removed: list[str] | None = None,
    changed: list[str] | None = None,
    http_errors: tuple[HttpError, ...] = (),
    accounts: int | None = None,
) -> Imported:
    removed = list(removed or [])
    secrets = [w for w in _SECRET_WORDS if any(w in c.data.lower().decode("utf-8", "replace")
                                                for c in recording.chunks)]  # fmt: skip
    if secrets:
        removed.append(
            "nothing: the body mentions " + ", ".join(secrets) + " (check it before sharing)"
        )
    scenario = Scenario(
        name=name,
        description=f"Imported from {Path(source).name}: {what}.",
        recording=recording,
        http_errors=http_errors,
        parts=() if accounts is None else (FakeGptPart(accounts=accounts),),
        expect=expected_outcome(recording, _reader(recording, source)),
        source=source,
    )
    return Imported(scenario, removed, list(changed or []))


def _reader(recording: Recording, source: str) -> Callable[[bytes], Reading]:
    known = DIALECTS.get(recording.dialect)
    if known is None:
        raise ScenarioError(source, "dialect", f"unknown dialect {recording.dialect!r}; "
                            f"known: {', '.join(DIALECTS)}")  # fmt: skip
    return known.capture.read


def content_headers(raw: Any, removed: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        return ()
    kept = []
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        low = key.lower()
        if low in _KEPT_HEADERS:
            kept.append((key, value))
        elif low not in FRAMING_HEADERS and low != "set-cookie":  # cookies: said apart
            removed.append(f"the response header {key}")
    return tuple(kept)


def _from_har(har: dict[str, Any], source: str, name: str) -> Imported:
    entries = [e for e in har["log"].get("entries", []) if isinstance(e, dict)]
    removed: list[str] = []
    changed: list[str] = []
    by_endpoint: dict[Endpoint, list[dict[str, Any]]] = {e: [] for e in _PATHS.values()}
    answers: list[tuple[str, dict[str, Any]]] = []  # (dialect, entry) of every answer
    for entry in entries:
        url = str(entry.get("request", {}).get("url", ""))
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        endpoint = next((e for p, e in _PATHS.items() if path.endswith(p)), None)
        if endpoint is not None:
            by_endpoint[endpoint].append(entry)
        answering = next((d for d in DIALECTS.values() if d.answers(path)), None)
        if answering is not None:
            answers.append((answering.name, entry))
        _count_secrets(entry, removed)
    if not answers:
        paths = ", ".join(d.answered_at for d in DIALECTS.values())
        raise ScenarioError(source, "log.entries", f"has no request to replay (none to {paths})")
    if len(answers) > 1:
        changed.append(f"the HAR holds {len(answers)} answers: the last is replayed")
    dialect, conversation = answers[-1]
    response = conversation.get("response", {})
    status = int(response.get("status") or 200)
    content = response.get("content", {})
    text = content.get("text")
    if not isinstance(text, str):
        raise ScenarioError(source, "response.content.text",
                            "the answer's body is not in the HAR (export with content)")  # fmt: skip
    try:
        body = (
            base64.b64decode(text, validate=True)
            if content.get("encoding") == "base64"
            else text.encode("utf-8")
        )
    except (ValueError, binascii.Error) as exc:
        raise ScenarioError(source, "response.content.text", f"is not base64: {exc}") from None
    timings = conversation.get("timings", {})
    first = max(0.0, float(timings.get("wait") or 0)) / 1000
    changed.append("a HAR keeps no times within a body: it is replayed as one write after "
                   f"the recorded wait ({first * 1000:.0f} ms)")  # fmt: skip
    headers = content_headers(
        {
            h.get("name"): h.get("value")
            for h in response.get("headers", [])
            if isinstance(h, dict)
        },
        removed,
    )
    recording = Recording(
        chunks=(Chunk(first, body),) if body else (),
        status=status,
        headers=headers or Recording().headers,
        dialect=dialect,
    )
    # The login calls' answers matter only to a FakeGpt conversation.
    logins = by_endpoint if dialect == _FAKEGPT else {e: [] for e in _PATHS.values()}
    errors = tuple(
        HttpError(endpoint=endpoint, status=int(e["response"]["status"]), on_call=i + 1)
        for endpoint in ("loads", "login", "session")
        for i, e in enumerate(logins[endpoint])
        if int(e.get("response", {}).get("status") or 200) >= 400
    )
    accounts = _accounts(logins["loads"])
    return _made(recording, source, name, f"a HAR file ({len(entries)} entries)",
                 removed=sorted(set(removed)), changed=changed, http_errors=errors,
                 accounts=accounts)  # fmt: skip


def _accounts(loads: list[dict[str, Any]]) -> int | None:
    """How many accounts the captured /api/loads listed (None: not captured)."""
    for entry in reversed(loads):
        text = entry.get("response", {}).get("content", {}).get("text")
        try:
            listed = json.loads(text)["loads"]
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(listed, list):
            return len(listed)
    return None


def _count_secrets(entry: dict[str, Any], removed: list[str]) -> None:
    """Note the secrets a HAR entry carries (none of them is written)."""
    request = entry.get("request", {})
    for header in request.get("headers", []):
        low = str(header.get("name", "")).lower()
        if low in ("authorization", "x-authorization"):
            removed.append("bearer tokens (Authorization headers)")
        elif low in ("x-api-key", "api-key", "x-goog-api-key"):
            removed.append(f"API keys ({header.get('name')} headers)")
        elif low == "cookie":
            removed.append("cookies sent")
    if any(
        str(h.get("name", "")).lower() == "set-cookie"
        for h in entry.get("response", {}).get("headers", [])
    ):
        removed.append("cookies set (Set-Cookie)")
    if request.get("cookies"):
        removed.append("cookies sent")
    posted = str(request.get("postData", {}).get("text", ""))
    if "session_password" in posted:
        removed.append("the session_password of the login form")
    text = str(entry.get("response", {}).get("content", {}).get("text", ""))
    if "accessToken" in text:
        removed.append("the accessToken of /api/auth/session")
