"""OpenAI Responses (``/v1/responses``): ``wire`` its shapes, ``plan`` its stream,
``api`` its endpoint and Dialect value."""
