"""The deterministic core: decoded frames in, alerts out."""

from .alert import Alert, rfc3339
from .engine import Engine, Sink

__all__ = ["Alert", "Engine", "Sink", "rfc3339"]
