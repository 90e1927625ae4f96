"""``evil-twin-monitor purge``: what goes, what stays, what a person reads,
and that it is safe next to a running daemon."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

import pytest

from evil_twin_monitor import privacy_command
from evil_twin_monitor.cli import main
from evil_twin_monitor.evidence import evidence_name
from evil_twin_monitor.privacy_command import add_purge_parser, purge_command
from evil_twin_monitor.store import AlertStore, HealthRow, PresenceRow, alert_row

from test_store import DAY, NOW, make_alert, read_all

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
S = 1_000_000_000
CUT = "2026-10-01"                       # midnight UTC
CUT_NS = 1_790_812_800 * S               # the same instant
assert NOW * S > CUT_NS                  # the history below straddles the cut


def run_purge(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="evil-twin-monitor")
    add_purge_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["purge", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = purge_command(args, out=out, err=err, now=lambda: NOW)
    return code, out.getvalue(), err.getvalue()


def at(ns: int) -> float:
    return ns / S


def health(time_ns: int) -> HealthRow:
    return HealthRow("s1", "city-hall", time_ns, 60.0, 60.0, 1000, 0, 1)


def presence(time_ns: int) -> PresenceRow:
    return PresenceRow("city-hall", "s1", "00:1a:2b:3c:4d:50", time_ns, 60.0, 600)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Path]:
    """A store and an evidence directory on both sides of `CUT`."""
    store_path = tmp_path / "alerts.sqlite3"
    alerts = [
        make_alert(1, first=at(CUT_NS) - 20 * DAY, closed=True),                     # goes
        make_alert(2, first=at(CUT_NS) - 20 * DAY, last=at(CUT_NS) - 1, closed=True),  # goes
        make_alert(3, first=at(CUT_NS) - 20 * DAY),                                  # open: stays
        make_alert(4, first=at(CUT_NS) - 20 * DAY, last=at(CUT_NS) + 5, closed=True),  # stays
        make_alert(5, first=at(CUT_NS) + 1 * DAY, closed=True),                       # stays
        make_alert(6, first=at(CUT_NS) - 30 * DAY, sensor="s0"),   # interrupted below: goes
    ]
    store = AlertStore.open_writer(store_path)
    store.upsert([alert_row(a) for a in alerts])
    store.interrupt("s0")
    store.add_samples([health(CUT_NS - 60 * S), health(CUT_NS - 120 * S), health(CUT_NS + 60 * S)],
                      [presence(CUT_NS - 60 * S), presence(CUT_NS + 60 * S)])
    store.close()
    evidence = tmp_path / "evidence"
    evidence.mkdir(mode=0o700)
    bssid = bytes.fromhex("02aabbcc0001")
    for ns in (CUT_NS - 20 * DAY * S, CUT_NS - 1 * S, CUT_NS, CUT_NS + DAY * S):
        (evidence / evidence_name(ns, "unknown_bssid", bssid)).write_bytes(b"pcap")
    (evidence / f".{evidence_name(CUT_NS - 5 * S, 'karma', bssid)}.tmp").write_bytes(b"half")
    (evidence / "notes.txt").write_text("the operator's own file")
    return store_path, evidence


def remaining(store_path: Path) -> list[int]:
    return sorted(int(a.message.split()[-1]) for a in read_all(store_path))


def sample_times(store_path: Path) -> list[int]:
    store = AlertStore.open_reader(store_path)
    try:
        return sorted(r.time_ns - CUT_NS for r in store.health(None, 0, 2**62)) + \
            sorted(r.time_ns - CUT_NS for r in store.presence(None, 0, 2**62))
    finally:
        store.close()


EXPECTED = [
    "alerts: 3 deleted (ended before 2026-10-01T00:00:00Z); 2 kept (first seen before it, but "
    "still open or ended after it)",
    "report samples: 3 deleted (sensor health and AP presence before 2026-10-01T00:00:00Z)",
    "evidence files: 3 deleted (alerts raised before 2026-10-01T00:00:00Z) in {evidence}",
]


def test_purge_deletes_what_ended_before_the_date_and_keeps_open_and_later_alerts(history):
    store_path, evidence = history
    code, out, err = run_purge("--before", CUT, "--store", str(store_path),
                               "--evidence", str(evidence))
    assert (code, err) == (0, "")
    assert out.splitlines() == [line.format(evidence=evidence) for line in EXPECTED]
    assert remaining(store_path) == [3, 4, 5]
    assert sample_times(store_path) == [60 * S, 60 * S]
    assert sorted(p.name for p in evidence.iterdir()) == [
        "2026-10-01T00-00-00Z_unknown_bssid_02aabbcc0001.pcap",
        "2026-10-02T00-00-00Z_unknown_bssid_02aabbcc0001.pcap",
        "notes.txt",
    ]
    # Nothing is left to purge: running it again deletes nothing.
    code, out, _ = run_purge("--before", CUT, "--store", str(store_path),
                             "--evidence", str(evidence))
    assert code == 0 and [line.split(":")[1].split()[0] for line in out.splitlines()] == [
        "0", "0", "0"]


def test_a_dry_run_counts_the_same_and_changes_nothing(history):
    store_path, evidence = history
    before = (store_path.read_bytes(), sorted(p.name for p in evidence.iterdir()))
    code, out, err = run_purge("--before", CUT, "--store", str(store_path),
                               "--evidence", str(evidence), "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        line.format(evidence=evidence).replace(" deleted ", " would be deleted ")
        for line in EXPECTED] + ["dry run: nothing was deleted"]
    assert (store_path.read_bytes(), sorted(p.name for p in evidence.iterdir())) == before


def test_the_configuration_names_the_store_and_the_evidence_directory(history, tmp_path):
    store_path, evidence = history
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      f"store: {{path: alerts.sqlite3}}\nevidence: {{directory: evidence}}\n")
    code, out, err = run_purge("--before", CUT, "--config", str(config))
    assert (code, err) == (0, "")
    assert out.splitlines() == [line.format(evidence=evidence) for line in EXPECTED]
    assert remaining(store_path) == [3, 4, 5]


def test_an_age_counts_back_from_now(history):
    store_path, _ = history
    code, out, _ = run_purge("--before", "1000d", "--store", str(store_path))  # before it all
    assert code == 0 and out.startswith(
        "alerts: 0 deleted (ended before 2024-02-08T00:00:00Z)")
    assert remaining(store_path) == [1, 2, 3, 4, 5, 6]
    code, out, _ = run_purge("--before", "0s", "--store", str(store_path))     # all that ended
    assert code == 0 and out.startswith("alerts: 5 deleted ")
    assert remaining(store_path) == [3]


@pytest.mark.parametrize("argv, message", [
    (["--before", "2026-13-01"], "--before '2026-13-01': not a time; use RFC 3339 "
                                 "(2026-11-01T09:00:00Z), a date (2026-11-01) or an age before "
                                 "now (30m, 24h, 7d)"),
    (["--before", "last tuesday"], "--before 'last tuesday': not a time"),
])
def test_a_bad_date_is_one_line_and_deletes_nothing(history, argv, message):
    store_path, evidence = history
    code, out, err = run_purge(*argv, "--store", str(store_path), "--evidence", str(evidence))
    assert (code, out) == (2, "")
    assert err.startswith(f"evil-twin-monitor: error: {message}") and err.count("\n") == 1
    assert remaining(store_path) == [1, 2, 3, 4, 5, 6]
    assert len(list(evidence.iterdir())) == 6


def test_a_missing_store_is_one_line_and_is_not_created(tmp_path):
    missing = tmp_path / "nowhere.sqlite3"
    code, out, err = run_purge("--before", CUT, "--store", str(missing))
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: {missing}: no alert store here (no such file)\n"
    assert not missing.exists()
    code, _, err = run_purge("--before", CUT, "--store", str(tmp_path))
    assert code == 2 and err == f"evil-twin-monitor: error: {tmp_path}: is a directory, " \
                                "not an alert store\n"


def test_evidence_without_store_and_a_broken_configuration_are_errors(tmp_path):
    code, _, err = run_purge("--before", CUT, "--config", str(tmp_path / "x.yaml"),
                             "--evidence", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "--evidence goes with --store" in err
    code, _, err = run_purge("--before", CUT, "--config", str(tmp_path / "x.yaml"))
    assert (code, err) == (2, f"{tmp_path / 'x.yaml'}: no such file or directory\n")


def test_purge_waits_for_the_daemons_write_lock_instead_of_failing(history):
    store_path, _ = history
    daemon = sqlite3.connect(store_path, isolation_level=None, check_same_thread=False)
    daemon.execute("BEGIN IMMEDIATE")   # the daemon in the middle of a write
    release = threading.Timer(0.5, lambda: daemon.execute("COMMIT"))
    release.start()
    try:
        code, out, err = run_purge("--before", CUT, "--store", str(store_path))
    finally:
        release.join()
        daemon.close()
    assert (code, err) == (0, "")
    assert remaining(store_path) == [3, 4, 5]


def test_purged_alerts_are_gone_from_the_bytes_on_disk_too(history):
    """Not only from queries: no free page or write-ahead log keeps the text
    (the daemon's connection stays open meanwhile, so the WAL stays too)."""
    store_path, _ = history
    daemon = sqlite3.connect(store_path, isolation_level=None)
    try:
        daemon.execute("SELECT count(*) FROM alerts").fetchone()
        assert run_purge("--before", CUT, "--store", str(store_path))[0] == 0
        on_disk = b"".join(Path(f"{store_path}{suffix}").read_bytes()
                           for suffix in ("", "-wal") if Path(f"{store_path}{suffix}").exists())
    finally:
        daemon.close()
    assert b"test alert 3" in on_disk                       # kept: still there
    for n in (1, 2, 6):
        assert f"test alert {n}".encode() not in on_disk    # purged: overwritten


def test_the_command_line_runs_purge(history, capsys):
    store_path, _ = history
    assert main(["purge", "--before", "2026-10-01T09:00:00+09:00", "--store", str(store_path)]) == 0
    assert capsys.readouterr().out.startswith(
        "alerts: 3 deleted (ended before 2026-10-01T00:00:00Z)")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run purge as root on another "
                                               "user's files")
def test_purge_as_root_leaves_the_daemons_files_its_own(history):
    """The operator runs purge with sudo; the service user must still own and
    open everything afterwards (no root-owned -wal/-shm left in its way)."""
    store_path, evidence = history
    place = Path(tempfile.mkdtemp(prefix="etm-purge-"))
    try:
        os.chmod(place, 0o755)
        state = place / "state"
        shutil.copytree(store_path.parent, state)
        nobody = 65534
        for path in [state, *state.rglob("*")]:
            os.chown(path, nobody, nobody)
        code, _, err = run_purge("--before", CUT, "--store", str(state / "alerts.sqlite3"),
                                 "--evidence", str(state / "evidence"))
        assert (code, err) == (0, "")
        assert {p.name: (p.stat().st_uid, p.stat().st_mode & 0o777) for p in state.iterdir()} \
            == {"alerts.sqlite3": (nobody, 0o600), "evidence": (nobody, 0o700)}
        # The daemon (the service user) opens it for writing and adds an alert.
        pid = os.fork()
        if pid == 0:   # pragma: no cover (the child)
            status = 1
            try:
                os.setgid(nobody)
                os.setuid(nobody)
                store = AlertStore.open_writer(state / "alerts.sqlite3")
                store.upsert([alert_row(make_alert(7))])
                store.close()
                status = 0
            finally:
                os._exit(status)
        assert os.waitpid(pid, 0)[1] == 0, "the service user could not write the store"
        assert remaining(state / "alerts.sqlite3") == [3, 4, 5, 7]
    finally:
        shutil.rmtree(place)


def on_disk(store_path: Path) -> bytes:
    """The store's bytes on disk, write-ahead log included."""
    return b"".join(Path(f"{store_path}{suffix}").read_bytes()
                    for suffix in ("", "-wal") if Path(f"{store_path}{suffix}").exists())


@pytest.fixture
def quick_checkpoint(monkeypatch):
    monkeypatch.setattr(privacy_command, "CHECKPOINT_TRIES", 2)
    monkeypatch.setattr(privacy_command, "CHECKPOINT_WAIT_S", 0.05)
    monkeypatch.setattr(privacy_command, "CHECKPOINT_PAUSE_S", 0.01)


def test_a_reader_in_the_middle_of_a_query_keeps_the_log_and_purge_says_so(history,
                                                                           quick_checkpoint):
    """`alerts` or `report` reading while purge runs is safe, but its snapshot
    pins the write-ahead log: purge must not claim the data is gone."""
    store_path, evidence = history
    reader = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM alerts").fetchone() == (6,)
        code, out, err = run_purge("--before", CUT, "--store", str(store_path),
                                   "--evidence", str(evidence))
        assert code == 3
        assert err == (f"evil-twin-monitor: warning: {store_path}: the deleted rows may still be "
                       "on disk: its write-ahead log could not be emptied while another program "
                       "(alerts, report) was reading the store; run purge again when it has "
                       "finished\n")
        # Gone from queries, and the evidence files went too ...
        assert out.splitlines() == [line.format(evidence=evidence) for line in EXPECTED]
        assert b"test alert 1" in on_disk(store_path)   # ... but the warning is true
    finally:
        reader.close()
    assert remaining(store_path) == [3, 4, 5]
    code, _, err = run_purge("--before", CUT, "--store", str(store_path))
    assert (code, err) == (0, "")
    for n in (1, 2, 6):
        assert f"test alert {n}".encode() not in on_disk(store_path)


def test_evidence_files_of_alerts_that_purge_keeps_stay(history):
    """Named by the alert's start, a file is old enough to go although its
    alert stays (still open, or ended after the date): it stays too."""
    store_path, evidence = history
    names = {n: evidence_name(CUT_NS - 10 * DAY * S, "unknown_bssid",
                              bytes.fromhex(f"02aabbcc{n:04x}")) for n in (7, 8, 9)}
    ten_days_before = at(CUT_NS) - 10 * DAY
    extra = [
        make_alert(7, first=ten_days_before, evidence={"evidence_file": names[7]}),   # open
        make_alert(8, first=ten_days_before, last=at(CUT_NS) + 60, closed=True,
                   evidence={"evidence_file": names[8]}),                             # ended after
        make_alert(9, first=ten_days_before, last=ten_days_before + 60, closed=True,
                   evidence={"evidence_file": names[9]}),                             # goes
    ]
    store = AlertStore.open_writer(store_path)
    store.upsert([alert_row(a) for a in extra])
    store.close()
    for name in names.values():
        (evidence / name).write_bytes(b"pcap")
    line = (f"evidence files: 4 {{}} (alerts raised before 2026-10-01T00:00:00Z) in {evidence}; "
            "2 kept (named by alerts that are kept)")
    code, out, _ = run_purge("--before", CUT, "--store", str(store_path),
                             "--evidence", str(evidence), "--dry-run")
    assert code == 0 and out.splitlines()[2] == line.format("would be deleted")
    code, out, err = run_purge("--before", CUT, "--store", str(store_path),
                               "--evidence", str(evidence))
    assert (code, err) == (0, "")
    assert out.splitlines()[2] == line.format("deleted")
    assert remaining(store_path) == [3, 4, 5, 7, 8]
    assert sorted(p.name for p in evidence.iterdir()) == sorted([
        names[7], names[8],
        "2026-10-01T00-00-00Z_unknown_bssid_02aabbcc0001.pcap",
        "2026-10-02T00-00-00Z_unknown_bssid_02aabbcc0001.pcap",
        "notes.txt",
    ])


def test_the_daemons_own_retention_leaves_no_old_copy_in_the_write_ahead_log(tmp_path):
    """The daemon never truncates its log the way purge does; once SQLite has
    checkpointed and the log starts over, the old frames must not linger
    past the new ones (journal_size_limit)."""
    path = tmp_path / "alerts.sqlite3"
    daemon = AlertStore.open_writer(path)
    try:
        daemon.upsert([alert_row(make_alert(n, first=at(CUT_NS) - 20 * DAY, closed=True))
                       for n in range(1, 30)])
        assert daemon.purge(CUT_NS) == (29, 0)                  # the hourly retention
        daemon.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # SQLite's automatic checkpoint
        daemon.add_samples([health(CUT_NS + 60 * S)], [])      # the next write: the log restarts
        assert b"test alert" not in on_disk(path)
    finally:
        daemon.close()


def test_a_date_at_the_end_of_time_deletes_all_that_ended_without_overflowing(history):
    """parse_time caps far dates at 2^63-1 ns; looking up the files of kept
    alerts must not overflow SQLite's integers there."""
    store_path, evidence = history
    code, out, err = run_purge("--before", "9999-12-31", "--store", str(store_path),
                               "--evidence", str(evidence))
    assert (code, err) == (0, "")
    assert out.startswith("alerts: 5 deleted ") and remaining(store_path) == [3]
