"""Google Gemini (``/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``, ``/v1beta/models``): ``wire`` its shapes, ``plan`` its
stream, ``shapes`` its look of the faults, ``capture`` what a client makes of a captured
body, ``api`` its endpoints and Dialect value."""
