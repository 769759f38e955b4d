"""Every API the emulator speaks, one folder each, and the table of them (``registry``).

Nothing is imported here: a dialect's pure wire shapes (``wire.py``) are
imported by lower layers, which must not pull in its HTTP code.
"""
