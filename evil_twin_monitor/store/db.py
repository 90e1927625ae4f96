"""The alert history file: one SQLite database, one table, one row per alert.

Theory of operation
-------------------
A row is the alert object of the contract (DESIGN.md, "Alert object") plus
what only a history needs: an ``id`` for people (``alerts show 12``), the
first and last capture time as integers for range queries, the repeat count
and the state (``open`` while evidence keeps arriving, ``closed`` after the
hold-down, ``interrupted`` when the sensor stopped without closing it: a
crash or a power cut).

Rows are written as **whole snapshots** keyed by ``uid``, a hash of what
identifies an alert (sensor, facility, rule, SSID octets, BSSID, first capture
time). Opening and closing an alert are the same upsert with newer values,
so a lost or late "opened" is repaired by the "closed", a retried batch can be
written twice without harm, and replaying a capture into the same file again
adds nothing. A snapshot never turns a closed row back into an open one.

The file: ``PRAGMA application_id`` marks it as ours, ``user_version`` is the
schema version (a later version migrates forward; an older program refuses a
newer file instead of guessing). WAL journal, so readers (``alerts``) never
wait for the daemon and the daemon never waits for them; ``synchronous=FULL``
because an alert the daemon reported as stored must survive a power cut;
incremental auto-vacuum so a purge gives the space back to a small disk. The
writer creates the file with mode 0600 before SQLite opens it (SQLite gives
its -wal and -shm files the same mode and owner). Readers open it with
``mode=ro``, so a listing can neither change nor lock the daemon's file.

Since schema 2 the file also keeps what a periodic report needs besides the
alerts, as small samples written once per statistics interval: ``health``
(one row per sensor and interval: how long the capture was open, frames,
kernel drops) and ``ap_presence`` (one row per interval and registry entry
heard, with its frame count). Rows are bounded by construction (intervals
times registered entries; BSSIDs inside a prefix entry share its row) and
go with the alerts' retention. A sample is keyed by sensor and time, so
writing it twice (a retried batch, a capture replayed again) keeps one row.
A reader of a schema-1 file (read-only, it cannot migrate) sees no samples.

Reports read through aggregating queries (``health_spans``, ``presence_spans``,
``alert_groups``, ``alert_histogram``, ``alerts_by_severity``): SQLite sums the
samples per sensor or registry entry and chart bucket and groups the alerts,
so a month of per-minute samples or a flood of alerts never sits in memory.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Sequence
from urllib.parse import quote

from ..timestamps import rfc3339

if TYPE_CHECKING:  # the engine (and the rules) only for type checkers
    from ..engine.alert import Alert

SCHEMA_VERSION = 2
APPLICATION_ID = 0x45544D31  # "ETM1"
STATES = ("open", "closed", "interrupted")

_SCHEMA = """
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,      -- for people: `alerts show ID`
    uid           TEXT    NOT NULL UNIQUE,  -- the alert's identity across its snapshots
    time          TEXT    NOT NULL,         -- RFC 3339, first evidence (contract field)
    time_ns       INTEGER NOT NULL,
    rule          TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    facility      TEXT,
    sensor        TEXT,
    ssid          TEXT,                     -- printable (decoding.text.printable_ssid)
    ssid_hex      TEXT,                     -- the octets as received
    bssid         TEXT,
    channel       INTEGER,
    frequency_mhz INTEGER,
    message       TEXT    NOT NULL,
    evidence      TEXT    NOT NULL,         -- JSON object
    first_frame   INTEGER NOT NULL,
    last_seen     TEXT    NOT NULL,         -- RFC 3339, latest evidence
    last_seen_ns  INTEGER NOT NULL,
    last_frame    INTEGER NOT NULL,
    repeats       INTEGER NOT NULL DEFAULT 0,
    state         TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'interrupted'))
);
CREATE INDEX alerts_time ON alerts (time_ns);
CREATE INDEX alerts_facility_time ON alerts (facility, time_ns);
CREATE INDEX alerts_rule_time ON alerts (rule, time_ns);
CREATE INDEX alerts_state_last_seen ON alerts (state, last_seen_ns);
"""

# Schema 2: samples for reports. ``sensor``/``facility`` are '' when unnamed
# (they are key columns). One B-tree each (WITHOUT ROWID, the key first by
# what reports select on), because these are the file's most numerous rows.
_SAMPLES = """
CREATE TABLE health (
    time_ns       INTEGER NOT NULL,         -- end of the interval
    sensor        TEXT    NOT NULL,
    facility      TEXT    NOT NULL,
    interval_s    REAL    NOT NULL,         -- its length
    up_s          REAL    NOT NULL,         -- seconds of it with the capture open
    frames        INTEGER NOT NULL,         -- frames received in it
    kernel_drops  INTEGER NOT NULL,         -- frames the kernel dropped in it
    presence      INTEGER NOT NULL,         -- 1: ap_presence rows were recorded for it
    PRIMARY KEY (time_ns, sensor)
) WITHOUT ROWID;
CREATE TABLE ap_presence (
    facility      TEXT    NOT NULL,         -- the registry entry's facility
    time_ns       INTEGER NOT NULL,         -- = the health row's
    sensor        TEXT    NOT NULL,
    bssid         TEXT    NOT NULL,         -- the registry entry (a prefix as aa:bb:cc:dd:ee:00/44)
    interval_s    REAL    NOT NULL,
    frames        INTEGER NOT NULL,         -- beacons and probe responses heard from it
    PRIMARY KEY (facility, time_ns, sensor, bssid)
) WITHOUT ROWID;
"""
_SCHEMA += _SAMPLES


def _statements(script: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in script.split(";") if s.strip())


# Schema version -> statements that bring a file of that version to the next.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _statements(_SAMPLES)}

COLUMNS = ("uid", "time", "time_ns", "rule", "severity", "facility", "sensor", "ssid", "ssid_hex",
           "bssid", "channel", "frequency_mhz", "message", "evidence", "first_frame", "last_seen",
           "last_seen_ns", "last_frame", "repeats", "state")

_UPSERT = (
    f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (uid) DO UPDATE SET evidence = excluded.evidence, "
    "last_seen = excluded.last_seen, last_seen_ns = excluded.last_seen_ns, "
    "last_frame = excluded.last_frame, repeats = excluded.repeats, state = excluded.state "
    "WHERE excluded.state != 'open' OR alerts.state = 'open'"
)
_ENDED = "state IN ('closed', 'interrupted')"
_SAMPLE_TABLES = ("health", "ap_presence")


class StoreError(Exception):
    """The store cannot be used; ``str()`` is one line that names the file."""


class AlertRow(NamedTuple):
    """One snapshot of an alert, ready to bind (in `COLUMNS` order)."""

    uid: str
    time: str
    time_ns: int
    rule: str
    severity: str
    facility: str | None
    sensor: str | None
    ssid: str | None
    ssid_hex: str | None
    bssid: str | None
    channel: int | None
    frequency_mhz: int | None
    message: str
    evidence: str
    first_frame: int
    last_seen: str
    last_seen_ns: int
    last_frame: int
    repeats: int
    state: str


def alert_uid(alert: Alert) -> str:
    """What identifies an alert: one key (rule, facility, SSID, BSSID) of one
    sensor opens at most one alert per first capture time."""
    key = repr((alert.sensor, alert.facility, alert.rule, alert.ssid, alert.bssid, alert.time_ns))
    return hashlib.blake2b(key.encode("utf-8", "backslashreplace"), digest_size=12).hexdigest()


def _text(value: str | None) -> str | None:
    """Text SQLite can store as UTF-8 (a lone surrogate cannot be)."""
    if value is None or value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def alert_row(alert: Alert) -> AlertRow:
    """A snapshot of ``alert`` as it is now (the engine keeps changing the object)."""
    d = alert.to_dict()
    last_ns = alert.last_ns or alert.time_ns
    evidence = json.dumps(d["evidence"], ensure_ascii=True, separators=(",", ":"), default=str)
    return AlertRow(
        alert_uid(alert), d["time"], alert.time_ns, d["rule"], d["severity"],
        _text(d["facility"]), _text(d["sensor"]), _text(d["ssid"]),
        alert.ssid.hex() if alert.ssid is not None else None, d["bssid"], d["channel"],
        d["frequency_mhz"], _text(d["message"]) or "", evidence, alert.first_frame,
        rfc3339(last_ns), last_ns, alert.last_frame, alert.repeats,
        "closed" if alert.closed else "open")


class HealthRow(NamedTuple):
    """One interval of one sensor: is it listening, and keeping up?"""

    sensor: str
    facility: str
    time_ns: int
    interval_s: float
    up_s: float
    frames: int
    kernel_drops: int
    presence: int


class PresenceRow(NamedTuple):
    """Frames heard from one registry entry in one interval (only entries heard)."""

    facility: str
    sensor: str
    bssid: str
    time_ns: int
    interval_s: float
    frames: int


_HEALTH_INSERT = f"INSERT OR REPLACE INTO health ({', '.join(HealthRow._fields)}) " \
                 f"VALUES ({', '.join('?' * len(HealthRow._fields))})"
_PRESENCE_INSERT = f"INSERT OR REPLACE INTO ap_presence ({', '.join(PresenceRow._fields)}) " \
                   f"VALUES ({', '.join('?' * len(PresenceRow._fields))})"


@dataclass(frozen=True)
class StoredAlert:
    """A row as read back."""

    id: int
    time: str
    time_ns: int
    rule: str
    severity: str
    facility: str | None
    sensor: str | None
    ssid: str | None
    ssid_hex: str | None
    bssid: str | None
    channel: int | None
    frequency_mhz: int | None
    message: str
    evidence: dict[str, Any]
    last_seen: str
    last_seen_ns: int
    repeats: int
    state: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredAlert:
        try:
            evidence = json.loads(row["evidence"])
            if not isinstance(evidence, dict):
                raise ValueError
        except ValueError:  # edited by hand: show it, do not fail
            evidence = {"unreadable": row["evidence"]}
        return cls(row["id"], row["time"], row["time_ns"], row["rule"], row["severity"],
                   row["facility"], row["sensor"], row["ssid"], row["ssid_hex"], row["bssid"],
                   row["channel"], row["frequency_mhz"], row["message"], evidence,
                   row["last_seen"], row["last_seen_ns"], row["repeats"], row["state"])

    def to_dict(self) -> dict[str, Any]:
        """The alert object of the contract, plus ``id``, ``last_seen``, ``repeats``, ``state``."""
        return {
            "id": self.id,
            "time": self.time,
            "rule": self.rule,
            "severity": self.severity,
            "facility": self.facility,
            "sensor": self.sensor,
            "ssid": self.ssid,
            "bssid": self.bssid,
            "channel": self.channel,
            "frequency_mhz": self.frequency_mhz,
            "message": self.message,
            "evidence": self.evidence,
            "last_seen": self.last_seen,
            "repeats": self.repeats,
            "state": self.state,
        }


def describe_error(exc: BaseException) -> str:
    """One line for the log and the metrics: what failed, and its SQLite code."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None)
        text = str(exc) or type(exc).__name__
        if name == "SQLITE_BUSY":
            text += " (another process holds a write lock)"
        return f"{text} ({name})" if name else text
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


class AlertStore:
    """A connection to one store file. Use `open_writer` or `open_reader`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        conn.row_factory = sqlite3.Row
        self._identity = _identity(path)
        self.samples_purged = 0  # by the last `purge`

    # -- opening -------------------------------------------------------------
    @classmethod
    def open_writer(cls, path: str | Path, busy_timeout_s: float = 1.0) -> AlertStore:
        """Open (creating if needed, mode 0600) for writing. Raises `StoreError`."""
        path = Path(path)
        _create(path)
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {describe_error(exc)}") from exc
        store = cls(conn, path, readonly=False)
        try:
            store._prepare()
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def open_reader(cls, path: str | Path, busy_timeout_s: float = 2.0) -> AlertStore:
        """Open read-only (``mode=ro``): never creates, changes or locks the file."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not an alert store")
        if not path.exists():
            raise StoreError(f"{path}: no alert store here (no such file)")
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {describe_error(exc)}") from exc
        store = cls(conn, path, readonly=True)
        try:
            store._check_version(create=False)
        except BaseException:
            conn.close()
            raise
        return store

    def _check_version(self, create: bool) -> int:
        """The file's schema version; 0 for a new empty file (writer only)."""
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not an alert store: {describe_error(exc)}") from exc
        if app_id not in (0, APPLICATION_ID) or (version == 0 and tables):
            raise StoreError(f"{self.path}: not an alert store (another program's SQLite file)")
        if version == 0 and not create:
            raise StoreError(f"{self.path}: not an alert store (an empty file)")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer evil-twin-monitor (store schema "
                             f"{version}; this version reads up to {SCHEMA_VERSION})")
        return version

    def _prepare(self) -> None:
        conn = self.conn
        version = self._check_version(create=True)
        try:
            if version == 0:
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only before the first table
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")   # purged rows are overwritten, not left
            conn.execute("PRAGMA journal_size_limit = 0")   # a reset WAL drops its old frames
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    current = conn.execute("PRAGMA user_version").fetchone()[0]
                    if current == 0:
                        for statement in _SCHEMA.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        current = SCHEMA_VERSION
                    while current < SCHEMA_VERSION:
                        for statement in MIGRATIONS[current]:
                            conn.execute(statement)
                        current += 1
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot prepare the store: {describe_error(exc)}") from exc

    def replaced(self) -> bool:
        """The path no longer names the file this connection writes (deleted or
        moved away by someone): writes would vanish with the old inode."""
        return _identity(self.path) != self._identity

    # -- writing -------------------------------------------------------------
    def upsert(self, rows: Sequence[AlertRow]) -> None:
        """Write snapshots in one transaction (all or none). Raises sqlite3.Error."""
        self._transaction(lambda: self.conn.executemany(_UPSERT, rows))

    def interrupt(self, sensor: str) -> int:
        """Alerts ``sensor`` left open when it stopped without closing them."""
        def run() -> int:
            return self.conn.execute(
                "UPDATE alerts SET state = 'interrupted' WHERE state = 'open' AND sensor = ?",
                (sensor,)).rowcount
        return self._transaction(run)

    def add_samples(self, health: Sequence[HealthRow], presence: Sequence[PresenceRow]) -> None:
        """Write samples in one transaction (all or none). Raises sqlite3.Error."""
        def run() -> None:
            self.conn.executemany(_HEALTH_INSERT, health)
            self.conn.executemany(_PRESENCE_INSERT, presence)
        self._transaction(run)

    def purge(self, ended_before_ns: int | None, max_alerts: int = 0) -> tuple[int, int]:
        """Delete ended alerts whose last evidence is older than ``ended_before_ns``
        and, beyond ``max_alerts`` rows, the ended alerts that ended first.
        Open alerts are never deleted. Samples older than ``ended_before_ns``
        go too (counted in `samples_purged`). Returns (aged out, capped out)."""
        self.samples_purged = 0

        def run() -> tuple[int, int]:
            aged = capped = 0
            if ended_before_ns is not None:
                aged = self.conn.execute(f"DELETE FROM alerts WHERE {_ENDED} AND last_seen_ns < ?",
                                         (ended_before_ns,)).rowcount
                for table in _SAMPLE_TABLES:
                    self.samples_purged += self.conn.execute(
                        f"DELETE FROM {table} WHERE time_ns < ?", (ended_before_ns,)).rowcount
            if max_alerts:
                excess = self.count() - max_alerts
                if excess > 0:
                    capped = self.conn.execute(
                        f"DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE {_ENDED} "
                        "ORDER BY last_seen_ns, id LIMIT ?)", (excess,)).rowcount
            return aged, capped
        result = self._transaction(run)
        if any(result) or self.samples_purged:
            self.conn.execute("PRAGMA incremental_vacuum")
        return result

    def _transaction(self, body: Any) -> Any:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        return result

    # -- reading ------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM alerts").fetchone()[0]

    def get(self, alert_id: int) -> StoredAlert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return StoredAlert.from_row(row) if row is not None else None

    def query(self, *, facility: str | None = None, rule: str | None = None,
              since_ns: int | None = None, until_ns: int | None = None,
              limit: int | None = None) -> list[StoredAlert]:
        """Newest first. ``since``/``until`` select alerts whose evidence
        overlaps [since, until): still seen at ``since``, started before ``until``."""
        where, params = ["1"], []
        for clause, value in (("facility = ?", facility), ("rule = ?", rule),
                              ("last_seen_ns >= ?", since_ns), ("time_ns < ?", until_ns)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT * FROM alerts WHERE {' AND '.join(where)} ORDER BY time_ns DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [StoredAlert.from_row(r) for r in self.conn.execute(sql, params)]

    def has_samples(self) -> bool:
        """False for a schema-1 file opened read-only (no sample tables yet)."""
        return self.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'health'"
        ).fetchone()[0] > 0

    def health(self, facility: str | None, since_ns: int, until_ns: int) -> list[HealthRow]:
        """Health samples whose interval overlaps [since, until), oldest first."""
        return [HealthRow(*r) for r in self._samples("health", HealthRow._fields, facility,
                                                     since_ns, until_ns)]

    def presence(self, facility: str | None, since_ns: int, until_ns: int) -> list[PresenceRow]:
        """Presence samples whose interval overlaps [since, until), oldest first."""
        return [PresenceRow(*r) for r in self._samples("ap_presence", PresenceRow._fields,
                                                       facility, since_ns, until_ns)]

    def _samples(self, table: str, fields: tuple[str, ...], facility: str | None,
                 since_ns: int, until_ns: int) -> list[tuple[Any, ...]]:
        if not self.has_samples():
            return []
        sql = (f"SELECT {', '.join(fields)} FROM {table} WHERE time_ns > ? "
               "AND time_ns - CAST(interval_s * 1e9 AS INTEGER) < ?")
        params: list[Any] = [since_ns, until_ns]
        if facility is not None:
            sql += " AND facility = ?"
            params.append(facility)
        sql += " ORDER BY time_ns, sensor"
        return [tuple(r) for r in self.conn.execute(sql, params)]

    # -- reading for reports: aggregated in SQL, bounded in memory ----------------------------
    # A month of per-minute samples of 20 access points is close to a million
    # rows, and a BSSID flood tens of thousands of alerts: a report must not
    # hold them in Python. The readers below let SQLite group them: samples per
    # sensor (or registry entry) and chart bucket, alerts per rule, BSSID or
    # bucket, plus a bounded list of single alerts.

    def health_spans(self, facility: str, since_ns: int, until_ns: int,
                     edges: Sequence[int]) -> list[HealthSpan]:
        """The facility's sensors' health samples overlapping [since, until),
        summed per sensor and bucket of ``edges`` (sorted bucket boundaries).

        A sensor of the facility is one with a health sample of it, or with a
        presence sample of its access points (`replay` without ``--facility``
        writes health rows with an empty facility). Samples of one sensor that
        overlap count the overlap once: a sample starts no earlier than the
        previous one ended (``lo_ns``); its counters are cut in proportion. A
        span whose samples all lie in one bucket is their sum; a sample across
        a bucket boundary (or the period's end) comes as a span of its own, so
        the caller can divide it in proportion."""
        if not self.has_samples():
            return []
        sql = f"""
            WITH sensors AS (
                SELECT sensor FROM health WHERE facility = :facility AND {_overlaps()}
                UNION SELECT sensor FROM ap_presence WHERE facility = :facility AND {_overlaps()}
            ), {_HEALTH_CUTS}
            SELECT sensor, min(lo), max(hi), count(*), sum(up_s * share), sum(frames * share),
                   sum(kernel_drops * share), sum(CASE WHEN presence THEN up_s * share ELSE 0 END),
                   max(presence != 0)
            FROM h WHERE hi > lo AND sensor IN sensors
            GROUP BY sensor, k, CASE WHEN k IS NULL THEN hi END
            ORDER BY sensor, min(lo)"""
        params = {"facility": facility, "since": since_ns, "until": until_ns}
        with _bucket_function(self.conn, edges):
            return [HealthSpan(*r) for r in self.conn.execute(sql, params)]

    def presence_spans(self, facility: str, since_ns: int, until_ns: int,
                       edges: Sequence[int]) -> list[PresenceSpan]:
        """The facility's presence samples overlapping [since, until), summed
        per registry entry and bucket of ``edges`` like `health_spans`. A
        sample's heard seconds are its health sample's open seconds (cut like
        there); without a health sample, its interval as written."""
        if not self.has_samples():
            return []
        # One pass over the presence rows in key order, each looking up its
        # health cut in an index SQLite builds on the cuts; only the grouping sorts.
        sql = f"""
            WITH {_HEALTH_CUTS}, q AS (
                SELECT p.bssid, p.sensor, p.frames, p.time_ns AS hi,
                       coalesce(h.lo, p.time_ns - CAST(p.interval_s * 1e9 AS INTEGER)) AS lo,
                       coalesce(h.up_s * h.share, p.interval_s) AS up,
                       CASE WHEN h.hi IS NULL
                            THEN etm_span(p.time_ns - CAST(p.interval_s * 1e9 AS INTEGER), p.time_ns)
                            ELSE h.k END AS k
                FROM ap_presence AS p LEFT JOIN h ON h.sensor = p.sensor AND h.hi = p.time_ns
                WHERE p.facility = :facility AND {_overlaps("p.")}
            )
            SELECT bssid, min(lo), max(hi), count(*), sum(up), sum(frames), max(min(hi, :until))
            FROM q GROUP BY k, bssid, CASE WHEN k IS NULL THEN hi END,
                            CASE WHEN k IS NULL THEN sensor END
            ORDER BY bssid, min(lo)"""
        params = {"facility": facility, "since": since_ns, "until": until_ns}
        with _bucket_function(self.conn, edges):
            return [PresenceSpan(*r) for r in self.conn.execute(sql, params)]

    def alert_groups(self, facility: str, since_ns: int, until_ns: int, *,
                     by: Sequence[str], severities: Sequence[str], unattributed: bool = False,
                     limit: int | None = None) -> tuple[list[AlertGroup], int]:
        """Alerts overlapping [since, until) of ``facility`` (and, with
        ``unattributed``, those without a facility) grouped by the columns
        ``by`` (rule, bssid, severity): the groups with the most severe alert
        first, then the largest, at most ``limit``; and how many groups there are."""
        bad = set(by) - {"rule", "bssid", "severity"}
        assert by and not bad, bad
        where, params = _alert_where(facility, since_ns, until_ns, unattributed)
        columns = ", ".join(by)
        sums = ", ".join("sum(severity = ?)" for _ in severities)
        rank, rank_params = _severity_rank(severities)
        sql = (f"SELECT {columns}, count(*), min(time_ns), max(last_seen_ns), "
               f"sum(repeats) + count(*), count(DISTINCT ssid), min(ssid), min({rank}), "
               f"sum(facility IS NULL){', ' + sums if sums else ''} FROM alerts WHERE {where} "
               f"GROUP BY {columns} ORDER BY min({rank}), count(*) DESC, min(time_ns), {columns}")
        all_params = [*rank_params, *severities, *params, *rank_params]
        if limit is not None:
            sql += " LIMIT ?"
            all_params.append(limit)
        n = len(by)
        groups = []
        for r in self.conn.execute(sql, all_params):
            counts = dict(zip(severities, r[n + 8:]))
            groups.append(AlertGroup(tuple(r[:n]), r[n], r[n + 1], r[n + 2], r[n + 3], r[n + 4],
                                     r[n + 5], r[n + 7], counts))
        total = self.conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM alerts WHERE {where} "
                                  f"GROUP BY {columns})", params).fetchone()[0]
        return groups, total

    def alert_histogram(self, facility: str, since_ns: int, until_ns: int,
                        edges: Sequence[int], *, unattributed: bool = False
                        ) -> list[tuple[int, str, int]]:
        """(bucket index, severity, alerts) of the alerts overlapping [since,
        until), by the bucket of ``edges`` they were first seen in (an alert
        seen since before ``since`` counts in the first)."""
        where, params = _alert_where(facility, since_ns, until_ns, unattributed)
        sql = (f"SELECT etm_bucket(max(time_ns, ?)) AS b, severity, count(*) FROM alerts "
               f"WHERE {where} GROUP BY b, severity ORDER BY b, severity")
        with _bucket_function(self.conn, edges):
            return [tuple(r) for r in self.conn.execute(sql, [since_ns, *params])]

    def alerts_by_severity(self, facility: str, since_ns: int, until_ns: int, *,
                           severities: Sequence[str], limit: int,
                           unattributed: bool = False) -> list[StoredAlert]:
        """At most ``limit`` alerts overlapping [since, until): the most severe,
        and among equals the first seen first."""
        where, params = _alert_where(facility, since_ns, until_ns, unattributed)
        rank, rank_params = _severity_rank(severities)
        sql = f"SELECT * FROM alerts WHERE {where} ORDER BY {rank}, time_ns, id LIMIT ?"
        return [StoredAlert.from_row(r)
                for r in self.conn.execute(sql, [*params, *rank_params, limit])]

    def unattributed(self, since_ns: int, until_ns: int) -> int:
        """Alerts overlapping [since, until) that carry no facility (from
        `replay` without ``--facility``, or a sensor configured without one)."""
        return self.conn.execute(
            "SELECT count(*) FROM alerts WHERE facility IS NULL AND last_seen_ns >= ? "
            "AND time_ns < ?", (since_ns, until_ns)).fetchone()[0]

    def facilities(self) -> list[str]:
        """Facilities with alerts or samples in the file."""
        sql = "SELECT facility FROM alerts WHERE facility IS NOT NULL"
        if self.has_samples():
            sql += (" UNION SELECT facility FROM health WHERE facility != ''"
                    " UNION SELECT facility FROM ap_presence")
        sql = f"SELECT DISTINCT facility FROM ({sql}) ORDER BY 1"
        return [r[0] for r in self.conn.execute(sql)]

    def distinct(self, column: str) -> list[str]:
        """Values of ``facility`` or ``rule`` present in the store (for error hints)."""
        assert column in ("facility", "rule")
        return [r[0] for r in self.conn.execute(
            f"SELECT DISTINCT {column} FROM alerts WHERE {column} IS NOT NULL ORDER BY 1")]

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass


class HealthSpan(NamedTuple):
    """Health samples of one sensor summed over a part of one bucket, or one
    sample (see `AlertStore.health_spans`); seconds and counters already cut
    where samples overlap."""

    sensor: str
    lo_ns: int
    hi_ns: int
    samples: int
    up_s: float
    frames: float
    kernel_drops: float
    listening_s: float        # up_s of the samples with presence recorded
    presence: int             # 1: presence was recorded for some of them


class PresenceSpan(NamedTuple):
    """Presence samples of one registry entry summed like `HealthSpan`."""

    bssid: str
    lo_ns: int
    hi_ns: int
    samples: int
    heard_s: float            # open seconds of the intervals it was heard in
    frames: int
    last_ns: int              # end of the last interval it was heard in (at most ``until``)


class AlertGroup(NamedTuple):
    """Alerts sharing the values of some columns (`AlertStore.alert_groups`)."""

    key: tuple[Any, ...]      # the values of the grouping columns
    count: int
    first_ns: int
    last_ns: int
    seen: int                 # evidence events: each alert's repeats + 1
    ssids: int                # distinct SSIDs
    ssid: str | None          # one of them (the smallest)
    unattributed: int         # alerts among them without a facility
    by_severity: dict[str, int]


# Health samples overlapping [:since, :until), ``lo`` the start of each cut
# so that it begins no earlier than the sensor's previous sample ended.
def _overlaps(prefix: str = "") -> str:
    return (f"{prefix}time_ns > :since AND "
            f"{prefix}time_ns - CAST({prefix}interval_s * 1e9 AS INTEGER) < :until")


# Each health sample overlapping [:since, :until) as the cut [lo, hi) that
# starts no earlier than the sensor's previous sample ended, ``share`` the part
# of its interval that is, and ``k`` the bucket holding the whole cut (NULL:
# it spans a boundary). MATERIALIZED: computed once, whoever joins it.
_HEALTH_CUTS = f"""h AS MATERIALIZED (
    SELECT *, CASE WHEN ival > 0 AND hi > lo THEN (hi - lo) * 1.0 / ival ELSE 0.0 END AS share,
           etm_span(lo, hi) AS k
    FROM (SELECT sensor, time_ns AS hi, CAST(interval_s * 1e9 AS INTEGER) AS ival, up_s, frames,
                 kernel_drops, presence,
                 max(time_ns - CAST(interval_s * 1e9 AS INTEGER),
                     coalesce(lag(time_ns) OVER (PARTITION BY sensor ORDER BY time_ns),
                              time_ns - CAST(interval_s * 1e9 AS INTEGER))) AS lo
          FROM health WHERE {_overlaps()}))"""


def _alert_where(facility: str, since_ns: int, until_ns: int,
                 unattributed: bool) -> tuple[str, list[Any]]:
    """Alerts of ``facility`` (and without one) whose evidence overlaps [since, until)."""
    which = "(facility = ? OR facility IS NULL)" if unattributed else "facility = ?"
    return f"{which} AND last_seen_ns >= ? AND time_ns < ?", [facility, since_ns, until_ns]


def _severity_rank(severities: Sequence[str]) -> tuple[str, list[str]]:
    """An SQL expression: 0 for the first of ``severities``, ... ; unknown ones last."""
    if not severities:
        return "0", []
    cases = " ".join(f"WHEN ? THEN {i}" for i in range(len(severities)))
    return f"(CASE severity {cases} ELSE {len(severities)} END)", list(severities)


@contextmanager
def _bucket_function(conn: sqlite3.Connection, edges: Sequence[int]) -> Iterator[None]:
    """SQL functions for the duration, over the buckets [edges[i], edges[i + 1]):
    ``etm_bucket(ns)`` the index of the bucket holding ``ns`` (-1 before the
    first, len(edges) - 1 from the last edge on); ``etm_span(lo, hi)`` the index
    of the bucket holding all of [lo, hi), NULL if none does."""
    bounds = list(edges)
    last = len(bounds) - 2

    def span(lo: int, hi: int) -> int | None:
        i = bisect_right(bounds, lo) - 1
        return i if 0 <= i <= last and hi <= bounds[i + 1] else None

    conn.create_function("etm_bucket", 1, lambda ns: bisect_right(bounds, ns) - 1,
                         deterministic=True)
    conn.create_function("etm_span", 2, span, deterministic=True)
    try:
        yield
    finally:
        conn.create_function("etm_bucket", 1, None)
        conn.create_function("etm_span", 2, None)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _create(path: Path) -> None:
    """Create the file with mode 0600 unless it exists; say clearly why not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        if path.is_dir():
            raise StoreError(f"{path}: is a directory; name a file in it, like "
                             f"{path / 'alerts.sqlite3'}") from None
        return
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise StoreError(f"{path}: directory {path.parent} does not exist") from exc
        raise StoreError(f"{path}: cannot create the store: {exc.strerror}") from exc
    os.close(fd)

