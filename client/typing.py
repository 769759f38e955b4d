"""The types the provider interface speaks in (as g4f's ``typing`` module)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

__all__ = ["AsyncResult", "CreateResult", "Message", "Messages"]

#: One chat message: ``{"role", "content"}`` or the ChatGPT-shaped
#: ``{"author": {"role"}, "content": {"content_type", "parts"}}``.
Message: TypeAlias = Mapping[str, Any]
Messages: TypeAlias = Sequence[Message]
#: What ``create_async_generator`` returns: text deltas.
AsyncResult: TypeAlias = AsyncGenerator[str, None]
#: What the synchronous ``create_completion`` returns.
CreateResult: TypeAlias = Iterator[str]
