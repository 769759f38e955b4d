"""Synthesized speech: PCM16 audio made from text, deterministically. Pure.

What a realtime API sends as the model's voice (24 kHz, mono, 16-bit little-endian
samples, as OpenAI's Realtime API and Gemini Live send it): here a tone per piece of
text, its pitch drawn from the piece, its length from its characters (about the pace of
speech), so a voice pipeline has real bytes to play, and the same text always sounds
the same. Made at C speed (one period of each tone, repeated), so an hour of speech
costs milliseconds.
"""

from __future__ import annotations

import math
import struct
import zlib
from functools import lru_cache
from typing import Final

__all__ = ["BYTES_PER_MS", "RATE", "SAMPLES_PER_CHAR", "duration", "speech"]

#: Samples a second.
RATE: Final = 24_000
#: Bytes a millisecond of it takes (two a sample).
BYTES_PER_MS: Final = RATE * 2 // 1000
#: Samples a character takes: 50 ms, about the pace of speech (15 to 20 characters a
#: second).
SAMPLES_PER_CHAR: Final = RATE // 20
#: A tone's period, in samples: 40 to 120 (600 Hz down to 200 Hz, a voice's range).
_PERIODS: Final = range(40, 121)
_AMPLITUDE: Final = 0.3 * 32767


def speech(text: str) -> bytes:
    """``text`` spoken: PCM16 samples, :data:`SAMPLES_PER_CHAR` a character, one tone."""
    if not text:
        return b""
    samples = len(text) * SAMPLES_PER_CHAR
    period = _PERIODS[zlib.crc32(text.encode("utf-8", "surrogatepass")) % len(_PERIODS)]
    wave = _period(period)
    repeats = -(-samples // period)
    return (wave * repeats)[: samples * 2]


def duration(pcm: bytes) -> float:
    """How long ``pcm`` (PCM16 at :data:`RATE`) plays, in seconds."""
    return len(pcm) / 2 / RATE


@lru_cache(maxsize=len(_PERIODS))
def _period(samples: int) -> bytes:
    """One period of a sine of ``samples`` samples, as PCM16."""
    return struct.pack(
        f"<{samples}h",
        *(round(_AMPLITUDE * math.sin(2 * math.pi * i / samples)) for i in range(samples)),
    )
