"""FakeGpt, the shared ChatGPT front end (``/api/loads``, ``/auth/login``,
``/api/auth/session``, ``/api/conversation``): ``wire`` its shapes, ``templates``
and ``cache`` its byte templates, ``stream`` and ``plan`` its stream, ``api`` its
endpoints and :class:`~emulator.dialects.dialect.Dialect` value."""
