"""The HTTP layer: the dispatcher and server builders (``app``), the route table built from
the dialect registry (``routes``), the admin API (``admin``, ``journal_api``), what every
dialect's endpoints share (``dialect``) and what all of them share (``errors``). Each
API's own endpoints live in its folder under :mod:`emulator.dialects`. ``admin`` never
imports ``app``.
"""
