"""Amazon Titan's text embeddings on Bedrock: ``POST /model/amazon.titan-embed-text-…/
invoke``, made of :mod:`..embeddings`' vectors.

The body gives ``inputText``; v2 (``amazon.titan-embed-text-v2:0``) also takes
``dimensions`` (256, 512 or 1,024, its default) and ``normalize`` (true by default); v1
answers 1,536. The answer is ``embedding``, ``embeddingsByType`` and
``inputTextTokenCount``; errors are Bedrock's.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ...protocol.errors import BadRequest
from ...scenario import ANSWER, Scenario
from ..aws import check_signed
from ..dialect import Called
from ..embeddings import embeddings_of, token_count
from ..speaker import Given, Incoming, Whole, json_object, too_long

__all__ = ["ROUTE", "TITAN"]

#: Titan's text embedding models, as the path names them.
TITAN: Final = "/model/amazon.titan-embed-{version}/invoke"
_SIZES: Final = (256, 512, 1024)
_INVALID: Final = "Malformed input request: {}, please reformat your input and try again."


class TitanRequest(NamedTuple):
    text: str
    dimensions: int
    normalize: bool
    tokens: int


def read_titan(incoming: Incoming, given: Given) -> TitanRequest:
    check_signed(incoming)
    body = json_object(incoming, "Malformed input request", typed=False)
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise BadRequest(400, _INVALID.format("#: required key [inputText] not found"))
    if too_long(text, given.max_prompt):
        raise BadRequest(400, "400 Bad Request: Too many input tokens.")
    v1 = incoming.params["version"].startswith("text-v1")
    dimensions = body.get("dimensions", 1536 if v1 else 1024)
    if not v1 and dimensions not in _SIZES:
        raise BadRequest(400, _INVALID.format(f"#/dimensions: {dimensions} is not a valid "
                                              "enum value"))  # fmt: skip
    if v1 and ("dimensions" in body or "normalize" in body):
        raise BadRequest(400, _INVALID.format("extraneous key [dimensions] is not permitted"))
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise BadRequest(400, _INVALID.format("#/normalize: expected type: Boolean"))
    return TitanRequest(text, int(dimensions), normalize, token_count(text))


async def answer_titan(request: TitanRequest, scenario: Scenario, given: Given) -> Whole:
    def made() -> list[list[float]]:
        scripted = scenario.reply.vector
        return embeddings_of([request.text], request.dimensions, unit=request.normalize,
                             scripted=scripted)  # fmt: skip

    vectors = await given.costly(made)
    vector = vectors[0]
    found: dict[str, Any] = {"embedding": vector, "embeddingsByType": {"float": vector},
                             "inputTextTokenCount": request.tokens}  # fmt: skip
    return Whole.json(found)


#: The route: a call of the API's answers (its errors and faults act on it).
ROUTE: Final = Called(ANSWER, read_titan, answer_titan)
