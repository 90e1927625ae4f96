"""The live test lab: a network namespace, the scenario player on a simulated
monitor interface, and the real daemon process reading from it (root only).

The player writes a transmitter's beacons only while the daemon's radio is
tuned to that transmitter's channel, so what the daemon sees depends on its
channel plan, exactly as on the air. Tests read the daemon's JSON log events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from netns import ROOT, JsonEvents, Netns

SSID = "Shinjuku_Free_Wi-Fi"
LOBBY = "00:1a:2b:3c:4d:50"   # registered, channel 1
HALL = "00:1a:2b:3c:4d:60"    # registered, channel 36
TWIN = "0a:0b:0c:0d:0e:0f"

REGISTRY = """\
facilities:
  - id: city-hall
    name: City hall
    networks:
      - ssid: Shinjuku_Free_Wi-Fi
        security: [wpa2-psk]
        pmf: optional
        access_points:
          - {bssid: "00:1a:2b:3c:4d:50", label: "3F lobby", channels: [1]}
"""
HALL_ENTRY = '          - {bssid: "00:1a:2b:3c:4d:60", label: "1F hall", channels: [36]}\n'

SENSOR = """\
sensor: {id: city-hall-01, facility: city-hall}
registry: registry.yaml
radio: {interface: mon0, driver: simulated, control_socket: radio.sock,
        retry_initial_s: 0.2, retry_max_s: 1}
channels: {home_dwell_s: 0.1, other_dwell_s: 0.05, others_per_cycle: 8}
logging: {stats_interval_s: 1}
store: {path: alerts.sqlite3}
evidence: {directory: evidence, secret_file: privacy.secret}
"""


def transmitter(bssid: str, channel: int, **extra: Any) -> dict[str, Any]:
    # 20 TU beacons: several per 50 ms dwell, so one visit of a channel suffices.
    return {"bssid": bssid, "ssid": SSID, "channel": channel, "beacon_interval_tu": 20, **extra}


class Lab:
    """A namespace, a scenario player and (once started) the daemon."""

    def __init__(self, netns: Netns, tmp: Path, transmitters: list[dict[str, Any]],
                 registry: str = REGISTRY + HALL_ENTRY) -> None:
        self.netns, self.tmp = netns, tmp
        (tmp / "registry.yaml").write_text(registry)
        (tmp / "sensor.yaml").write_text(SENSOR)
        (tmp / "scenario.json").write_text(json.dumps({"transmitters": transmitters}))
        self.player = netns.popen(
            [sys.executable, "-m", "evil_twin_monitor.simulation", "play", "--interface", "mon0",
             "--control", str(tmp / "radio.sock"), "--scenario", str(tmp / "scenario.json"),
             "--quiet"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.player_events = JsonEvents(self.player.stdout, "player")
        self.player_events.next("ready")
        self.daemon: subprocess.Popen | None = None
        self.log: JsonEvents | None = None

    def player_command(self, command: dict[str, Any], reply: str) -> dict[str, Any]:
        assert self.player.stdin is not None
        self.player.stdin.write(json.dumps(command) + "\n")
        self.player.stdin.flush()
        return self.player_events.next(reply)

    def start(self, prefix: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.daemon = self.netns.popen(
            [*(prefix or []), sys.executable, "-m", "evil_twin_monitor", "run",
             "--config", str(self.tmp / "sensor.yaml")],
            cwd=self.tmp, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env={**os.environ, **(env or {})})
        self.log = JsonEvents(self.daemon.stderr, "daemon")

    def wait_for(self, event: str, timeout: float = 20, since: int = 0,
                 **fields: Any) -> dict[str, Any]:
        """The first daemon log event named ``event`` whose fields match, past or future."""
        assert self.log is not None
        return self.log.first(event, timeout, since, **fields)

    def alerts(self, **fields: Any) -> list[dict[str, Any]]:
        assert self.log is not None
        return [e for e in self.log.log if e.get("event") == "alert"
                and all(e.get(k) == v for k, v in fields.items())]

    def signal(self, signum: int) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(signum)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; returns (exit status, seconds until exit)."""
        assert self.daemon is not None and self.log is not None
        started = time.monotonic()
        self.daemon.send_signal(signal.SIGTERM)
        status = self.daemon.wait(timeout=30)
        seconds = time.monotonic() - started
        self.log.drain()
        return status, seconds

    def close(self) -> None:
        for process in (self.daemon, self.player):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
