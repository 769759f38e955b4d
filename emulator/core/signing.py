"""Stateless, signed credentials and access tokens (HMAC-SHA256). Pure.

Both are JWT-shaped (``header.claims.signature``, base64url), so an access
token starts with ``eyJ`` as the upstream's did. Nothing is stored server
side: any emulator process started with the same secret accepts the tokens
of any other, so several processes can sit behind a load balancer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Identity", "Seals", "Signer", "user_id_for"]

#: How many verified tokens a signer remembers (then it starts again).
_VERIFIED_MAX: Final = 4096
_HEADER: Final = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token speaks for: the shared account and the isolated user."""

    account: str
    user: str
    expires: float
    session: str | None = None  # the emulator session it was issued in (None: the default)


def _scoped(scope: str, text: str) -> bytes:
    """What a signature covers: the scope (an API and a conversation), then the text."""
    return (
        f"{scope}\0{text}".encode("utf-8", "surrogatepass")
        if scope
        else text.encode("utf-8", "surrogatepass")
    )


class Seals:
    """A signer's signatures and seals for one API's conversation (:meth:`Signer.conversation`):
    a thinking block, a sealed reasoning or a thought signature made in one conversation of
    one API verifies there only, as the real APIs' do (moved to another: refused)."""

    __slots__ = ("_scope", "_signer")

    def __init__(self, signer: Signer, scope: str) -> None:
        self._signer = signer
        self._scope = scope

    def signature(self, text: str) -> str:
        return self._signer.thinking_signature(text, self._scope)

    def sealed(self, text: str) -> str:
        return self._signer.sealed(text, self._scope)

    def unsealed(self, blob: str) -> str | None:
        return self._signer.unsealed(blob, self._scope)


def user_id_for(secret: bytes, account: str, session_password: str) -> str:
    """A stable user id per (account, session password): users on one account differ."""
    digest = hmac.new(secret, f"{account}\0{session_password}".encode(), hashlib.sha256)
    return "user-" + base64.b32encode(digest.digest()[:15]).decode().lower()


class Signer:
    """Issues and checks tokens of a kind (``credential`` or ``access``)."""

    def __init__(
        self,
        secret: bytes | None = None,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"token ttl must be positive, got {ttl}")
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        self.ttl = ttl
        self.clock = clock
        self._verified: dict[tuple[str, str], Identity] = {}
        # A key of its own for short tags (keyed BLAKE2b: a MAC by design, and
        # a few times cheaper per call than HMAC through OpenSSL).
        self._tag_key = hashlib.sha256(b"emulator tag key\0" + self.secret).digest()

    def thinking_signature(self, text: str, scope: str = "") -> str:
        """The signature of a model's thinking ``text``, as Anthropic's API sends it with the
        block and checks when the block comes back: a client that alters the text (or
        signs its own, or moves it to another ``scope``: another API or conversation)
        fails the check. The same for every process sharing the secret."""
        mac = hashlib.blake2b(_scoped(scope, text), key=self._tag_key, digest_size=48,
                              person=b"thinking")  # fmt: skip
        return base64.b64encode(b"Eu" + mac.digest()).decode()

    def conversation(self, api: str, opening: str) -> Seals:
        """What ``api`` signs and seals in the conversation that opens with ``opening`` (its
        first message's text): valid there only."""
        return Seals(self, f"{api}\0{opening}")

    def mark(self, seed: str) -> str:
        """Eight hex digits only this secret makes from ``seed``: an id that carries them
        after its seed is one the emulator made, and says so (an item that came with
        reasoning)."""
        return hashlib.blake2b(seed.encode(), key=self._tag_key, digest_size=4,
                               person=b"marked").hexdigest()  # fmt: skip

    def sealed(self, text: str, scope: str = "") -> str:
        """``text`` sealed, as OpenAI's ``encrypted_content`` of a reasoning item carries the
        model's reasoning back and forth (``gAAAAA``, then base64): the emulator opens it
        again (:meth:`unsealed`) in the same ``scope``, a client cannot alter it. Readable,
        not secret."""
        raw = text.encode("utf-8", "surrogatepass")
        mac = hashlib.blake2b(_scoped(scope, text), key=self._tag_key, digest_size=16,
                              person=b"sealed")  # fmt: skip
        return "gAAAAA" + base64.urlsafe_b64encode(mac.digest() + raw).decode()

    def unsealed(self, blob: str, scope: str = "") -> str | None:
        """The text :meth:`sealed` sealed in ``blob`` in ``scope``; None when it is not one
        of this secret's, was altered, or was sealed in another scope."""
        try:  # base64 that is not, text that is not UTF-8 (both ValueErrors)
            raw = base64.urlsafe_b64decode(blob.removeprefix("gAAAAA").encode("ascii"))
            text = raw[16:].decode("utf-8", "surrogatepass")
        except ValueError:
            return None
        return text if blob == self.sealed(text, scope) else None

    def issue(
        self, kind: str, account: str, user: str, session: str | None = None
    ) -> tuple[str, float]:
        """A token and its expiry (unix seconds); ``session``: the emulator session it is for."""
        now = self.clock()
        expires = now + self.ttl
        claims: dict[str, Any] = {
            "typ": kind,
            "acct": account,
            "sub": user,
            "iat": int(now),
            "exp": expires,
        }
        if session is not None:
            claims["ses"] = session
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{_HEADER}.{body}"
        return f"{signing_input}.{self._sign(signing_input)}", expires

    def verify(self, kind: str, token: str) -> Identity | None:
        """The token's identity, or ``None`` if forged, tampered, expired or of another kind.

        A token's signature and claims never change, so a token checked once
        is remembered (a bounded number of them); its expiry is compared with
        the clock on every call.
        """
        key = (kind, token)
        identity = self._verified.get(key)
        if identity is None:
            identity = self._check(kind, token)
            if identity is None:
                return None
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[key] = identity
        return identity if identity.expires > self.clock() else None

    def _check(self, kind: str, token: str) -> Identity | None:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _HEADER:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._sign(signing_input)):
            return None
        try:
            claims: Any = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if not isinstance(claims, dict) or claims.get("typ") != kind:
            return None
        expires, account, user = claims.get("exp"), claims.get("acct"), claims.get("sub")
        if not isinstance(expires, (int, float)) or isinstance(expires, bool):
            return None
        if not isinstance(account, str) or not isinstance(user, str):
            return None
        session = claims.get("ses")
        if session is not None and not isinstance(session, str):
            return None
        return Identity(account, user, float(expires), session)

    def tag(self, data: bytes, size: int = 8) -> bytes:
        """A short MAC of ``data`` under this signer's secret."""
        return hashlib.blake2b(data, key=self._tag_key, digest_size=size).digest()

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self.secret, signing_input.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc
