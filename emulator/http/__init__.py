"""The HTTP layer: the server builders and the handler of every request (``app``), THE
request lifecycle of a dialect's route (``lifecycle``), the route table built from the
dialect registry (``routes``), the admin API (``admin``, ``journal_api``, ``guard``,
``ui``), token budgets (``budget``) and what all of them share (``context``). Each
API's own parts live in its folder under :mod:`emulator.dialects`; nothing here imports
a dialect's folder. ``admin`` never imports ``app``.
"""
