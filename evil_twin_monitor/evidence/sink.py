"""Evidence captures as an alert sink: a pcap of the offender's frames per new alert.

Theory of operation
-------------------
The sink must come *first* in the engine's list: ``opened`` adds
``evidence["evidence_file"]`` (the file name, relative to the evidence
directory, or None) before the log, store and metrics sinks see the alert.
When no file is written although one was due, ``evidence["evidence_skipped"]``
says why, and the reason is counted:

- ``no_frames``: the recorder holds no frame of the offender that may be
  written (evicted, or the alert came from a timer);
- ``rate_cap``: ``max_files_per_hour`` files were written in the hour before
  the alert (capture time, so a replay behaves as the live sensor did);
- ``directory_full``: the file would take the directory beyond
  ``max_total_mb``. New files are refused rather than old ones deleted
  (decision): an attacker cannot erase the evidence of the first evil twin
  by provoking alerts, and retention frees the space;
- ``queue_full``: the writer is that far behind (a stuck disk);
- ``write_failed``: the disk said no (full, read-only, permission denied).

Which frames: those the recorder kept for the alert's BSSID, of the kinds
that made the rule fire (`EVIDENCE_KINDS`); `pcapfile` keeps only the
offender's own management frames plus, cut to their reason code, the
deauthentications sent to it, and pseudonymises every other address.
Alerts without an offender get no file (decision, README "Evidence
captures"): ``beacon_flood`` and the ``rogue_hardware`` flood summary have no
BSSID, their transmitters are thousands of made-up addresses among which a
hotspot phone cannot be told apart, and every twin hiding in the flood (like
the first devices of a tool flood) has an alert of its own with its own
file; ``ap_missing`` is about silence, which no frame shows.

Off the hot path: ``opened`` does the choosing, rewriting and pseudonymising
(about a millisecond for 64 frames, at most ``max_files_per_hour`` times an
hour) and hands the bytes to a writer thread on a small bounded queue; the
capture loop never waits for the disk. The thread writes each file
atomically (0600, directory 0700), checks retention at start and every
``purge_interval_s``, and tracks the directory's size. A write that fails is
counted, logged once per distinct error, and the alert's ``evidence_file``
becomes None when it closes (the store and ``replay`` see the closing
snapshot). ``replay`` runs the sink without a thread (``background=False``):
files are written inside ``opened``, so the printed alerts are exact.

Nothing here raises into the engine: a bug is logged and the alert goes on
without evidence. Counters are plain integers, each moved by one thread.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..decoding.frame import BEACON, DEAUTH, DISASSOC, PROBE_RESP, mac_text
from ..privacy import Pseudonymizer, PrivacyError, load_secret
from ..sinks.log import QuietLog
from .files import (
    delete_evidence_before, directory_usage, evidence_name, prepare_directory, write_evidence,
)
from .pcapfile import build_pcap
from .recorder import SLOT, FrameRecorder
from .settings import DEFAULT_SECRET, EvidenceSettings

if TYPE_CHECKING:
    from ..engine.alert import Alert
    from ..registry.model import Registry

NS = 1_000_000_000
HOUR_NS = 3600 * NS
DAY_S = 86_400
QUEUE_SIZE = 64
PURGE_INTERVAL_S = 3600.0
RELOG_S = 300.0
SKIP_LOG_INTERVAL_S = 60.0
NAMES_REMEMBERED = 4096

ADVERTISEMENTS = frozenset({BEACON, PROBE_RESP})
# rule -> frame kinds that make it fire; rules not listed judge advertisements.
EVIDENCE_KINDS: dict[str, frozenset[str]] = {
    "deauth_flood": frozenset({DEAUTH, DISASSOC}),
    "rogue_hardware": frozenset(SLOT),   # any management frame of the device
    "beacon_flood": frozenset(),         # no offender (module notes)
    "ap_missing": frozenset(),           # silence
}
SKIP_REASONS = ("no_frames", "rate_cap", "directory_full", "queue_full", "write_failed", "error")


class EvidenceError(Exception):
    """``replay --evidence`` cannot work (directory, secret); one line for people."""


@dataclass
class _Job:
    name: str
    content: bytes
    frames: int
    rule: str
    bssid: str | None


@dataclass
class _Marker:
    stop: bool
    done: threading.Event = field(default_factory=threading.Event)


class EvidenceSink:
    """Writes an evidence pcap per new alert; never blocks or raises into the engine."""

    def __init__(self, settings: EvidenceSettings, pseudonymizer: Pseudonymizer,
                 registry: Registry | Callable[[], Registry], log: Any = None, *,
                 recorder: FrameRecorder | None = None, background: bool = True,
                 clock: Callable[[], float] = time.time,
                 purge_interval_s: float = PURGE_INTERVAL_S, queue_size: int = QUEUE_SIZE) -> None:
        """``registry``: the registry, or a function returning the current one
        (the daemon's changes on reload). ``background`` False: write inside
        ``opened`` (``replay``). ``clock``: wall clock for the retention."""
        self.settings = settings
        self.directory = settings.directory
        self.pseudonymizer = pseudonymizer
        self._registry = registry if callable(registry) else (lambda: registry)
        self.log = log if log is not None else QuietLog()
        self.recorder = recorder if recorder is not None else FrameRecorder()
        self.clock = clock
        self.purge_interval_s = purge_interval_s
        # capture thread
        self._times: deque[int] = deque()
        self._names: OrderedDict[str, None] = OrderedDict()
        self._skipped: Counter[str] = Counter()
        self._skip_logged: dict[str, tuple[int, float]] = {}
        self._queued_bytes = 0
        self._closing = False
        # writer (thread, or the caller when not in the background)
        self._done_bytes = 0
        self._disk_bytes = 0
        self._failed_names: set[str] = set()
        self._failing_since: float | None = None
        self._logged_error: tuple[str, float] | None = None
        self._purge_at = 0.0
        self.ok = True
        self.files = 0
        self.written = 0
        self.bytes_written = 0
        self.failed = 0
        self.deleted = 0
        self.last_error: str | None = None
        self._queue: queue.Queue[_Job | _Marker] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="evidence-writer", daemon=True)
            self._thread.start()
        else:
            self._start()

    # -- the capture thread's side -------------------------------------------------------
    def opened(self, alert: Alert) -> None:
        try:
            name, reason = self._capture(alert)
        except Exception:  # a bug: say so; detection goes on
            self.log.exception("evidence_error", rule=alert.rule, bssid=mac_text(alert.bssid))
            name, reason = None, self._skip("error")
        alert.evidence["evidence_file"] = name
        if reason is not None:
            alert.evidence["evidence_skipped"] = reason

    def closed(self, alert: Alert) -> None:
        name = alert.evidence.get("evidence_file")
        if name is not None and name in self._failed_names:
            self._failed_names.discard(name)
            alert.evidence["evidence_file"] = None
            alert.evidence["evidence_skipped"] = "write_failed"

    def _capture(self, alert: Alert) -> tuple[str | None, str | None]:
        """(file name, None) or (None, reason skipped) or (None, None): no file is due."""
        settings = self.settings
        kinds = EVIDENCE_KINDS.get(alert.rule, ADVERTISEMENTS)
        bssid = alert.bssid
        if bssid is None or not kinds:
            return None, None
        if self._closing:
            return None, self._skip("queue_full")
        records = self.recorder.frames_of(bssid, kinds)
        if not records:
            return None, self._skip("no_frames")
        now = alert.time_ns
        times = self._times
        while times and times[0] <= now - HOUR_NS:
            times.popleft()
        if len(times) >= settings.max_files_per_hour:
            return None, self._skip("rate_cap")
        registry = self._registry()
        built = build_pcap(records, bssid, lambda addr: registry.ap_for_bssid(addr) is not None,
                           self.pseudonymizer.address, max_frames=settings.max_frames,
                           max_bytes=settings.max_file_bytes)
        if built is None:
            return None, self._skip("no_frames")
        content, frames = built
        used = self._disk_bytes + self._queued_bytes - self._done_bytes
        if used + len(content) > settings.max_total_bytes:
            return None, self._skip("directory_full")
        name = self._unique_name(alert)
        job = _Job(name, content, frames, alert.rule, mac_text(bssid))
        if self._thread is None:
            self._queued_bytes += len(content)
            if not self._write(job):
                return None, "write_failed"   # counted in `failed`
        else:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                return None, self._skip("queue_full")
            self._queued_bytes += len(content)
        times.append(now)
        return name, None

    def _unique_name(self, alert: Alert) -> str:
        names = self._names
        n = 1
        while True:
            name = evidence_name(alert.time_ns, alert.rule, alert.bssid, n)
            if name not in names:
                break
            n += 1
        names[name] = None
        if len(names) > NAMES_REMEMBERED:
            names.popitem(last=False)
        return name

    def _skip(self, reason: str) -> str:
        """Count a skipped file; log the first of a reason, then at most once a minute."""
        self._skipped[reason] += 1
        count = self._skipped[reason]
        now = time.monotonic()
        logged = self._skip_logged.get(reason)
        if logged is None or now - logged[1] >= SKIP_LOG_INTERVAL_S:
            self._skip_logged[reason] = (count, now)
            self.log.warning("evidence_skipped", reason=reason,
                             skipped=count - (logged[0] if logged else 0), skipped_total=count,
                             directory=str(self.directory))
        return reason

    def update(self, settings: EvidenceSettings) -> bool:
        """Apply reloaded settings in place; False when only a new sink can
        (another directory or secret: the caller replaces this one)."""
        if (settings.directory, settings.secret_file) != (self.settings.directory,
                                                           self.settings.secret_file):
            return False
        retention_changed = settings.retention_days != self.settings.retention_days
        self.settings = settings
        if retention_changed:
            self._purge_at = 0.0   # the writer applies the new retention at once
            self._wake()
        return True

    def stats(self) -> dict[str, Any]:
        skipped = {reason: self._skipped.get(reason, 0) for reason in SKIP_REASONS}
        skipped["write_failed"] = self.failed
        return {"ok": self.ok, "written": self.written, "bytes_written": self.bytes_written,
                "failed": self.failed, "skipped": skipped, "deleted": self.deleted,
                "files": self.files, "directory_bytes": self._disk_bytes,
                "pending": self._queue.qsize(), "last_error": self.last_error,
                "recorder": self.recorder.stats()}

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until what is queued now is written (or failed); False on timeout."""
        if self._thread is None:
            return True
        marker = _Marker(stop=False)
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued and stop the writer; False if it did not finish in time."""
        self._closing = True
        if self._thread is None:
            return True
        marker = _Marker(stop=True)
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _wake(self) -> None:
        if self._thread is not None:
            try:
                self._queue.put_nowait(_Marker(stop=False))
            except queue.Full:
                pass

    # -- the writer ----------------------------------------------------------------------
    def _start(self) -> None:
        """Prepare the directory, apply the retention, measure what is there."""
        try:
            prepare_directory(self.directory)
        except OSError as exc:
            self._failed(exc, "prepare")
        self._purge()
        self.log.info("evidence_ready", directory=str(self.directory), files=self.files,
                      directory_bytes=self._disk_bytes,
                      retention_days=self.settings.retention_days,
                      max_files_per_hour=self.settings.max_files_per_hour,
                      max_total_mb=self.settings.max_total_mb)

    def _run(self) -> None:
        try:
            self._start()
        except Exception:  # a bug: say so, keep the thread for the jobs
            self.log.exception("evidence_writer_error", directory=str(self.directory))
        while True:
            wait = max(0.0, min(60.0, self._purge_at - time.monotonic()))
            try:
                item: _Job | _Marker | None = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            try:
                if isinstance(item, _Job):
                    self._write(item)
                if time.monotonic() >= self._purge_at:
                    self._purge()
            except Exception:  # a bug: say so, keep going
                self.log.exception("evidence_writer_error", directory=str(self.directory))
            if isinstance(item, _Marker):
                item.done.set()
                if item.stop:
                    return

    def _write(self, job: _Job) -> bool:
        try:
            prepare_directory(self.directory)
            write_evidence(self.directory, job.name, job.content, sync=self._thread is not None)
        except OSError as exc:
            self._done_bytes += len(job.content)
            self._failed(exc, "write", job)
            if self._thread is not None:
                self._failed_names.add(job.name)
            return False
        self._done_bytes += len(job.content)
        self._disk_bytes += len(job.content)
        self.files += 1
        self.written += 1
        self.bytes_written += len(job.content)
        self.ok = True
        if self._failing_since is not None:
            self.log.info("evidence_recovered", directory=str(self.directory),
                          failing_s=round(time.monotonic() - self._failing_since, 3))
            self._failing_since = None
            self._logged_error = None
        self.log.info("evidence_written", file=job.name, frames=job.frames,
                      bytes=len(job.content), rule=job.rule, bssid=job.bssid)
        return True

    def _failed(self, exc: OSError, operation: str, job: _Job | None = None) -> None:
        """Count, remember, log (once per distinct error, again after RELOG_S)."""
        now = time.monotonic()
        error = f"{self.directory}: {exc.strerror or exc}"   # one text per cause, whatever the file
        self.ok = False
        self.last_error = error
        if job is not None:
            self.failed += 1
        if self._failing_since is None:
            self._failing_since = now
        if self._logged_error is None or self._logged_error[0] != error \
                or now - self._logged_error[1] >= RELOG_S:
            self._logged_error = (error, now)
            self.log.error("evidence_write_failed", directory=str(self.directory),
                           operation=operation, error=error,
                           file=job.name if job is not None else None,
                           rule=job.rule if job is not None else None,
                           bssid=job.bssid if job is not None else None, failed=self.failed)

    def _purge(self) -> None:
        self._purge_at = time.monotonic() + self.purge_interval_s
        days = self.settings.retention_days
        if days:
            cutoff = int((self.clock() - days * DAY_S) * NS)
            try:
                deleted = delete_evidence_before(self.directory, cutoff)
            except OSError as exc:
                self._failed(exc, "purge")
                return
            if deleted:
                self.deleted += deleted
                self.log.info("evidence_purged", directory=str(self.directory), deleted=deleted,
                              older_than_days=days)
        try:
            self.files, self._disk_bytes = directory_usage(self.directory)
        except OSError as exc:
            self._failed(exc, "scan")


def daemon_pseudonymizer(settings: EvidenceSettings, log: Any) -> Pseudonymizer:
    """The installation's pseudonymizer (secret created on first use). A secret
    that cannot be read or created is logged and replaced by one that dies with
    the process: evidence keeps being written, with pseudonyms that do not link
    to earlier files, and never with a client's address in clear."""
    path = settings.secret_file or DEFAULT_SECRET
    try:
        return Pseudonymizer(load_secret(path))
    except PrivacyError as exc:
        log.error("evidence_secret_unavailable", error=str(exc),
                  consequence="pseudonyms in evidence files are valid for this run only")
        return Pseudonymizer.ephemeral()


def replace_evidence_sink(current: EvidenceSink | None, settings: EvidenceSettings, log: Any, *,
                          registry: Registry | Callable[[], Registry],
                          close_timeout_s: float = 2.0) -> EvidenceSink | None:
    """The evidence sink after a (re)load: the same one with new caps, a new
    one for a new directory or secret (keeping the recorded frames), or None
    when evidence is disabled."""
    if current is not None and settings.enabled and current.update(settings):
        return current
    recorder = current.recorder if current is not None else None
    if current is not None:
        current.close(close_timeout_s)
    if not settings.enabled:
        return None
    return EvidenceSink(settings, daemon_pseudonymizer(settings, log), registry, log,
                        recorder=recorder)


def replay_evidence_sink(directory: str | os.PathLike[str], settings: EvidenceSettings | None,
                         registry: Registry) -> EvidenceSink:
    """The sink of ``replay --evidence DIR``: files written inside ``opened`` (the
    printed alerts are exact), never deleted (an old capture is not expired), the
    caps of the configuration's ``evidence:`` section, its ``secret_file`` when
    the section sets one, else a secret that dies with the process. Raises
    `EvidenceError` before the replay when the directory or secret is unusable."""
    settings = replace(settings or EvidenceSettings(), enabled=True, directory=Path(directory),
                       retention_days=0)
    try:
        prepare_directory(settings.directory)
        fd, probe = tempfile.mkstemp(dir=settings.directory, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise EvidenceError(f"{directory}: cannot write evidence files there: "
                            f"{exc.strerror or exc}") from exc
    try:
        pseudonymizer = (Pseudonymizer(load_secret(settings.secret_file))
                         if settings.secret_file is not None else Pseudonymizer.ephemeral())
    except PrivacyError as exc:
        raise EvidenceError(str(exc)) from exc
    return EvidenceSink(settings, pseudonymizer, registry, None, background=False)
