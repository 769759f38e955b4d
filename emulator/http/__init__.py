"""The HTTP layer: the route table and dispatcher (``app``), the upstream's endpoints
(``endpoints``), the admin API (``admin``), request-body validation
(``requests``) and what they share (``errors``). ``admin`` never imports ``app``.
"""
