"""The sensor's Prometheus metrics: an alert sink and a collector in one object.

Theory of operation
-------------------
`SensorMetrics` owns a `CollectorRegistry` of its own (never the global one,
so nothing a library registers there leaks into our exposition and a test can
make as many as it likes) holding one custom collector. The collector keeps
no prometheus-client metric objects: it builds every family at scrape time
from state the capture thread hands over, so the hot path pays nothing and a
scrape can never disagree with itself.

Two threads meet here. The capture thread calls the sink methods
(``opened``/``closed``, from the engine) and, once per housekeeping second,
``update_health``/``update_aps``; the HTTP server's threads call
``collect``. One lock guards everything; the capture thread holds it for a
few dictionary operations, a scrape for the time it takes to copy at most
``max_alert_series`` label tuples and a few hundred numbers.

Bounded by design, because attackers choose BSSIDs and SSIDs:

- ``alerts_total`` and ``active_alerts`` are per (rule, severity): every
  known rule and severity is exported from the start, at 0, so an alerting
  rule on ``increase()`` sees the very first alert after a restart.
- ``active_alert`` has one series per open alert, ssid and bssid included,
  but at most ``max_alert_series`` of them. An alert that gets a series keeps
  it until it closes (a series that came and went while the alert is still
  open would resolve the page in Alertmanager); an alert that opens while
  every series is taken waits, is counted in
  ``active_alert_series_dropped_total`` and shown in
  ``active_alert_series_overflow``, and gets a series when one frees up,
  the most severe and then the oldest waiting alert first.
- Per-AP series exist only for entries of the registry (the operator's
  list), one per entry: a multi-BSSID prefix entry is one series whatever
  BSSIDs inside it are heard, so spoofed BSSIDs inside a prefix cannot add
  series. A sensor reports the entries of its own facility, heard or not.
- Label values are printable (`decoding.text.printable_ssid`: controls,
  invisible characters, backslashes and undecodable bytes are escapes) and at
  most ``MAX_LABEL_CHARS`` characters; a longer one is cut and ends in
  ``…`` and a short hash of the whole, so two alerts never share a series.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import platform
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .. import __version__
from ..decoding.channels import frequency_to_channel
from ..decoding.text import printable_ssid
from ..engine.alert import Alert
from ..registry.model import AccessPoint, Registry
from ..rules import ALL_RULES
from ..rules.base import SEVERITIES
from .settings import MetricsError, MetricsSettings

PREFIX = "evil_twin_monitor_"
MAX_LABEL_CHARS = 64
MAX_KINDS = 64          # distinct frame kinds / malformed reasons exported (code-defined; a guard)
_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
_IDENTITY = ("facility", "sensor")
_ALERT_LABELS = _IDENTITY + ("rule", "severity", "ssid", "bssid", "channel")
_AP_LABELS = _IDENTITY + ("bssid", "label", "ssid")
# One token of printable_ssid's output: an escape or one character (never cut in half).
_TOKEN = re.compile(r"\\(?:\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})|.", re.S)


def label_text(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else a cut at an escape
    boundary + ``…`` + 8 hex digits of a hash of the whole (unique in practice)."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    room = limit - len(digest) - 1
    kept: list[str] = []
    used = 0
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if used + len(token) > room:
            break
        kept.append(token)
        used += len(token)
    return "".join(kept) + "…" + digest


def printable_label(raw: bytes | str | None) -> str:
    """Attacker or operator text as a safe, bounded label value."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    return label_text(printable_ssid(raw))


def ap_status_of(engine: Any) -> Iterable[tuple[bytes, int, int | None, int | None, int]] | None:
    """``ApMissing.ap_status()`` of the engine's ``ap_missing`` rule, or None when it is disabled."""
    for rule in getattr(engine, "rules", ()):
        if getattr(rule, "id", None) == "ap_missing" and hasattr(rule, "ap_status"):
            return rule.ap_status()
    return None


class _ApRow:
    """One registry entry as exported: the newest of the BSSIDs it covers."""

    __slots__ = ("labels", "last_ns", "signal_dbm", "freq_mhz", "frames")

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels = labels
        self.last_ns = 0
        self.signal_dbm: int | None = None
        self.freq_mhz: int | None = None
        self.frames = 0


class SensorMetrics:
    """Alert sink + Prometheus collector for one sensor (see the module docstring)."""

    def __init__(self, registry: Registry, facility: str | None, sensor: str | None,
                 settings: MetricsSettings | None = None, *, now: float | None = None) -> None:
        self.collector_registry = CollectorRegistry(auto_describe=False)
        self._lock = threading.Lock()
        self._registry = registry
        self._facility = facility or ""
        self._sensor = sensor or ""
        self._max_series = (settings or MetricsSettings()).max_alert_series
        self._build = (__version__, platform.python_version())
        # alerts
        self._opened: Counter[tuple[str, str]] = Counter()
        self._active: Counter[tuple[str, str]] = Counter()
        # open alerts: key -> ((severity rank, opened at, order), labels)
        self._shown: dict[Any, tuple[tuple[int, int, int], tuple[str, ...]]] = {}
        self._waiting: dict[Any, tuple[tuple[int, int, int], tuple[str, ...]]] = {}
        self._queue: list[tuple[tuple[int, int, int], Any]] = []   # heap over _waiting, lazy
        self._order = 0
        self._series_dropped = 0
        # health, replaced whole by update_health / update_aps
        self._frames: dict[str, float] = {}
        self._malformed: dict[str, float] = {}
        self._kernel_drops: float | None = None
        self._store: dict[str, float] | None = None
        self._radio_up: bool | None = None
        self._freq_mhz: int | None = None
        self._dropped_findings: float | None = None
        self._aps: list[_ApRow] | None = None
        self._reload_ok = True
        self._reload_time = time.time() if now is None else now
        self.collector_registry.register(self)

    # -- alert sink (capture thread) -------------------------------------------------
    def opened(self, alert: Alert) -> None:
        key = alert.key or id(alert)
        labels = (alert.rule, alert.severity, printable_label(alert.ssid),
                  alert.bssid.hex(":") if alert.bssid is not None else "",
                  str(alert.channel) if alert.channel is not None else "")
        with self._lock:
            if key in self._shown or key in self._waiting:
                return
            self._opened[alert.rule, alert.severity] += 1
            self._active[alert.rule, alert.severity] += 1
            self._order += 1
            entry = ((_RANK.get(alert.severity, len(_RANK)), alert.time_ns, self._order), labels)
            if len(self._shown) < self._max_series:
                self._shown[key] = entry
                return
            self._waiting[key] = entry
            heapq.heappush(self._queue, (entry[0], key))
            self._series_dropped += 1

    def closed(self, alert: Alert) -> None:
        key = alert.key or id(alert)
        with self._lock:
            if self._shown.pop(key, None) is not None:
                self._promote()
            elif self._waiting.pop(key, None) is not None:
                if len(self._queue) > 2 * len(self._waiting) + 64:  # forget closed entries
                    self._queue = [(entry[0], k) for k, entry in self._waiting.items()]
                    heapq.heapify(self._queue)
            else:
                return  # opened before this sink existed
            counts = self._active
            counts[alert.rule, alert.severity] -= 1
            if counts[alert.rule, alert.severity] <= 0:
                del counts[alert.rule, alert.severity]

    def _promote(self) -> None:
        """Give free series to waiting alerts: most severe, then oldest (lock held)."""
        while self._queue and len(self._shown) < self._max_series:
            priority, key = heapq.heappop(self._queue)
            entry = self._waiting.get(key)
            if entry is not None and entry[0] == priority:  # else: closed (and maybe reopened)
                del self._waiting[key]
                self._shown[key] = entry

    def set_max_alert_series(self, limit: int) -> None:
        """A reload changed ``max_alert_series``. Raising it shows waiting alerts
        at once; lowering it takes series from the least severe, newest alerts."""
        with self._lock:
            self._max_series = limit
            if len(self._shown) > limit:
                ranked = sorted(self._shown.items(), key=lambda item: item[1][0])
                for key, entry in ranked[limit:]:
                    del self._shown[key]
                    self._waiting[key] = entry
                    heapq.heappush(self._queue, (entry[0], key))
            self._promote()

    # -- state from the daemon / replay (capture thread) -----------------------------
    def update_health(self, frames_by_kind: Mapping[str, int], malformed: Mapping[str, int],
                      kernel_drops_total: int | None, radio_up: bool | None,
                      freq_mhz: int | None, dropped_findings: int | None) -> None:
        """Copy the sensor's counters (call once per housekeeping second).

        ``None`` leaves a metric out: ``replay`` has no radio and no kernel
        socket. ``freq_mhz`` None (not tuned) leaves the channel metrics out."""
        frames = {str(k): float(v) for k, v in list(frames_by_kind.items())[:MAX_KINDS]}
        reasons = {str(k): float(v) for k, v in list(malformed.items())[:MAX_KINDS]}
        with self._lock:
            self._frames, self._malformed = frames, reasons
            self._kernel_drops = None if kernel_drops_total is None else float(kernel_drops_total)
            self._radio_up = radio_up
            self._freq_mhz = freq_mhz
            self._dropped_findings = None if dropped_findings is None else float(dropped_findings)

    def update_store(self, stats: Mapping[str, Any] | None) -> None:
        """The alert store's counters (`StoreSink.stats`); None: no store configured."""
        snapshot = None if stats is None else {
            "ok": 1.0 if stats["ok"] else 0.0,
            "written": float(stats["written"]),
            "failed": float(stats["writes_failed"]),
            "dropped": float(stats["queue_dropped"] + stats["pending_dropped"] + stats["rejected"]),
            "pending": float(stats["pending"] + stats["queued"]),
        }
        with self._lock:
            self._store = snapshot

    def update_aps(self, status: Iterable[tuple[bytes, int, int | None, int | None, int]] | None
                   ) -> None:
        """Per registered AP entry, from ``ApMissing.ap_status()`` (see `ap_status_of`).

        BSSIDs the registry does not list, or that belong to another facility,
        are ignored; entries of this sensor's facility that were not heard are
        exported with 0 frames. ``None`` (the rule is disabled) removes the AP metrics."""
        if status is None:
            with self._lock:
                self._aps = None
            return
        registry, facility = self._registry, self._facility
        rows: dict[int, _ApRow] = {}
        if facility:
            for ap in registry.access_points(facility):
                rows[id(ap)] = _ApRow(_ap_labels(ap))
        for bssid, last_ns, signal_dbm, freq_mhz, frames in status:
            ap = registry.ap_for_bssid(bssid)
            if ap is None or (facility and ap.facility.id != facility):
                continue
            row = rows.get(id(ap))
            if row is None:
                row = rows[id(ap)] = _ApRow(_ap_labels(ap))
            row.frames += frames
            if last_ns >= row.last_ns:
                row.last_ns = last_ns
                if signal_dbm is not None:
                    row.signal_dbm = signal_dbm
                if freq_mhz is not None:
                    row.freq_mhz = freq_mhz
        with self._lock:
            self._aps = list(rows.values())

    def reload(self, success: bool, registry: Registry | None = None, *,
               facility: str | None = None, sensor: str | None = None,
               now: float | None = None) -> None:
        """SIGHUP outcome. On success, the new registry and identity apply; a
        new facility or sensor name starts the alert counters afresh (they
        belong to their labels)."""
        with self._lock:
            self._reload_ok = success
            if not success:
                return
            self._reload_time = time.time() if now is None else now
            if registry is not None:
                self._registry = registry
            identity = (facility if facility is not None else self._facility,
                        sensor if sensor is not None else self._sensor)
            if identity != (self._facility, self._sensor):
                self._facility, self._sensor = identity
                self._opened.clear()
                self._series_dropped = 0

    # -- output -------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text exposition format (what a scrape returns)."""
        return generate_latest(self.collector_registry)

    def write_file(self, path: str | os.PathLike[str]) -> None:
        """Write the exposition to ``path`` atomically (temporary file + rename),
        so a reader (node_exporter's textfile collector, a test) never sees half
        a file. Raises `MetricsError` (one line) when it cannot."""
        target = Path(path)
        data = self.exposition()
        tmp_name = None
        try:
            with tempfile.NamedTemporaryFile("wb", dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp", delete=False) as tmp:
                tmp_name = tmp.name
                tmp.write(data)
                tmp.flush()
                os.fchmod(tmp.fileno(), 0o644)
            os.replace(tmp_name, target)
        except OSError as exc:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
            raise MetricsError(f"{target}: cannot write metrics: {exc.strerror or exc}",
                               permanent=True) from exc

    # -- collector (HTTP threads) ---------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        with self._lock:
            ident = (self._facility, self._sensor)
            opened = dict(self._opened)
            active = dict(self._active)
            shown = [labels for _, labels in sorted(self._shown.values())]
            overflow = len(self._waiting)
            series_dropped = self._series_dropped
            frames, malformed = self._frames, self._malformed
            kernel_drops, radio_up, freq = self._kernel_drops, self._radio_up, self._freq_mhz
            dropped_findings = self._dropped_findings
            aps = [(r.labels, r.last_ns, r.signal_dbm, r.freq_mhz, r.frames)
                   for r in self._aps] if self._aps is not None else None
            reload_ok, reload_time = self._reload_ok, self._reload_time
            store = self._store

        build = GaugeMetricFamily(PREFIX + "build_info",
                                  "Sensor software version and Python version; always 1.",
                                  labels=_IDENTITY + ("version", "python"))
        build.add_metric(ident + self._build, 1)
        yield build

        pairs = sorted({(rule.id, sev) for rule in ALL_RULES for sev in SEVERITIES}
                       | set(opened) | set(active))
        total = CounterMetricFamily(PREFIX + "alerts_total",
                                    "Alerts opened since the sensor started, by rule and severity.",
                                    labels=_IDENTITY + ("rule", "severity"))
        current = GaugeMetricFamily(PREFIX + "active_alerts",
                                    "Alerts open now (evidence still arriving within the "
                                    "hold-down), by rule and severity.",
                                    labels=_IDENTITY + ("rule", "severity"))
        for pair in pairs:
            total.add_metric(ident + pair, opened.get(pair, 0))
            current.add_metric(ident + pair, active.get(pair, 0))
        yield total
        yield current

        series = GaugeMetricFamily(PREFIX + "active_alert",
                                   "1 for each open alert that has a series (at most "
                                   "max_alert_series; see active_alert_series_overflow).",
                                   labels=_ALERT_LABELS)
        seen: set[tuple[str, ...]] = set()
        for labels in shown:
            if labels not in seen:  # None and b"" SSIDs both print as ""
                seen.add(labels)
                series.add_metric(ident + labels, 1)
        yield series
        yield _gauge("active_alert_series_overflow",
                     "Open alerts without an active_alert series because max_alert_series "
                     "were taken.", ident, overflow)
        yield _counter("active_alert_series_dropped", "Alerts that opened while every "
                       "active_alert series was taken (they get one when a series frees up).",
                       ident, series_dropped)

        if aps is not None:
            last = GaugeMetricFamily(PREFIX + "ap_last_heard_timestamp_seconds",
                                     "When a registered AP was last heard (capture time, Unix "
                                     "seconds); absent until it is heard.", labels=_AP_LABELS)
            signal = GaugeMetricFamily(PREFIX + "ap_signal_dbm",
                                       "Signal strength of the last frame heard from a "
                                       "registered AP, in dBm.", labels=_AP_LABELS)
            channel = GaugeMetricFamily(PREFIX + "ap_channel",
                                        "Channel a registered AP last operated on.",
                                        labels=_AP_LABELS)
            count = CounterMetricFamily(PREFIX + "ap_frames_total",
                                        "Beacons and probe responses heard from a registered AP.",
                                        labels=_AP_LABELS)
            done: set[tuple[str, str, str]] = set()
            for labels, last_ns, signal_dbm, freq_mhz, n in sorted(aps, key=lambda row: row[0]):
                if labels in done:
                    continue
                done.add(labels)
                full = ident + labels
                count.add_metric(full, n)
                if last_ns:
                    last.add_metric(full, last_ns / 1e9)
                if signal_dbm is not None:
                    signal.add_metric(full, signal_dbm)
                ch = frequency_to_channel(freq_mhz) if freq_mhz is not None else None
                if ch is not None:
                    channel.add_metric(full, ch)
            yield from (last, signal, channel, count)

        by_kind = CounterMetricFamily(PREFIX + "frames_total",
                                      "Frames captured, by kind (management subtypes, data, "
                                      "control, malformed, ...).", labels=_IDENTITY + ("kind",))
        for kind, value in sorted(frames.items()):
            by_kind.add_metric(ident + (kind,), value)
        yield by_kind
        bad = CounterMetricFamily(PREFIX + "malformed_frames_total",
                                  "Frames dropped or cut short by the decoder, by reason.",
                                  labels=_IDENTITY + ("reason",))
        for reason, value in sorted(malformed.items()):
            bad.add_metric(ident + (reason,), value)
        yield bad
        if kernel_drops is not None:
            yield _counter("kernel_drops", "Frames the kernel dropped because the capture "
                           "socket's buffer was full.", ident, kernel_drops)
        if dropped_findings is not None:
            yield _counter("dropped_findings", "Findings for new alerts dropped because "
                           "engine.max_open_alerts alerts were open.", ident, dropped_findings)
        if radio_up is not None:
            yield _gauge("radio_up", "1 while the radio is in monitor mode and capturing, "
                         "else 0.", ident, 1 if radio_up else 0)
            channel_now = frequency_to_channel(freq) if freq is not None and radio_up else None
            if channel_now is not None:
                yield _gauge("radio_channel", "Channel the radio is tuned to (see "
                             "radio_frequency_hertz for the band).", ident, channel_now)
                yield _gauge("radio_frequency_hertz", "Centre frequency the radio is tuned to.",
                             ident, freq * 1_000_000)  # type: ignore[operator]
        if store is not None:
            yield _gauge("store_ok", "1 while the alert store (SQLite) accepts writes, 0 while "
                         "writes fail (disk full, locked, unwritable); alerts wait in memory.",
                         ident, store["ok"])
            yield _counter("store_rows_written", "Alert rows written to the alert store.",
                           ident, store["written"])
            yield _counter("store_write_failures", "Failed attempts to write to the alert "
                           "store (each is retried).", ident, store["failed"])
            yield _counter("store_dropped", "Alerts never stored because the store failed "
                           "for too long and the waiting queue was full.", ident, store["dropped"])
            yield _gauge("store_pending", "Alerts waiting to be written to the alert store.",
                         ident, store["pending"])
        yield _gauge("config_last_reload_successful", "1 if the last configuration (re)load "
                     "succeeded, 0 if the last SIGHUP found an invalid configuration.",
                     ident, 1 if reload_ok else 0)
        yield _gauge("config_last_reload_success_timestamp_seconds", "When the configuration "
                     "was last loaded successfully (start or SIGHUP), Unix seconds.",
                     ident, reload_time)


def _ap_labels(ap: AccessPoint) -> tuple[str, str, str]:
    return (ap.bssid_text, printable_label(ap.label), printable_label(ap.network.ssid))


def _gauge(name: str, doc: str, ident: tuple[str, str], value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, doc, labels=_IDENTITY)
    family.add_metric(ident, value)
    return family


def _counter(name: str, doc: str, ident: tuple[str, str], value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, doc, labels=_IDENTITY)
    family.add_metric(ident, value)
    return family
