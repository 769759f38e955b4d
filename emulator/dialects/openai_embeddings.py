"""OpenAI's embeddings (``POST /v1/embeddings``, and Azure's deployments of it): the
request read as the API reads it, the answer made of :mod:`.embeddings`' vectors. Pure.

A request names a model and gives ``input``: a string, a list of strings, a list of
token ids or a list of such lists (at most 2,048, none empty). The answer has one
vector per input in its order, ``dimensions`` long where the request asks (a
``text-embedding-3`` model only), as floats or (``encoding_format: "base64"``, what the
``openai`` package asks for) little-endian float32s in base64, and ``usage``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple

from ..protocol.errors import BadRequest
from ..scenario import ANSWER, Scenario
from .dialect import Called
from .embeddings import embeddings_of, float32_base64, token_count
from .speaker import Given, Incoming, Whole, json_object, too_long

__all__ = ["DIMENSIONS", "EmbeddingsRequest", "embeddings_call", "model_in_body"]

#: Each model's vector length (a model not named here: 1,536, as the small one's).
DIMENSIONS: Final = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_DEFAULT_DIMENSIONS: Final = 1536
_MOST_INPUTS: Final = 2048
_INVALID_INPUT: Final = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


class EmbeddingsRequest(NamedTuple):
    model: str
    inputs: tuple[str, ...]
    tokens: int
    dimensions: int  # the vector's length, as asked or the model's
    whole: int  # the model's own vector length
    base64: bool


def _texts(given: Any) -> tuple[tuple[str, ...], int]:
    """The inputs as texts (a list of token ids: the ids, spaced) and their tokens."""
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not given:
        raise BadRequest(400, _INVALID_INPUT)
    if all(isinstance(t, int) and not isinstance(t, bool) for t in given):
        given = [given]  # one input, as token ids
    if len(given) > _MOST_INPUTS:
        raise BadRequest(400, f"Too many inputs. The max number of inputs is {_MOST_INPUTS}.")
    texts, tokens = [], 0
    for item in given:
        if isinstance(item, str) and item:
            texts.append(item)
            tokens += token_count(item)
        elif (isinstance(item, list) and item and
              all(isinstance(t, int) and not isinstance(t, bool) for t in item)):  # fmt: skip
            texts.append(" ".join(map(str, item)))
            tokens += len(item)
        else:
            raise BadRequest(400, _INVALID_INPUT)
    return tuple(texts), tokens


def read_embeddings(body: dict[str, Any], model: str, given: Given) -> EmbeddingsRequest:
    """The request ``body`` asks ``model`` for (a 400 naming what is wrong)."""
    inputs, tokens = _texts(body.get("input"))
    if too_long("".join(inputs), given.max_prompt):
        raise BadRequest(400, "This model's maximum context length was exceeded.")
    whole = DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)
    asked = body.get("dimensions")
    if asked is not None:
        if model == "text-embedding-ada-002":
            raise BadRequest(400, "This model does not support specifying dimensions.")
        if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= whole:
            raise BadRequest(400, f"Invalid value for 'dimensions' = {asked!r}. It must be an "
                             f"integer from 1 to {whole}.")  # fmt: skip
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise BadRequest(400, f"Invalid value for 'encoding_format': {encoding!r}. Supported "
                         "values are: 'float' and 'base64'.")  # fmt: skip
    return EmbeddingsRequest(model, inputs, tokens, asked or whole, whole, encoding == "base64")


async def answer_embeddings(request: EmbeddingsRequest, scenario: Scenario, given: Given) -> Whole:
    """The list of vectors, made in a worker thread (a batch of long texts takes a while)."""

    def made() -> list[dict[str, Any]]:
        vectors = embeddings_of(request.inputs, request.dimensions, of=request.whole,
                                scripted=scenario.reply.vector)  # fmt: skip
        return [
            {"object": "embedding", "index": i,
             "embedding": float32_base64(v) if request.base64 else v}
            for i, v in enumerate(vectors)
        ]  # fmt: skip

    data = await given.costly(made)
    usage = {"prompt_tokens": request.tokens, "total_tokens": request.tokens}
    return Whole.json({"object": "list", "data": data, "model": request.model, "usage": usage})


def model_in_body(incoming: Incoming, body: dict[str, Any]) -> str:
    """The model the body names (OpenAI's way); a 400 when it names none."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "you must provide a model parameter")
    return model


def embeddings_call(
    check_key: Callable[[Incoming], None],
    model_of: Callable[[Incoming, dict[str, Any]], str],
    unreadable: str,
) -> Called[EmbeddingsRequest]:
    """The embeddings route of an API that keys and names its model as ``check_key`` and
    ``model_of`` say (OpenAI: the body's ``model``; Azure: the deployment in the path)."""

    def read(incoming: Incoming, given: Given) -> EmbeddingsRequest:
        check_key(incoming)
        body = json_object(incoming, unreadable)
        return read_embeddings(body, model_of(incoming, body), given)

    answer: Callable[[EmbeddingsRequest, Scenario, Given], Awaitable[Whole]] = answer_embeddings
    return Called(ANSWER, read, answer)
