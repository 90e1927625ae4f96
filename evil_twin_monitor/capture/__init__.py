"""Live frames from a monitor interface: socket, kernel filter, drop counters."""

from .bpf import filter_expression
from .live import CaptureError, CaptureLost, LiveCapture

__all__ = ["CaptureError", "CaptureLost", "LiveCapture", "filter_expression"]
