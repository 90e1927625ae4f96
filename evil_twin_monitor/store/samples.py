"""Samples for reports: per interval, is the sensor listening, and which registered APs are heard?

Theory of operation
-------------------
An audit report must say more than "these alerts happened": it must say the
sensor was there to see (uptime, kernel drops) and that the ward's own APs
were on the air (availability). Both come from state the daemon already
keeps, turned into one small sample per statistics interval:

- `UpTime` adds up the seconds the capture was open within the interval (the
  daemon calls ``opened``/``closed`` with its monotonic clock), so a sensor
  that waited an hour for its adapter reports an hour of deafness even though
  that whole hour falls into one interval.
- `PresenceCounter` turns the cumulative per-BSSID frame counts of
  ``ApMissing.ap_status`` (read through `metrics.ap_status_of`) into the frames
  heard *in this interval* per **registry entry**: the BSSIDs inside a prefix
  entry add up to one row, so a spoofer inventing BSSIDs inside a registered
  prefix adds no rows, and only entries heard get a row. A count that went
  down (the rule restarted on reload, an entry forgotten and re-learned)
  starts afresh from the new count. With ``ap_missing`` disabled there is
  nothing to read: the health row says so (``presence = 0``), and a report
  does not mistake that for "no AP heard".
- `SensorSampler` combines them for the daemon (``_log_stats``); the store
  sink writes the rows from its writer thread.
- `CaptureSampler` does the same for ``replay --store``, with one sample per
  minute of capture time: a minute without frames has no sample (the capture
  did not cover it), a minute only partly covered counts only that part.

Everything here is plain arithmetic on numbers the caller passes in; no
clock is read, so tests drive it directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from .db import HealthRow, PresenceRow

if TYPE_CHECKING:
    from ..decoding.frame import Frame
    from ..registry.model import Registry

Status = Iterable[tuple[bytes, int, "int | None", "int | None", int]]
REPLAY_INTERVAL_S = 60


class UpTime:
    """Seconds the capture was open, interval by interval."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._up = 0.0

    def opened(self, now: float) -> None:
        if self._since is None:
            self._since = now

    def closed(self, now: float) -> None:
        if self._since is not None:
            self._up += max(0.0, now - self._since)
            self._since = None

    def take(self, now: float) -> float:
        """The open seconds since the last call (and start counting anew)."""
        up = self._up
        if self._since is not None:
            up += max(0.0, now - self._since)
            self._since = now
        self._up = 0.0
        return up


class PresenceCounter:
    """Frames per registry entry since the last call, from cumulative counts."""

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}

    def take(self, status: Status | None, registry: Registry,
             facility: str | None) -> dict[tuple[str, str], int] | None:
        """``{(facility id, entry's bssid text): frames}`` for entries heard
        since the last call; only ``facility``'s entries when it is set (like
        the metrics). None when there is no status (``ap_missing`` disabled)."""
        if status is None:
            self._last = {}
            return None
        counts: dict[tuple[str, str], int] = {}
        seen: dict[bytes, int] = {}
        for bssid, _last_ns, _signal, _freq, frames in status:
            seen[bssid] = frames
            before = self._last.get(bssid, 0)
            heard = frames - before if frames >= before else frames
            if heard <= 0:
                continue
            ap = registry.ap_for_bssid(bssid)
            if ap is None or (facility and ap.facility.id != facility):
                continue
            key = (ap.facility.id, ap.bssid_text)
            counts[key] = counts.get(key, 0) + heard
        self._last = seen
        return counts


def make_rows(*, sensor: str | None, facility: str | None, time_ns: int, interval_s: float,
              up_s: float, frames: int, kernel_drops: int,
              presence: dict[tuple[str, str], int] | None
              ) -> tuple[HealthRow, list[PresenceRow]]:
    """The rows of one interval ('' for an unnamed sensor or facility)."""
    interval_s = max(0.0, float(interval_s))
    health = HealthRow(sensor or "", facility or "", time_ns, interval_s,
                       min(interval_s, max(0.0, float(up_s))), frames, kernel_drops,
                       0 if presence is None else 1)
    rows = [PresenceRow(ap_facility, sensor or "", bssid, time_ns, interval_s, count)
            for (ap_facility, bssid), count in sorted((presence or {}).items())]
    return health, rows


class SensorSampler:
    """The daemon's side: one sample per statistics interval."""

    def __init__(self) -> None:
        self.uptime = UpTime()
        self.presence = PresenceCounter()

    def sample(self, *, now: float, time_ns: int, interval_s: float, frames: int,
               kernel_drops: int, status: Status | None, registry: Registry,
               facility: str | None, sensor: str | None) -> tuple[HealthRow, list[PresenceRow]]:
        """``now``: the monotonic clock of `UpTime`; ``time_ns``: the wall clock
        (the interval's end, as stored)."""
        return make_rows(sensor=sensor, facility=facility, time_ns=time_ns,
                         interval_s=interval_s, up_s=self.uptime.take(now), frames=frames,
                         kernel_drops=kernel_drops,
                         presence=self.presence.take(status, registry, facility))


class CaptureSampler:
    """``replay --store``: a sample per minute of capture time.

    Call `frame` with every decoded frame *before* the engine sees it, and
    `finish` after the last one (the engine's alerts still open or not: the
    counts are what was heard)."""

    def __init__(self, sink: Any, engine: Any, registry: Registry, *, facility: str | None,
                 sensor: str | None, interval_s: int = REPLAY_INTERVAL_S) -> None:
        self.sink = sink
        self.engine = engine
        self.registry = registry
        self.facility = facility
        self.sensor = sensor
        self._interval_ns = interval_s * 1_000_000_000
        self._presence = PresenceCounter()
        self._bucket_start = 0
        self._bucket_end = -1
        self._span_start = 0
        self._last_ns = 0
        self._frames = 0

    def frame(self, frame: Frame) -> None:
        ts = frame.ts_ns
        if not self._bucket_start <= ts < self._bucket_end:  # the next minute, or a new file
            self._roll(ts)
        self._frames += 1
        self._last_ns = ts

    def _roll(self, ts: int) -> None:
        start = ts - ts % self._interval_ns
        contiguous = bool(self._frames) and start == self._bucket_end
        if self._frames:
            self._emit(self._bucket_end if contiguous else self._last_ns)
        self._span_start = start if contiguous else ts
        self._bucket_start = start
        self._bucket_end = start + self._interval_ns
        self._frames = 0

    def finish(self) -> None:
        if self._frames:
            self._emit(self._last_ns)
            self._frames = 0

    def _emit(self, end_ns: int) -> None:
        from ..metrics import ap_status_of  # the metrics package only when replaying into a store
        seconds = max(0, end_ns - self._span_start) / 1e9
        self.sink.sample(*make_rows(
            sensor=self.sensor, facility=self.facility, time_ns=end_ns, interval_s=seconds,
            up_s=seconds, frames=self._frames, kernel_drops=0,
            presence=self._presence.take(ap_status_of(self.engine), self.registry,
                                         self.facility)))
