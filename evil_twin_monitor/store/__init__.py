"""The alert history: every alert with its evidence and repeat counts, in SQLite.

- `settings`  the ``store:`` configuration section (`StoreSettings`, `read_store_section`)
- `db`        `AlertStore`: the file (schema, upserts, purge, queries), read-only for readers
- `sink`      `StoreSink`: the engine's sink; the capture loop hands over, one thread writes
- `samples`   per-interval sensor health and registered-AP presence for reports
- `command`   ``evil-twin-monitor alerts``: `add_alerts_parser`, `alerts_command`
"""

from __future__ import annotations

from .settings import (
    DEFAULT_MAX_ALERTS, DEFAULT_PATH, DEFAULT_RETENTION_DAYS, STORE_KEYS, StoreSettings,
    read_store_section,
)
from .command import add_alerts_parser, alerts_command
from .db import (
    SCHEMA_VERSION, AlertRow, AlertStore, HealthRow, PresenceRow, StoredAlert, StoreError, alert_row,
)
from .samples import CaptureSampler, SensorSampler
from .sink import StoreSink, replace_store_sink

__all__ = [
    "DEFAULT_MAX_ALERTS", "DEFAULT_PATH", "DEFAULT_RETENTION_DAYS", "SCHEMA_VERSION", "STORE_KEYS",
    "AlertRow", "AlertStore", "CaptureSampler", "HealthRow", "PresenceRow", "SensorSampler",
    "StoreError", "StoreSettings", "StoreSink", "StoredAlert",
    "add_alerts_parser", "alert_row", "alerts_command", "read_store_section", "replace_store_sink",
]
