"""Embeddings as every provider's embeddings API answers them: deterministic vectors for
text. Pure.

A vector is made from the text alone (and its dimension): the same text always gives
the same vector, across calls, servers and machines; different texts give different
vectors; texts that share words lie nearer each other than texts that share none (each
word adds a direction of its own, as a bag of words would), so a retrieval step in a
pipeline ranks the passage that shares the query's words first. Each vector has unit
length, as the providers that normalize answer (a caller that asks for fewer dimensions
gets the first ones, normalized again, as OpenAI's ``dimensions`` does).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

__all__ = [
    "MAX_DIMENSIONS",
    "embedding",
    "embeddings_of",
    "float32_base64",
    "normalized",
    "token_count",
]

#: The most dimensions a vector is made with (a request for more is refused by its API).
MAX_DIMENSIONS: Final = 4096
#: How much of each vector is the text's own direction (the rest: its words').
_OWN: Final = 0.35
_WORDS: Final = re.compile(r"\w+", re.UNICODE)
#: How many dimensions each word's direction spans.
_SPREAD: Final = 64
#: How many distinct words of a text count (in their sorted order: enough to place it).
_MOST_WORDS: Final = 512


def _seed(kind: str, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{kind}\0{text}".encode(), digest_size=8).digest())


def _direction(text: str, dimensions: int) -> list[float]:
    """A unit vector drawn from ``text`` alone."""
    draw = random.Random(_seed("text", text))
    return normalized([draw.gauss(0.0, 1.0) for _ in range(dimensions)])


@lru_cache(maxsize=4096)  # at most 4,096 words of 64 pairs
def _word(word: str, dimensions: int) -> tuple[tuple[int, float], ...]:
    """A word's direction: a few of the dimensions, each +1 or -1 (sparse, as the hashing
    trick makes them: two words' directions barely overlap)."""
    draw = random.Random(_seed("word", word))
    return tuple((draw.randrange(dimensions), draw.choice((-1.0, 1.0))) for _ in range(_SPREAD))


def normalized(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to unit length (all zeros stay zeros)."""
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm else list(vector)


def embedding(text: str, dimensions: int, *, of: int = 0, unit: bool = True) -> list[float]:
    """The vector of ``text`` with ``dimensions`` dimensions (``of``: the first ones of the
    model's whole vector, that many long; ``unit``: scaled to unit length).

    The text's own direction keeps different texts apart; each distinct word (lower-cased)
    adds its direction, so shared words bring two texts nearer."""
    whole = max(of, dimensions)
    if not 1 <= dimensions <= whole <= MAX_DIMENSIONS:
        raise ValueError(f"dimensions must be 1 to {MAX_DIMENSIONS}, not {dimensions}")
    vector = [_OWN * v for v in _direction(text, whole)]
    words = sorted({w.lower() for w in _WORDS.findall(text)})[:_MOST_WORDS]
    weight = (1.0 - _OWN) / math.sqrt(len(words) * _SPREAD) if words else 0.0
    for word in words:
        for i, sign in _word(word, whole):
            vector[i] += weight * sign
    vector = vector[:dimensions]
    return normalized(vector) if unit else vector


def embeddings_of(
    texts: Sequence[str],
    dimensions: int,
    *,
    of: int = 0,
    unit: bool = True,
    scripted: Sequence[float] = (),
) -> list[list[float]]:
    """Each text's vector (as :func:`embedding` makes it); ``scripted``: the one vector a
    scenario gives every text instead (``[reply] vector``), as it is."""
    if scripted:
        return [list(scripted) for _ in texts]
    return [embedding(text, dimensions, of=of, unit=unit) for text in texts]


def float32_base64(vector: Sequence[float]) -> str:
    """``vector`` as OpenAI's ``encoding_format: "base64"`` sends it: little-endian
    float32s, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def token_count(text: str) -> int:
    """About how many tokens ``text`` is (its words and punctuation; at least one)."""
    return max(1, len(re.findall(r"\w+|[^\w\s]", text)))
