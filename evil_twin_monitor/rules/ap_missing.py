"""ap_missing: a city AP this sensor normally hears has gone silent.

Theory of operation
-------------------
Attack: the quiet half of an evil twin. Jam or knock out the real AP (or
wait until it breaks) and the twin is the only "Shinjuku_Free_Wi-Fi" left.
Silence is also simply an outage the operator wants to know about.

Signal: beacons and probe responses whose BSSID (addr3) is a registered AP
(an exact entry, or any BSSID inside a prefix entry; each BSSID is followed
on its own). A BSSID becomes *normally heard* once ``min_frames`` frames
came from it; only those can go missing, so an AP at the edge of the
sensor's range, heard twice a day, never alerts.

Threshold: on each tick (every ``tick_interval_s`` of capture time), every
normally-heard BSSID whose last frame is more than ``silence_s`` seconds old
yields one finding, once per silence; hearing it again re-arms it. Ticks
come only as capture time advances, so nothing fires at the end of a
capture or while the capture itself has stopped (the daemon's own health
metrics cover a dead capture); after the daemon lost and recovered its radio,
``capture_gap`` moves every last-heard time past the deaf period.

Also: `ApMissing.ap_status` exposes per-BSSID last heard / signal /
frequency / frames, read-only, for the metrics exporter.

Blind spots: a twin that copies the BSSID keeps the AP "heard" (see
``cloned_bssid``); a sensor that hops channels hears each AP less often, so
``silence_s`` must be well above the hop cycle. At most ``max_tracked``
BSSIDs are followed.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from ..decoding.channels import frequency_to_channel
from ..decoding.frame import BEACON, PROBE_RESP, Frame
from ..timestamps import rfc3339
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import city_ap_phrase, operating_frequency

def duration_text(seconds: int) -> str:
    """'45 seconds', '12 minutes', '3 hours', '2 days' (rounded down)."""
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} hours"
    return f"{seconds // 86400} days"


class _Heard:
    """What the sensor knows about one registered BSSID."""

    __slots__ = ("last_ns", "signal_dbm", "freq_mhz", "frames", "reported")

    def __init__(self) -> None:
        self.last_ns = 0
        self.signal_dbm: int | None = None
        self.freq_mhz: int | None = None
        self.frames = 0
        self.reported = False


class ApMissing(Rule):
    """A normally heard, registered AP that has been silent too long."""

    id = "ap_missing"
    kinds = frozenset({BEACON, PROBE_RESP})
    severity = "medium"
    tick_interval_s = 10
    DEFAULTS = {
        "min_frames": 20,     # frames before a BSSID counts as normally heard
        "silence_s": 600,     # allowance before a normally heard BSSID is missing
        "max_tracked": 4096,  # registered BSSIDs followed
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        self._min_frames = int(self.settings["min_frames"])
        self._silence_ns = int(self.settings["silence_s"] * 1_000_000_000)
        if self._min_frames < 1 or self._silence_ns <= 0:
            raise ValueError("rule ap_missing: min_frames and silence_s must be positive")
        self._heard: BoundedDict[bytes, _Heard] = BoundedDict(int(self.settings["max_tracked"]))

    def on_frame(self, frame: Frame) -> None:
        bssid = frame.addr3
        heard = self._heard.get(bssid)
        if heard is None:
            if self.ctx.registry.ap_for_bssid(bssid) is None:
                return None
            heard = _Heard()
            self._heard[bssid] = heard  # type: ignore[index]
        heard.last_ns = frame.ts_ns
        heard.frames += 1
        heard.reported = False
        if frame.signal_dbm is not None:
            heard.signal_dbm = frame.signal_dbm
        freq = operating_frequency(frame)
        if freq is not None:
            heard.freq_mhz = freq
        return None

    def registry_changed(self) -> None:
        """Forget BSSIDs the new registry no longer lists."""
        registry = self.ctx.registry
        for bssid in [b for b in self._heard if registry.ap_for_bssid(b) is None]:
            del self._heard[bssid]

    def capture_gap(self, start_ns: int, end_ns: int) -> None:
        """A deaf sensor says nothing about the APs: the deaf period does not count as silence."""
        for heard in self._heard.values():
            if heard.last_ns < end_ns:
                heard.last_ns = min(heard.last_ns, start_ns) + (end_ns - start_ns)

    def on_tick(self, now_ns: int) -> Iterable[Finding]:
        findings: list[Finding] = []
        registry = self.ctx.registry
        for bssid, heard in self._heard.items():
            if (heard.reported or heard.frames < self._min_frames
                    or now_ns - heard.last_ns <= self._silence_ns):
                continue
            ap = registry.ap_for_bssid(bssid)
            if ap is None:
                continue
            heard.reported = True
            silent_s = (now_ns - heard.last_ns) // 1_000_000_000
            ssid = ap.network.ssid
            message = (f"The {city_ap_phrase(ap, bssid, ssid, with_channel=False)} has not been "
                       f"heard for {duration_text(silent_s)}; it may be switched off or broken, "
                       f"or jammed by someone who wants users to join a fake one.")
            evidence = {
                "last_heard": rfc3339(heard.last_ns),
                "silent_s": silent_s,
                "allowance_s": self.settings["silence_s"],
                "frames_heard": heard.frames,
                "last_channel": (frequency_to_channel(heard.freq_mhz)
                                 if heard.freq_mhz is not None else None),
                "last_frequency_mhz": heard.freq_mhz,
                "last_signal_dbm": heard.signal_dbm,
            }
            findings.append(Finding(rule=self.id, severity=self.severity, message=message,
                                    ssid=ssid, bssid=bssid, freq_mhz=heard.freq_mhz,
                                    evidence=evidence))
        return findings

    def ap_status(self) -> Iterator[tuple[bytes, int, int | None, int | None, int]]:
        """``(bssid, last heard ts_ns, last signal dBm, last frequency MHz,
        frames heard)`` for every followed BSSID, normally heard or not."""
        for bssid, heard in list(self._heard.items()):
            yield bssid, heard.last_ns, heard.signal_dbm, heard.freq_mhz, heard.frames
