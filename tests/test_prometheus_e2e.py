"""A real Prometheus scrapes a daemon that is catching a simulated evil twin.

Everything runs in one network namespace: the scenario player, the daemon
(metrics on its default port) and Debian's Prometheus with the shipped
alerting rules, scraping every second. The test asks Prometheus' HTTP API
(from inside the namespace) whether the alert series exist and whether the
shipped rule for the twin goes to firing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import pytest

from lab import LOBBY, REGISTRY, TWIN, transmitter
from netns import ROOT, needs_root

RULES = ROOT / "config" / "monitoring" / "prometheus" / "rules.yml"
PROMETHEUS_PORT = 19090

pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="needs Debian's prometheus package (CI installs it)"),
]


def _query(lab: Any, path: str) -> Any:
    """GET ``path`` from Prometheus inside the lab's namespace; the JSON ``data``."""
    code = ("import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
            f"'http://127.0.0.1:{PROMETHEUS_PORT}{path}', timeout=5))))")
    reply = lab.netns.python(code)
    assert reply["status"] == "success", reply
    return reply["data"]


def _eventually(probe: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus never showed {what} within {timeout} s")
        time.sleep(1)


def test_prometheus_scrapes_the_twin_and_the_shipped_rule_fires(lab_factory, tmp_path):
    lab = lab_factory([transmitter(LOBBY, 1),
                       transmitter(TWIN, 13, security="open", profile="hostapd")],
                      registry=REGISTRY)
    lab.start()
    lab.wait_for("metrics_serving")
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "evil-twin-monitor", "honor_labels": True,
                            "static_configs": [{"targets": ["127.0.0.1:18011"]}]}],
    }))
    prometheus = lab.netns.popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lab.wait_for("alert", bssid=TWIN)
        series = _eventually(
            lambda: _query(lab, "/api/v1/query?query=evil_twin_monitor_active_alert")["result"],
            "the active alert series")
        labels = [s["metric"] for s in series]
        assert [(m["rule"], m["bssid"], m["channel"], m["facility"], m["sensor"])
                for m in labels] == [("unknown_bssid", TWIN, "13", "city-hall", "city-hall-01")]

        def firing() -> list[dict[str, Any]]:
            alerts = _query(lab, "/api/v1/alerts")["alerts"]
            return [a for a in alerts
                    if a["labels"]["alertname"] == "EvilTwinUnknownBssid" and a["state"] == "firing"]
        alert = _eventually(firing, "EvilTwinUnknownBssid firing")[0]
        assert alert["labels"]["severity"] == "critical"   # open twin of a WPA2 network
        assert alert["labels"]["facility"] == "city-hall"
        assert TWIN in alert["annotations"]["open_alerts"]
        # The city's own AP is scraped as a registered AP, heard recently.
        heard = _query(lab, "/api/v1/query?query=time()-evil_twin_monitor_ap_last_heard_timestamp_seconds")
        assert [(r["metric"]["bssid"], float(r["value"][1]) < 60) for r in heard["result"]] == \
            [(LOBBY, True)]
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prometheus.kill()
    assert lab.stop()[0] == 0
