"""What arrives over HTTP cannot read the server's disk, reach the admin API from a
browser, or get past the request limits.

Each test is an attack that worked before: a scenario header or prompt marker
naming a file, the admin API driven by a web page or a rebound name, and
the small holes (bytes counted as characters, a MemoryError, a multipart
login that always failed, a cookie without SameSite).
"""

from __future__ import annotations

import pathlib
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, EmulatorConfig, Limits
from emulator import scenario as scenario_module
from emulator.pytest_plugin import EmulatorFactory
from emulator.state import store as state_module
from tests.helpers import CONVERSATION, answer, conversation, converse, login

A_SCENARIO_FILE = 'description = "read from the disk"\n[reply]\ntext = "SECRET FILE TEXT"\n'


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
def no_file_reads(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail loudly if anything tries to read a file while the test runs.

    The server is warmed up first: its first admin request imports a module,
    which reads that module's source.
    """
    for path in ("/", "/_emulator"):
        with urllib.request.urlopen(emulator.url + path) as r:
            r.read()
    reached: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        reached.append(repr(args[:1]))
        raise AssertionError(f"a request reached a file read: {args[:1]!r}")

    monkeypatch.setattr(scenario_module, "load_scenario", refuse)
    monkeypatch.setattr(state_module, "load_scenario", refuse)
    monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    monkeypatch.setattr(pathlib.Path, "read_text", refuse)
    yield reached
    assert reached == []


def paths(tmp_path: Path) -> dict[str, str]:
    """Names an attacker would try: a real scenario file, a missing one, ../ walks."""
    real = tmp_path / "real.toml"
    real.write_text(A_SCENARIO_FILE)
    (tmp_path / "dir.toml").mkdir()
    return {
        "existing": str(real),
        "missing": str(tmp_path / "missing.toml"),
        "a folder": str(tmp_path / "dir.toml"),
        "not a folder": str(real / "x.toml"),
        "relative": "../" * 12 + str(real).lstrip("/"),
    }


async def test_the_scenario_header_never_reads_a_file(
    emulator: Emulator, http: aiohttp.ClientSession, tmp_path: Path, no_file_reads: list[str]
) -> None:
    token = await login(http, emulator.url)
    details = {}
    for what, path in paths(tmp_path).items():
        status, _, body, _ = await answer(
            http,
            "POST",
            f"{emulator.url}/api/conversation",
            json=CONVERSATION,
            headers={"X-Authorization": f"Bearer {token}", "X-Emulator-Scenario": path},
        )
        assert status == 400, what
        assert "SECRET" not in str(body) and "real.toml]" not in str(body)
        details[what] = body["detail"].replace(path[:80], "PATH")
    # Existing, missing, a folder, not a folder: one and the same answer.
    assert len(set(details.values())) == 1, details
    assert next(iter(details.values())).startswith("cannot choose a scenario: no scenario named")


async def test_a_prompt_marker_never_reads_a_file(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_file_reads: list[str],
) -> None:
    (tmp_path / "local.toml").write_text(A_SCENARIO_FILE)
    monkeypatch.chdir(tmp_path)  # where a relative name would be looked up
    token = await login(http, emulator.url)
    body = conversation("[scenario:local.toml]")
    status, _, answered, _ = await converse(http, emulator.url, token, body)
    assert status == 400
    assert answered["detail"].startswith(
        "cannot choose a scenario: no scenario named 'local.toml'"
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/scenario", {"name": "FILE"}),
        ("POST", "/queue", {"scenarios": ["FILE"]}),
        ("POST", "/rules", {"pattern": "x", "name": "FILE"}),
    ],
)
async def test_the_admin_api_never_reads_a_file(
    method: str,
    path: str,
    body: dict[str, Any],
    emulator: Emulator,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    no_file_reads: list[str],
) -> None:
    for what, file in paths(tmp_path).items():
        sent = {
            k: ([file] if v == ["FILE"] else file if v == "FILE" else v) for k, v in body.items()
        }
        status, _, answered, _ = await answer(
            http, method, f"{emulator.url}/_emulator{path}", json=sent
        )
        assert status == 400, what
        assert "no scenario named" in answered["detail"] and "SECRET" not in answered["detail"]
    assert emulator.state.active.name == "default" and emulator.state.queued == []


# -- the admin API from a browser ------------------------------------------------------


async def test_a_cross_site_form_post_cannot_drive_the_admin_api(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    # What a web page can send without a CORS preflight: text/plain, no Origin check.
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/_emulator/rules",
        data=b'{"pattern": "", "name": "http_500_loads"}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 415 and "application/json" in body["detail"]
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/_emulator/rules",
        json={"pattern": "", "name": "http_500_loads"},
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403 and "another origin" in body["detail"]
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/_emulator/reset",
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403
    assert emulator.state.queued == [] and emulator.calls("/api/loads").call_count == 0


async def test_a_rebound_name_cannot_reach_the_admin_api(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, body, _ = await answer(
        http, "GET", f"{emulator.url}/_emulator/journal", headers={"Host": "attacker.example"}
    )
    assert status == 403 and "loopback name" in body["detail"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8080", "127.0.0.1:1", "[::1]:8080", "127.1.2.3"]
)
async def test_loopback_names_and_origins_reach_the_admin_api(
    host: str, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, body, _ = await answer(
        http,
        "PUT",
        f"{emulator.url}/_emulator/scenario",
        json={"name": "done_only"},
        headers={"Host": host, "Origin": f"http://{host}"},
    )
    assert (status, body["name"]) == (200, "done_only")


async def test_with_an_admin_token_any_name_is_served(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(admin_token="s3cret"))
    status, _, _, _ = await answer(
        http,
        "GET",
        f"{emu.url}/_emulator",
        headers={"Host": "emulator.internal", "X-Emulator-Admin-Token": "s3cret"},
    )
    assert status == 200


async def test_cross_site_session_requests_open_nothing_and_lock_no_one_out(
    emulator_factory: EmulatorFactory,
) -> None:
    # An <img> tag on any page can send these; with its name rebound to 127.0.0.1 its
    # requests reach a loopback server. None opens a session, and a legitimate new
    # session works after them.
    emu = await emulator_factory(EmulatorConfig(speed=0, limits=Limits(sessions=8)))
    async with aiohttp.ClientSession() as http:
        statuses = []
        for i in range(400):
            async with http.get(f"{emu.url}/_session/evil{i}/api/loads",
                                headers={"Host": "evil.example"}) as r:  # fmt: skip
                statuses.append(r.status)
                if i == 0:
                    assert "a loopback name" in (await r.json())["detail"]
        assert set(statuses) == {403} and emu.state.sessions() == []
        # An admin request refused creates nothing either.
        async with http.get(f"{emu.url}/_session/admin1/_emulator/journal",
                            headers={"Host": "evil.example"}) as r:  # fmt: skip
            assert r.status == 403
        assert emu.state.sessions() == []
        async with http.get(f"{emu.url}/_session/mine/api/loads") as r:
            assert r.status == 200
        assert [s["id"] for s in emu.state.sessions()] == ["mine"]


async def test_a_full_session_table_makes_room_by_the_least_recently_used(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, limits=Limits(sessions=3)))
    async with aiohttp.ClientSession() as http:
        for name in ("a", "b", "c", "a", "d", "e"):  # a is used again before d and e come
            async with http.get(f"{emu.url}/_session/{name}/api/loads") as r:
                assert r.status == 200
    assert sorted(s["id"] for s in emu.state.sessions()) == ["a", "d", "e"]


async def test_an_allowed_host_is_served_and_any_other_name_refused(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(EmulatorConfig(speed=0, allowed_hosts=("emulator.test",)))
    async with aiohttp.ClientSession() as http:
        for host, status in (("emulator.test:9", 200), ("other.test", 403), ("[::1]:1", 200)):
            async with http.get(f"{emu.url}/api/loads", headers={"Host": host}) as r:
                assert r.status == status, host


# -- limits on what one request can ask for ----------------------------------------------


async def test_the_prompt_limit_counts_bytes(
    emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await emulator_factory(EmulatorConfig(max_prompt=1000))
    token = await login(http, emu.url)

    async def send(prompt: str) -> int:
        body = conversation(prompt)
        status, _, _, _ = await converse(http, emu.url, token, body)
        return status

    assert await send("\U0001f600" * 250) == 200  # 1,000 bytes
    assert await send("\U0001f600" * 251) == 413  # 251 characters, 1,004 bytes


async def test_an_amplifying_echo_is_refused_before_a_byte_is_sent(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    token = await login(http, emulator.url)
    body = conversation("x" * 60_000)
    status, _, answered, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/api/conversation",
        json=body,
        headers={"X-Authorization": f"Bearer {token}", "X-Emulator-Scenario": "echo_prompt"},
    )
    # 60 KB cut character by character would stream 1.8 GB.
    assert status == 400 and "would stream about" in answered["detail"]


async def test_a_huge_repeat_is_a_4xx_not_a_memory_error(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/_emulator/scenarios",
        json={"name": "big", "scenario": {"description": "d", "reply": {"repeat": 10_000_000}}},
    )
    assert status == 400 and "reply.repeat" in body["detail"]
    emulator.use({"description": "echo, repeated", "reply": {"echo": True, "repeat": 3_000_000}})
    token = await login(http, emulator.url)
    status, _, body, _ = await converse(http, emulator.url, token, CONVERSATION)
    assert status == 400 and "the limit is 4,194,304" in body["detail"]


async def test_a_flood_of_faults_is_refused_when_registered(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    faults = [{"kind": "comment", "count": 100_000}] * 11
    status, _, body, _ = await answer(
        http,
        "POST",
        f"{emulator.url}/_emulator/scenarios",
        json={"name": "flood", "scenario": {"description": "d", "faults": faults}},
    )
    assert status == 400 and "the limit is 1,000,000" in body["detail"]


async def test_full_stores_answer_409(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    admin = f"{emulator.url}/_emulator"
    status, _, _, _ = await answer(
        http, "POST", f"{admin}/queue", json={"scenarios": ["default"] * 1000}
    )
    assert status == 200
    status, _, body, _ = await answer(
        http, "POST", f"{admin}/queue", json={"scenarios": ["default"]}
    )
    assert status == 409 and "at most 1000" in body["detail"]
    emulator.reset()
    for i in range(100):
        await answer(http, "POST", f"{admin}/rules", json={"pattern": f"^{i}$", "name": "default"})
    status, _, body, _ = await answer(
        http, "POST", f"{admin}/rules", json={"pattern": "x", "name": "default"}
    )
    assert status == 409 and "at most 100 prompt rules" in body["detail"]


@pytest.mark.emulator_allow(unmatched=True)
async def test_the_journal_keeps_a_bounded_part_of_every_body(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        await answer(http, "POST", f"{emulator.url}/nowhere", data=b"x" * 1_000_000)
    calls = emulator.calls("/nowhere")
    assert [len(c.body) for c in calls] == [64 * 1024] * 3
    assert [c.body_size for c in calls] == [1_000_000] * 3
    assert len(emulator.state.unmatched) == 3
    assert emulator.state.journal_bytes < 3 * (64 * 1024 + 4096)


async def test_a_multipart_login_works(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emulator.url}/api/loads") as r:
        token_key = (await r.json())["loads"][0]["token_id"]
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("token_key", token_key)
    form.add_field("session_password", "pw")
    async with http.post(f"{emulator.url}/auth/login", data=form) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith("application/json")
    async with http.get(f"{emulator.url}/api/auth/session") as r:
        assert (await r.json())["accessToken"].startswith("eyJ")
    assert emulator.calls("/auth/login").last.body.startswith(b"--")


async def test_the_login_cookie_is_same_site(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emulator.url}/api/loads") as r:
        token_key = (await r.json())["loads"][0]["token_id"]
    async with http.post(
        f"{emulator.url}/auth/login", data={"token_key": token_key, "session_password": "p"}
    ) as r:
        cookie = r.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_a_huge_refused_reply_leaves_no_cache_behind() -> None:
    from emulator.dialects.fakegpt.cache import TEMPLATE_TEXT_CHARS, TemplateCache
    from emulator.dialects.fakegpt.plan import PlanError, plan
    from emulator.dialects.fakegpt.wire import StreamContext
    from emulator.engine import prepare as prepare_module
    from emulator.scenario import Reply, Scenario
    from emulator.scenario import text as text_module

    huge = Scenario(
        name="huge", description="d", reply=Reply(text="word ", repeat=800_000, cut="word")
    )
    ctx = StreamContext("p", "m", "c", "p", 0.0, "model", "modr")
    cache = TemplateCache()

    def sizes() -> tuple[int, int]:
        return (
            text_module._cut_points.cache_info().currsize,
            prepare_module._escaped.cache_info().currsize,
        )

    before = sizes()
    for _ in range(2):
        with pytest.raises(PlanError, match="would stream about"):
            plan(huge, ctx, templates=cache)
    assert sizes() == before  # 4 M characters: computed, refused, and not kept
    assert all(len(text) <= TEMPLATE_TEXT_CHARS for text in cache.texts())
