"""The alert history: what is stored, what `alerts` shows, and what happens
when the disk is full, the file is locked or the directory is not writable."""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evil_twin_monitor.decoding.text import ssid_from_printable
from evil_twin_monitor.engine import Alert, Engine
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files
from evil_twin_monitor.sinks import JsonlSink
from evil_twin_monitor.registry.yamlsource import Reader, parse_yaml
from evil_twin_monitor.store import (
    DEFAULT_PATH, SCHEMA_VERSION, AlertStore, StoreSettings, StoreSink, add_alerts_parser,
    alert_row, alerts_command, read_store_section, replace_store_sink,
)
from evil_twin_monitor.store import command as command_module

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
DEMO = ROOT / "fixtures" / "pcaps" / "demo_evil_twin.pcap"
DEMO_EXPECTED = ROOT / "fixtures" / "pcaps" / "demo_evil_twin.expected.json"
DAY = 86_400
NOW = 1_793_750_400.0  # 2026-11-04T00:00:00Z
FAST = {"busy_timeout_s": 0.5, "retry_initial_s": 0.05, "retry_max_s": 0.2}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


class Log:
    """Collects structlog-style calls: log.warning("event", key=value)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    def __getattr__(self, level: str):
        if level not in ("debug", "info", "warning", "error", "exception"):
            raise AttributeError(level)
        return lambda event, **kw: self.events.append((level, event, kw))

    def named(self, event: str) -> list[dict]:
        return [kw for _, name, kw in self.events if name == event]


def make_alert(n: int, *, ssid: bytes | None = b"Shinjuku_Free_Wi-Fi", rule: str = "unknown_bssid",
               facility: str | None = "city-hall", sensor: str | None = "s1",
               first: float = NOW - 3600, last: float | None = None, repeats: int = 0,
               closed: bool = False, evidence: dict | None = None) -> Alert:
    first_ns = int(first * 1e9)
    return Alert(rule=rule, severity="critical", facility=facility, sensor=sensor, ssid=ssid,
                 bssid=bytes.fromhex(f"02aabbcc{n:04x}"), frequency_mhz=2462,
                 message=f"test alert {n}", evidence=dict(evidence or {"n": n}), time_ns=first_ns,
                 first_frame=n, last_ns=int((last or first) * 1e9), last_frame=n + repeats,
                 repeats=repeats, closed=closed)


def write_rows(path: Path, alerts: list[Alert]) -> None:
    store = AlertStore.open_writer(path)
    try:
        store.upsert([alert_row(a) for a in alerts])
    finally:
        store.close()


def read_all(path: Path) -> list:
    store = AlertStore.open_reader(path)
    try:
        return store.query()
    finally:
        store.close()


def run_alerts(*argv: str, now: float = NOW) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="evil-twin-monitor")
    add_alerts_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["alerts", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = alerts_command(args, out=out, err=err, now=lambda: now)
    return code, out.getvalue(), err.getvalue()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@contextlib.contextmanager
def sink_for(path: Path, log: Log | None = None, close_timeout: float = 2, **kwargs):
    sink = StoreSink(StoreSettings(path=path, **kwargs.pop("settings", {})), log or Log(),
                     **{**FAST, **kwargs})
    try:
        yield sink
    finally:
        sink.close(timeout=close_timeout)


@contextlib.contextmanager
def tmpfs(where: Path, options: str):
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(where)], check=True)


@contextlib.contextmanager
def locked(path: Path):
    """Another process's connection holding the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


# -- configuration ----------------------------------------------------------------------

def read_section(tmp_path: Path, text: str) -> tuple[StoreSettings | None, list[str]]:
    file = tmp_path / "sensor.yaml"
    file.write_text(text)
    root, problems = parse_yaml(text, str(file))
    assert not problems
    reader = Reader(str(file))
    settings = read_store_section(reader, root.value["store"], "store")
    return settings, [str(p).removeprefix(f"{file}:") for p in reader.problems]


def test_store_section_defaults_and_a_path_relative_to_the_file(tmp_path):
    assert read_section(tmp_path, "store: {}\n") == (StoreSettings(), [])
    assert StoreSettings().path == DEFAULT_PATH == Path("/var/lib/evil-twin-monitor/alerts.sqlite3")
    settings, problems = read_section(
        tmp_path, "store:\n  path: history/alerts.sqlite3\n  retention_days: 0\n  max_alerts: 0\n")
    assert problems == []
    assert settings == StoreSettings(path=tmp_path / "history" / "alerts.sqlite3",
                                     retention_days=0, max_alerts=0)
    assert read_section(tmp_path, "store: {enabled: false}\n")[0].enabled is False


@pytest.mark.parametrize("text, problem", [
    ("store:\n  retention: 30\n", "2: store.retention: unknown key"),
    ("store:\n  retention_days: -1\n", "2: store.retention_days: "),
    ("store:\n  retention_days: 1.5\n", "2: store.retention_days: expected a whole number"),
    ("store:\n  max_alerts: many\n", "2: store.max_alerts: expected a whole number"),
    ("store:\n  enabled: maybe\n", "2: store.enabled: expected true or false"),
    ("store:\n  path: .\n", "2: store.path: "),
])
def test_store_section_errors_name_line_and_field(tmp_path, text, problem):
    settings, problems = read_section(tmp_path, text)
    assert settings is None
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    if "path" in problem:
        assert "is a directory; name the file in it, like" in problems[0]


# -- what is stored ---------------------------------------------------------------------

def test_every_alert_of_a_replay_is_stored_with_evidence_and_final_repeats(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    printed = io.StringIO()
    log = Log()
    # retention 0: the demo capture is older than any retention period
    with sink_for(path, log, sensor="demo", settings={"retention_days": 0}) as sink:
        engine = Engine(load_registry(REGISTRY), facility="city-hall", sensor="demo",
                        sinks=[sink, JsonlSink(printed)])
        replay_files([str(DEMO)], engine)
        assert sink.flush(10)
    replayed = [json.loads(line) for line in printed.getvalue().splitlines()]
    stored = read_all(path)
    expected = json.loads(DEMO_EXPECTED.read_text())["alerts"]
    assert sorted((a.rule, a.bssid) for a in stored) == sorted((e["rule"], e["bssid"]) for e in expected)
    # Each stored alert is exactly the jsonl object replay printed, plus the history fields.
    as_printed = []
    for alert in stored:
        d = alert.to_dict()
        assert d["state"] == "closed"
        assert d["repeats"] == d["evidence"]["repeats"]
        assert d["last_seen"] == d["evidence"].get("last_seen", d["time"])
        as_printed.append({k: v for k, v in d.items() if k not in ("id", "last_seen", "repeats", "state")})
    assert sorted(as_printed, key=lambda d: d["time"]) == sorted(replayed, key=lambda d: d["time"])
    assert any(a.repeats > 100 for a in stored), "the demo's evil twin repeats for 20 s"
    assert log.named("store_opened") and log.named("store_closed")[0]["written"] >= 3


def test_an_open_alert_is_stored_at_once_and_updated_when_it_closes(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    with sink_for(path) as sink:
        alert = make_alert(1)
        sink.opened(alert)
        assert sink.flush()
        [row] = read_all(path)
        assert (row.state, row.repeats, row.last_seen) == ("open", 0, row.time)
        alert.repeats, alert.last_ns, alert.closed = 41, alert.time_ns + 60 * 10**9, True
        sink.closed(alert)
        assert sink.flush()
    [again] = read_all(path)
    assert again.id == row.id
    assert (again.state, again.repeats, again.evidence["repeats"]) == ("closed", 41, 41)
    assert again.last_seen_ns - again.time_ns == 60 * 10**9


def test_the_same_alert_written_again_is_one_row_and_never_reopens(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    closed = make_alert(1, repeats=3, closed=True)
    write_rows(path, [closed])
    write_rows(path, [make_alert(1)])  # a late "opened" snapshot: ignored
    [row] = read_all(path)
    assert (row.state, row.repeats) == ("closed", 3)
    write_rows(path, [closed])         # written again (a retried batch): one row
    assert [(a.id, a.state) for a in read_all(path)] == [(row.id, "closed")]


def test_the_file_is_private_versioned_and_in_wal_mode(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    with sink_for(path) as sink:
        sink.opened(make_alert(1))
        assert sink.flush()
        assert os.stat(path).st_mode & 0o777 == 0o600
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        conn.close()
    assert {"alerts_time", "alerts_facility_time", "alerts_rule_time"} <= indexes
    for extra in ("-wal", "-shm"):
        if Path(f"{path}{extra}").exists():
            assert os.stat(f"{path}{extra}").st_mode & 0o777 == 0o600


def test_a_store_from_a_newer_version_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    write_rows(path, [make_alert(1)])
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    code, out, err = run_alerts("--store", str(path))
    assert (code, out) == (2, "")
    assert "newer evil-twin-monitor" in err and err.count("\n") == 1
    log = Log()
    with sink_for(path, log, close_timeout=0.1) as sink:
        sink.opened(make_alert(2))
        wait_for(lambda: sink.writes_failed >= 1)
        assert "newer" in sink.last_error
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1
    conn.close()


def test_alerts_left_open_by_an_earlier_run_of_this_sensor_become_interrupted(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    write_rows(path, [make_alert(1, sensor="s1"), make_alert(2, sensor="s2")])
    with sink_for(path, sensor="s1") as sink:
        assert sink.flush()
    states = {a.sensor: a.state for a in read_all(path)}
    assert states == {"s1": "interrupted", "s2": "open"}


# -- retention ------------------------------------------------------------------------------

def test_retention_deletes_only_ended_alerts_older_than_the_period(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    write_rows(path, [
        make_alert(1, first=NOW - 100 * DAY, closed=True),           # old, ended: goes
        make_alert(2, first=NOW - 100 * DAY),                         # old but still open: stays
        make_alert(3, first=NOW - 100 * DAY, last=NOW - 10 * DAY, closed=True),  # ended recently
        make_alert(4, first=NOW - 5 * DAY, closed=True),
        make_alert(5, first=NOW - 40 * DAY, sensor="s0"),             # interrupted below: goes
    ])
    log = Log()
    with sink_for(path, log, sensor="s0", clock=lambda: NOW,
                  settings={"retention_days": 30}) as sink:
        wait_for(lambda: sink.purged == 2)
    assert sorted(int(a.message.split()[-1]) for a in read_all(path)) == [2, 3, 4]
    assert log.named("store_purged") == [{"path": str(path), "deleted": 2,
                                          "older_than_days": 30, "over_cap": 0,
                                          "samples_deleted": 0}]


def test_retention_zero_keeps_everything_and_the_cap_removes_the_oldest_ended(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    write_rows(path, [make_alert(n, first=NOW - (1000 - n) * DAY, closed=n != 1) for n in range(1, 7)])
    with sink_for(path, clock=lambda: NOW, settings={"retention_days": 0, "max_alerts": 0}) as sink:
        assert sink.flush()
    assert len(read_all(path)) == 6
    with sink_for(path, clock=lambda: NOW, settings={"retention_days": 0, "max_alerts": 3}) as sink:
        wait_for(lambda: sink.purged == 3)
    # alert 1 is the oldest but open: never deleted; of the ended ones the newest two stay
    assert sorted(int(a.message.split()[-1]) for a in read_all(path)) == [1, 5, 6]


def test_a_reload_keeps_the_sink_for_the_same_file_and_replaces_it_for_another(tmp_path):
    log = Log()
    first = StoreSink(StoreSettings(path=tmp_path / "a.sqlite3"), log, **FAST)
    same = replace_store_sink(first, StoreSettings(path=tmp_path / "a.sqlite3", retention_days=7),
                              log, sensor=None)
    assert same is first and first.settings.retention_days == 7
    other = replace_store_sink(first, StoreSettings(path=tmp_path / "b.sqlite3"), log, sensor=None)
    assert other is not first and first._closing
    assert replace_store_sink(other, StoreSettings(enabled=False), log, sensor=None) is None
    assert other._closing


# -- failures: never fatal, never blocking, nothing lost ---------------------------------

def test_a_locked_store_does_not_block_the_caller_and_is_written_after_the_lock(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    log = Log()
    with sink_for(path, log) as sink:
        sink.opened(make_alert(0))
        assert sink.flush()
        with locked(path):
            durations = []
            for n in range(1, 21):
                alert = make_alert(n)
                started = time.perf_counter()
                sink.opened(alert)
                durations.append(time.perf_counter() - started)
            # The writer waits 0.5 s for the lock on each attempt; the caller never does.
            assert max(durations) < 0.05, durations
            wait_for(lambda: sink.writes_failed >= 1)
            assert not sink.ok and "locked" in sink.last_error and str(path) in sink.last_error
            [failure] = log.named("store_write_failed")[:1]
            assert failure["operation"] == "write" and failure["pending"] >= 1
            assert not sink.flush(timeout=0.2)
            # Listing works while the daemon's writer is locked out, and shows what is stored.
            code, out, _ = run_alerts("--store", str(path), "--format", "jsonl")
            assert code == 0 and len(out.splitlines()) == 1
        assert sink.flush(timeout=10)
        assert sink.ok and sink.stats()["pending"] == 0
    assert len(read_all(path)) == 21
    assert log.named("store_recovered")


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    log = Log()
    with sink_for(path, log, queue_size=2) as sink:
        assert sink.flush()
        with locked(path):
            sink.opened(make_alert(0))
            wait_for(lambda: sink.stats()["queued"] == 0)  # the writer took it and waits for the lock
            time.sleep(0.05)
            for n in range(1, 51):
                sink.opened(make_alert(n))
            assert sink.queue_dropped >= 40
        assert sink.flush(timeout=10)
        dropped = sink.queue_dropped
    assert len(read_all(path)) == 51 - dropped
    assert sum(e["dropped"] for e in log.named("store_queue_full")) == dropped


def test_pending_alerts_are_bounded_while_the_store_fails(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    with sink_for(path, max_pending=3) as sink:
        assert sink.flush()
        with locked(path):
            for n in range(10):
                sink.opened(make_alert(n))
            wait_for(lambda: sink.pending_dropped == 7 and sink.stats()["queued"] == 0)
            # A later snapshot of a pending alert is not a new entry: it replaces the old one.
            closing = make_alert(0, repeats=5, closed=True)
            sink.closed(closing)
            wait_for(lambda: sink.stats()["queued"] == 0)
            assert (sink.pending_dropped, sink.stats()["pending"]) == (7, 3)
        assert sink.flush(timeout=10)
    stored = read_all(path)
    assert len(stored) == 3
    assert [(a.state, a.repeats) for a in stored if a.message == "test alert 0"] == [("closed", 5)]


def test_a_store_file_deleted_under_the_daemon_is_created_again(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    log = Log()
    with sink_for(path, log) as sink:
        sink.opened(make_alert(1))
        assert sink.flush()
        path.unlink()  # an operator clearing the history by hand
        sink.opened(make_alert(2))
        assert sink.flush()
    assert [a.message for a in read_all(path)] == ["test alert 2"]
    assert log.named("store_replaced")[0]["pending"] == 1
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_close_gives_up_after_its_timeout_and_says_what_was_lost(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    log = Log()
    sink = StoreSink(StoreSettings(path=path), log, **FAST)
    assert sink.flush()
    with locked(path):
        sink.opened(make_alert(1))
        started = time.monotonic()
        assert sink.close(timeout=0.5) is False
        assert time.monotonic() - started < 2
    [closed] = log.named("store_closed")
    assert closed["lost"] == 1 and "locked" in closed["error"]
    sink.opened(make_alert(2))  # after close: counted, never raises
    assert sink.queue_dropped == 1


@pytest.fixture
def readonly_dir(tmp_path):
    """A directory this process cannot write to (root ignores modes: a read-only mount)."""
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "ro", "ro,size=64k") as where:
            yield where
    else:
        where = tmp_path / "ro"
        where.mkdir(mode=0o500)
        try:
            yield where
        finally:
            where.chmod(0o700)


def test_an_unwritable_directory_is_reported_clearly_and_is_not_fatal(readonly_dir):
    path = readonly_dir / "alerts.sqlite3"
    log = Log()
    sink = StoreSink(StoreSettings(path=path), log, **FAST)
    try:
        sink.opened(make_alert(1))
        wait_for(lambda: sink.writes_failed >= 1 and sink.stats()["pending"] == 1)
        error = sink.last_error
        assert error.startswith(f"{path}: cannot create the store: ")
        assert error.endswith(("Read-only file system", "Permission denied"))
        assert log.named("store_write_failed")[0]["operation"] == "open"
        assert sink.stats()["ok"] is False
    finally:
        assert sink.close(timeout=0.3) is False
    assert log.named("store_closed")[0]["lost"] == 1


def test_a_missing_directory_is_named(tmp_path):
    log = Log()
    with sink_for(tmp_path / "nowhere" / "alerts.sqlite3", log) as sink:
        wait_for(lambda: sink.writes_failed >= 1)
        assert sink.last_error.endswith(f"directory {tmp_path / 'nowhere'} does not exist")


def fill(directory: Path) -> Path:
    """Write a file until the file system is full."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


@needs_root
def test_a_full_disk_is_reported_the_engine_goes_on_and_pending_alerts_land_later(tmp_path):
    with tmpfs(tmp_path / "disk", "size=1m") as disk:
        path = disk / "alerts.sqlite3"
        log = Log()
        sink = StoreSink(StoreSettings(path=path, retention_days=0), log, sensor="demo", **FAST)
        try:
            before = [make_alert(n, evidence={"note": "stored before the disk filled"})
                      for n in range(3)]
            for alert in before:
                sink.opened(alert)
            assert sink.flush()
            filler = fill(disk)

            engine = Engine(load_registry(REGISTRY), facility="city-hall", sensor="demo",
                            sinks=[sink])
            stats = replay_files([str(DEMO)], engine)  # the sink never raises into the engine
            assert sum(stats.alerts_by_rule.values()) == 3
            assert not sink.flush(timeout=0.5)
            assert sink.writes_failed >= 1 and not sink.ok
            assert "full" in sink.last_error
            assert "SQLITE_FULL" in log.named("store_write_failed")[0]["error"]
            assert sink.stats()["pending"] == 3

            stored = read_all(path)  # what was stored stays readable on the full disk
            assert sorted(a.message for a in stored) == [f"test alert {n}" for n in range(3)]
            assert all(a.evidence["note"] == "stored before the disk filled" for a in stored)

            filler.unlink()
            assert sink.flush(timeout=10)
            assert sink.ok and log.named("store_recovered")
            stored = read_all(path)
            assert len(stored) == 6
            assert {a.rule for a in stored if a.sensor == "demo"} == {
                "unknown_bssid", "lookalike_ssid", "deauth_flood"}
            assert all(a.state == "closed" for a in stored if a.sensor == "demo")
        finally:
            sink.close(timeout=2)


# -- the `alerts` command ------------------------------------------------------------------

def ts(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def history(tmp_path) -> Path:
    path = tmp_path / "alerts.sqlite3"
    write_rows(path, [
        make_alert(1, facility="city-hall", rule="unknown_bssid",
                   first=ts("2026-11-01T00:00:00+00:00"), last=ts("2026-11-01T00:10:00+00:00"),
                   repeats=9, closed=True),
        make_alert(2, facility="central-library", rule="lookalike_ssid",
                   first=ts("2026-11-02T12:00:00+00:00"), closed=True),
        make_alert(3, facility="city-hall", rule="deauth_flood",
                   first=ts("2026-11-03T09:00:00+00:00"), last=ts("2026-11-03T09:05:00+00:00")),
        make_alert(4, facility="city-hall", rule="unknown_bssid",
                   first=ts("2026-10-20T00:00:00+00:00"), closed=True),
    ])
    return path


def listed(history: Path, *argv: str) -> list[int]:
    """The test-alert numbers `alerts` lists, in its order."""
    code, out, err = run_alerts("--store", str(history), "--format", "jsonl", *argv,
                                now=ts("2026-11-03T12:00:00+00:00"))
    assert code == 0, err
    return [int(json.loads(line)["message"].split()[-1]) for line in out.splitlines()]


@pytest.mark.parametrize("argv, expected", [
    ((), [3, 2, 1, 4]),
    (("--facility", "city-hall"), [3, 1, 4]),
    (("--rule", "unknown_bssid"), [1, 4]),
    (("--facility", "city-hall", "--rule", "deauth_flood"), [3]),
    (("--since", "2026-11-02"), [3, 2]),
    (("--since", "24h"), [3, 2]),                      # 2026-11-02T12:00Z: alert 2 exactly
    (("--since", "2026-11-01T00:05:00Z"), [3, 2, 1]),  # alert 1 was still seen then
    (("--since", "2026-11-01T09:00:00+09:00"), [3, 2, 1]),
    (("--since", "3d"), [3, 2, 1]),
    (("--until", "2026-11-02"), [1, 4]),
    (("--since", "2026-10-31", "--until", "2026-11-03"), [2, 1]),
    (("--limit", "2"), [3, 2]),
    (("--limit", "0"), [3, 2, 1, 4]),
    (("--since", "99999999999999d", "--limit", "9" * 30), [3, 2, 1, 4]),
    (("--since", "0001-01-01", "--until", "9999-12-31T23:59:59Z"), [3, 2, 1, 4]),
])
def test_filters(history, argv, expected):
    assert listed(history, *argv) == expected


def test_text_list_is_a_header_and_one_line_per_alert_newest_first(history):
    code, out, err = run_alerts("--store", str(history), "--limit", "3")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["ID", "FIRST", "SEEN", "(UTC)"]
    assert [line.split()[1] for line in lines] == [
        "2026-11-03T09:00:00Z", "2026-11-02T12:00:00Z", "2026-11-01T00:00:00Z"]
    assert lines[2].split()[2:8] == ["critical", "unknown_bssid", "02:aa:bb:cc:00:01", "11",
                                     "10x", "closed"]
    assert lines[0].split()[-2:] == ["city-hall/s1", '"Shinjuku_Free_Wi-Fi"']
    assert err == "showing the newest 3; more match (--limit 0 shows all)\n"


def test_jsonl_lines_are_alert_objects_with_history_fields(history):
    code, out, _ = run_alerts("--store", str(history), "--format", "jsonl", "--rule", "deauth_flood")
    [alert] = [json.loads(line) for line in out.splitlines()]
    assert list(alert) == ["id", "time", "rule", "severity", "facility", "sensor", "ssid", "bssid",
                           "channel", "frequency_mhz", "message", "evidence", "last_seen",
                           "repeats", "state"]
    assert (alert["rule"], alert["state"], alert["last_seen"]) == (
        "deauth_flood", "open", "2026-11-03T09:05:00.000000Z")


def test_show_prints_one_alert_with_its_evidence(history):
    [first] = [a.id for a in read_all(history) if a.message == "test alert 1"]
    code, out, err = run_alerts("show", str(first), "--store", str(history))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"alert {first}"
    assert "  last seen:   2026-11-01T00:10:00.000000Z (9 repeats)" in lines
    assert "  ssid octets: " + b"Shinjuku_Free_Wi-Fi".hex() in lines
    assert lines[lines.index("  evidence:") + 1:] == [
        "    n: 1", "    frame: 1", "    repeats: 9", "    last_seen: 2026-11-01T00:10:00.000000Z",
        "    last_frame: 10"]
    code, out, _ = run_alerts("--store", str(history), "show", str(first), "--format", "jsonl")
    assert json.loads(out)["evidence"]["n"] == 1


def test_an_unknown_facility_lists_nothing_and_names_the_known_ones(history):
    code, out, err = run_alerts("--store", str(history), "--facility", "city-hal")
    assert (code, out) == (0, "")
    assert err == f"no alerts for facility city-hal in {history} (facilities in the store: " \
                  "central-library, city-hall)\n"


@pytest.mark.parametrize("argv, message", [
    (("--since", "yesterday"), "--since 'yesterday': not a time; use RFC 3339"),
    (("--until", "2026-13-01"), "--until '2026-13-01': not a time"),
    (("--since", "2026-11-02", "--until", "2026-11-01"), "is not before --until"),
    (("--limit", "-1"), "--limit '-1': expected a whole number"),
    (("--limit", "ten"), "--limit 'ten': expected a whole number"),
    (("--facility", "City Hall"), "--facility 'City Hall': not a facility id"),
    (("--rule", "unknown-bssid"), "--rule 'unknown-bssid': not a rule id"),
    (("--rule", "evil_twin"), "--rule evil_twin: unknown rule; valid: ap_missing,"),
    (("show", "abc"), "alert id 'abc': expected a positive whole number"),
    (("show", "0"), "alert id '0': expected a positive whole number"),
    (("show", "999"), "no alert with id 999"),
    (("show", "9" * 30), "no alert with id " + "9" * 30),
])
def test_bad_arguments_exit_2_with_one_line(history, argv, message):
    code, out, err = run_alerts("--store", str(history), *argv)
    assert (code, out) == (2, "")
    assert err.startswith("evil-twin-monitor: error: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no alert store here (no such file)"),
    (lambda p: p.mkdir(), "is a directory, not an alert store"),
    (lambda p: p.write_bytes(b"this is not a database" * 100), "not an alert store"),
    (lambda p: p.write_bytes(b""), "not an alert store (an empty file)"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE notes (x)"),
     "not an alert store (another program's SQLite file)"),
])
def test_a_missing_or_foreign_store_exits_2_with_one_line(tmp_path, make, message):
    path = tmp_path / "alerts.sqlite3"
    make(path)
    code, out, err = run_alerts("--store", str(path))
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: {path}: {message}\n" or (
        err.startswith(f"evil-twin-monitor: error: {path}: {message}") and err.count("\n") == 1)


def test_without_store_or_config_the_daemons_default_path_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(command_module, "DEFAULT_PATH", tmp_path / "default.sqlite3")
    code, _, err = run_alerts()
    assert code == 2 and f"{tmp_path / 'default.sqlite3'}: no alert store here" in err


def test_listing_never_changes_the_store(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    # A daemon that died without closing the file: its alerts are only in the -wal
    # file, which a writing connection would fold into the main file on closing.
    subprocess.run([sys.executable, "-c", (
        "import os, sys; sys.path.insert(0, sys.argv[1]); from test_store import *; "
        "store = AlertStore.open_writer(sys.argv[2]); "
        "store.upsert([alert_row(make_alert(n)) for n in range(2)]); os._exit(0)"),
        str(Path(__file__).parent), str(path)], check=True)
    wal = Path(f"{path}-wal")
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in (path, wal)]
    for argv in ((), ("--format", "jsonl"), ("--facility", "city-hall"), ("show", "1")):
        code, out, _ = run_alerts("--store", str(path), *argv)
        assert code == 0 and "02:aa:bb:cc:00:0" in out
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in (path, wal)] == before


def test_config_names_the_store_relative_to_its_directory(tmp_path):
    (tmp_path / "sensor.yaml").write_text(
        f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
        "store:\n  path: history/alerts.sqlite3\n  retention_days: 30\n")
    (tmp_path / "history").mkdir()
    write_rows(tmp_path / "history" / "alerts.sqlite3", [make_alert(1)])
    code, out, err = run_alerts("--config", str(tmp_path / "sensor.yaml"), "--format", "jsonl")
    assert (code, err) == (0, "")
    assert json.loads(out)["message"] == "test alert 1"


def test_config_store_section_is_loaded_and_summarised(tmp_path):
    from evil_twin_monitor.config import load_config, summarize_config
    (tmp_path / "sensor.yaml").write_text(
        f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
        "store: {path: alerts.sqlite3, retention_days: 30}\n")
    config = load_config(tmp_path / "sensor.yaml")
    assert config.store == StoreSettings(path=tmp_path / "alerts.sqlite3", retention_days=30)
    assert f"store: {tmp_path / 'alerts.sqlite3'} (alerts kept 30 days after they end, " \
           "at most 500,000)" in summarize_config(config).splitlines()
    (tmp_path / "plain.yaml").write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n")
    assert load_config(tmp_path / "plain.yaml").store == StoreSettings()


def test_replay_can_keep_its_alerts_in_a_store(tmp_path, capsys):
    from evil_twin_monitor.cli import main
    path = tmp_path / "alerts.sqlite3"
    argv = ["replay", str(DEMO), "--registry", str(REGISTRY), "--facility", "city-hall",
            "--format", "jsonl", "--quiet", "--store", str(path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert main(argv) == 0  # the same capture again adds nothing
    assert capsys.readouterr().out == printed
    assert main(["alerts", "--store", str(path), "--format", "jsonl"]) == 0
    stored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(a["bssid"] for a in stored) == sorted(json.loads(l)["bssid"] for l in printed.splitlines())
    assert main([*argv[:-1], str(tmp_path / "missing" / "alerts.sqlite3")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "does not exist" in err


ATTACKER_SSIDS = [
    b"Free\nWi-Fi\r\nINJECTED 2026-01-01 critical",
    b'say "hi" \'there\'',
    b"\xff\xfe\xc3(bad utf-8",
    b"\x00" * 32,
    b"\x1b[2J\x1b[31mred\x07",
    "新宿\u202efree\u2028line".encode(),
    b"back\\slash\\x41",
]


def test_attacker_ssids_round_trip_and_never_break_a_line(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    with sink_for(path) as sink:
        for n, ssid in enumerate(ATTACKER_SSIDS):
            sink.opened(make_alert(n, ssid=ssid, evidence={"observed_ssid": ssid.decode("latin-1"),
                                                           "note": "a\nb\u2029c\x1b"}))
        assert sink.flush()

    stored = {a.ssid_hex: a for a in read_all(path)}
    assert set(stored) == {s.hex() for s in ATTACKER_SSIDS}
    for raw in ATTACKER_SSIDS:
        assert ssid_from_printable(stored[raw.hex()].ssid) == raw

    code, out, _ = run_alerts("--store", str(path))
    assert code == 0
    assert len(out.split("\n")) == len(ATTACKER_SSIDS) + 2  # header, alerts, final newline
    assert not any(ch in out for ch in "\r\x1b\x00\x07\u2028\u2029\u202e")

    code, out, _ = run_alerts("--store", str(path), "--format", "jsonl")
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == len(ATTACKER_SSIDS) + 1
    assert len(out.splitlines()) == len(ATTACKER_SSIDS)  # no U+2028/2029 line breaks either
    for line in lines[:-1]:
        alert = json.loads(line)
        assert ssid_from_printable(alert["ssid"]) in ATTACKER_SSIDS
        assert alert["evidence"]["note"] == "a\nb\u2029c\x1b"  # data intact, escaped by JSON

    for alert in stored.values():
        code, out, _ = run_alerts("--store", str(path), "show", str(alert.id))
        assert code == 0
        assert not any(ch in out.replace("\n", "") for ch in "\r\x1b\x00\x07\u2028\u2029\u202e")
        # title, 12 fields, "evidence:", one line per evidence key
        assert len(out.splitlines()) == 1 + 12 + 1 + len(alert.evidence)
