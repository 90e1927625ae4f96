"""Alerts as structured log events: one ``alert`` event per new alert.

The event carries every contract field of the alert (DESIGN.md, "Alert
object"), so a log shipper alone can page someone. When the alert closes, a
shorter ``alert_closed`` event gives the final repeat count and how long the
evidence kept arriving. SSIDs reach the log already printable (see
`decoding.text`); the JSON renderer escapes the rest, so every event is one line.
"""

from __future__ import annotations

from typing import Any, Callable

from ..engine.alert import Alert
from ..timestamps import rfc3339


class QuietLog:
    """The logger of a sink nobody watches (``replay --store``, ``replay
    --evidence``): any log call is accepted and dropped; the sink's counters remain."""

    def __getattr__(self, _level: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class LogSink:
    def __init__(self, log: Any) -> None:
        self.log = log

    def opened(self, alert: Alert) -> None:
        self.log.warning("alert", **alert.to_dict())

    def closed(self, alert: Alert) -> None:
        d = alert.to_dict()
        self.log.info("alert_closed", rule=d["rule"], severity=d["severity"], ssid=d["ssid"],
                      bssid=d["bssid"], first_seen=d["time"], last_seen=rfc3339(alert.last_ns),
                      repeats=alert.repeats)
