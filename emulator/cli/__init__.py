"""``python -m emulator``: the command line, one subcommand a module (``main`` holds the
parser that gathers them; ``options`` the options several share)."""
