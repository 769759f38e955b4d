"""Ids the APIs give what they stream: a reply's tool calls. Pure."""

from __future__ import annotations

__all__ = ["call_id"]


def call_id(response: str, index: int, prefix: str = "call_") -> str:
    """The id of a reply's call ``index`` (from 0, its tool calls in order), from its
    response's id: 24 characters after ``prefix``, unique within the reply."""
    return prefix + (response[:24] if index == 0 else f"{response[:20]}{index:04d}")
