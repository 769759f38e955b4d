"""The options of one call (``create_async_generator``'s keywords), checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["DEFAULT_MAX_LINE", "DEFAULT_TOTAL_TIMEOUT", "Options"]

#: The longest SSE line the client buffers (64 MiB): a reply's cumulative
#: snapshot is one line, and ~16 million characters of reply is far past any
#: real one, while an endless line from a hostile server stops here.
DEFAULT_MAX_LINE = 64 * 1024 * 1024
#: The deadline for one whole call (seconds), as openai-python's default: a
#: stream that never ends (pings forever) stops here. ``total_timeout=None``
#: turns it off.
DEFAULT_TOTAL_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Options:
    timeout: float | None
    idle_timeout: float | None
    total_timeout: float | None
    max_line: int | None
    headers: dict[str, str]

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Options:
        timeout = _seconds("timeout", kwargs.get("timeout", 60.0))
        idle = _seconds("idle_timeout", kwargs.get("idle_timeout", timeout))
        total = _seconds("total_timeout", kwargs.get("total_timeout", DEFAULT_TOTAL_TIMEOUT))
        max_line = kwargs.get("max_line", DEFAULT_MAX_LINE)
        if max_line is not None and (not isinstance(max_line, int) or max_line < 1):
            raise ValueError(f"max_line must be a positive int or None, got {max_line!r}")
        headers = kwargs.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError(f"headers must map strings to strings, got {headers!r:.80}")
        return cls(timeout, idle, total, max_line, dict(headers))

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total_timeout,
            connect=self.timeout,
            sock_connect=self.timeout,
            sock_read=self.idle_timeout,
        )


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return float(value)
