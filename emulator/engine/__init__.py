"""From a scenario's parts to bytes on a socket, whatever the dialect.

``prepare`` cuts and escapes a reply's text (the costly part, cached);
``stream`` and ``pieces`` build a delta stream's events with the faults in
place; ``replay`` plays a recording; all of them only plan steps and never
sleep. ``play`` (with ``network``, a scenario's ``[transport]``) is the only
code that writes to a socket and waits. Each dialect's own events live in
its folder under :mod:`emulator.dialects`.
"""
