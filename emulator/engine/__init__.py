"""From a scenario and a request to bytes on a socket.

``plan`` (with ``stream``, ``prepare`` and ``templates``) turns them into
steps and never sleeps; ``play`` is the only code that writes to a socket
and waits.
"""
