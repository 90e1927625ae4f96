"""Prometheus metrics: what operators see on dashboards and get paged by.

- `settings`  the ``metrics:`` configuration section (`MetricsSettings`, `read_metrics_section`)
- `exporter`  `SensorMetrics`: the engine's alert sink and the scrape-time collector
- `server`    `serve`: the HTTP(S) endpoint, through prometheus-client's own server

The README's metric table lists every metric with its labels.
"""

from __future__ import annotations

from .settings import (
    DEFAULT_LISTEN_ADDRESS, DEFAULT_MAX_ALERT_SERIES, DEFAULT_PORT, METRICS_KEYS, MetricsError,
    MetricsSettings, read_metrics_section, tls_context,
)
from .exporter import SensorMetrics, ap_status_of, label_text, printable_label
from .server import MetricsServer, serve

__all__ = [
    "DEFAULT_LISTEN_ADDRESS", "DEFAULT_MAX_ALERT_SERIES", "DEFAULT_PORT", "METRICS_KEYS",
    "MetricsError", "MetricsServer", "MetricsSettings", "SensorMetrics", "ap_status_of",
    "label_text", "printable_label", "read_metrics_section", "serve", "tls_context",
]
