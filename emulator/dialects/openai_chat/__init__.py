"""OpenAI Chat Completions (``/v1/chat/completions``, ``/v1/models``): ``wire`` its
shapes, ``plan`` its stream, ``api`` its endpoints and Dialect value."""
