"""FakeGpt's own part of a scenario: its login calls and its stream's switches. Pure.

Scenario files have always written these keys at the top level
(``accounts``, ``login_cookie``, ``session_tokens``) and in ``[wire]``
(``encoding``, ``body``, ``moderation``); they still do. No other API has
them: a scenario that changes them means nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, Literal, cast, get_args

from ...scenario.parts import ApiPart, FaultTraits

if TYPE_CHECKING:
    from typing import Self

    from ...scenario.table import Table

__all__ = ["Body", "Encoding", "FakeGptPart"]

Encoding = Literal["cumulative", "delta_v1"]
Body = Literal["stream", "empty", "done_only"]

#: Why a scenario acting on FakeGpt's login means nothing on another API.
_LOGIN: Final = "it acts on the FakeGpt login calls, which this API does not have"


@dataclass(frozen=True, slots=True)
class FakeGptPart(ApiPart):
    """What a scenario says of FakeGpt alone."""

    dialect: ClassVar[str] = "fakegpt"
    calls: ClassVar = {
        "loads": "/api/loads",
        "login": "/auth/login",
        "session": "/api/auth/session",
    }
    calls_elsewhere: ClassVar[str] = _LOGIN

    #: How the reply's text is sent: whole snapshots, or delta_encoding v1 patches.
    encoding: Encoding = "cumulative"
    #: The conversation's body: the stream, nothing at all, or ``[DONE]`` alone.
    body: Body = "stream"
    #: Whether the moderation event follows the reply.
    moderation: bool = True
    #: How many shared accounts ``/api/loads`` lists (None: the server's pool).
    accounts: int | None = None
    #: False: ``/auth/login`` answers 200 but sets no cookie.
    login_cookie: bool = True
    #: True: a token issued in another emulator session is refused.
    session_tokens: bool = False

    @classmethod
    def read(cls, top: Table, wire: Table) -> Self:
        d = cls()
        return cls(
            encoding=cast(Encoding, wire.choice("encoding", get_args(Encoding), d.encoding)),
            body=cast(Body, wire.choice("body", get_args(Body), d.body)),
            moderation=wire.boolean("moderation", d.moderation),
            accounts=top.optional_int("accounts", minimum=0),
            login_cookie=top.boolean("login_cookie", d.login_cookie),
            session_tokens=top.boolean("session_tokens", d.session_tokens),
        )

    def lines(self) -> tuple[list[str], list[str]]:
        top, wire = [], []
        if self.accounts is not None:
            top.append(f"accounts = {self.accounts}")
        if not self.login_cookie:
            top.append("login_cookie = false")
        if self.session_tokens:
            top.append("session_tokens = true")
        if self.encoding != "cumulative":
            wire.append(f'encoding = "{self.encoding}"')
        if self.body != "stream":
            wire.append(f'body = "{self.body}"')
        if not self.moderation:
            wire.append("moderation = false")
        return top, wire

    def elsewhere(self) -> str | None:
        if self.encoding != "cumulative":
            return "it is about the FakeGpt delta_encoding v1 stream"
        if self.body != "stream":
            return f"its body is {self.body!r}, a FakeGpt quirk"
        if self.accounts is not None or not self.login_cookie:
            return _LOGIN
        return None  # the moderation event and session-bound tokens: other APIs have none

    def unfit(self, spec: FaultTraits) -> str | None:
        if spec.cumulative_only and self.encoding != "cumulative":
            return "needs cumulative snapshots, not delta_v1"
        return None

    @property
    def cumulative(self) -> bool:
        """Whether the reply goes as whole snapshots (escaped once, sent growing)."""
        return self.encoding == "cumulative"

    @property
    def streams(self) -> bool:
        return self.body == "stream"

    def problems(self, faulted: bool, replies: bool) -> list[tuple[str, str]]:
        found = []
        if self.body != "stream":
            if faulted:
                found.append(("faults", f"never happen: wire.body is {self.body!r}, not a stream"))
            if replies:
                found.append(("expect", f"a reply cannot arrive when wire.body is {self.body!r}"))
        return found

    def effects(self) -> list[str]:
        effects = []
        if self.accounts is not None:
            effects.append(f"{self.accounts} accounts on /api/loads")
        if not self.login_cookie:
            effects.append("no login cookie")
        return effects
