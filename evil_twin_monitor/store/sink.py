"""The store as an alert sink: the capture loop hands over, one thread writes.

Theory of operation
-------------------
The daemon's loop must never wait for a disk. ``opened`` and ``closed`` only
take a snapshot of the alert (`db.alert_row`, microseconds) and put it on a
bounded queue without blocking; when the queue is full the snapshot is
dropped and counted (``queue_dropped``). One writer thread owns the SQLite
connection and does everything else:

- **Pending.** It moves snapshots from the queue into a dict keyed by the
  alert's uid; a newer snapshot of the same alert replaces the older one
  (the upsert carries every field), so a long outage costs one entry per
  alert, not per event. At most ``max_pending`` alerts wait; beyond that
  new alerts are dropped and counted (``pending_dropped``).
- **Write.** All pending snapshots go in one transaction. On success they
  leave the dict; on failure (disk full, a lock held by another process past
  the busy timeout, a missing or read-only directory, a file that is not a
  store) they all stay, the failure is counted (``writes_failed``), kept as
  ``last_error`` and logged once per distinct error (again after
  `RELOG_S`), and the writer tries again after a backoff that doubles from
  ``retry_initial_s`` to ``retry_max_s``. Nothing already in the file is
  touched by a failed write: SQLite rolls the transaction back. A snapshot
  SQLite rejects as such (never expected) is dropped alone, counted in
  ``rejected``, so one bad row cannot block the others forever.
- **Purge.** Every ``purge_interval_s`` (and after every `PURGE_EVERY_WRITES`
  rows, for the cap) ended alerts older than the retention, and beyond
  ``max_alerts`` the ended alerts that ended first, are deleted.
- **Replaced.** Before each write the writer checks that the path still
  names the file it has open; a history deleted or moved away by hand is
  created afresh instead of writing into a file nobody can see.
- **Start.** When it first opens the file the writer marks the alerts this
  sensor left open in an earlier run as ``interrupted``: that run ended
  without closing them, so nobody else will.
- **Samples.** ``sample`` hands over one interval's health and AP-presence
  rows (for reports) the same way; they wait in a list of at most
  `MAX_PENDING_SAMPLES` intervals, are written before the alerts of the same
  write and are retried with them (``samples_dropped`` beyond the bound).

``flush`` and ``close`` put a marker on the queue and wait for the writer to
reach it; ``close`` gives up after its timeout (the writer is a daemon thread,
so a stuck disk never keeps the process alive). Counters are plain integers,
each moved by one thread (the caller's drops, the writer's writes) and read by
others (`stats`), which the GIL makes safe enough for metrics.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from ..sinks.log import QuietLog
from .db import (
    AlertRow, AlertStore, HealthRow, PresenceRow, StoreError, alert_row, describe_error,
)
from .settings import StoreSettings

if TYPE_CHECKING:
    from ..engine.alert import Alert

QUEUE_SIZE = 10_000
MAX_PENDING = 10_000
MAX_PENDING_SAMPLES = 1440  # intervals: a day of one-minute samples while the store fails
BUSY_TIMEOUT_S = 1.0
PURGE_INTERVAL_S = 3600.0
PURGE_EVERY_WRITES = 10_000
DROP_LOG_INTERVAL_S = 60.0
RELOG_S = 300.0
DAY_S = 86_400

# Failures that may go away by themselves (space freed, lock released, directory
# created); anything else about a row means the row itself is unusable.
_TRANSIENT = (StoreError, sqlite3.DatabaseError, OSError)  # after _ROW_ERRORS in every `except`
_KEEP_CONNECTION = ("SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED")  # and their extended codes
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError,
               sqlite3.ProgrammingError, ValueError, TypeError, OverflowError)


class _Samples(NamedTuple):
    """One interval of one sensor (`StoreSink.sample`)."""

    health: HealthRow
    presence: list[PresenceRow]


@dataclass
class _Marker:
    """Flush (``stop`` False) or stop request; ``ok``: nothing left pending."""

    stop: bool
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class StoreSink:
    """Alerts into the history file without ever blocking the caller."""

    def __init__(self, settings: StoreSettings, log: Any = None, *, sensor: str | None = None,
                 queue_size: int = QUEUE_SIZE, max_pending: int = MAX_PENDING,
                 blocking: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 retry_initial_s: float = 1.0, retry_max_s: float = 30.0,
                 purge_interval_s: float = PURGE_INTERVAL_S,
                 clock: Callable[[], float] = time.time) -> None:
        """``blocking``: wait for room in the queue instead of dropping (``replay``,
        where nothing is live). ``sensor``: whose alerts left open by an earlier
        run are marked interrupted. ``clock``: wall clock for the retention.
        ``log``: a structlog logger (None: no log, the counters still count)."""
        self.settings = settings
        self.log = log if log is not None else QuietLog()
        self.sensor = sensor
        self.max_pending = max_pending
        self.blocking = blocking
        self.busy_timeout_s = busy_timeout_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.purge_interval_s = purge_interval_s
        self.clock = clock
        self._queue: queue.Queue[AlertRow | _Samples | _Marker] = queue.Queue(queue_size)
        self._closing = False
        # writer-thread state
        self._store: AlertStore | None = None
        self._pending: dict[str, AlertRow] = {}
        self._samples: list[_Samples] = []
        self._retry_at = 0.0
        self._delay = retry_initial_s
        self._purge_at = 0.0
        self._writes_since_purge = 0
        self._interrupted_done = sensor is None
        self._failing_since: float | None = None
        self._failed_attempts = 0
        self._logged_error: tuple[str, float] | None = None
        self._reported = {"queue_dropped": 0, "pending_dropped": 0}
        self._drop_log_at = 0.0
        # counters (stats)
        self.ok = True
        self.written = 0
        self.writes_failed = 0
        self.queue_dropped = 0
        self.pending_dropped = 0
        self.rejected = 0
        self.purged = 0
        self.samples_written = 0
        self.samples_dropped = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="alert-store", daemon=True)
        self._thread.start()

    # -- the caller's side (the capture loop) ------------------------------------
    def opened(self, alert: Alert) -> None:
        self._hand_over(alert)

    def closed(self, alert: Alert) -> None:
        self._hand_over(alert)

    def _hand_over(self, alert: Alert) -> None:
        if self._closing:
            self.queue_dropped += 1
            return
        try:
            row = alert_row(alert)
        except Exception as exc:  # evidence that cannot be encoded: this alert only
            self.rejected += 1
            self.log.error("store_row_rejected", error=str(exc), rule=alert.rule)
            return
        try:
            if self.blocking:
                self._queue.put(row)
            else:
                self._queue.put_nowait(row)
        except queue.Full:
            self.queue_dropped += 1

    def sample(self, health: HealthRow, presence: Sequence[PresenceRow]) -> None:
        """Hand over one interval's samples (never blocks unless ``blocking``)."""
        if self._closing:
            self.samples_dropped += 1
            return
        try:
            if self.blocking:
                self._queue.put(_Samples(health, list(presence)))
            else:
                self._queue.put_nowait(_Samples(health, list(presence)))
        except queue.Full:
            self.samples_dropped += 1

    def update(self, settings: StoreSettings) -> bool:
        """Take new retention settings (SIGHUP). False if the path or ``enabled``
        changed: that needs a new sink (see `replace_store_sink`)."""
        if (settings.path, settings.enabled) != (self.settings.path, self.settings.enabled):
            return False
        if settings != self.settings:
            self.settings = settings
            self._purge_at = 0.0  # apply the new retention soon
        return True

    def stats(self) -> dict[str, Any]:
        """Counters for the ``stats`` log event and the metrics."""
        return {
            "path": str(self.settings.path),
            "ok": self.ok,
            "written": self.written,
            "pending": len(self._pending),
            "queued": self._queue.qsize(),
            "writes_failed": self.writes_failed,
            "queue_dropped": self.queue_dropped,
            "pending_dropped": self.pending_dropped,
            "rejected": self.rejected,
            "purged": self.purged,
            "samples_written": self.samples_written,
            "samples_dropped": self.samples_dropped,
            "last_error": self.last_error,
        }

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed over so far is in the file (True), or
        until ``timeout`` (False: it stays pending and is retried)."""
        if self._closing or not self._thread.is_alive():
            return not self._pending and not self._samples and self._queue.empty()
        return self._wait(_Marker(False, time.monotonic() + timeout))

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is pending (trying until ``timeout``) and stop the writer.
        True if nothing was lost. Alerts handed over afterwards are dropped."""
        if self._closing:
            self._thread.join(timeout)
            return not self._pending and not self._samples and not self._thread.is_alive()
        self._closing = True
        marker = _Marker(True, time.monotonic() + timeout)
        ok = self._wait(marker)
        self._thread.join(max(0.0, marker.deadline - time.monotonic()) + 0.1)
        if self._thread.is_alive():
            self.log.error("store_close_timeout", path=str(self.settings.path),
                           pending=len(self._pending), timeout_s=timeout)
        return ok

    def _wait(self, marker: _Marker) -> bool:
        try:
            self._queue.put(marker, timeout=max(0.0, marker.deadline - time.monotonic()))
        except queue.Full:
            return False
        marker.done.wait(max(0.0, marker.deadline - time.monotonic()) + self.busy_timeout_s)
        return marker.done.is_set() and marker.ok

    # -- the writer thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            self._connect()
        except Exception:  # a bug: say so; the loop below tries again after the backoff
            self.log.exception("store_writer_error", path=str(self.settings.path))
            self._drop_store()
            self._retry_at = time.monotonic() + self._delay
        while True:
            try:
                marker = self._cycle()
            except Exception:  # a bug: say so, back off, keep the thread alive
                self.log.exception("store_writer_error", path=str(self.settings.path))
                self._drop_store()
                self._retry_at = time.monotonic() + self._delay
                continue
            if marker is not None and marker.stop:
                break
        self._finish(marker)

    def _cycle(self) -> _Marker | None:
        """Wait for work or a due moment, take what is queued, write, purge."""
        markers: list[_Marker] = []
        stop: _Marker | None = None
        try:
            item: AlertRow | _Samples | _Marker | None = self._queue.get(timeout=self._wait_s())
        except queue.Empty:
            item = None
        while item is not None:
            if isinstance(item, _Marker):
                if item.stop:
                    stop = item
                    break
                markers.append(item)
            elif isinstance(item, _Samples):
                if len(self._samples) < MAX_PENDING_SAMPLES:
                    self._samples.append(item)
                else:
                    self.samples_dropped += 1
            else:
                self._take(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
        now = time.monotonic()
        if stop is None:
            if (self._pending or self._samples or self._store is None) and (
                    markers or now >= self._retry_at):
                self._write()
            if self._store is not None and (now >= self._purge_at or (
                    self.settings.max_alerts and self._writes_since_purge >= PURGE_EVERY_WRITES)):
                self._purge()
        self._report_drops(now)
        for marker in markers:
            marker.ok = not self._pending and not self._samples
            marker.done.set()
        return stop

    def _wait_s(self) -> float:
        now = time.monotonic()
        due = [self._purge_at if self._store is not None else self._retry_at]
        if self._pending or self._samples:
            due.append(self._retry_at)
        if self.queue_dropped > self._reported["queue_dropped"] or \
                self.pending_dropped > self._reported["pending_dropped"]:
            due.append(self._drop_log_at)
        return min(60.0, max(0.0, min(due) - now))

    def _take(self, row: AlertRow) -> None:
        if row.uid not in self._pending and len(self._pending) >= self.max_pending:
            self.pending_dropped += 1
            return
        self._pending[row.uid] = row

    def _connect(self) -> bool:
        path = self.settings.path
        try:
            store = AlertStore.open_writer(path, self.busy_timeout_s)
        except _TRANSIENT as exc:
            self._failed(exc, "open")
            return False
        try:
            interrupted = 0
            if not self._interrupted_done and self.sensor is not None:
                interrupted = store.interrupt(self.sensor)
            count = store.count()
        except _TRANSIENT as exc:
            store.close()
            self._failed(exc, "open")
            return False
        self._interrupted_done = True
        self._store = store
        if self._failing_since is None and not self.written:
            self.log.info("store_opened", path=str(path), alerts=count, interrupted=interrupted,
                          retention_days=self.settings.retention_days,
                          max_alerts=self.settings.max_alerts)
        return True

    def _write(self) -> None:
        if self._store is not None and self._store.replaced():
            self.log.warning("store_replaced", path=str(self.settings.path),
                             pending=len(self._pending))
            self._drop_store()
        if self._store is None and not self._connect():
            return
        if self._samples and not self._write_samples():
            return
        if not self._pending:
            self._succeeded(0)
            return
        store = self._store
        assert store is not None
        rows = list(self._pending.values())
        try:
            store.upsert(rows)
        except _ROW_ERRORS:
            self._write_one_by_one(store, rows)
            return
        except _TRANSIENT as exc:
            self._failed(exc, "write")
            self._after_failure(exc)
            return
        self._pending.clear()
        self._succeeded(len(rows))

    def _write_samples(self) -> bool:
        """Write the pending samples; False after a failure (they stay pending)."""
        assert self._store is not None
        batches = self._samples
        try:
            self._store.add_samples([b.health for b in batches],
                                    [row for b in batches for row in b.presence])
        except _ROW_ERRORS as exc:  # not expected: our own numbers and names
            self.rejected += len(batches)
            self.log.error("store_row_rejected", path=str(self.settings.path),
                           error=describe_error(exc), rule=None, bssid=None)
        except _TRANSIENT as exc:
            self._failed(exc, "write")
            self._after_failure(exc)
            return False
        else:
            self.samples_written += len(batches)
        self._samples = []
        return True

    def _write_one_by_one(self, store: AlertStore, rows: list[AlertRow]) -> None:
        """A batch SQLite refused as such: find the bad rows, keep the others."""
        written = 0
        for row in rows:
            try:
                store.upsert([row])
            except _ROW_ERRORS as exc:
                del self._pending[row.uid]
                self.rejected += 1
                self.log.error("store_row_rejected", path=str(self.settings.path),
                               error=describe_error(exc), rule=row.rule, bssid=row.bssid)
                continue
            except _TRANSIENT as exc:
                self.written += written
                self._failed(exc, "write")
                self._after_failure(exc)
                return
            del self._pending[row.uid]
            written += 1
        self._succeeded(written)

    def _succeeded(self, rows: int) -> None:
        self.written += rows
        self._writes_since_purge += rows
        self._delay = self.retry_initial_s
        self.ok = True
        if self._failing_since is not None:
            self.log.info("store_recovered", path=str(self.settings.path), written=rows,
                          failed_attempts=self._failed_attempts,
                          failing_s=round(time.monotonic() - self._failing_since, 3))
            self._failing_since = None
            self._failed_attempts = 0
            self._logged_error = None

    def _failed(self, exc: BaseException, operation: str) -> None:
        """Count, remember, log (once per distinct error, again after RELOG_S), back off."""
        now = time.monotonic()
        error = str(exc) if isinstance(exc, StoreError) else \
            f"{self.settings.path}: {describe_error(exc)}"
        self.ok = False
        self.writes_failed += 1
        self._failed_attempts += 1
        self.last_error = error
        if self._failing_since is None:
            self._failing_since = now
        self._retry_at = now + self._delay
        if self._logged_error is None or self._logged_error[0] != error \
                or now - self._logged_error[1] >= RELOG_S:
            self._logged_error = (error, now)
            self.log.error("store_write_failed", path=str(self.settings.path),
                           operation=operation, error=error, pending=len(self._pending),
                           failed_attempts=self._failed_attempts,
                           retry_in_s=round(self._delay, 3))
        self._delay = min(self._delay * 2, self.retry_max_s)

    def _after_failure(self, exc: BaseException) -> None:
        """Keep the connection through a full disk or a lock held elsewhere (the
        file is fine, and its -wal/-shm stay, so readers keep working); open
        afresh after anything else (the file may have been replaced or broken)."""
        name = getattr(exc, "sqlite_errorname", None) or ""
        if not name.startswith(_KEEP_CONNECTION):
            self._drop_store()

    def _drop_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _purge(self) -> None:
        settings = self.settings
        self._purge_at = time.monotonic() + self.purge_interval_s
        self._writes_since_purge = 0
        if not settings.retention_days and not settings.max_alerts:
            return
        cutoff = (int((self.clock() - settings.retention_days * DAY_S) * 1e9)
                  if settings.retention_days else None)
        assert self._store is not None
        try:
            aged, capped = self._store.purge(cutoff, settings.max_alerts)
        except _TRANSIENT as exc:
            self._failed(exc, "purge")
            self._after_failure(exc)
            return
        samples = self._store.samples_purged
        if aged or capped or samples:
            self.purged += aged + capped
            self.log.info("store_purged", path=str(settings.path), deleted=aged + capped,
                          older_than_days=settings.retention_days or None, over_cap=capped,
                          samples_deleted=samples)

    def _report_drops(self, now: float) -> None:
        """One log line per kind of drop and minute at most, with the counts."""
        if now < self._drop_log_at:
            return
        logged = False
        for name, size in (("queue_dropped", self._queue.maxsize),
                           ("pending_dropped", self.max_pending)):
            total = getattr(self, name)
            new = total - self._reported[name]
            if new > 0:
                self._reported[name] = total
                event = "store_queue_full" if name == "queue_dropped" else "store_pending_full"
                self.log.warning(event, path=str(self.settings.path), dropped=new,
                                 dropped_total=total, capacity=size)
                logged = True
        if logged:
            self._drop_log_at = now + DROP_LOG_INTERVAL_S

    def _finish(self, marker: _Marker | None) -> None:
        """Stop: keep trying to write what is pending until the deadline."""
        deadline = marker.deadline if marker is not None else time.monotonic()
        try:
            while True:
                if self._pending or self._samples:
                    self._write()
                if not (self._pending or self._samples) or time.monotonic() >= deadline:
                    break
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            self._report_drops(float("inf"))
            if self._pending:
                self.log.error("store_closed", path=str(self.settings.path), written=self.written,
                               lost=len(self._pending), error=self.last_error)
            else:
                self.log.info("store_closed", path=str(self.settings.path), written=self.written)
        finally:
            self._drop_store()
            if marker is not None:
                marker.ok = not self._pending and not self._samples
                marker.done.set()


def replace_store_sink(current: StoreSink | None, settings: StoreSettings, log: Any, *,
                       sensor: str | None, close_timeout_s: float = 2.0) -> StoreSink | None:
    """The store sink to use after a reload: the same one with new retention
    settings, a new one for a new path (the old one flushed and closed), or
    None when the store is disabled."""
    if current is not None and settings.enabled and current.update(settings):
        return current
    if current is not None:
        current.close(close_timeout_s)
    return StoreSink(settings, log, sensor=sensor) if settings.enabled else None
