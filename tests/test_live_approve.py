"""The contractor's workflow against the real daemon (root, the lab of tests/lab.py).

- A new access point raises ``unknown_bssid`` into the daemon's store,
  ``registry approve`` registers it from there, a SIGHUP reloads, and from then
  on the running daemon treats it as a city AP: no new alert once the
  hold-down is over, and its frames counted as a registered AP's.
- A live survey and the daemon never share the adapter: each holds the
  adapter's lock (next to the store) while its radio is open.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from lab import HALL, LOBBY, SENSOR, transmitter
from netns import ROOT, needs_root

from evil_twin_monitor.radio.lock import RadioLock
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.store.db import AlertStore

pytestmark = needs_root

NEW = "02:5e:1f:a0:0c:01"   # the city's new AP: same SSID and security, channel 6
HOLD_DOWN_S = 2             # an open alert closes after 2 s without findings


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evil_twin_monitor", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def _stored_alert_id(path: Any, bssid: str, timeout: float = 10) -> int:
    """The id of the stored unknown_bssid alert about ``bssid`` (the store sink
    writes from a thread of its own, so it may come a moment after the log)."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            store = AlertStore.open_reader(path)
            try:
                row = store.conn.execute(
                    "SELECT id FROM alerts WHERE bssid = ? AND rule = 'unknown_bssid' "
                    "ORDER BY id LIMIT 1", (bssid,)).fetchone()
            finally:
                store.close()
            if row is not None:
                return int(row[0])
        assert time.monotonic() < deadline, f"no stored alert about {bssid}"
        time.sleep(0.1)


def _index(log: list[dict[str, Any]], event: dict[str, Any]) -> int:
    return next(i for i, e in enumerate(log) if e is event)


def test_an_approved_access_point_raises_nothing_once_the_daemon_reloads(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1), transmitter(HALL, 36), transmitter(NEW, 6)])
    (lab.tmp / "sensor.yaml").write_text(SENSOR + f"engine: {{hold_down_s: {HOLD_DOWN_S}}}\n")
    lab.start()
    assert lab.wait_for("alert", bssid=NEW)["rule"] == "unknown_bssid"
    alert_id = _stored_alert_id(lab.tmp / "alerts.sqlite3", NEW)

    done = _cli("registry", "approve", str(alert_id), "--store", str(lab.tmp / "alerts.sqlite3"),
                "--registry", str(lab.tmp / "registry.yaml"), "--label", "4F meeting room")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"alert {alert_id} (unknown_bssid) approved: added access "
                                  f"point {NEW} (channel 6, label \"4F meeting room\")")
    ap = load_registry(lab.tmp / "registry.yaml").ap_for_bssid(bytes.fromhex(NEW.replace(":", "")))
    assert ap is not None and ap.frequencies == {2437}

    lab.signal(signal.SIGHUP)
    reload = lab.wait_for("reload_ok")
    assert reload["access_points"] == 3
    assert lab.log is not None
    mark = _index(lab.log.log, reload)
    # The approved channel is a home channel now: the new AP is heard every cycle.
    assert lab.wait_for("channel_plan", since=mark)["home"] == [2412, 2437, 5180]
    reloaded_ns = time.time_ns()
    # Past the hold-down of any alert still open, then several cycles more: an
    # unregistered BSSID heard this often would open a new alert within each hold-down.
    time.sleep(HOLD_DOWN_S + 4)
    assert lab.stop()[0] == 0
    after = lab.log.log[mark:]
    assert [e for e in after if e.get("event") == "alert" and e.get("bssid") == NEW] == []
    assert [e for e in after if e.get("event") == "alert"] == []
    # The daemon counted its frames as a registered AP's (the report's presence samples).
    store = AlertStore.open_reader(lab.tmp / "alerts.sqlite3")
    try:
        frames = store.conn.execute(
            "SELECT SUM(frames) FROM ap_presence WHERE bssid = ? AND time_ns > ?",
            (NEW, reloaded_ns)).fetchone()[0]
        alerts = store.conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE bssid = ? AND time_ns > ?",
            (NEW, reloaded_ns)).fetchone()[0]
    finally:
        store.close()
    assert frames and frames > 10
    assert alerts == 0


def test_a_survey_and_the_daemon_never_share_the_adapter(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1)])
    # A survey holds the adapter when the daemon starts: the daemon waits for it,
    # as for an unplugged adapter, and takes over once it is done.
    survey = RadioLock()
    assert survey.acquire(lab.tmp / ".radio-mon0.lock", "mon0") is None
    lab.start()
    waiting = lab.wait_for("radio_waiting")
    assert waiting["error"].startswith("mon0 is in use by another evil-twin-monitor process")
    time.sleep(0.5)
    assert lab.log is not None
    assert not any(e.get("event") == "capture_started" for e in lab.log.log)
    survey.release()
    lab.wait_for("capture_started")
    lab.wait_for("stats")
    # The daemon has the adapter: a survey with the sensor's configuration is
    # refused before it adopts (and on exit deletes) the daemon's interface.
    mark = len(lab.log.log)
    done = lab.netns.exec([sys.executable, "-m", "evil_twin_monitor", "survey", "--config",
                           str(lab.tmp / "sensor.yaml"), "--duration", "5"], cwd=ROOT)
    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("evil-twin-monitor: error: mon0 is in use by another "
                                  "evil-twin-monitor process")
    assert "systemctl stop evil-twin-monitor" in done.stderr
    lab.wait_for("stats", since=mark)
    assert lab.stop()[0] == 0
    assert not any(e.get("event") in ("radio_lost", "radio_retry_failed")
                   for e in lab.log.log[mark:])
    stopped = lab.wait_for("sensor_stopped")
    assert stopped["frames"] > 0
