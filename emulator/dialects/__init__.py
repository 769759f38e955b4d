"""Every API the emulator speaks, one folder each, and the table of them (``registry``).

The package's own modules are what the folders share, below every folder:
``speaker`` (what a dialect is given and answers, and the answer's skeleton),
``dialect`` (the :class:`~.dialect.Dialect` value and its route kinds),
``common`` and ``openai`` (fault shapes and readers more than one API has),
``strict`` (the rules a request is refused by). No folder imports another;
nothing is imported here.
"""
