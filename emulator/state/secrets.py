"""Credentials kept out of what the emulator shows: a marker in place of each. Pure.

What a request carries to prove who sends it (API keys in headers and query
strings, SigV4's key id, signature and session token, bearer tokens, cookies,
the upstream's session password) and what an answer hands out (an issued
credential cookie, an access token) is kept in the journal, the inspector,
a recording and the access log as ``[redacted 1a2b3c4d]``: the first eight
hex digits of its SHA-256, enough to tell two apart and to check one against
a key you hold, never enough to use. ``serve --journal-secrets`` keeps them
as they came.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "SECRET_FIELDS",
    "SECRET_HEADERS",
    "SECRET_QUERY",
    "marker",
    "redacted_body",
    "redacted_headers",
    "redacted_query",
]

#: Headers whose value is a credential (lower case).
SECRET_HEADERS: Final = frozenset({
    "authorization", "proxy-authorization", "x-authorization", "x-api-key",
    "x-goog-api-key", "api-key", "x-amz-security-token", "x-emulator-admin-token",
    "cookie", "set-cookie",
})  # fmt: skip
#: Query parameters whose value is a credential (lower case).
SECRET_QUERY: Final = frozenset({
    "key", "api_key", "api-key", "access_token", "token", "x-amz-credential",
    "x-amz-signature", "x-amz-security-token",
})  # fmt: skip
#: Form and JSON fields whose value is a credential.
SECRET_FIELDS: Final = ("session_password", "accessToken", "access_token", "credential")

_FIELD_BYTES: Final = tuple(f.encode() for f in SECRET_FIELDS)
#: Authorization schemes kept in the clear before the marker (what a reader needs to see).
_SCHEMES: Final = ("Bearer ", "Basic ", "AWS4-HMAC-SHA256 ")
_FIELDS: Final = re.compile(b"|".join(_FIELD_BYTES))
_COOKIE: Final = re.compile(r"([^=;,\s]+)=([^;,]*)")
_FORM: Final = re.compile(rb"(?<![^&])(" + b"|".join(_FIELD_BYTES) + rb")=([^&]*)")
_JSON: Final = re.compile(rb'("(?:' + b"|".join(_FIELD_BYTES) + rb')"\s*:\s*")((?:[^"\\]|\\.)*)"')
_MULTIPART: Final = re.compile(
    rb'(name="(?:' + b"|".join(_FIELD_BYTES) + rb')"\r\n(?:[^\r\n]+\r\n)*\r\n)([^\r]*)'
)


def marker(secret: str | bytes) -> str:
    """``[redacted 1a2b3c4d]``: the first 8 hex digits of the secret's SHA-256.

    A client sends the same key or token with every request: the markers of the last
    :data:`_MARKERS` secrets are remembered (in this process only, as the requests that
    carried them are)."""
    made = _markers.get(secret)
    if made is None:
        raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
        made = f"[redacted {hashlib.sha256(raw).hexdigest()[:8]}]"
        if len(_markers) >= _MARKERS:
            _markers.clear()
        _markers[secret] = made
    return made


#: How many secrets' markers :func:`marker` remembers.
_MARKERS: Final = 1024
_markers: dict[str | bytes, str] = {}


def _header_value(name: str, value: str) -> str:
    if name in ("cookie", "set-cookie"):
        if name == "set-cookie":  # the first pair is the cookie; the rest are attributes
            first, sep, rest = value.partition(";")
            cookie, eq, secret = first.partition("=")
            return f"{cookie}{eq}{marker(secret)}{sep}{rest}" if eq else marker(value)
        return _COOKIE.sub(lambda m: f"{m.group(1)}={marker(m.group(2))}", value)
    scheme = next((s for s in _SCHEMES if value.startswith(s)), "")
    return scheme + marker(value[len(scheme) :])


def redacted_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` with a marker for each credential (the same mapping when it has none),
    looked up case-insensitively, as HTTP's are."""
    if isinstance(headers, (CIMultiDict, CIMultiDictProxy)):  # aiohttp's: case-insensitive
        if headers.keys().isdisjoint(SECRET_HEADERS):
            return headers
    elif not any(name.lower() in SECRET_HEADERS for name in headers):
        return headers
    return CIMultiDictProxy(CIMultiDict(
        (name, _header_value(name.lower(), value) if name.lower() in SECRET_HEADERS else value)
        for name, value in headers.items()
    ))  # fmt: skip


def redacted_query(query: Mapping[str, str]) -> dict[str, str]:
    """A query's parameters with a marker for each credential."""
    return {k: marker(v) if k.lower() in SECRET_QUERY else v for k, v in query.items()}


def redacted_body(body: bytes) -> bytes:
    """A body with a marker for each credential field it carries (a form's, a JSON object's,
    a multipart part's); the same bytes when it names none."""
    if _FIELDS.search(body) is None:
        return body
    body = _FORM.sub(lambda m: m.group(1) + b"=" + marker(m.group(2)).encode(), body)
    body = _JSON.sub(lambda m: m.group(1) + marker(m.group(2)).encode() + b'"', body)
    return _MULTIPART.sub(lambda m: m.group(1) + marker(m.group(2)).encode(), body)
