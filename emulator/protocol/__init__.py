"""Wire shapes and codecs, one module per concern: pure builders, no I/O.

``sse`` frames events; ``fakegpt`` builds the FakeGpt upstream's events and
bodies; ``templates`` encodes them once with holes for per-request values;
``steps`` are what a planned stream is made of. (Other dialects get a module
of their own beside ``fakegpt``.)
"""
