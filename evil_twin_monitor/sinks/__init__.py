"""Where alerts go. Each sink is a small object with ``opened`` and ``closed``;
the shells (replay, daemon) choose them from configuration in one place."""

from .stream import JsonlSink, TextSink

__all__ = ["JsonlSink", "TextSink"]
