"""The real daemon process on a simulated monitor interface, end to end.

Each test makes a network namespace with a TAP interface of radiotap link
type (the scenario player owns it) and runs ``evil-twin-monitor run`` in it
with the simulated radio: the player writes a transmitter's beacons only
while the daemon's radio is tuned to that transmitter's channel, so what the
daemon sees depends on its channel plan, exactly as on the air. The tests
read the daemon's JSON log events.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab import HALL, LOBBY, REGISTRY, SENSOR, SSID, TWIN, transmitter
from netns import needs_root

pytestmark = needs_root


def test_twin_outside_the_facility_channels_is_found_and_sigterm_exits_zero(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1), transmitter(HALL, 36),
                       transmitter(TWIN, 13, security="open", profile="hostapd")])
    lab.start()
    plan = lab.wait_for("channel_plan")
    assert plan["home"] == [2412, 5180]          # the registry's channels
    alert = lab.wait_for("alert", bssid=TWIN)    # channel 13 is visited by the sweep
    assert alert["rule"] == "unknown_bssid"
    assert alert["channel"] == 13 and alert["frequency_mhz"] == 2472
    assert alert["facility"] == "city-hall" and alert["sensor"] == "city-hall-01"
    assert alert["ssid"] == SSID and alert["message"]
    lab.wait_for("stats")
    status, seconds = lab.stop()
    assert status == 0
    assert seconds < 5
    assert lab.wait_for("radio_restored")
    stopped = lab.wait_for("sensor_stopped")
    assert stopped["frames"] > 0 and stopped["kernel_drops"] == 0
    assert [a["bssid"] for a in lab.alerts()] == [TWIN]  # the city's own APs raise nothing
    closed = lab.wait_for("alert_closed", bssid=TWIN)
    assert closed["repeats"] >= 0
    assert lab.wait_for("stats")["store"]["ok"] is True
    # The history has the alert, closed at shutdown with its final repeat count.
    listing = subprocess.run(
        [sys.executable, "-m", "evil_twin_monitor", "alerts", "--config",
         str(lab.tmp / "sensor.yaml"), "--format", "jsonl"],
        capture_output=True, text=True, check=True)
    [stored] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert (stored["bssid"], stored["rule"], stored["state"]) == (TWIN, "unknown_bssid", "closed")
    assert stored["repeats"] == closed["repeats"] and stored["sensor"] == "city-hall-01"


def test_sighup_applies_a_new_registry_and_keeps_the_old_one_when_the_new_is_broken(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1), transmitter(HALL, 36)])
    lab.start()
    lab.wait_for("capture_started")
    time.sleep(1.5)                                   # several cycles: both APs heard
    assert lab.alerts() == []

    (lab.tmp / "registry.yaml").write_text(REGISTRY)  # the hall AP is no longer registered
    lab.signal(signal.SIGHUP)
    reload = lab.wait_for("reload_ok")
    assert reload["access_points"] == 1 and reload["rules_restarted"] == []
    assert lab.wait_for("alert", bssid=HALL)["rule"] == "unknown_bssid"

    (lab.tmp / "registry.yaml").write_text(REGISTRY.replace("label:", "lable:"))
    lab.signal(signal.SIGHUP)
    failed = lab.wait_for("reload_failed")
    assert "registry.yaml:9" in failed["error"] and "lable" in failed["error"]
    # Still running on the registry of the first reload: a new twin is caught,
    # the registered lobby AP still raises nothing.
    lab.player_command({"cmd": "add", "transmitter": transmitter(TWIN, 11)}, "added")
    assert lab.wait_for("alert", bssid=TWIN)["rule"] == "unknown_bssid"
    assert lab.alerts(bssid=LOBBY) == []
    assert lab.stop()[0] == 0


def test_interface_deleted_and_recreated_mid_run_is_recovered(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1)], registry=REGISTRY)
    lab.start()
    lab.wait_for("stats")                             # capturing
    lab.player_command({"cmd": "delete_interface"}, "interface_deleted")
    lost = lab.wait_for("radio_lost")
    assert "mon0" in lost["error"]
    lab.wait_for("radio_retry_failed")                # keeps trying while it is gone
    lab.player_command({"cmd": "create_interface"}, "interface_created")
    recovered = lab.wait_for("radio_recovered")
    assert recovered["attempts"] >= 1
    lab.player_command({"cmd": "add", "transmitter": transmitter(TWIN, 6)}, "added")
    assert lab.wait_for("alert", bssid=TWIN)["rule"] == "unknown_bssid"
    # An interface taken down (not deleted) is waited for the same way.
    assert lab.log is not None
    mark = len(lab.log.log)
    lab.player_command({"cmd": "down"}, "interface_down")
    assert "mon0" in lab.wait_for("radio_lost", since=mark)["error"]
    lab.player_command({"cmd": "up"}, "interface_up")
    lab.wait_for("radio_recovered", since=mark)
    lab.wait_for("stats", since=mark)
    assert lab.stop()[0] == 0


def test_systemd_hears_ready_status_and_watchdog(lab_factory, tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))  # a path works across network namespaces
    listener.settimeout(10)
    lab = lab_factory([transmitter(LOBBY, 1)], registry=REGISTRY)
    lab.start(env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"})
    messages = [listener.recv(4096).decode() for _ in range(3)]
    ready = next(m for m in messages if "READY=1" in m)
    assert "STATUS=" in ready and "frames/s" in ready and "channel 1 (2412 MHz)" in ready
    assert "WATCHDOG=1" in messages
    assert lab.stop()[0] == 0


def test_missing_capability_is_a_clear_error_with_status_2(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1)], registry=REGISTRY)
    lab.start(prefix=["setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw"])
    failed = lab.wait_for("sensor_failed")
    assert "CAP_NET_RAW" in failed["error"]
    assert lab.daemon is not None and lab.daemon.wait(timeout=10) == 2


def test_an_interface_that_is_not_a_monitor_interface_is_a_clear_error(lab_factory):
    lab = lab_factory([])
    (lab.tmp / "sensor.yaml").write_text(SENSOR.replace("interface: mon0", "interface: lo"))
    lab.start()
    failed = lab.wait_for("sensor_failed")
    assert failed["error"].startswith("lo: not a monitor interface (link type loopback)")
    assert lab.daemon is not None and lab.daemon.wait(timeout=10) == 2


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_burst_of_sighups_is_applied_and_leaves_the_daemon_idle(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1)], registry=REGISTRY)
    lab.start()
    lab.wait_for("stats")
    for _ in range(50):  # some land while a reload runs
        lab.signal(signal.SIGHUP)
        time.sleep(0.002)
    assert lab.log is not None and lab.daemon is not None
    time.sleep(1)
    lab.wait_for("stats", since=len(lab.log.log))
    assert sum(e["event"] == "reload_ok" for e in lab.log.log) >= 2
    before = _cpu_seconds(lab.daemon.pid)
    time.sleep(2)
    # A wake-up byte left behind by a signal must not make the loop spin.
    assert _cpu_seconds(lab.daemon.pid) - before < 1.0
    assert lab.stop()[0] == 0


def test_a_reload_whose_radio_cannot_work_keeps_the_running_configuration(lab_factory):
    lab = lab_factory([transmitter(LOBBY, 1)], registry=REGISTRY)
    lab.start()
    lab.wait_for("stats")
    (lab.tmp / "sensor.yaml").write_text(SENSOR.replace("interface: mon0", "interface: lo"))
    lab.signal(signal.SIGHUP)
    failed = lab.wait_for("reload_failed")
    assert failed["error"].startswith("lo: not a monitor interface")
    assert lab.log is not None
    mark = len(lab.log.log)
    lab.wait_for("capture_started", since=mark - 1)  # back on mon0
    lab.player_command({"cmd": "add", "transmitter": transmitter(TWIN, 11)}, "added")
    assert lab.wait_for("alert", bssid=TWIN)["rule"] == "unknown_bssid"
    assert lab.stop()[0] == 0
