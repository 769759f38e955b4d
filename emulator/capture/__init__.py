"""Captured traffic: importing a capture as a scenario (``python -m emulator import``)."""

from ..protocol.sse import sse_data
from .decode import expected_outcome
from .imports import Imported, import_capture

__all__ = ["Imported", "expected_outcome", "import_capture", "sse_data"]
