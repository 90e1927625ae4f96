"""The alert: what the engine tells the outside world.

The same fields appear on a ``jsonl`` line, in the log event and in the store
(DESIGN.md, "Alert object"). An alert opens at the first finding of a
(rule, facility, ssid, bssid) and stays open while findings keep arriving
within the hold-down window; repeats are counted, not re-announced. ``time``
is the capture time of the frame that completed the evidence, so a replay
always produces the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..decoding.channels import frequency_to_channel
from ..decoding.frame import mac_text
from ..decoding.text import printable_ssid
from ..timestamps import rfc3339


@dataclass
class Alert:
    rule: str
    severity: str
    facility: str | None
    sensor: str | None
    ssid: bytes | None
    bssid: bytes | None
    frequency_mhz: int | None
    message: str
    evidence: dict[str, Any]
    time_ns: int
    first_frame: int
    last_ns: int = 0
    last_frame: int = 0
    repeats: int = 0
    closed: bool = False
    key: tuple = field(default=(), repr=False)

    @property
    def channel(self) -> int | None:
        return frequency_to_channel(self.frequency_mhz) if self.frequency_mhz else None

    def to_dict(self) -> dict[str, Any]:
        """The contract fields, JSON-ready, attacker bytes made printable."""
        evidence = dict(self.evidence)
        evidence["frame"] = self.first_frame
        evidence["repeats"] = self.repeats
        if self.repeats:
            evidence["last_seen"] = rfc3339(self.last_ns)
            evidence["last_frame"] = self.last_frame
        if self.ssid and "ssid_hex" not in evidence and printable_ssid(self.ssid) != self.ssid.decode(
                "utf-8", "replace"):
            evidence["ssid_hex"] = self.ssid.hex()
        return {
            "time": rfc3339(self.time_ns),
            "rule": self.rule,
            "severity": self.severity,
            "facility": self.facility,
            "sensor": self.sensor,
            "ssid": printable_ssid(self.ssid) if self.ssid is not None else None,
            "bssid": mac_text(self.bssid),
            "channel": self.channel,
            "frequency_mhz": self.frequency_mhz,
            "message": self.message,
            "evidence": evidence,
        }
