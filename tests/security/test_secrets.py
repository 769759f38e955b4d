"""Credentials never shown: every seeded secret is a marker in the journal, an entry, its
recording and the access log (emulator.state.secrets); --journal-secrets keeps them."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from emulator import EmulatorConfig
from emulator.pytest_plugin import EmulatorFactory
from emulator.state.secrets import marker, redacted_body, redacted_headers

PROMPT = [{"role": "user", "content": "hi"}]
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIASEEDEDKEYID12345/20261206/us-east-1/bedrock/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=5eeded5ignature0123456789abcdef0123456789abcdef"
)
#: Each secret a request may carry, as it is seeded.
SEEDED = {
    "openai": "sk-seeded-openai-key-0001",
    "anthropic": "sk-ant-seeded-anthropic-0002",
    "google": "seeded-google-header-0003",
    "google_query": "seeded-google-query-0004",
    "bedrock": "seeded-bedrock-api-key-0005",
    "sigv4_key": "AKIASEEDEDKEYID12345",
    "sigv4_signature": "5eeded5ignature0123456789abcdef0123456789abcdef",
    "amz_token": "seeded-security-token-0006",
    "password": "seeded-password-0007",
    "cookie": "seeded-cookie-value-0008",
}


async def _traffic(url: str, http: aiohttp.ClientSession) -> list[str]:
    """Requests carrying every seeded secret; the credentials the emulator issued."""
    await http.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": PROMPT},
                    headers={"Authorization": f"Bearer {SEEDED['openai']}"})  # fmt: skip
    await http.post(f"{url}/v1/messages",
                    json={"model": "m", "max_tokens": 9, "messages": PROMPT},
                    headers={"x-api-key": SEEDED["anthropic"],
                             "anthropic-version": "2023-06-01"})  # fmt: skip
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    await http.post(f"{url}/v1beta/models/m:generateContent", json=gemini,
                    headers={"x-goog-api-key": SEEDED["google"]})  # fmt: skip
    await http.post(f"{url}/v1beta/models/m:generateContent?key={SEEDED['google_query']}",
                    json=gemini)  # fmt: skip
    converse = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    await http.post(f"{url}/model/m/converse", json=converse,
                    headers={"Authorization": f"Bearer {SEEDED['bedrock']}"})  # fmt: skip
    await http.post(f"{url}/model/m/converse", json=converse,
                    headers={"Authorization": SIGV4,
                             "X-Amz-Security-Token": SEEDED["amz_token"]})  # fmt: skip
    async with http.get(f"{url}/api/loads") as r:
        token_key = (await r.json())["loads"][0]["token_id"]
    await http.post(f"{url}/auth/login",
                    data={"token_key": token_key, "session_password": SEEDED["password"]},
                    headers={"Cookie": f"theirs={SEEDED['cookie']}"})  # fmt: skip
    credential = next(c.value for c in http.cookie_jar if c.key == "credential")
    async with http.get(f"{url}/api/auth/session") as r:
        access = (await r.json())["accessToken"]
    return [credential, access]


async def _shown(url: str, http: aiohttp.ClientSession) -> str:
    """Everything the admin API shows of the journal: the list, each entry, each recording."""
    async with http.get(f"{url}/_emulator/journal") as r:
        listing = await r.json()
    shown = [json.dumps(listing)]
    for entry in listing:
        for tail in ("", "/recording"):
            async with http.get(f"{url}/_emulator/journal/{entry['id']}{tail}") as r:
                shown.append(await r.text())
    return "\n".join(shown)


@pytest.mark.parametrize("keep", [False, True])
async def test_no_seeded_secret_is_shown_unless_asked(
    emulator_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture, keep: bool
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, journal_secrets=keep))
    caplog.set_level(logging.INFO, logger="emulator.access")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        issued = await _traffic(emu.url, http)
        shown = await _shown(emu.url, http) + "\n" + caplog.text
    logged = caplog.text
    assert ":generateContent?key=" in logged  # the access log has the query, as it shows it
    secrets = [*SEEDED.values(), *issued]
    found = [s for s in secrets if s in shown]
    if keep:
        assert len(found) == len(secrets)  # every one of the 12, as asked
        return
    assert found == []
    assert f"?key={marker(SEEDED['google_query'])}" in logged
    # A marker in place of each, the same for the same secret (two can be told apart).
    assert f"Bearer {marker(SEEDED['openai'])}" in shown
    assert marker(SEEDED["google_query"]) in shown and marker(SEEDED["password"]) in shown
    assert f"credential={marker(issued[0])}" in shown
    assert marker(issued[1]) in shown  # the access token in the session answer's body


def test_what_is_redacted_and_what_is_kept() -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-1",
               "Cookie": "a=1; b=2"}  # fmt: skip
    shown = redacted_headers(headers)
    assert shown["Content-Type"] == "application/json"
    assert shown["Authorization"] == f"Bearer {marker('sk-1')}"
    assert shown["Cookie"] == f"a={marker('1')}; b={marker('2')}"
    plain = {"Content-Type": "text/plain"}
    assert redacted_headers(plain) is plain  # nothing to hide: not even copied
    form = b"token_key=abc&session_password=p%40ss"
    assert redacted_body(form) == b"token_key=abc&session_password=" + marker(b"p%40ss").encode()
    body = b'{"accessToken": "t.o.k\\"en", "user": {"name": "x"}}'
    assert redacted_body(body) == (
        b'{"accessToken": "' + marker(b't.o.k\\"en').encode() + b'", "user": {"name": "x"}}'
    )
    assert json.loads(redacted_body(body))["user"] == {"name": "x"}  # still JSON
    assert redacted_body(b'{"prompt": "hi"}') == b'{"prompt": "hi"}'
