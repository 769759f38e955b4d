"""Counters of what a server did, in the Prometheus text format (``GET /_emulator/metrics``).

Counters only grow (a reset of the emulator does not reset them, as
Prometheus expects); the in-flight gauge goes up and down. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import Counter

from ..core.endings import Ending

__all__ = ["Metrics"]


class Metrics:
    """Requests, bytes, faults and stream endings, as counted since the server started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.faults: Counter[str] = Counter()
        self.endings: Counter[str] = Counter()
        self.bytes_sent = 0
        self.in_flight = 0

    def answered(
        self,
        path: str,
        scenario: str | None,
        status: int | None,
        sent: int,
        ending: Ending | None,
        faults: dict[str, int],
    ) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests[(path, scenario or "", status or 0)] += 1
            self.bytes_sent += sent
            if faults:
                self.faults.update(faults)
            if ending is not None:
                self.endings[ending.kind] += 1

    def stream_started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def stream_ended(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            lines = [
                "# HELP fakegpt_requests_total Requests answered, by path, scenario and status.",
                "# TYPE fakegpt_requests_total counter",
                *(
                    f'fakegpt_requests_total{{path="{_label(p)}",scenario="{_label(s)}",'
                    f'status="{status}"}} {n}'
                    for (p, s, status), n in sorted(self.requests.items())
                ),
                "# HELP fakegpt_streams_in_flight Event streams being sent now.",
                "# TYPE fakegpt_streams_in_flight gauge",
                f"fakegpt_streams_in_flight {self.in_flight}",
                "# HELP fakegpt_bytes_sent_total Bytes of response bodies sent.",
                "# TYPE fakegpt_bytes_sent_total counter",
                f"fakegpt_bytes_sent_total {self.bytes_sent}",
                "# HELP fakegpt_faults_total Fault writes and waits sent, by fault kind.",
                "# TYPE fakegpt_faults_total counter",
                *(
                    f'fakegpt_faults_total{{kind="{_label(k)}"}} {n}'
                    for k, n in sorted(self.faults.items())
                ),
                "# HELP fakegpt_stream_endings_total How event streams ended.",
                "# TYPE fakegpt_stream_endings_total counter",
                *(
                    f'fakegpt_stream_endings_total{{ending="{k}"}} {n}'
                    for k, n in sorted(self.endings.items())
                ),
            ]
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A label value escaped as the text format asks (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
