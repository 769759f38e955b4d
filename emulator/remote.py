"""A handle on an emulator running elsewhere, driven through its admin API.

What the pytest plugin gives tests when ``emulator_url`` (or the
``EMULATOR_URL`` variable) names a running emulator, so that several test
processes (xdist workers, several suites in one CI job) share one server,
each test in a session of its own. It has the methods of
:class:`~emulator.server.Emulator` that make sense over HTTP: ``url``,
``use()``, ``queue()``, ``add_rule()``, the journal, ``reset()``, ``drop()``
and ``problems()`` (:class:`~emulator.handle.EmulatorHandle`); its state lives in
the other process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .core.endings import Ending, Problem
from .scenario import Scenario, scenario_from_dict
from .scenario.dump import scenario_to_toml
from .state.config import EmulatorConfig
from .state.journal import Call, CallList
from .state.sessions import SESSION_HEADER, check_session_id
from .state.store import ScenarioRef

__all__ = ["RemoteEmulator", "RemoteError"]


class RemoteError(RuntimeError):
    """The emulator's admin API refused a request (its status and detail), or is unreachable."""


class RemoteEmulator:
    """One session of an emulator at ``base_url`` (None: the default session): an
    :class:`~emulator.handle.EmulatorHandle`, as the in-process handle is."""

    def __init__(
        self,
        base_url: str,
        session: str | None = None,
        *,
        admin_token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.port is None:
            raise ValueError(f"emulator URL must be http(s)://host:port, got {base_url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.id = check_session_id(session) if session is not None else None
        self.admin_token = admin_token
        self.timeout = timeout
        self.config = EmulatorConfig()  # unknown: the other process has its own
        self.url = self.base + (f"/_session/{self.id}" if self.id is not None else "")

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        if port is None:
            raise ValueError(f"{self.url} names no port")  # pragma: no cover - checked above
        return port

    @property
    def session_id(self) -> str | None:
        return self.id

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.id} if self.id is not None else {}

    def session(self, session: str | None = None) -> RemoteEmulator:
        return RemoteEmulator(
            self.base,
            session or f"s-{secrets.token_hex(6)}",
            admin_token=self.admin_token,
            timeout=self.timeout,
        )

    # -- the admin API -----------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.admin_token is not None:
            headers["X-Emulator-Admin-Token"] = self.admin_token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # The scheme is checked in __init__: http or https only.
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/_emulator{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail")
            except (ValueError, AttributeError):
                detail = exc.reason
            raise RemoteError(f"{method} {path or '/'}: {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteError(f"the emulator at {self.base} cannot be reached: {exc}") from None

    def _name(self, ref: ScenarioRef) -> str:
        """The name the server knows ``ref`` by (registering it first unless it is a name)."""
        if isinstance(ref, str) and not ref.endswith(".toml"):
            return ref
        table = _table(ref)
        name = (
            table.get("name")
            or "py-"
            + hashlib.blake2b(
                json.dumps(table, sort_keys=True, default=repr).encode(), digest_size=6
            ).hexdigest()
        )
        self._admin("POST", "/scenarios", {"name": name, "scenario": table})
        return str(name)

    def use(self, scenario: ScenarioRef) -> Scenario:
        """Serve ``scenario`` in this session (a name, a .toml path, a dict or a Scenario)."""
        found = self._admin("PUT", "/scenario", {"scenario": self._name(scenario)})
        return _described(found)

    def queue(self, *scenarios: ScenarioRef) -> list[Scenario]:
        names = [self._name(s) for s in scenarios]
        return [_described(s) for s in self._admin("POST", "/queue", {"scenarios": names})]

    def add_rule(self, pattern: str, scenario: ScenarioRef) -> None:
        self._admin("POST", "/rules", {"pattern": pattern, "scenario": self._name(scenario)})

    @property
    def requests(self) -> CallList:
        return self._journal({})

    def calls(self, path: str | None = None, method: str | None = None) -> CallList:
        query = {k: v for k, v in (("path", path), ("method", method)) if v is not None}
        return self._journal(query)

    def _journal(self, query: Mapping[str, str]) -> CallList:
        if self.id is None:
            query = {**query, "session": ""}  # the default session's own calls
        entries = self._admin("GET", "/journal" + (f"?{urlencode(query)}" if query else ""))
        return CallList(_call(e) for e in entries)

    @property
    def call_count(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        self._admin("POST", "/reset")

    def drop(self) -> None:
        if self.id is None:
            self.reset()
        else:
            self._admin("DELETE", f"/sessions/{self.id}")

    def problems(
        self, *, allow_unmatched: bool = False, allow_unused: bool = False
    ) -> list[Problem]:
        info = self._admin("GET", "")
        found = [Problem("handler_error", p) for p in info["problems"]]
        if not allow_unmatched:
            found += [Problem("unmatched", u) for u in info["unmatched"]]
        if not allow_unused:
            found += [Problem("unused", name) for name in info["unused"]]
        return found


def _table(ref: ScenarioRef) -> dict[str, Any]:
    """A scenario as the table the admin API registers."""
    if isinstance(ref, Scenario):
        return tomllib.loads(scenario_to_toml(ref))
    if isinstance(ref, Mapping):
        return dict(ref)
    path = Path(ref)
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    table.setdefault("name", path.stem)
    return table


def _described(found: Mapping[str, Any]) -> Scenario:
    """A stand-in for a scenario the server described by name (its fields are the server's)."""
    return scenario_from_dict(
        {"description": found.get("description") or "(remote)"},
        name=str(found["name"]),
        source=str(found.get("source") or "<remote>"),
    )


def _call(entry: Mapping[str, Any]) -> Call:
    call = Call(
        method=entry["method"],
        path=entry["path"],
        query=dict(entry["query"]),
        headers=dict(entry["headers"]),
        body=str(entry["body"]).encode(),
    )
    for key in (
        "body_size", "started", "scenario", "chosen_by", "status", "bytes_sent", "duration",
        "detail", "number", "id", "ended_ms", "session", "dialect",
    ):  # fmt: skip
        setattr(call, key, entry.get(key))
    kind = entry.get("ending_kind")
    if kind is not None:
        call.ending = Ending(kind, call.bytes_sent, call.ended_ms, entry.get("ending_fault") or "")
    return call


if TYPE_CHECKING:  # mypy checks that the remote handle is a whole EmulatorHandle
    from .handle import EmulatorHandle

    _IS_A_HANDLE: type[EmulatorHandle] = RemoteEmulator
