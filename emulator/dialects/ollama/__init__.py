"""Ollama's API: ``/api/chat`` and ``/api/generate`` as NDJSON streams, its models and
embeddings."""
