"""Server VAD, as the emulator does it: speech is audio louder than a floor, and a turn ends
after ``silence_duration_ms`` of quiet that follows speech. Pure.

OpenAI's server VAD is a model with a probability ``threshold``; here the loudness of each
appended chunk decides, so a client's synthesized or recorded speech, then silence, ends a
turn as it would on the API (and silence alone never starts one).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = ["SPEECH_RMS", "Heard", "heard", "loudness"]

#: Audio whose RMS is above this fraction of full scale (-40 dBFS) is speech.
SPEECH_RMS: Final = 0.01


def loudness(pcm: bytes) -> float:
    """The RMS of PCM16 little-endian samples, as a fraction of full scale."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if not samples:
        return 0.0
    if sys.byteorder != "little":  # pragma: no cover - the machines here are little-endian
        samples.byteswap()
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


class Heard(NamedTuple):
    """What one appended chunk did to the turn: whether speech is on now, the quiet after
    it so far, and whether the chunk started or ended the speech."""

    speaking: bool
    quiet_ms: float
    started: bool = False
    ended: bool = False


def heard(
    pcm: bytes, speaking: bool, quiet_ms: float, detection: Mapping[str, Any], bytes_per_ms: float
) -> Heard:
    """One appended chunk (PCM16 mono, ``bytes_per_ms`` of it a millisecond) under server
    VAD's ``detection`` settings."""
    loud = loudness(pcm) >= SPEECH_RMS
    if not speaking:
        return Heard(loud, 0.0, started=loud)
    if loud:
        return Heard(True, 0.0)
    quiet = quiet_ms + len(pcm) / bytes_per_ms
    silence = detection.get("silence_duration_ms", 500)
    if quiet >= (silence if isinstance(silence, (int, float)) else 500):
        return Heard(False, 0.0, ended=True)
    return Heard(True, quiet)
