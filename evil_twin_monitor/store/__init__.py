"""The alert history: every alert with its evidence and repeat counts, in SQLite.

- `settings`  the ``store:`` configuration section (`StoreSettings`, `read_store_section`)
- `db`        `AlertStore`: the file (schema, upserts, purge, queries), read-only for readers
- `sink`      `StoreSink`: the engine's sink; the capture loop hands over, one thread writes
- `command`   ``evil-twin-monitor alerts``: `add_alerts_parser`, `alerts_command`

Only `settings` is imported with the package, so the configuration loader does
not pull in sqlite3 and threads; the rest loads on first use.
"""

from __future__ import annotations

from typing import Any

from .settings import (
    DEFAULT_MAX_ALERTS, DEFAULT_PATH, DEFAULT_RETENTION_DAYS, STORE_KEYS, StoreSettings,
    read_store_section,
)

_LAZY = {
    "SCHEMA_VERSION": "db", "AlertRow": "db", "AlertStore": "db", "StoredAlert": "db",
    "StoreError": "db", "alert_row": "db", "StoreSink": "sink", "replace_store_sink": "sink",
    "add_alerts_parser": "command", "alerts_command": "command",
}

__all__ = [
    "DEFAULT_MAX_ALERTS", "DEFAULT_PATH", "DEFAULT_RETENTION_DAYS", "SCHEMA_VERSION", "STORE_KEYS",
    "AlertRow", "AlertStore", "StoreError", "StoreSettings", "StoreSink", "StoredAlert",
    "add_alerts_parser", "alert_row", "alerts_command", "read_store_section", "replace_store_sink",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
