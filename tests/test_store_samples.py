"""Samples for reports in the alert store: sensor health and registered-AP
presence per interval, from the daemon, from `replay --store`, and the schema
migration that adds them to an existing history file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.store import (
    SCHEMA_VERSION, AlertStore, HealthRow, PresenceRow, StoreSettings, StoreSink, alert_row,
)
from evil_twin_monitor.store.samples import PresenceCounter, SensorSampler, UpTime

from lab import LOBBY, TWIN, transmitter
from netns import needs_root
from test_store import Log, make_alert, wait_for

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
AP_MISSING = ROOT / "fixtures" / "pcaps" / "ap_missing.pcap"
S = 1_000_000_000
T0 = 1_793_750_400 * S  # 2026-11-04T00:00:00Z
LOBBY_B = bytes.fromhex("001a2b3c4d50")      # city-hall 3F lobby
HALL_B = bytes.fromhex("001a2b3c4d60")       # city-hall 1F entrance
MULTI_1 = bytes.fromhex("001a2b3c4e01")      # inside city-hall's 00:1a:2b:3c:4e:00/44
MULTI_2 = bytes.fromhex("001a2b3c4e0f")
LIBRARY_B = bytes.fromhex("001a2b3c5d10")    # central-library
STRANGER = bytes.fromhex("02aabbccddee")


def health(time_ns: int, up_s: float = 60.0, sensor: str = "s1") -> HealthRow:
    return HealthRow(sensor, "city-hall", time_ns, 60.0, up_s, 1000, 2, 1)


def presence(time_ns: int, bssid: str = "00:1a:2b:3c:4d:50", sensor: str = "s1") -> PresenceRow:
    return PresenceRow("city-hall", sensor, bssid, time_ns, 60.0, 600)


def schema_1_store(path: Path) -> None:
    """A history file as 0.4.0 wrote it: schema 1, only the alerts table."""
    store = AlertStore.open_writer(path)
    store.upsert([alert_row(make_alert(1, closed=True))])
    store.conn.execute("DROP TABLE health")
    store.conn.execute("DROP TABLE ap_presence")
    store.conn.execute("PRAGMA user_version = 1")
    store.close()


def test_a_schema_1_file_is_upgraded_in_place_and_keeps_its_alerts(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    schema_1_store(path)
    reader = AlertStore.open_reader(path)  # read-only: cannot migrate, sees no samples
    assert not reader.has_samples()
    assert reader.health(None, 0, T0 * 2) == [] and reader.presence(None, 0, T0 * 2) == []
    assert [a.id for a in reader.query()] == [1]
    reader.close()
    store = AlertStore.open_writer(path)
    store.add_samples([health(T0)], [presence(T0)])
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1
    conn.close()
    reader = AlertStore.open_reader(path)
    assert reader.has_samples()
    assert reader.health("city-hall", T0 - 30 * S, T0) == [health(T0)]
    assert reader.presence("city-hall", T0 - 30 * S, T0) == [presence(T0)]
    reader.close()


def test_samples_are_keyed_by_sensor_and_time_and_selected_by_overlap(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    store = AlertStore.open_writer(path)
    rows = [health(T0 + i * 60 * S) for i in range(3)]
    store.add_samples(rows, [presence(T0)])
    store.add_samples(rows, [presence(T0)])  # a retried batch, a capture replayed again
    store.add_samples([health(T0, sensor="s2")], [])
    assert store.conn.execute("SELECT count(*) FROM health").fetchone()[0] == 4
    assert store.conn.execute("SELECT count(*) FROM ap_presence").fetchone()[0] == 1
    # A sample covers (end - 60 s, end]: of those ending at T0, T0+60 and T0+120 s only the
    # last overlaps [T0+60 s, T0+120 s).
    got = store.health("city-hall", T0 + 60 * S, T0 + 120 * S)
    assert [h.time_ns for h in got] == [T0 + 120 * S]
    assert store.health("elsewhere", 0, T0 * 2) == []
    assert sorted(store.facilities()) == ["city-hall"]
    store.close()


def test_retention_purges_samples_with_the_alerts(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    store = AlertStore.open_writer(path)
    store.add_samples([health(T0 - 100 * S), health(T0 + 100 * S)],
                      [presence(T0 - 100 * S), presence(T0 + 100 * S)])
    store.purge(T0, 0)
    assert store.samples_purged == 2
    assert [h.time_ns for h in store.health(None, 0, T0 * 2)] == [T0 + 100 * S]
    assert [p.time_ns for p in store.presence(None, 0, T0 * 2)] == [T0 + 100 * S]
    store.close()


def test_the_sink_writes_samples_from_its_thread_and_retries_them(tmp_path):
    path = tmp_path / "missing-dir" / "alerts.sqlite3"
    log = Log()
    sink = StoreSink(StoreSettings(path=path), log, busy_timeout_s=0.5, retry_initial_s=0.05,
                     retry_max_s=0.1)
    try:
        sink.sample(health(T0), [presence(T0)])
        wait_for(lambda: sink.writes_failed >= 1)  # no directory yet: kept, retried
        assert not sink.flush(0.2)
        path.parent.mkdir()
        assert sink.flush(5)
        assert sink.stats()["samples_written"] == 1 and sink.stats()["samples_dropped"] == 0
    finally:
        assert sink.close(5)
    reader = AlertStore.open_reader(path)
    assert reader.health(None, 0, T0 * 2) == [health(T0)]
    assert reader.presence(None, 0, T0 * 2) == [presence(T0)]
    reader.close()


def test_uptime_counts_only_the_seconds_the_capture_was_open():
    up = UpTime()
    assert up.take(10.0) == 0.0            # not opened yet: waiting for the adapter
    up.opened(10.0)
    assert up.take(70.0) == 60.0
    up.closed(100.0)                       # lost the radio for 50 s
    up.opened(150.0)
    assert up.take(190.0) == 70.0          # 30 + 40 of the 120 s interval
    up.closed(200.0)
    assert up.take(260.0) == 10.0


def test_presence_is_per_registry_entry_per_interval_and_only_for_the_facility():
    registry = load_registry(REGISTRY)
    counter = PresenceCounter()
    status = [(LOBBY_B, 0, None, None, 10), (MULTI_1, 0, None, None, 5),
              (MULTI_2, 0, None, None, 7), (LIBRARY_B, 0, None, None, 9),
              (STRANGER, 0, None, None, 99)]
    assert counter.take(status, registry, "city-hall") == {
        ("city-hall", "00:1a:2b:3c:4d:50"): 10,
        ("city-hall", "00:1a:2b:3c:4e:00/44"): 12,   # spoofed or not, one row for the prefix
    }
    status = [(LOBBY_B, 0, None, None, 10), (MULTI_1, 0, None, None, 8),
              (HALL_B, 0, None, None, 3)]
    assert counter.take(status, registry, "city-hall") == {   # only what was heard since
        ("city-hall", "00:1a:2b:3c:4e:00/44"): 3, ("city-hall", "00:1a:2b:3c:4d:60"): 3}
    status = [(LOBBY_B, 0, None, None, 4)]                     # the rule restarted (reload)
    assert counter.take(status, registry, "city-hall") == {("city-hall", "00:1a:2b:3c:4d:50"): 4}
    assert counter.take(None, registry, "city-hall") is None   # ap_missing disabled


def test_the_daemon_sampler_makes_one_health_row_and_rows_for_the_aps_heard():
    registry = load_registry(REGISTRY)
    sampler = SensorSampler()
    sampler.uptime.opened(0.0)
    sampler.uptime.closed(45.0)
    health_row, rows = sampler.sample(
        now=60.0, time_ns=T0, interval_s=60.0, frames=500, kernel_drops=3,
        status=[(LOBBY_B, 0, None, None, 20)], registry=registry, facility="city-hall",
        sensor="city-hall-01")
    assert health_row == HealthRow("city-hall-01", "city-hall", T0, 60.0, 45.0, 500, 3, 1)
    assert rows == [PresenceRow("city-hall", "city-hall-01", "00:1a:2b:3c:4d:50", T0, 60.0, 20)]
    health_row, rows = sampler.sample(
        now=120.0, time_ns=T0 + 60 * S, interval_s=60.0, frames=0, kernel_drops=0, status=None,
        registry=registry, facility="city-hall", sensor="city-hall-01")
    assert (health_row.up_s, health_row.presence, rows) == (0.0, 0, [])


def test_replay_into_a_store_records_presence_per_minute_of_capture_time(tmp_path):
    path = tmp_path / "replay.sqlite3"
    subprocess.run([sys.executable, "-m", "evil_twin_monitor", "replay", str(AP_MISSING),
                    "--registry", str(REGISTRY), "--facility", "city-hall", "--sensor", "s1",
                    "--quiet", "--store", str(path)], check=True, capture_output=True)
    store = AlertStore.open_reader(path)
    rows = store.health("city-hall", 0, 2**62)
    aps = store.presence("city-hall", 0, 2**62)
    alerts = store.query()
    store.close()
    # ap_missing.pcap: 09:00:00 to 09:12:59, the 1F entrance falls silent after the first minute.
    assert len(rows) == 13 and all(r.sensor == "s1" and r.presence == 1 for r in rows)
    assert all(r.time_ns % (60 * S) == 0 for r in rows[:-1])
    assert all(r.interval_s == r.up_s <= 60 for r in rows)
    assert 770 < sum(r.up_s for r in rows) <= 780
    heard = {}
    for p in aps:
        heard.setdefault(p.bssid, []).append(p.time_ns)
    assert len(heard["00:1a:2b:3c:4d:50"]) == 13          # the lobby AP, every minute
    assert len(heard["00:1a:2b:3c:4d:60"]) == 1           # the entrance, then silence
    assert [a.rule for a in alerts] == ["ap_missing"]


@needs_root
def test_the_daemon_records_health_and_presence_of_registered_aps_only(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1), transmitter(TWIN, 1, security="open")])
    lab.start()
    lab.wait_for("alert", bssid=TWIN)
    for _ in range(3):  # stats_interval_s: 1
        lab.log.next("stats")
    status, _ = lab.stop()
    assert status == 0
    store = AlertStore.open_reader(lab.tmp / "alerts.sqlite3")
    rows = store.health(None, 0, 2**62)
    aps = store.presence(None, 0, 2**62)
    store.close()
    assert len(rows) >= 3        # one per stats interval, and the last, partial one at shutdown
    assert all((r.sensor, r.facility, r.presence) == ("city-hall-01", "city-hall", 1) for r in rows)
    assert all(0 < r.up_s <= r.interval_s + 1e-6 for r in rows[1:])
    assert sum(r.frames for r in rows) > 0 and all(r.kernel_drops == 0 for r in rows)
    assert {p.bssid for p in aps} == {LOBBY}   # the twin is nobody's registered AP
    assert all(p.frames > 0 and p.sensor == "city-hall-01" for p in aps)
