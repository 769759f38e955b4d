"""Cohere's v2 Chat API: ``/v2/chat`` as typed SSE events, and ``/v2/embed``."""
