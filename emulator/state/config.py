"""How one emulator behaves apart from its scenarios: validated once, used everywhere.

The command line, ``serve()``, ``EmulatorServer`` and the pytest fixtures all
take an :class:`EmulatorConfig`; a bad value raises :class:`ConfigError` (a
``ValueError``) here, carrying the field, before anything starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..core.clock import REAL_CLOCK, Clock
from ..scenario.chaos import Chaos

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["LIMITS", "ConfigError", "EmulatorConfig", "Limits", "Tls"]


class ConfigError(ValueError):
    """A bad configuration value: ``field`` names it (``limits.queue``, ``speed``), so a
    caller can point at its own spelling of it (the CLI's ``--speed``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what requests can make a running emulator hold or do."""

    journal_calls: int = 10_000  # requests the journal keeps (the oldest go first)
    journal_bytes: int = 16 * 1024 * 1024  # ... and their stored headers and bodies, in all
    body_bytes: int = 64 * 1024  # of each request body, kept in the journal
    queue: int = 1_000  # queued scenarios
    rules: int = 100  # prompt rules
    rule_chars: int = 1_000  # length of one rule's pattern
    rule_seconds: float = 0.05  # time one rule may take on one prompt
    registered: int = 256  # scenarios registered over the admin API
    problems: int = 1_000  # handler errors and unmatched requests kept (each)
    transcript_bytes: int = 32 * 1024  # of a stream's first and of its last bytes, kept
    transcript_writes: int = 1_000  # ... and at most this many of its first and last writes
    sessions: int = 256  # named sessions open at once (X-Emulator-Session, /_session/ID/)
    session_idle: float = 900.0  # seconds after its last request a named session is dropped
    body_seconds: float = 30.0  # a request body not all there this long after its head: 408
    head_bytes: int = 16 * 1024  # of a request's headers, kept in the journal
    streams: int = 4096  # answers a server plays at once; past it, the API's overloaded error
    reader_seconds: float = 60.0  # a write the client takes nothing of this long: cut (too_slow)

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ConfigError(f"limits.{name}", f"must be positive, got {getattr(self, name)}")


LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class Tls:
    """HTTPS and WSS on the emulator's port: its certificate chain and key (PEM files), and
    the CA a client trusts to reach it ("": the user's own certificate, no CA of ours)."""

    cert: str
    key: str
    ca: str = ""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How one emulator behaves apart from its scenarios."""

    speed: float = 1.0  # time scale of scenario pacing: 1 real time, 0 no waiting
    seed: int = 0
    secret: bytes | None = None  # None: random per process
    token_ttl: float = 3600.0
    accounts: int = 8
    max_body: int = 1024 * 1024
    max_prompt: int = 100_000  # UTF-8 bytes; longer: 413 message_length_exceeds_limit
    #: A reply stream estimated larger than this is refused with a 400.
    max_stream_bytes: int = 256 * 1024 * 1024
    #: A connection that has not sent a whole request head within this many
    #: seconds (after connecting, or after its last answer) is closed.
    header_timeout: float = 15.0
    admin_token: str | None = None
    #: Keep the bytes of each answer in the journal's transcripts (off: only
    #: offsets, times and what each write carried; for load tests).
    capture_bytes: bool = True
    #: Refuse what the real APIs refuse in a conversation (a tool result for no call, a
    #: dropped thinking block, …) with their 400; off for clients that knowingly send
    #: less (a request can also turn it off: ``X-Emulator-Strict: off``).
    strict: bool = True
    #: Origins a browser app may stream from (``("*",)``: any); empty: no CORS.
    #: Never with credentials: the access token travels in a header the page sets.
    cors: tuple[str, ...] = ()
    limits: Limits = field(default=LIMITS)
    #: Where a server listens (loopback by default; 0: a free port).
    host: str = "127.0.0.1"
    #: Keep credentials as they came in the journal, recordings and the access log (by
    #: default each is a marker: ``[redacted 1a2b3c4d]``, see ``emulator.state.secrets``).
    journal_secrets: bool = False
    #: Names requests may be addressed to besides loopback ones, on a server bound to
    #: loopback (bound to other machines, any name is); see ``--allowed-host``.
    allowed_hosts: tuple[str, ...] = ()
    #: HTTPS and WSS on the same port (None: plain HTTP and WS).
    tls: Tls | None = None
    port: int = 0
    #: Bind with SO_REUSEPORT, so several processes serve one port (--workers).
    reuse_port: bool = False
    #: The scenarios requests may name (None: the shipped ones), and the one
    #: served by default (a name, a .toml path, a dict or a Scenario; None:
    #: "default").
    scenarios: Mapping[str, Scenario] | None = None
    default: str | Path | Scenario | Mapping[str, Any] | None = None
    #: Seeded chaos for every session (each may set its own over the admin API).
    chaos: Chaos | None = None
    #: Where answers take their time from: every pause, stall and timestamp (real by
    #: default; a :class:`~emulator.core.clock.VirtualClock` makes scripted time cost none).
    clock: Clock = field(default=REAL_CLOCK, compare=False)

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ConfigError("speed", f"must be 0 or more, got {self.speed}")
        if self.header_timeout <= 0:
            raise ConfigError("header_timeout", f"must be positive, got {self.header_timeout}")
        if self.max_stream_bytes <= 0:
            raise ConfigError("max_stream_bytes", f"must be positive, got {self.max_stream_bytes}")
        if not 0 <= self.port <= 65535:
            raise ConfigError("port", f"must be 0 to 65535, got {self.port}")
        if self.max_body <= 0 or self.max_prompt <= 0:
            field = "max_body" if self.max_body <= 0 else "max_prompt"
            raise ConfigError(field, "must be positive")
        if self.token_ttl <= 0:
            raise ConfigError("token_ttl", f"must be positive, got {self.token_ttl}")
        if self.accounts < 0:
            raise ConfigError("accounts", f"must be 0 or more, got {self.accounts}")
