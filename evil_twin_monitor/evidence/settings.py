"""The ``evidence:`` section of the sensor configuration.

```yaml
evidence:
  enabled: true               # a pcap of the offending frames for each new alert (the daemon)
  directory: /var/lib/evil-twin-monitor/evidence   # relative paths: to this file's directory
  retention_days: 30          # files are deleted this long after their alert; 0: never
  max_frames: 64              # frames per file (1-64)
  max_file_kb: 256            # bytes per file; the oldest frames are left out beyond it
  max_files_per_hour: 60      # beyond this, alerts get evidence_file: null (counted)
  max_total_mb: 500           # the directory never grows beyond this (new files are refused)
  secret_file: /var/lib/evil-twin-monitor/privacy.secret   # keys the client pseudonyms
```

Kept free of threads and file I/O (beyond refusing a file as the directory),
so the configuration loader imports it cheaply and a configuration can be
checked on another machine than the sensor. ``secret_file`` stays None when
the file does not set it: the daemon then uses `DEFAULT_SECRET`, ``replay``
a secret that dies with the process (see `evil_twin_monitor.privacy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..registry.yamlsource import Located, Reader

# systemd's StateDirectory= of the shipped unit (systemd/evil-twin-monitor.service).
DEFAULT_DIRECTORY = Path("/var/lib/evil-twin-monitor/evidence")
DEFAULT_SECRET = Path("/var/lib/evil-twin-monitor/privacy.secret")
DEFAULT_RETENTION_DAYS = 30
DEFAULT_MAX_FRAMES = 64
DEFAULT_MAX_FILE_KB = 256
DEFAULT_MAX_FILES_PER_HOUR = 60
DEFAULT_MAX_TOTAL_MB = 500
# The recorder keeps 32 advertisements and 32 other frames per transmitter (recorder.RING).
MAX_FRAMES_LIMIT = 64
MAX_RETENTION_DAYS = 36_500
MAX_FILE_KB_LIMIT = 10_240
MAX_FILES_PER_HOUR_LIMIT = 3_600
MAX_TOTAL_MB_LIMIT = 1_000_000

EVIDENCE_KEYS = ("enabled", "directory", "retention_days", "max_frames", "max_file_kb",
                 "max_files_per_hour", "max_total_mb", "secret_file")


@dataclass(frozen=True)
class EvidenceSettings:
    """Where evidence captures go, how big they may get, how long they are kept."""

    enabled: bool = True
    directory: Path = DEFAULT_DIRECTORY
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_file_kb: int = DEFAULT_MAX_FILE_KB
    max_files_per_hour: int = DEFAULT_MAX_FILES_PER_HOUR
    max_total_mb: int = DEFAULT_MAX_TOTAL_MB
    secret_file: Path | None = None   # None: DEFAULT_SECRET for the daemon, ephemeral for replay

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_kb * 1024

    @property
    def max_total_bytes(self) -> int:
        return self.max_total_mb * 1024 * 1024

    def describe(self) -> str:
        """One line for ``check-config``."""
        if not self.enabled:
            return "evidence: disabled (alerts carry no capture)"
        kept = ("kept forever" if self.retention_days == 0
                else f"kept {self.retention_days} days")
        secret = self.secret_file or DEFAULT_SECRET
        return (f"evidence: {self.directory} (a pcap per new alert, {kept}; per file at most "
                f"{self.max_frames} frames and {self.max_file_kb} KiB, at most "
                f"{self.max_files_per_hour} files an hour and {self.max_total_mb} MiB in all; "
                f"pseudonym secret {secret})")


def read_evidence_section(reader: Reader, node: Located, path: str) -> EvidenceSettings | None:
    """Validate an ``evidence:`` mapping; problems go to ``reader`` (file:line: field: message).

    Relative paths are resolved against the directory of ``reader.file``.
    Returns None when anything is wrong (the problems say what)."""
    problems = len(reader.problems)
    entries = reader.mapping(node, path, (), EVIDENCE_KEYS)
    if entries is None:
        return None
    values: dict[str, Any] = {}
    base = Path(reader.file).parent
    if "enabled" in entries:
        values["enabled"] = reader.boolean(entries["enabled"], f"{path}.enabled")
    if "directory" in entries:
        text = reader.string(entries["directory"], f"{path}.directory")
        if text is not None:
            resolved = base / text
            if resolved.exists() and not resolved.is_dir():
                reader.problem(entries["directory"].line, f"{path}.directory",
                               f"{resolved} is a file; name a directory (created if missing)")
            else:
                values["directory"] = resolved
    if "secret_file" in entries:
        text = reader.string(entries["secret_file"], f"{path}.secret_file")
        if text is not None:
            resolved = base / text
            if resolved.is_dir():
                reader.problem(entries["secret_file"].line, f"{path}.secret_file",
                               f"{resolved} is a directory; name the file in it, like "
                               f"{resolved / DEFAULT_SECRET.name} (created if missing)")
            else:
                values["secret_file"] = resolved
    for key, low, high in (("retention_days", 0, MAX_RETENTION_DAYS),
                           ("max_frames", 1, MAX_FRAMES_LIMIT),
                           ("max_file_kb", 1, MAX_FILE_KB_LIMIT),
                           ("max_files_per_hour", 1, MAX_FILES_PER_HOUR_LIMIT),
                           ("max_total_mb", 1, MAX_TOTAL_MB_LIMIT)):
        if key in entries:
            values[key] = reader.integer(entries[key], f"{path}.{key}", low, high)
    if len(reader.problems) != problems:
        return None
    return EvidenceSettings(**values)
