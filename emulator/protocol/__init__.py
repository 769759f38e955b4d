"""Wire pieces any dialect may share, one module per concern: pure, no I/O.

``sse`` frames events (and ``DONE``, the OpenAI-style end); ``steps`` are what
a planned stream is made of; ``errors`` is a request refused
(:class:`~emulator.protocol.errors.BadRequest`) and the CDN page any API may
answer; ``ids`` makes call ids; ``thoughts`` cuts a reasoning into deltas.
Each API's own shapes live in its folder under :mod:`emulator.dialects`.
"""
