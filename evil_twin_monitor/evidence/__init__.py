"""Evidence captures: a small pcap of the offending frames for each new alert.

- `settings`  the ``evidence:`` configuration section (`EvidenceSettings`, `read_evidence_section`)
- `recorder`  `FrameRecorder`: the last raw frames per transmitter, fed by the shells
- `pcapfile`  the frames that may be written, client addresses pseudonymised, as pcap bytes
- `files`     names, atomic 0600 writes, retention (`delete_evidence_before`), directory size
- `sink`      `EvidenceSink`: the engine's first sink; a writer thread does the I/O
- `metrics`   `EvidenceCollector`: ``evil_twin_monitor_evidence_*`` (imported on its own:
  it needs prometheus_client)
"""

from __future__ import annotations

from .files import delete_evidence_before, directory_usage, evidence_name
from .recorder import FrameRecorder
from .settings import (
    DEFAULT_DIRECTORY, DEFAULT_SECRET, EVIDENCE_KEYS, EvidenceSettings, read_evidence_section,
)
from .sink import (
    EvidenceError, EvidenceSink, daemon_pseudonymizer, replace_evidence_sink, replay_evidence_sink,
)

__all__ = [
    "DEFAULT_DIRECTORY", "DEFAULT_SECRET", "EVIDENCE_KEYS", "EvidenceError", "EvidenceSettings",
    "EvidenceSink",
    "FrameRecorder", "daemon_pseudonymizer", "delete_evidence_before", "directory_usage",
    "evidence_name", "read_evidence_section", "replace_evidence_sink", "replay_evidence_sink",
]
