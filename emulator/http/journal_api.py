"""The journal over the admin API: filtered lists, one exchange, a live feed, metrics.

``GET /_emulator/journal`` (``path``, ``method``, ``scenario``, ``status``,
``session``, ``since``, ``limit``; newest last; a request made in a session
sees only that session's calls), ``GET /_emulator/journal/{id}`` (one
exchange with its transcript; ``/journal/{id}/scenario``: the scenario it
got, chaos included, as a TOML file to replay alone; ``/journal/{id}/recording``:
what it answered, byte for byte, as JSON lines to import), ``GET /_emulator/journal/stream`` (an event
stream of exchanges as they are answered, ``id:`` their journal ids;
``since`` or ``Last-Event-ID`` replays those after it first), and
``GET /_emulator/metrics`` (the Prometheus text format).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ..dialects.registry import DIALECTS
from ..protocol.errors import BadRequest
from ..protocol.sse import SSEFormat
from ..scenario.dump import scenario_to_toml
from ..scenario.recording import chunk_dict
from ..state.journal import ALL_SESSIONS, Call
from .context import ADMIN_PREFIX, Context, Handler, json_response

__all__ = ["JOURNAL_PREFIX_ROUTES", "JOURNAL_ROUTES", "exchange"]

#: Seconds between keep-alive comments on an idle feed.
FEED_PING: Final = 15.0
_MAX_LIMIT: Final = 10_000


def exchange(call: Call, *, transcript: bool) -> dict[str, Any]:
    """One journal entry as JSON (with its transcript, or only how it ended). A stream of
    a dialect whose bytes are not text (Bedrock's frames), kept whole, also has its
    ``events`` decoded."""
    found = call.to_dict()
    if transcript and call.transcript is not None:
        found["transcript"] = call.transcript.to_dict()
        dialect = DIALECTS.get(call.dialect or "")
        decode = dialect.capture.decode if dialect is not None else None
        recording = call.transcript.recording() if decode is not None else None
        if decode is not None and recording is not None and recording.status < 400:
            found["transcript"]["events"] = decode(b"".join(c.data for c in recording.chunks))
    return found


def _int(request: web.BaseRequest, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(
            400, f"query parameter {name!r} must be an integer, got {value!r:.40}"
        ) from None


async def _journal(request: web.BaseRequest, ctx: Context) -> web.Response:
    query = request.query
    status = _int(request, "status")
    since = _int(request, "since", 0) or 0
    limit = _int(request, "limit", _MAX_LIMIT)
    if limit is None or not 0 <= limit <= _MAX_LIMIT:
        raise BadRequest(400, f"'limit' must be 0 to {_MAX_LIMIT}")
    method = query.get("method", "").upper()
    session = _session_filter(request, ctx)
    calls = [
        c
        for c in ctx.state.journal.since(since)
        if (session == ALL_SESSIONS or c.session == session)
        and ("path" not in query or c.path == query["path"])
        and (not method or c.method == method)
        and ("scenario" not in query or c.scenario == query["scenario"])
        and (status is None or c.status == status)
        and ("rpc_session" not in query or c.rpc_session == query["rpc_session"])
    ]
    return json_response([exchange(c, transcript=False) for c in calls[-limit:] if limit])


def _session_filter(request: web.BaseRequest, ctx: Context) -> str | None:
    """Whose calls a journal request sees: its own session's, when it names one;
    else every session's, or (``?session=``) one's (``?session=`` empty: the default's)."""
    if ctx.state.id is not None:
        return ctx.state.id
    if "session" in request.query:
        return request.query["session"] or None
    return ALL_SESSIONS


async def _entry(request: web.BaseRequest, ctx: Context) -> web.Response:
    tail = request.path.removeprefix(f"{ADMIN_PREFIX}/journal/")
    as_recording = tail.endswith("/recording")
    tail = tail.removesuffix("/recording")
    tail, as_scenario = tail.removesuffix("/scenario"), tail.endswith("/scenario")
    if not tail.isdigit():
        raise BadRequest(404, f"no journal entry {tail[:40]!r}: ids are integers")
    call = ctx.state.journal.get(int(tail))
    if call is None or (ctx.state.id is not None and call.session != ctx.state.id):
        raise BadRequest(404, f"journal entry {tail} is gone (or never was)")
    if as_scenario:
        # The scenario this request got (with what chaos added) as a file to replay alone.
        if call.served is None:
            raise BadRequest(404, f"journal entry {tail} was served no scenario")
        return web.Response(
            text=scenario_to_toml(call.served),
            content_type="application/toml",
            headers={"Content-Disposition": f'attachment; filename="{call.served.name}.toml"'},
        )
    if as_recording:
        return _recording(call, tail)
    return json_response(exchange(call, transcript=True))


def _recording(call: Call, entry: str) -> web.Response:
    """What one exchange answered, as JSON lines that ``python -m emulator import`` reads."""
    recording = call.transcript.recording() if call.transcript is not None else None
    if recording is None:
        raise BadRequest(
            409,
            f"journal entry {entry} kept only part of its bytes (the transcript keeps the "
            "first and last Limits.transcript_bytes; capture must be on)",
        )
    head: dict[str, Any] = {"status": recording.status, "headers": dict(recording.headers)}
    if recording.status == 101 and call.dialect:  # a session replays on its own API only
        head["dialect"] = call.dialect
    lines = [
        head,
        *(chunk_dict(c) for c in recording.chunks),
        {"ending": recording.ending},
    ]
    return web.Response(
        text="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
        content_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="exchange-{entry}.jsonl"'},
    )


async def _feed(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    journal = ctx.state.journal
    session = _session_filter(request, ctx)
    since = _int(request, "since")
    if since is None:
        last = request.headers.get("Last-Event-ID", "")
        since = int(last) if last.isdigit() else None
    queue = journal.subscribe(asyncio.get_running_loop())
    fmt = SSEFormat()
    try:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        sent = 0
        if since is not None:
            for call in journal.since(since):
                if not _sees(session, call):
                    continue
                if call.ending is not None or call.status is not None:
                    await response.write(_event(fmt, call))
                    sent = call.id
        while True:
            try:
                call = await asyncio.wait_for(queue.get(), FEED_PING)
            except TimeoutError:
                await response.write(fmt.comment(" keep-alive"))
                continue
            if call.id > sent and _sees(session, call):
                await response.write(_event(fmt, call))
    except ConnectionError:  # the reader left
        return response
    finally:
        journal.unsubscribe(queue)


def _sees(session: str | None, call: Call) -> bool:
    return session == ALL_SESSIONS or call.session == session


def _event(fmt: SSEFormat, call: Call) -> bytes:
    return fmt.event(json.dumps(exchange(call, transcript=False)), "exchange", str(call.id))


async def _metrics(request: web.BaseRequest, ctx: Context) -> web.Response:
    return web.Response(
        text=ctx.state.metrics.render(), content_type="text/plain", charset="utf-8"
    )


#: (method, path under the admin prefix, handler)
JOURNAL_ROUTES: Final = (
    ("GET", "/journal", _journal),
    ("GET", "/journal/stream", _feed),
    ("GET", "/metrics", _metrics),
)
JOURNAL_PREFIX_ROUTES: Final[Mapping[str, Mapping[str, Handler]]] = {
    "/journal/": {"GET": _entry},
}
