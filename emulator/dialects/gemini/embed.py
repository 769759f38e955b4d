"""The Gemini API's embeddings: ``POST /v1beta/models/{model}:embedContent`` and
``:batchEmbedContents`` (what google-genai's ``embed_content`` calls), made of
:mod:`..embeddings`' vectors.

A content's text is its parts' text; the vector has the model's length
(``gemini-embedding-001``: 3,072; ``text-embedding-004`` and ``embedding-001``: 768), or
``outputDimensionality``'s. As the API says of its own, only a whole-length vector is
normalized: a shorter one is the whole one's first values, which a caller normalizes.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ...protocol.errors import BadRequest
from ...scenario import ANSWER, Scenario
from ..dialect import Called
from ..embeddings import embeddings_of, token_count
from ..google import check_key
from ..speaker import Given, Incoming, Whole, json_object, too_long

__all__ = ["BATCH", "SINGLE", "embed_call"]

SINGLE: Final = "embedContent"
BATCH: Final = "batchEmbedContents"
_UNREADABLE: Final = "Invalid JSON payload received"
#: A model's vector length (others: 3,072, as Gemini's embedding model's).
DIMENSIONS: Final = {"text-embedding-004": 768, "embedding-001": 768,
                     "gemini-embedding-001": 3072}  # fmt: skip
_MOST: Final = 100


class EmbedRequest(NamedTuple):
    texts: tuple[str, ...]
    dimensions: tuple[int, ...]  # each text's
    whole: int
    batch: bool
    tokens: int


def _text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise BadRequest(400, f"* {where}.content.parts: must not be empty")
    texts = [p.get("text") for p in parts if isinstance(p, dict)]
    if not all(isinstance(t, str) for t in texts) or not texts:
        raise BadRequest(400, f"* {where}.content.parts: only text parts are embedded")
    return "".join(t for t in texts if isinstance(t, str))


def _dimension(request: dict[str, Any], whole: int, where: str) -> int:
    config = request.get("embedContentConfig")
    asked = request.get("outputDimensionality")
    if asked is None and isinstance(config, dict):
        asked = config.get("outputDimensionality")
    if asked is None:
        return whole
    if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= whole:
        raise BadRequest(400, f"* {where}.output_dimensionality: must be 1 to {whole}")
    return asked


def read_embed(incoming: Incoming, given: Given) -> EmbedRequest:
    check_key(incoming)
    method = incoming.path.rpartition(":")[2]
    model = incoming.params["model"].removeprefix("models/")
    whole = DIMENSIONS.get(model, 3072)
    body = json_object(incoming, _UNREADABLE)
    if method == BATCH:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BadRequest(400, "* BatchEmbedContentsRequest.requests: must not be empty")
        if len(requests) > _MOST:
            raise BadRequest(400, f"* BatchEmbedContentsRequest.requests: at most {_MOST} "
                             "requests are allowed in a batch")  # fmt: skip
    else:
        requests = [body]
    texts, dimensions = [], []
    for i, request in enumerate(requests):
        where = f"requests[{i}]" if method == BATCH else "EmbedContentRequest"
        if not isinstance(request, dict):
            raise BadRequest(400, f"* {where}: must be an object")
        texts.append(_text(request.get("content"), where))
        dimensions.append(_dimension(request, whole, where))
    if too_long("".join(texts), given.max_prompt):
        raise BadRequest(400, "The input token count exceeds the maximum number of tokens "
                         "allowed.")  # fmt: skip
    tokens = sum(token_count(t) for t in texts)
    return EmbedRequest(tuple(texts), tuple(dimensions), whole, method == BATCH, tokens)


async def answer_embed(request: EmbedRequest, scenario: Scenario, given: Given) -> Whole:
    def made() -> list[dict[str, Any]]:
        scripted = scenario.reply.vector
        wholes = embeddings_of(request.texts, request.whole, scripted=scripted)
        sizes = request.dimensions
        return [{"values": whole if scripted or size == request.whole else whole[:size]}
                for whole, size in zip(wholes, sizes, strict=True)]  # fmt: skip

    vectors = await given.costly(made)
    if request.batch:
        return Whole.json({"embeddings": vectors})
    return Whole.json({"embedding": vectors[0]})


def embed_call() -> Called[EmbedRequest]:
    """The route of both methods (the path says which)."""
    return Called(ANSWER, read_embed, answer_embed)
