"""Every fixture capture raises exactly its expected alerts, through `replay`.

The fixtures and their ``*.expected.json`` are written by
``fixtures/make_pcaps.py``; this test replays them with the same engine and
sinks the command line uses and compares the exact multiset of
(rule, bssid, ssid, severity). Benign fixtures expect nothing at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = sorted((ROOT / "fixtures" / "pcaps").glob("*.expected.json"))
FIELDS = ("rule", "bssid", "ssid", "severity")


class Collect:
    def __init__(self) -> None:
        self.alerts: list[dict] = []

    def opened(self, alert) -> None:
        pass

    def closed(self, alert) -> None:
        self.alerts.append(alert.to_dict())


def replay_fixture(expected_path: Path) -> tuple[dict, list[dict], object]:
    spec = json.loads(expected_path.read_text())
    sink = Collect()
    engine = Engine(load_registry(ROOT / spec["registry"]), facility=spec.get("facility"),
                    sensor="test", sinks=[sink])
    pcap = expected_path.with_name(expected_path.name.replace(".expected.json", ".pcap"))
    stats = replay_files([str(pcap)], engine)
    return spec, sink.alerts, stats


def key(alert: dict) -> tuple:
    return tuple(alert[f] for f in FIELDS)


def test_there_is_a_fixture_for_every_rule_and_the_benign_cases():
    from evil_twin_monitor.rules import RULES_BY_ID
    rules = {a["rule"] for p in EXPECTED for a in json.loads(p.read_text())["alerts"]}
    assert rules == set(RULES_BY_ID)
    names = {p.name.split(".")[0] for p in EXPECTED}
    assert {"benign_steady", "benign_dfs_move", "benign_transition", "benign_multi_bssid",
            "benign_fcs", "benign_probe_resp_fewer_elements", "benign_neighbours",
            "benign_ap_reboot", "benign_adaptive_power", "benign_duplicated_frames",
            "benign_sensor_drift", "benign_transition_split", "benign_hidden_ssid"} <= names


CAPTURE_START_NS = 1_775_034_000 * 10**9   # fixtures/make_pcaps.py EPOCH_US
TIMED = [(path, spec) for path in EXPECTED for spec in json.loads(path.read_text())["alerts"]
         if "detect_within_s" in spec]


def test_every_clone_fixture_has_a_detection_target():
    clones = {path.name.split(".")[0] for path, spec in TIMED if spec["rule"] == "cloned_bssid"}
    assert {"clone_naive", "clone_seamless_takeover", "clone_takeover_fresh_tsf"} <= clones


@pytest.mark.parametrize("expected_path, spec", TIMED,
                         ids=[f"{p.name.split('.')[0]}-{s['rule']}" for p, s in TIMED])
def test_detection_time(expected_path, spec, record_property):
    """The alert opens within the fixture's target after the attack starts.
    The measured time is printed in the session summary ("detection times")."""
    collected: list = []

    class Opened:
        def opened(self, alert) -> None:
            collected.append(alert)

        def closed(self, alert) -> None:
            pass

    engine = Engine(load_registry(ROOT / "fixtures" / "registry.yaml"), facility="city-hall",
                    sensor="test", sinks=[Opened()])
    pcap = expected_path.with_name(expected_path.name.replace(".expected.json", ".pcap"))
    replay_files([str(pcap)], engine)
    opened = [a for a in collected if a.rule == spec["rule"] and a.bssid.hex(":") == spec["bssid"]]
    assert opened, f"{spec['rule']} for {spec['bssid']} never opened"
    seconds = (opened[0].time_ns - CAPTURE_START_NS) / 1e9 - spec["attack_start_s"]
    record_property("detection_time",
                    f"{pcap.stem}: {spec['rule']} after {seconds:.1f} s "
                    f"(target {spec['detect_within_s']} s; signals: "
                    f"{', '.join(opened[0].evidence.get('signals', ()))})")
    assert 0 <= seconds <= spec["detect_within_s"]


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_fixture_raises_exactly_its_expected_alerts(expected_path):
    spec, alerts, _ = replay_fixture(expected_path)
    # key=repr: a rule may raise alerts with and without a BSSID (None does not sort with str).
    assert sorted(map(key, alerts), key=repr) == sorted(map(key, spec["alerts"]), key=repr)
    for alert in alerts:
        assert alert["message"].endswith(".") and "\n" not in alert["message"]
        assert alert["facility"] == spec.get("facility") and alert["sensor"] == "test"
        assert alert["channel"] is not None and alert["frequency_mhz"] is not None


def test_frames_with_fcs_decode_like_frames_without_and_bad_fcs_is_counted():
    _, alerts, stats = replay_fixture(ROOT / "fixtures" / "pcaps" / "benign_fcs.expected.json")
    assert alerts == []
    assert stats.malformed.get("bad_fcs") == 1
    assert stats.frames_by_type["beacon"] > 100


@pytest.mark.parametrize("name", ["pmf_downgrade", "benign_fcs"])
def test_committed_fixtures_are_what_the_script_builds(name, tmp_path):
    """The committed pcaps must be reproducible from fixtures/make_pcaps.py (fixed seed)."""
    from fixtures.make_pcaps import build

    pcap, expected = build(name, tmp_path)
    committed = ROOT / "fixtures" / "pcaps"
    assert pcap.read_bytes() == (committed / pcap.name).read_bytes()
    assert expected.read_text() == (committed / expected.name).read_text()
