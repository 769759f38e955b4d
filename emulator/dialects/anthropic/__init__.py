"""Anthropic Messages (``/v1/messages``): ``wire`` its shapes, ``plan`` its stream,
``api`` its endpoint and Dialect value."""
