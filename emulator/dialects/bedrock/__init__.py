"""AWS Bedrock ``ConverseStream`` (``/model/{modelId}/converse-stream``) and ``Converse``:
``wire`` its binary event-stream framing and shapes, ``plan`` its stream, ``shapes`` its
look of the faults (those that break the framing too), ``capture`` what a client makes of
a captured body, ``api`` its endpoints and Dialect value."""
