"""``evil-twin-monitor purge``: delete everything older than a date, now.

Theory of operation
-------------------
The daemon enforces retention by itself (``store.retention_days``,
``evidence.retention_days``). ``purge`` is the same deletion on demand, with
one cut-off for everything: the end of a contract, a data-protection request,
the day after a report was handed in. It deletes

- **alerts that ended before the date** (``closed`` or ``interrupted`` with
  their last evidence before it). Open alerts are never deleted: an attack
  still going on is not history yet, and the daemon would write the row back
  with its next snapshot anyway;
- **report samples** (sensor health and AP presence intervals) that ended
  before the date (`AlertStore.purge` does both in one transaction);
- **evidence pcaps** of alerts raised before the date
  (`evidence.delete_evidence_before`: the alert time in the file name, so a
  file's age is its data's age; other files in the directory are left alone),
  except the files that the alerts it keeps name in ``evidence_file``: an
  attack that began before the date and goes on keeps its proof.

and prints one line per kind with the count. ``--dry-run`` opens the store
read-only and only counts.

Deleted means gone from the disk, not only from queries: the purge runs with
``PRAGMA secure_delete`` (freed pages are overwritten with zeros) and ends
with a truncating WAL checkpoint (the write-ahead log still holds the old
page images until then, and the store file itself until the checkpoint
copies the zeroed pages into it); the store's incremental vacuum returns the
space. The checkpoint cannot finish while another connection is inside a
read (``alerts`` or ``report`` running: safe, but their snapshot pins the
log). Its result row (busy, log frames, checkpointed frames) is read, and it
is tried `CHECKPOINT_TRIES` times, waiting up to `CHECKPOINT_WAIT_S` for
readers each time; if the log is still not empty, purge says so on stderr
and exits with `STATUS_NOT_EMPTIED` (3) after the rest of its work. The rows
are gone from every query then, but not yet from the disk: run it again.

Safe while the daemon runs: the store is SQLite in WAL mode, the purge is one
short ``BEGIN IMMEDIATE`` transaction that waits up to `BUSY_TIMEOUT_S` for
the daemon's write lock (the daemon's own writes wait, then retry), and SQLite
gives a root-run purge's -wal/-shm files the store file's owner, so the
service user can still open them. The store is never created: a missing file
is an error, exit status 2 with one line, like a bad date.

Dates are those of ``alerts --until`` (`store.command.parse_time`): RFC 3339,
a date (midnight UTC) or an age before now (``90d``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from .store.command import AlertsUsageError, parse_time
from . import PROG
from .registry import RegistryError  # ConfigError is one
from .store.db import AlertStore, StoreError, describe_error
from .timestamps import rfc3339

BUSY_TIMEOUT_S = 30.0   # the daemon holds its write lock for milliseconds at a time
CHECKPOINT_TRIES = 5
CHECKPOINT_WAIT_S = 1.0     # per try: readers (alerts, report) finish their query meanwhile
CHECKPOINT_PAUSE_S = 1.0    # between tries
STATUS_NOT_EMPTIED = 3      # deleted from the store, but the write-ahead log still holds pages


class PurgeError(Exception):
    """Status 2 and one line on stderr."""


@dataclass
class PurgeResult:
    """What was (or, in a dry run, would be) deleted, and what was kept."""

    alerts: int = 0
    alerts_kept: int = 0    # first seen before the date, but open or ended after it
    samples: int = 0
    evidence_files: int | None = None   # None: no evidence directory was named
    evidence_kept: int = 0  # raised before the date, but named by a kept alert
    log_emptied: bool = True  # False: the write-ahead log may still hold deleted rows
    kept_files: frozenset[str] = frozenset()   # evidence_file of the alerts kept


def add_purge_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``purge`` to the top-level subparsers."""
    parser = subparsers.add_parser(
        "purge", help="delete alerts, report samples and evidence files older than a date",
        description="Delete everything older than a date: alerts that ended before it (open "
                    "alerts are kept), sensor-health and AP-presence samples, and evidence "
                    "pcaps of alerts raised before it (except those of alerts it keeps). Safe "
                    "while the daemon runs. Dates: RFC 3339 (no offset = UTC), a date "
                    "(2026-11-01, midnight UTC) or an age before now (90d). Exit 2 with one line "
                    "for a bad date or a missing store; exit 3 when the store's write-ahead log "
                    "could not be emptied (another program was reading it): run it again.")
    parser.add_argument("--before", metavar="DATE", required=True,
                        help="delete what is older than this")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="PATH",
                        help="sensor configuration naming the store and the evidence directory")
    source.add_argument("--store", metavar="PATH", help="the alert store file")
    parser.add_argument("--evidence", metavar="DIR",
                        help="with --store: also purge this evidence directory")
    parser.add_argument("--dry-run", action="store_true",
                        help="only count what would be deleted; change nothing")
    return parser


def purge_command(args: argparse.Namespace, *, out: TextIO | None = None,
                  err: TextIO | None = None, now: Callable[[], float] = time.time) -> int:
    """Run ``purge``; returns the exit status: 0; 2 after one line on stderr;
    `STATUS_NOT_EMPTIED` after a warning when deleted rows may still be on disk."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        before_ns = parse_time(args.before, "--before", now())
        store_path, evidence_dir = _targets(args)
        result = purge(store_path, evidence_dir, before_ns, dry_run=args.dry_run,
                       report=lambda line: _line(out, line))
    except (AlertsUsageError, PurgeError, StoreError) as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except RegistryError as exc:
        err.write(f"{exc}\n")
        return 2
    if args.dry_run:
        _line(out, "dry run: nothing was deleted")
    if not result.log_emptied:
        err.write(f"{PROG}: warning: {store_path}: the deleted rows may still be on disk: its "
                  f"write-ahead log could not be emptied while another program (alerts, "
                  f"report) was reading the store; run purge again when it has finished\n")
        return STATUS_NOT_EMPTIED
    return 0


def _line(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()   # a line per step, even when a later step fails



def _targets(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(store file or None when the configuration disables it, evidence directory or None)."""
    if args.store:
        return Path(args.store), Path(args.evidence) if args.evidence else None
    if args.evidence:
        raise PurgeError("--evidence goes with --store; with --config the configuration's "
                         "evidence.directory is purged")
    from .config import load_config  # only then: it loads the registry too
    config = load_config(args.config)
    store = Path(config.store.path) if config.store.enabled else None
    # Purged even when evidence is disabled now: files of an earlier setting are still data.
    return store, Path(config.evidence.directory)


def purge(store_path: Path | None, evidence_dir: Path | None, before_ns: int, *,
          dry_run: bool = False, report: Callable[[str], None] = lambda line: None
          ) -> PurgeResult:
    """Delete (or count) what is older than ``before_ns``; ``report`` gets one
    line per kind. Raises `PurgeError`/`StoreError` with one line for people."""
    result = PurgeResult()
    when = _shown_time(before_ns)
    verb = "would be deleted" if dry_run else "deleted"
    if store_path is None:
        report("alerts: the store is disabled in the configuration; nothing to purge")
    else:
        _check_store(store_path)
        _purge_store(store_path, before_ns, dry_run, result)
        kept = (f"; {result.alerts_kept} kept (first seen before it, but still open or ended "
                "after it)" if result.alerts_kept else "")
        report(f"alerts: {result.alerts} {verb} (ended before {when}){kept}")
        report(f"report samples: {result.samples} {verb} (sensor health and AP presence "
               f"before {when})")
    if evidence_dir is not None:
        result.evidence_files, result.evidence_kept = _purge_evidence(
            evidence_dir, before_ns, dry_run, result.kept_files)
        kept = (f"; {result.evidence_kept} kept (named by alerts that are kept)"
                if result.evidence_kept else "")
        report(f"evidence files: {result.evidence_files} {verb} (alerts raised before {when}) "
               f"in {evidence_dir}{kept}")
    return result


def _shown_time(ns: int) -> str:
    try:
        text = rfc3339(ns)
    except (OverflowError, OSError, ValueError):  # --before 10000000d: before any data
        return f"{ns} ns since 1970"
    return text.replace(".000000Z", "Z")


def _check_store(path: Path) -> None:
    """Purge never creates a store (`open_writer` would)."""
    if path.is_dir():
        raise PurgeError(f"{path}: is a directory, not an alert store")
    if not path.exists():
        raise PurgeError(f"{path}: no alert store here (no such file)")


def _purge_store(path: Path, before_ns: int, dry_run: bool, result: PurgeResult) -> None:
    if dry_run:
        store = AlertStore.open_reader(path, busy_timeout_s=BUSY_TIMEOUT_S)
        try:
            result.alerts = _count(store, f"SELECT count(*) FROM alerts WHERE {_ENDED_BEFORE}",
                                   before_ns)
            first_before = _count(store, "SELECT count(*) FROM alerts WHERE time_ns < ?", before_ns)
            result.alerts_kept = max(0, first_before - result.alerts)
            if store.has_samples():
                result.samples = sum(
                    _count(store, f"SELECT count(*) FROM {table} WHERE time_ns < ?", before_ns)
                    for table in ("health", "ap_presence"))
            result.kept_files = _kept_files(store, before_ns)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot read: {describe_error(exc)}") from exc
        finally:
            store.close()
        return
    store = AlertStore.open_writer(path, busy_timeout_s=BUSY_TIMEOUT_S)
    try:
        # Deleted rows are overwritten with zeros, not just unlinked (most builds
        # do this by default; this one connection makes sure), and the WAL,
        # which still holds the pages as they were, is emptied afterwards.
        store.conn.execute("PRAGMA secure_delete = ON")
        aged, _capped = store.purge(before_ns)
        result.alerts = aged
        result.samples = store.samples_purged
        result.alerts_kept = _count(store, "SELECT count(*) FROM alerts WHERE time_ns < ?",
                                    before_ns)
        result.kept_files = _kept_files(store, before_ns)
        result.log_emptied = _empty_log(store)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot purge: {describe_error(exc)}") from exc
    finally:
        store.close()


# An alert purge deletes: ended (closed or interrupted) before the date.
_ENDED_BEFORE = "state != 'open' AND last_seen_ns < ?"


def _kept_files(store: AlertStore, before_ns: int) -> frozenset[str]:
    """Evidence files named by alerts that stay although their file is old
    enough to go: raised before the date (one second of slack: file names
    have whole seconds), still open or ended after it."""
    rows = store.conn.execute(
        f"SELECT evidence FROM alerts WHERE time_ns < ? AND NOT ({_ENDED_BEFORE})",
        (min(before_ns + 1_000_000_000, 2**63 - 1), before_ns))   # parse_time caps at 2^63-1
    names = set()
    for (text,) in rows:
        try:
            name = json.loads(text).get("evidence_file")
        except (ValueError, AttributeError):   # edited by hand: nothing to keep
            continue
        if isinstance(name, str):
            names.add(name)
    return frozenset(names)


def _empty_log(store: AlertStore) -> bool:
    """Truncate the write-ahead log; False when readers kept it from emptying."""
    conn = store.conn
    conn.execute(f"PRAGMA busy_timeout = {int(CHECKPOINT_WAIT_S * 1000)}")
    for attempt in range(CHECKPOINT_TRIES):
        if attempt:
            time.sleep(CHECKPOINT_PAUSE_S)
        busy, log, _checkpointed = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy and log <= 0:   # 0: emptied; -1: not in WAL mode, no log
            return True
    return False


def _count(store: AlertStore, sql: str, before_ns: int) -> int:
    return int(store.conn.execute(sql, (before_ns,)).fetchone()[0])


def _purge_evidence(directory: Path, before_ns: int, dry_run: bool,
                    keep: frozenset[str]) -> tuple[int, int]:
    """(files deleted or, in a dry run, to delete; files kept for kept alerts)."""
    from .evidence.files import delete_evidence_before, evidence_before
    if directory.exists() and not directory.is_dir():
        raise PurgeError(f"{directory}: is a file, not an evidence directory")
    try:
        old, kept = evidence_before(directory, before_ns, keep)
        if dry_run:
            return len(old), kept
        return delete_evidence_before(directory, before_ns, keep), kept
    except OSError as exc:
        raise PurgeError(f"{directory}: cannot purge evidence files: "
                         f"{exc.strerror or exc}") from exc
