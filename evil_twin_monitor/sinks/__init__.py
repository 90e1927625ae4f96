"""Where alerts go. Each sink is a small object with ``opened`` and ``closed``;
the shells (replay, daemon) choose them from configuration in one place."""

from .log import LogSink
from .stream import JsonlSink, TextSink

__all__ = ["JsonlSink", "LogSink", "TextSink"]
