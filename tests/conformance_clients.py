"""Clients for the conformance kit's tests: deliberately broken ones, and the seed's provider."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from client import FakeGpt
from tests import seed_client


async def hangs(url: str, prompt: str) -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return ""


async def _login(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/api/loads") as r:
        token_key = (await r.json())["loads"][0]["token_id"]
    async with http.post(
        f"{url}/auth/login", data={"token_key": token_key, "session_password": "p"}
    ):
        pass
    async with http.get(f"{url}/api/auth/session") as r:
        return str((await r.json())["accessToken"])


async def naive(url: str, prompt: str, *, stop_at_done: bool = True) -> str:
    """Reads the last snapshot; returns "" for an empty reply and whatever it has on a drop."""
    text = ""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await _login(http, url)
        body = {
            "action": "next",
            "messages": [{"author": {"role": "user"}, "content": {"parts": [prompt]}}],
            "parent_message_id": "p",
        }
        async with http.post(
            f"{url}/api/conversation", json=body, headers={"X-Authorization": f"Bearer {token}"}
        ) as r:
            try:
                async for line in r.content:
                    data = line.decode("utf-8", "replace").strip()
                    if not data.startswith("data: "):
                        continue
                    if data == "data: [DONE]":
                        if stop_at_done:
                            break
                        continue
                    try:
                        text = json.loads(data[6:])["message"]["content"]["parts"][0]
                    except (ValueError, KeyError, TypeError):
                        continue
            except aiohttp.ClientError:
                pass  # a drop: keeps what it has, silently
    return text


async def ignores_done(url: str, prompt: str) -> str:
    """Reads on past [DONE] until the server closes."""
    return await naive(url, prompt, stop_at_done=False)


def sync_fakegpt(url: str, prompt: str, timeout: float = 5.0) -> str:
    """This project's client through its synchronous interface (run in a thread)."""

    class Sync(FakeGpt):
        pass

    Sync.url = url
    messages = [{"role": "user", "content": prompt}]
    return "".join(Sync.create_completion("m", messages, idle_timeout=timeout))


async def seed(url: str, prompt: str) -> str:
    """The original provider as shipped, handed the runner's URL as it is (a host name)."""
    cls = seed_client.FakeGpt
    cls.url = url
    cls._access_token = None
    cls._cookie_jar = None
    messages = [{"role": "user", "content": prompt}]
    return "".join([d async for d in cls.create_async_generator("m", messages)])
