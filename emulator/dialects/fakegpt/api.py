"""The upstream's four endpoints: each a reader (validation, authorisation) and an answer.

The dispatcher (:mod:`emulator.http.app`) runs the reader, chooses the
scenario, injects the HTTP error it asks for if any, and only then calls
the answer with the chosen scenario in its :class:`~emulator.http.errors.Context`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import random
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from ...auth import Identity, Signer, user_id_for
from ...engine.prepare import prepare
from ...http.dialect import replayed_answer, scripted_answer, streamed, too_long, transport_of
from ...http.errors import BadRequest, Context, json_response
from ...scenario import HttpError, Scenario
from ...scenario.asked import Asked, Message
from ...scenario.text import CACHE_TEXT_CHARS, reply_text
from ..dialect import Dialect, Route
from .capture import read_capture
from .plan import NAME, PlanError, not_applicable, plan
from .read import (
    ConversationRequest,
    form_text,
    multipart_form,
    parse_conversation,
)
from .shapes import FAULT_SHAPES, shapes
from .wire import (
    DEFAULT_MODEL,
    StreamContext,
    error_body,
    loads_body,
    session_body,
)

__all__ = [
    "DIALECT",
    "answer_conversation",
    "answer_loads",
    "answer_login",
    "answer_session",
    "read_conversation",
    "read_loads",
    "read_login",
    "scripted_error",
]


def scripted_error(error: HttpError) -> web.Response:
    """The HTTP error a scenario injects, with the body it asks for."""
    detail = error.detail if (error.body == "text" or error.detail) else None
    return scripted_answer(error, lambda: error_body(error.status, detail))


def _accounts(ctx: Context, scenario: Scenario | None = None) -> list[str]:
    config = ctx.config
    count = config.accounts if scenario is None or scenario.accounts is None else scenario.accounts
    return [
        hashlib.md5(f"{config.seed}:{i}".encode(), usedforsecurity=False).hexdigest()
        for i in range(count)
    ]


def _chosen(ctx: Context) -> Scenario:
    if ctx.scenario is None:  # pragma: no cover - the dispatcher always chooses first
        raise RuntimeError("an endpoint answered before its scenario was chosen")
    return ctx.scenario


# -- /api/loads -----------------------------------------------------------------------


async def read_loads(request: web.BaseRequest, ctx: Context) -> tuple[None, None]:
    t = request.query.get("t")
    if t is not None and not t.lstrip("-").isdigit():
        raise BadRequest(
            400, f"query parameter 't' must be an integer (a cache-buster), got {t!r}"
        )
    return None, None


async def answer_loads(request: web.BaseRequest, ctx: Context) -> web.Response:
    # Counts change from call to call, reproducibly for a given seed.
    rng = random.Random(ctx.config.seed * 1_000_003 + ctx.call.number)
    ids = _accounts(ctx, _chosen(ctx))
    return json_response(loads_body([(token_id, rng.randint(0, 120)) for token_id in ids]))


# -- /auth/login ----------------------------------------------------------------------


async def read_login(request: web.BaseRequest, ctx: Context) -> tuple[None, tuple[str, str]]:
    ctype = request.content_type
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(
            415,
            f"Content-Type must be application/x-www-form-urlencoded (got {ctype or 'none'})",
        )
    try:
        form: Any = (
            multipart_form(request.headers.get("Content-Type", ""), await request.read())
            if ctype == "multipart/form-data"
            else await request.post()
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the form body cannot be read: {exc}") from exc
    return None, (form_text(form, "token_key"), form_text(form, "session_password"))


async def answer_login(request: web.BaseRequest, ctx: Context) -> web.Response:
    token_key, password = ctx.parsed
    if token_key not in _accounts(ctx):
        raise BadRequest(
            400, f"Invalid token_key {token_key[:64]!r}: GET /api/loads lists the valid ones"
        )
    signer = ctx.signer
    user = user_id_for(signer.secret, token_key, password)
    credential, _ = signer.issue("credential", token_key, user, ctx.state.id)
    response = json_response({"code": 0, "url": "/"})
    if not _chosen(ctx).login_cookie:
        return response
    response.set_cookie(
        "credential",
        credential,
        path="/",
        httponly=True,
        samesite="Lax",
        max_age=math.ceil(signer.ttl),
    )
    return response


# -- /api/auth/session ----------------------------------------------------------------


async def answer_session(request: web.BaseRequest, ctx: Context) -> web.Response:
    signer = ctx.signer
    identity = signer.verify("credential", request.cookies.get("credential", ""))
    if identity is None or _other_session(ctx, identity):
        return json_response({})  # the NextAuth convention for "not signed in"
    token, expires = signer.issue("access", identity.account, identity.user, ctx.state.id)
    short = identity.user.removeprefix("user-")[:8]
    return json_response(
        session_body(
            user_id=identity.user,
            name=short,
            email=f"{short}@emulator.invalid",
            expires=datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            token=token,
        )
    )


# -- /api/conversation ----------------------------------------------------------------


async def read_conversation(
    request: web.BaseRequest, ctx: Context
) -> tuple[Asked, tuple[ConversationRequest, Identity]]:
    """Validate the body and authorise, before anything costly (rules, planning) runs."""
    # The usual header read as it is: parsing it (request.content_type) costs
    # more than the rest of the validation.
    ctype = request.headers.get("Content-Type")
    parsed = parse_conversation(
        await request.read(),
        "application/json" if ctype == "application/json" else request.content_type,
    )
    identity = _authorize(request, ctx.signer)
    if too_long(parsed.prompt, ctx.config.max_prompt):
        raise BadRequest(413, None)  # the upstream's message_length_exceeds_limit
    # The upstream's conversation carries the new message only (the rest it keeps).
    asked = Asked((Message("user", parsed.prompt),), parsed.model, body=parsed.body)
    return asked, (parsed, identity)


async def answer_conversation(request: web.BaseRequest, ctx: Context) -> web.StreamResponse:
    parsed, identity = ctx.parsed
    scenario = _chosen(ctx)
    reason = not_applicable(scenario)
    if reason is not None:
        raise BadRequest(400, f"scenario {scenario.name!r} does not apply to FakeGpt: {reason}")
    if _other_session(ctx, identity):
        raise BadRequest(
            401,
            "the access token was issued in another emulator session "
            f"({identity.session or 'the default'}); this scenario sets session_tokens",
        )
    stream = StreamContext(
        prompt=parsed.prompt,
        message_id=_random_uuid4(),
        conversation_id=_conversation_id(ctx.signer, identity, parsed),
        parent_id=parsed.parent_id,
        create_time=ctx.config.clock.wall(),
        model=parsed.model or DEFAULT_MODEL,
        moderation_id=f"modr-{_IDS.getrandbits(96):024x}",
    )
    config = ctx.config
    transport = transport_of(scenario)
    if scenario.recording is not None:
        # A captured stream, byte for byte (with the scenario's faults on top).
        return await replayed_answer(request, ctx, scenario, shapes(stream))
    try:
        prepared = text = None
        if scenario.wire.body == "stream":
            text = reply_text(scenario.reply, parsed.prompt)
            if len(text) > CACHE_TEXT_CHARS:
                # Cutting and escaping a long text takes a while: in a worker
                # thread, so the loop keeps serving everyone else meanwhile.
                prepared = await asyncio.to_thread(prepare, scenario, text)
            else:
                await ctx.templates.build_due(scenario, text)  # also in a worker thread
        steps = plan(
            scenario,
            stream,
            max_bytes=config.max_stream_bytes,
            prepared=prepared,
            text=text,  # made once, above, not again in plan()
            templates=ctx.templates,
        )
    except PlanError as exc:
        raise BadRequest(400, str(exc)) from exc
    return await streamed(request, ctx, steps, transport)


def _other_session(ctx: Context, identity: Identity) -> bool:
    """Whether the chosen scenario refuses ``identity`` because another session issued it."""
    return _chosen(ctx).session_tokens and identity.session != ctx.state.id


def _authorize(request: web.BaseRequest, signer: Signer) -> Identity:
    header = request.headers.get("X-Authorization") or request.headers.get("Authorization")
    if not header:
        raise BadRequest(
            401, "Unauthorized: send the access token as 'X-Authorization: Bearer <accessToken>'"
        )
    scheme, _, token = header.partition(" ")
    identity = signer.verify("access", token.strip()) if scheme.lower() == "bearer" else None
    if identity is None:
        raise BadRequest(401, None)  # the upstream's token_expired
    return identity


def _conversation_id(signer: Signer, identity: Identity, parsed: ConversationRequest) -> str:
    """A conversation id that names its owner: a nonce and a MAC of (user, nonce).

    An id sent back by another user (another session password) fails the MAC
    and is answered as not found, without any state on the server.
    """
    if parsed.conversation_id is not None:
        try:
            raw = uuid.UUID(parsed.conversation_id).bytes
        except ValueError:
            raise BadRequest(400, "conversation_id must be a UUID") from None
        mac = signer.tag(identity.user.encode() + raw[:8])
        if not hmac.compare_digest(mac, raw[8:]):
            raise BadRequest(404, "Conversation not found")
        return parsed.conversation_id
    nonce = _IDS.getrandbits(64).to_bytes(8, "big")
    mac = signer.tag(identity.user.encode() + nonce)
    return _uuid_text((nonce + mac).hex())


# Ids need to be unique, not secret (a MAC is what a forger lacks): a Mersenne
# Twister of our own, so no system call, and tests that seed the global
# random module (hypothesis does) cannot make ids repeat.
_IDS: Final = random.Random()
#: The version and variant bits of a random UUID (RFC 9562, version 4).
_UUID4_BITS: Final = (0x4 << 76) | (0b10 << 62)
_UUID4_MASK: Final = ~((0xF << 76) | (0b11 << 62)) & ((1 << 128) - 1)


def _random_uuid4() -> str:
    """A random version 4 UUID in canonical form, without a system call."""
    return _uuid_text(f"{(_IDS.getrandbits(128) & _UUID4_MASK) | _UUID4_BITS:032x}")


def _uuid_text(h: str) -> str:
    """32 hex digits in the canonical UUID form."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


DIALECT: Final = Dialect(
    name=NAME,
    title="FakeGpt",
    answered_at="/api/conversation",
    routes={
        "/api/loads": {"GET": Route(answer_loads, "loads", read_loads)},
        "/auth/login": {"POST": Route(answer_login, "login", read_login)},
        "/api/auth/session": {"GET": Route(answer_session, "session")},
        "/api/conversation": {
            "POST": Route(answer_conversation, "conversation", read_conversation)
        },
    },
    not_applicable=not_applicable,
    shapes=FAULT_SHAPES,
    read_capture=read_capture,
    scripted_error=scripted_error,
    doc="the shared ChatGPT front end the seed's client spoke: a login, then cumulative "
    "snapshots over SSE",
)
