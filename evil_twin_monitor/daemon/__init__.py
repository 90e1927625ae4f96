"""The long-running sensor (``evil-twin-monitor run``): the live shell around the engine."""

from .sensor import Sensor, run

__all__ = ["Sensor", "run"]
