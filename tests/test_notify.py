"""systemd notifications: what systemd reads from us, and silence outside systemd."""

from __future__ import annotations

import io
import json
import os
import socket
import uuid

from evil_twin_monitor.daemon.logs import configure_logging
from evil_twin_monitor.daemon.notify import Notifier
from evil_twin_monitor.engine.alert import Alert
from evil_twin_monitor.sinks import LogSink


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_ready_status_and_watchdog_reach_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    listener = _listener(path)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"})
    notifier.ready("1,200 frames/s, channel 6 (2437 MHz)")
    notifier.watchdog()
    notifier.stopping()
    assert listener.recv(4096) == b"READY=1\nSTATUS=1,200 frames/s, channel 6 (2437 MHz)"
    assert listener.recv(4096) == b"WATCHDOG=1"
    assert listener.recv(4096) == b"STOPPING=1\nSTATUS=stopping"
    assert notifier.watchdog_s == 20.0


def test_abstract_socket_address_is_understood():
    name = f"etm-test-{uuid.uuid4().hex}"
    listener = _listener("\0" + name)
    Notifier({"NOTIFY_SOCKET": "@" + name}).status("hello")
    assert listener.recv(4096) == b"STATUS=hello"


def test_watchdog_meant_for_another_process_is_ignored():
    notifier = Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert notifier.watchdog_s is None


def test_outside_systemd_notifications_do_nothing_and_a_dead_socket_is_counted(tmp_path):
    quiet = Notifier({})
    quiet.ready("x")
    assert not quiet.enabled
    dead = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "1000000"})
    dead.watchdog()
    assert dead.failures == 1


def _alert(ssid: bytes) -> Alert:
    return Alert(rule="unknown_bssid", severity="high", facility="city-hall", sensor="s1",
                 ssid=ssid, bssid=bytes.fromhex("0a0b0c0d0e0f"), frequency_mhz=2472,
                 message="A twin.", evidence={"expected": ["00:1a:2b:3c:4d:50"]},
                 time_ns=1_775_034_000 * 10**9, first_frame=7)


def test_an_alert_is_one_json_log_event_with_every_contract_field():
    stream = io.StringIO()
    sink = LogSink(configure_logging("info", "json", stream))
    sink.opened(_alert(b"Free\nWi-Fi\x1b[2J"))
    sink.closed(_alert(b"Free"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    opened, closed = (json.loads(line) for line in lines)
    assert opened["event"] == "alert" and opened["level"] == "warning"
    assert {"time", "rule", "severity", "facility", "sensor", "ssid", "bssid", "channel",
            "frequency_mhz", "message", "evidence"} <= set(opened)
    assert opened["channel"] == 13 and opened["bssid"] == "0a:0b:0c:0d:0e:0f"
    assert "\n" not in opened["ssid"] and "\x1b" not in opened["ssid"]
    assert closed["event"] == "alert_closed" and closed["repeats"] == 0


def test_console_format_is_for_people_and_the_level_filters():
    stream = io.StringIO()
    log = configure_logging("warning", "console", stream)
    log.info("stats", frames=3)
    log.warning("radio_lost", error="mon0: Network is down")
    text = stream.getvalue()
    assert "stats" not in text
    assert "radio_lost" in text and "error='mon0: Network is down'" in text and "{" not in text
