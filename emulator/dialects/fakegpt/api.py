"""The upstream's four endpoints: each a reader (validation, authorisation) and an answer.

The lifecycle (:mod:`emulator.http.lifecycle`) runs the reader, chooses the
scenario, injects the HTTP error it asks for if any, and only then calls
the answer with the chosen scenario.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import uuid
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any, Final, NamedTuple

from ...core.signing import Identity, Signer, user_id_for
from ...engine.prepare import Prepared, prepare
from ...protocol.errors import BadRequest
from ...scenario import HttpError, Scenario
from ...scenario.asked import Asked, Message
from ...scenario.faults import Shapes
from ...scenario.text import CACHE_TEXT_CHARS
from ..dialect import Called, Capture, Conversation, Dialect, Errors
from ..speaker import Given, Incoming, Speaker, Streamed, Whole, scripted_answer, too_long
from .cache import TemplateCache
from .capture import read_capture
from .part import FakeGptPart
from .plan import NAME, not_applicable, plan
from .read import (
    ConversationRequest,
    form_text,
    multipart_form,
    parse_conversation,
    urlencoded_form,
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
    "Conversing",
    "FakeGptSpeaker",
    "answer_loads",
    "answer_login",
    "answer_session",
    "read_loads",
    "read_login",
    "scripted_error",
]


def scripted_error(error: HttpError) -> Whole:
    """The HTTP error a scenario injects, with the body it asks for."""
    detail = error.detail if (error.body == "text" or error.detail) else None
    return scripted_answer(error, error_body(error.status, detail))


def _accounts(given: Given, scenario: Scenario | None = None) -> list[str]:
    own = None if scenario is None else scenario.part(FakeGptPart).accounts
    count = given.accounts if own is None else own
    return [
        hashlib.md5(f"{given.seed}:{i}".encode(), usedforsecurity=False).hexdigest()
        for i in range(count)
    ]


def _json(obj: Any, headers: dict[str, str] | None = None) -> Whole:
    """A JSON answer as the upstream sends it (no charset named)."""
    return Whole.json(obj, headers, charset=None)


# -- /api/loads -----------------------------------------------------------------------


def read_loads(incoming: Incoming, given: Given) -> None:
    t = incoming.query.get("t")
    if t is not None and not t.lstrip("-").isdigit():
        raise BadRequest(
            400, f"query parameter 't' must be an integer (a cache-buster), got {t!r}"
        )


def answer_loads(parsed: None, scenario: Scenario, given: Given) -> Whole:
    # Counts change from call to call, reproducibly for a given seed.
    rng = random.Random(given.seed * 1_000_003 + given.number)
    ids = _accounts(given, scenario)
    return _json(loads_body([(token_id, rng.randint(0, 120)) for token_id in ids]))


# -- /auth/login ----------------------------------------------------------------------


def read_login(incoming: Incoming, given: Given) -> tuple[str, str]:
    ctype = incoming.content_type
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(
            415,
            f"Content-Type must be application/x-www-form-urlencoded (got {ctype or 'none'})",
        )
    try:
        form: Any = (
            multipart_form(incoming.headers.get("Content-Type", ""), incoming.body)
            if ctype == "multipart/form-data"
            else urlencoded_form(incoming.headers.get("Content-Type", ""), incoming.body)
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the form body cannot be read: {exc}") from exc
    return form_text(form, "token_key"), form_text(form, "session_password")


def answer_login(parsed: tuple[str, str], scenario: Scenario, given: Given) -> Whole:
    token_key, password = parsed
    if token_key not in _accounts(given):
        raise BadRequest(
            400, f"Invalid token_key {token_key[:64]!r}: GET /api/loads lists the valid ones"
        )
    signer = given.signer
    user = user_id_for(signer.secret, token_key, password)
    credential, _ = signer.issue("credential", token_key, user, given.session)
    if not scenario.part(FakeGptPart).login_cookie:
        return _json({"code": 0, "url": "/"})
    cookie: SimpleCookie = SimpleCookie()
    cookie["credential"] = credential
    morsel = cookie["credential"]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    morsel["max-age"] = math.ceil(signer.ttl)
    return _json({"code": 0, "url": "/"}, {"Set-Cookie": morsel.OutputString()})


# -- /api/auth/session ----------------------------------------------------------------


def read_session(incoming: Incoming, given: Given) -> str:
    return incoming.cookies.get("credential", "")


def answer_session(credential: str, scenario: Scenario, given: Given) -> Whole:
    signer = given.signer
    identity = signer.verify("credential", credential)
    if identity is None or _other_session(scenario, given, identity):
        return _json({})  # the NextAuth convention for "not signed in"
    token, expires = signer.issue("access", identity.account, identity.user, given.session)
    short = identity.user.removeprefix("user-")[:8]
    return _json(
        session_body(
            user_id=identity.user,
            name=short,
            email=f"{short}@emulator.invalid",
            expires=datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            token=token,
        )
    )


# -- /api/conversation ----------------------------------------------------------------


class Conversing(NamedTuple):
    """A conversation request, and who sent it."""

    request: ConversationRequest
    identity: Identity

    @property
    def prompt(self) -> str:
        return self.request.prompt

    @property
    def stream(self) -> bool:
        return True  # the upstream answers only with a stream


class Planning(NamedTuple):
    """The reply's text, and its cuts and escaping when they were made ahead (a long
    text's, in a worker thread; else ``plan`` makes them, or a template stands in)."""

    text: str
    prepared: Prepared | None


class FakeGptSpeaker(Speaker[Conversing, Planning, StreamContext]):
    failed = "Internal Server Error"

    def __init__(self) -> None:
        #: This server's templates of small streams (:mod:`.cache`).
        self.templates = TemplateCache()

    def read(self, incoming: Incoming, given: Given) -> tuple[Asked, Conversing]:
        """Validate the body and authorise, before anything costly (rules, planning) runs."""
        # The usual header read as it is: parsing it costs more than the rest of the
        # validation.
        ctype = incoming.headers.get("Content-Type")
        parsed = parse_conversation(
            incoming.body,
            "application/json" if ctype == "application/json" else incoming.content_type,
        )
        identity = _authorize(incoming, given.signer)
        if too_long(parsed.prompt, given.max_prompt):
            raise BadRequest(413, None)  # the upstream's message_length_exceeds_limit
        # The upstream's conversation carries the new message only (the rest it keeps).
        asked = Asked((Message("user", parsed.prompt),), parsed.model, body=parsed.body)
        return asked, Conversing(parsed, identity)

    async def planning(self, scenario: Scenario, text: str, given: Given) -> Planning:
        if not scenario.streams or scenario.recording is not None:
            return Planning(text, None)
        if len(text) > CACHE_TEXT_CHARS:
            # Cutting and escaping a long text takes a while: in a worker thread, so the
            # loop keeps serving everyone else meanwhile.
            escape = scenario.part(FakeGptPart).cumulative
            return Planning(
                text, await given.costly(lambda: prepare(scenario, text, escape=escape))
            )
        await self.templates.build_due(scenario, text)  # also in a worker thread
        return Planning(text, None)

    def begin(
        self, parsed: Conversing, scenario: Scenario, planned: Planning, given: Given
    ) -> StreamContext:
        identity = parsed.identity
        if _other_session(scenario, given, identity):
            raise BadRequest(
                401,
                "the access token was issued in another emulator session "
                f"({identity.session or 'the default'}); this scenario sets session_tokens",
            )
        request = parsed.request
        return StreamContext(
            prompt=request.prompt,
            message_id=_random_uuid4(),
            conversation_id=_conversation_id(given.signer, identity, request),
            parent_id=request.parent_id,
            create_time=given.clock.wall(),
            model=request.model or DEFAULT_MODEL,
            moderation_id=f"modr-{_IDS.getrandbits(96):024x}",
        )

    def replay_shapes(self, context: StreamContext, given: Given) -> Shapes:
        # A captured stream, byte for byte (with the scenario's faults on top).
        return shapes(context)

    def stream(
        self,
        parsed: Conversing,
        context: StreamContext,
        scenario: Scenario,
        planned: Planning,
        given: Given,
    ) -> Streamed:
        steps = plan(
            scenario,
            context,
            max_bytes=given.max_stream_bytes,
            prepared=planned.prepared,
            text=planned.text if scenario.streams else None,
            templates=self.templates,
        )
        return Streamed(steps)


def _other_session(scenario: Scenario, given: Given, identity: Identity) -> bool:
    """Whether ``scenario`` refuses ``identity`` because another session issued it."""
    return scenario.part(FakeGptPart).session_tokens and identity.session != given.session


def _authorize(incoming: Incoming, signer: Signer) -> Identity:
    headers = incoming.headers
    header = headers.get("X-Authorization") or headers.get("Authorization")
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
        "/api/loads": {"GET": Called("loads", read_loads, answer_loads)},
        "/auth/login": {"POST": Called("login", read_login, answer_login)},
        "/api/auth/session": {"GET": Called("session", read_session, answer_session)},
        "/api/conversation": {"POST": Conversation(FakeGptSpeaker)},
    },
    why_not=not_applicable,
    shapes=FAULT_SHAPES,
    errors=Errors(error_body, scripted_error),
    capture=Capture(read_capture),
    doc="the shared ChatGPT front end the seed's client spoke: a login, then cumulative "
    "snapshots over SSE",
    part=FakeGptPart,
)
