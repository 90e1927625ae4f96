"""The command line as a user meets it: exit status, one-line errors, clean stdout."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from evil_twin_monitor.cli import main

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
DEMO = ROOT / "fixtures" / "pcaps" / "demo_evil_twin.pcap"


def pcap_header(linktype: int) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_prints_only_alert_objects_and_summary_goes_to_stderr(capsys, tmp_path):
    stats = tmp_path / "stats.json"
    code, out, err = run(capsys, "replay", str(DEMO), "--registry", str(REGISTRY),
                         "--format", "jsonl", "--facility", "city-hall", "--sensor", "demo",
                         "--stats-json", str(stats))
    assert code == 0
    alerts = [json.loads(line) for line in out.splitlines()]
    assert alerts, "the demo capture must raise alerts"
    for alert in alerts:
        assert set(alert) == {"time", "rule", "severity", "facility", "sensor", "ssid", "bssid",
                              "channel", "frequency_mhz", "message", "evidence"}
        assert alert["facility"] == "city-hall" and alert["sensor"] == "demo"
    assert "replayed" in err and "alerts by rule" in err
    summary = json.loads(stats.read_text())
    assert summary["alerts"] == len(alerts)
    assert summary["frames"] == sum(summary["frames_by_type"].values()) + sum(
        summary["malformed"].values())


def test_replay_without_alerts_exits_zero(capsys, tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(pcap_header(127))
    code, out, err = run(capsys, "replay", str(empty), "--registry", str(REGISTRY), "--format", "jsonl")
    assert (code, out) == (0, "")


@pytest.mark.parametrize("content, problem", [
    (pcap_header(1), "link type 1 (EN10MB, Ethernet) is not 802.11"),
    (b"hello, this is not a capture file", "not a pcap or pcapng file"),
    (b"", "empty"),
])
def test_unusable_capture_is_one_line_naming_file_and_problem(capsys, tmp_path, content, problem):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    code, out, err = run(capsys, "replay", str(bad), "--registry", str(REGISTRY))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("evil-twin-monitor: error: ") and str(bad) in err and problem in err


def test_a_bad_file_among_good_ones_fails_before_any_alert_is_printed(capsys, tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(pcap_header(1))
    code, out, err = run(capsys, "replay", str(DEMO), str(bad), "--registry", str(REGISTRY),
                         "--format", "jsonl")
    assert code == 2 and out == ""


def test_missing_capture_file(capsys, tmp_path):
    code, out, err = run(capsys, "replay", str(tmp_path / "nope.pcap"), "--registry", str(REGISTRY))
    assert code == 2 and "nope.pcap" in err and len(err.strip().splitlines()) == 1


def test_registry_is_required(capsys):
    code, out, err = run(capsys, "replay", str(DEMO))
    assert code == 2 and "--registry" in err


def test_unknown_facility_is_named(capsys):
    code, out, err = run(capsys, "replay", str(DEMO), "--registry", str(REGISTRY), "--facility", "city-hal")
    assert code == 2
    assert err.strip() == ("evil-twin-monitor: error: --facility city-hal: no such facility in the "
                           "registry (known: city-hall, central-library)")


def test_broken_registry_reports_file_and_line(capsys, tmp_path):
    reg = tmp_path / "reg.yaml"
    reg.write_text("facilities:\n  - id: city-hall\n    nme: x\n")
    code, out, err = run(capsys, "check-config", "--registry", str(reg))
    assert code == 2
    assert f"{reg}:3:" in err and "nme" in err


def test_check_config_summarises_the_example_configuration(capsys):
    code, out, err = run(capsys, "check-config", "--config", str(ROOT / "config" / "sensor.example.yaml"))
    assert code == 0
    assert "city-hall" in out and "Shinjuku_Free_Wi-Fi" in out


def test_python_dash_m_and_console_script_agree():
    result = subprocess.run([sys.executable, "-m", "evil_twin_monitor", "check-config",
                             "--registry", str(REGISTRY)], capture_output=True, text=True)
    assert result.returncode == 0 and "city-hall" in result.stdout


def test_run_without_a_radio_section_is_one_line_with_status_2(capsys, tmp_path):
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n")
    code, out, err = run(capsys, "run", "--config", str(config))
    assert code == 2
    assert err == f"{config}: radio: `run` needs a radio: section naming the interface " \
                  "(see config/sensor.example.yaml)\n"


def test_run_with_a_broken_configuration_names_file_line_and_field(capsys, tmp_path):
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      "radio: {interface: wlan1, driver: nl80211x}\n")
    code, out, err = run(capsys, "run", "--config", str(config))
    assert code == 2
    assert err.startswith(f"{config}:3: radio.driver: ")
    assert "nl80211" in err and "simulated" in err


def test_replay_writes_the_metrics_a_scrape_would_show_after_the_last_frame(capsys, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    exposition = tmp_path / "metrics.prom"
    code, out, err = run(capsys, "replay", str(DEMO), "--registry", str(REGISTRY),
                         "--facility", "city-hall", "--sensor", "demo", "--quiet",
                         "--metrics-file", str(exposition))
    assert code == 0
    families = {f.name: f for f in text_string_to_metric_families(exposition.read_text())}
    active = families["evil_twin_monitor_active_alert"].samples
    assert {s.labels["rule"] for s in active} == {"unknown_bssid", "lookalike_ssid", "deauth_flood"}
    assert all(s.labels["facility"] == "city-hall" and s.labels["sensor"] == "demo" for s in active)
    opened = {s.labels["rule"]: s.value for s in families["evil_twin_monitor_alerts"].samples
              if s.name == "evil_twin_monitor_alerts_total" and s.value}
    assert opened == {"unknown_bssid": 1, "lookalike_ssid": 1, "deauth_flood": 1}


def test_unwritable_metrics_file_is_one_line_after_the_alerts(capsys, tmp_path):
    code, out, err = run(capsys, "replay", str(DEMO), "--registry", str(REGISTRY), "--quiet",
                         "--metrics-file", str(tmp_path / "missing" / "metrics.prom"))
    assert code == 2
    assert out  # the alerts were printed
    assert err.startswith("evil-twin-monitor: error: ") and err.count("\n") == 1
