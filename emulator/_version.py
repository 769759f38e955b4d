"""The version, read from the installed distribution (set once, in pyproject.toml)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fakegpt-emulator")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
