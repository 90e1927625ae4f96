"""Prometheus metrics: what operators see on dashboards and get paged by.

- `settings`  the ``metrics:`` configuration section (`MetricsSettings`, `read_metrics_section`)
- `exporter`  `SensorMetrics`: the engine's alert sink and the scrape-time collector
- `server`    `serve`: the HTTP(S) endpoint, through prometheus-client's own server

The README's metric table lists every metric with its labels. Only
`settings` is imported with the package, so the configuration loader does
not pull in prometheus-client and the rules; the rest loads on first use.
"""

from __future__ import annotations

from typing import Any

from .settings import (
    DEFAULT_LISTEN_ADDRESS, DEFAULT_MAX_ALERT_SERIES, DEFAULT_PORT, METRICS_KEYS, MetricsError,
    MetricsSettings, read_metrics_section, tls_context,
)

_LAZY = {
    "SensorMetrics": "exporter", "ap_status_of": "exporter", "label_text": "exporter",
    "printable_label": "exporter", "MetricsServer": "server", "serve": "server",
}

__all__ = [
    "DEFAULT_LISTEN_ADDRESS", "DEFAULT_MAX_ALERT_SERIES", "DEFAULT_PORT", "METRICS_KEYS",
    "MetricsError", "MetricsServer", "MetricsSettings", "SensorMetrics", "ap_status_of",
    "label_text", "printable_label", "read_metrics_section", "serve", "tls_context",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
