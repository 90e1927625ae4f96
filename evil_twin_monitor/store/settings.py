"""The ``store:`` section of the sensor configuration.

```yaml
store:
  enabled: true               # keep the alert history (the daemon; `alerts` reads it)
  path: /var/lib/evil-twin-monitor/alerts.sqlite3   # relative paths: to this file's directory
  retention_days: 90          # ended alerts are deleted this long after their last evidence; 0: never
  max_alerts: 500000          # and beyond this many rows, the ended alerts that ended first; 0: no cap
```

Kept free of sqlite and threads so the configuration loader imports it
cheaply. Nothing here touches the file system beyond refusing a directory as
the path: a configuration may be checked on another machine than the sensor,
and the daemon reports a store it cannot write without stopping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..registry.yamlsource import Located, Reader

# systemd's StateDirectory= of the shipped unit (systemd/evil-twin-monitor.service).
DEFAULT_PATH = Path("/var/lib/evil-twin-monitor/alerts.sqlite3")
DEFAULT_RETENTION_DAYS = 90
# A flood of look-alike networks can open ten thousand alerts every hold-down
# window; without a cap the history could fill the sensor's disk within days.
DEFAULT_MAX_ALERTS = 500_000
MAX_RETENTION_DAYS = 36_500
MAX_MAX_ALERTS = 100_000_000

STORE_KEYS = ("enabled", "path", "retention_days", "max_alerts")


@dataclass(frozen=True)
class StoreSettings:
    """Where the alert history lives and how long it is kept.

    ``retention_days`` 0 keeps alerts forever (``max_alerts`` still bounds the
    file); ``max_alerts`` 0 means no cap. Only alerts that ended are ever
    deleted, oldest end first.
    """

    enabled: bool = True
    path: Path = DEFAULT_PATH
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_alerts: int = DEFAULT_MAX_ALERTS

    def describe(self) -> str:
        """One line for ``check-config``."""
        if not self.enabled:
            return "store: disabled (alerts only in the log)"
        kept = ("kept forever" if self.retention_days == 0
                else f"kept {self.retention_days} days after they end")
        cap = f", at most {self.max_alerts:,}" if self.max_alerts else ""
        return f"store: {self.path} (alerts {kept}{cap})"


def read_store_section(reader: Reader, node: Located, path: str) -> StoreSettings | None:
    """Validate a ``store:`` mapping; problems go to ``reader`` (file:line: field: message).

    A relative ``path`` is resolved against the directory of ``reader.file``.
    Returns None when anything is wrong (the problems say what)."""
    problems = len(reader.problems)
    entries = reader.mapping(node, path, (), STORE_KEYS)
    if entries is None:
        return None
    values: dict[str, Any] = {}
    if "enabled" in entries:
        values["enabled"] = reader.boolean(entries["enabled"], f"{path}.enabled")
    if "path" in entries:
        text = reader.string(entries["path"], f"{path}.path")
        if text is not None:
            resolved = Path(reader.file).parent / text
            if resolved.is_dir():
                reader.problem(entries["path"].line, f"{path}.path",
                               f"{resolved} is a directory; name the file in it, like "
                               f"{resolved / DEFAULT_PATH.name}")
            else:
                values["path"] = resolved
    if "retention_days" in entries:
        values["retention_days"] = reader.integer(
            entries["retention_days"], f"{path}.retention_days", 0, MAX_RETENTION_DAYS)
    if "max_alerts" in entries:
        values["max_alerts"] = reader.integer(entries["max_alerts"], f"{path}.max_alerts", 0,
                                              MAX_MAX_ALERTS)
    if len(reader.problems) != problems:
        return None
    return StoreSettings(**values)
