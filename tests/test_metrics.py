"""Prometheus metrics: the contract, bounded cardinality, hostile SSIDs, serving over TLS.

Expositions are read back with prometheus-client's own parser, as a
Prometheus server would read them.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from evil_twin_monitor.decoding import Decoder
from evil_twin_monitor.decoding.text import printable_ssid
from evil_twin_monitor.engine import Alert, Engine
from evil_twin_monitor.metrics import (
    DEFAULT_PORT, MetricsError, MetricsSettings, SensorMetrics, ap_status_of, label_text,
    read_metrics_section, serve,
)
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.registry.yamlsource import Reader, parse_yaml
from evil_twin_monitor.replay import replay_files
from fixtures.make_pcaps import beacon

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = load_registry(ROOT / "fixtures" / "registry.yaml")
DEMO = ROOT / "fixtures" / "pcaps" / "demo_evil_twin.pcap"
FACILITY, SENSOR = "city-hall", "city-hall-01"
NS = 1_000_000_000
T0 = 1_775_034_000 * NS  # 2026-04-01T09:00:00Z
P = "evil_twin_monitor_"

CONTRACT = {  # sample name -> labels besides facility and sensor
    "build_info": {"version", "python"},
    "alerts_total": {"rule", "severity"},
    "active_alerts": {"rule", "severity"},
    "active_alert": {"rule", "severity", "ssid", "bssid", "channel"},
    "active_alert_series_overflow": set(),
    "active_alert_series_dropped_total": set(),
    "ap_last_heard_timestamp_seconds": {"bssid", "label", "ssid"},
    "ap_signal_dbm": {"bssid", "label", "ssid"},
    "ap_channel": {"bssid", "label", "ssid"},
    "ap_frames_total": {"bssid", "label", "ssid"},
    "frames_total": {"kind"},
    "malformed_frames_total": {"reason"},
    "kernel_drops_total": set(),
    "radio_up": set(),
    "radio_channel": set(),
    "radio_frequency_hertz": set(),
    "config_last_reload_successful": set(),
    "config_last_reload_success_timestamp_seconds": set(),
    "dropped_findings_total": set(),
}


def samples(exposition: bytes) -> dict[str, list]:
    """Sample name (without the prefix) -> samples, parsed as Prometheus would."""
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(exposition.decode("utf-8")):
        for sample in family.samples:
            assert sample.name.startswith(P)
            out.setdefault(sample.name[len(P):], []).append(sample)
    return out


def value(exposition: bytes, name: str, **labels: str) -> float:
    found = [s.value for s in samples(exposition).get(name, [])
             if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def make_alert(ssid: bytes | None, bssid: bytes, *, rule: str = "unknown_bssid",
               severity: str = "high", t_s: float = 0, freq: int | None = 2437) -> Alert:
    return Alert(rule=rule, severity=severity, facility=FACILITY, sensor=SENSOR, ssid=ssid,
                 bssid=bssid, frequency_mhz=freq, message="m", evidence={},
                 time_ns=T0 + int(t_s * NS), first_frame=1,
                 key=(rule, FACILITY, ssid, bssid))


def metrics(max_alert_series: int = 100) -> SensorMetrics:
    return SensorMetrics(REGISTRY, FACILITY, SENSOR,
                         MetricsSettings(max_alert_series=max_alert_series), now=1_800_000_000.0)


class BeaconFactory:
    """Radiotap beacons of one SSID from any BSSID: built once with the fixture
    builder, then only the two address fields change (fast enough for a flood)."""

    def __init__(self, ssid: bytes | str, channel: int = 6, security=("wpa2-psk",)) -> None:
        self.template = bytearray(bytes(beacon("02:00:00:00:00:01", ssid, channel,
                                                security=security, tsf=86_400_000_000, seq=7)))
        self.header = self.template[2] | self.template[3] << 8

    def __call__(self, bssid: bytes) -> bytes:
        at = self.header + 10  # 802.11 header: frame control, duration, addr1, addr2, addr3
        self.template[at:at + 6] = bssid
        self.template[at + 6:at + 12] = bssid
        return bytes(self.template)


# -- the contract, on the demo capture ----------------------------------------------

class SnapshotEngine(Engine):
    """Takes the exposition a scrape would return right after the last frame."""

    def __init__(self, sink: SensorMetrics, decoder: Decoder, **kwargs) -> None:
        super().__init__(REGISTRY, facility=FACILITY, sensor=SENSOR, sinks=[sink], **kwargs)
        self.metrics, self.decoder, self.snapshot = sink, decoder, b""

    def finish(self) -> None:
        self.metrics.update_health(self.decoder.frames, self.decoder.malformed, 0, True, 2462,
                                   self.dropped_findings)
        self.metrics.update_aps(ap_status_of(self))
        self.snapshot = self.metrics.exposition()
        super().finish()


def test_demo_replay_exposes_every_contract_metric_with_its_labels():
    decoder = Decoder()
    assert decoder.decode(b"\x00\x00\x40\x00 cut short", 127, T0, 0) is None  # one malformed frame
    sink = metrics()
    engine = SnapshotEngine(sink, decoder)
    replay_files([str(DEMO)], engine, decoder)
    found = samples(engine.snapshot)
    assert set(found) == set(CONTRACT)
    for name, extra in CONTRACT.items():
        for sample in found[name]:
            assert set(sample.labels) == {"facility", "sensor"} | extra, name
            assert (sample.labels["facility"], sample.labels["sensor"]) == (FACILITY, SENSOR)


def test_demo_replay_shows_each_expected_alert_while_open():
    decoder = Decoder()
    engine = SnapshotEngine(metrics(), decoder)
    replay_files([str(DEMO)], engine, decoder)
    expected = json.loads(DEMO.with_suffix(".expected.json").read_text())["alerts"]
    shown = {(s.labels["rule"], s.labels["severity"], s.labels["ssid"], s.labels["bssid"])
             for s in samples(engine.snapshot)["active_alert"] if s.value == 1}
    assert shown == {(a["rule"], a["severity"], a["ssid"], a["bssid"]) for a in expected}
    for a in expected:
        labels = {"rule": a["rule"], "severity": a["severity"]}
        assert value(engine.snapshot, "alerts_total", **labels) == 1
        assert value(engine.snapshot, "active_alerts", **labels) == 1
    assert value(engine.snapshot, "active_alerts", rule="ap_missing", severity="medium") == 0
    assert value(engine.snapshot, "radio_channel") == 11
    assert value(engine.snapshot, "radio_frequency_hertz") == 2_462_000_000


def test_demo_replay_reports_registered_aps_of_the_facility_only():
    decoder = Decoder()
    engine = SnapshotEngine(metrics(), decoder)
    replay_files([str(DEMO)], engine, decoder)
    snap = engine.snapshot
    lobby = {"bssid": "00:1a:2b:3c:4d:50", "label": "3F lobby", "ssid": "Shinjuku_Free_Wi-Fi"}
    assert value(snap, "ap_frames_total", **lobby) > 100
    assert value(snap, "ap_channel", **lobby) in (1, 6, 11)
    assert -100 < value(snap, "ap_signal_dbm", **lobby) < 0
    assert T0 / NS < value(snap, "ap_last_heard_timestamp_seconds", **lobby) < T0 / NS + 60
    frames = {s.labels["bssid"]: s.value for s in samples(snap)["ap_frames_total"]}
    # every entry of city-hall, heard or not; nothing else (the twin, the library)
    assert set(frames) == {ap.bssid_text for ap in REGISTRY.access_points(FACILITY)}


def test_closing_at_the_end_of_the_replay_removes_the_series_and_keeps_the_counts():
    decoder = Decoder()
    sink = metrics()
    engine = SnapshotEngine(sink, decoder)
    replay_files([str(DEMO)], engine, decoder)
    after = sink.exposition()
    assert "active_alert" not in samples(after)
    assert {s.value for s in samples(after)["active_alerts"]} == {0}
    assert value(after, "alerts_total", rule="unknown_bssid", severity="critical") == 1


# -- cardinality: a flood of random BSSIDs ----------------------------------------------

FLOOD = 100_000
EXPOSITION_BOUND = 64 * 1024  # measured: 32.6 KB after the flood, 40.4 KB with worst-case SSIDs


def test_a_flood_of_100000_bssids_keeps_alert_series_and_size_bounded():
    """100,000 BSSIDs advertise the city SSID through a real engine (default
    caps: 10,000 open alerts). The real twin, heard first, keeps its series."""
    decoder = Decoder()
    sink = metrics()
    engine = Engine(REGISTRY, facility=FACILITY, sensor=SENSOR, sinks=[sink])
    twin = BeaconFactory("Shinjuku_Free_Wi-Fi", channel=11, security=("open",))
    flood = BeaconFactory("Shinjuku_Free_Wi-Fi")
    engine.feed(decoder.decode(twin(bytes.fromhex("025e1fa00c99")), 127, T0, 1))
    rng = random.Random(4)
    for number in range(2, FLOOD + 2):
        bssid = b"\x02" + rng.randbytes(5)  # locally administered: never a registered prefix
        frame = decoder.decode(flood(bssid), 127, T0 + number * 1_000_000, number)
        engine.feed(frame)
    sink.update_health(decoder.frames, decoder.malformed, 0, True, 2437, engine.dropped_findings)
    sink.update_aps(ap_status_of(engine))
    text = sink.exposition()
    found = samples(text)
    open_alerts = len(engine.open)
    flooded = sum(1 for a in engine.open.values() if (a.rule, a.severity) == ("unknown_bssid", "high"))
    assert 5_000 < flooded < open_alerts <= 10_000   # the engine keeps room for other rules

    assert len(found["active_alert"]) == 100
    assert value(text, "active_alert_series_overflow") == open_alerts - 100
    assert value(text, "active_alert_series_dropped_total") == open_alerts - 100
    assert value(text, "active_alerts", rule="unknown_bssid", severity="high") == flooded
    assert value(text, "dropped_findings_total") == engine.dropped_findings > 0
    assert value(text, "active_alert", bssid="02:5e:1f:a0:0c:99") == 1
    assert sum(len(v) for v in found.values()) < 400
    assert len(text) < EXPOSITION_BOUND, len(text)


def test_worst_case_labels_stay_under_the_stated_size():
    """100 series whose SSIDs need the most escaping, plus 10,000 waiting alerts."""
    sink = metrics()
    for i in range(10_100):
        ssid = b"\\" * 30 + i.to_bytes(2, "big")   # backslashes double twice; \\xNN for the rest
        sink.opened(make_alert(ssid, bytes.fromhex("02") + i.to_bytes(5, "big"), severity="critical"))
    text = sink.exposition()
    assert len(samples(text)["active_alert"]) == 100
    assert len(text) < EXPOSITION_BOUND, len(text)


# -- hostile SSIDs ----------------------------------------------------------------------

HOSTILE = [
    b"line\nbreak",
    b'quo"te',
    b"back\\slash",
    b"\x1b[31mred\x1b[0m",
    b"\xff\xfe\xfd invalid",
    b'x"} 1\nevil_twin_monitor_radio_up 1\n#',
    "新宿 Free".encode(),
    b"\xe2\x80\xae\xe2\x80\x8b",   # RTL override, zero-width space
    b"",
    b"\x00" * 32,
    b"\x00" * 31 + b"\x01",         # differs from the one above only past the cut
    b"\\" * 32,
]


def test_hostile_ssids_give_one_parseable_series_each():
    sink = metrics()
    alerts = [make_alert(ssid, bytes([2, 0, 0, 0, 0, i])) for i, ssid in enumerate(HOSTILE)]
    for alert in alerts:
        sink.opened(alert)
    text = sink.exposition()
    found = samples(text)
    series = found["active_alert"]
    assert len(series) == len(HOSTILE)
    by_bssid = {s.labels["bssid"]: s.labels["ssid"] for s in series}
    for alert in alerts:
        label = by_bssid[alert.bssid.hex(":")]
        assert label == label_text(printable_ssid(alert.ssid))
        assert len(label) <= 64 and label.isprintable()
    assert len(set(by_bssid.values())) == len(HOSTILE)
    assert "radio_up" not in found              # the injected line stayed inside its label
    assert text.count(b"\n") == len(text.decode().splitlines())  # no other line breaks


def test_a_long_label_is_cut_at_an_escape_and_stays_unique():
    long = printable_ssid(b"\x00" * 32)          # 128 characters of \x00
    cut = label_text(long)
    assert len(cut) <= 64 and cut.startswith("\\x00") and "…" in cut
    assert cut.split("…")[0].endswith("\\x00")  # never half an escape
    assert label_text(printable_ssid(b"\x00" * 31 + b"\x01")) != cut
    assert label_text("Shinjuku_Free_Wi-Fi") == "Shinjuku_Free_Wi-Fi"


# -- the lifecycle of alert series ----------------------------------------------------------

def active(sink: SensorMetrics) -> list[str]:
    return sorted(s.labels["bssid"][-2:] for s in samples(sink.exposition()).get("active_alert", []))


def test_a_closed_alert_frees_its_series_for_the_most_severe_waiting_alert():
    sink = metrics(max_alert_series=2)
    a = make_alert(b"A", bytes.fromhex("0200000000a1"), severity="low", t_s=1)
    b = make_alert(b"B", bytes.fromhex("0200000000b1"), severity="low", t_s=2)
    c = make_alert(b"C", bytes.fromhex("0200000000c1"), severity="medium", t_s=3)
    d = make_alert(b"D", bytes.fromhex("0200000000d1"), severity="critical", t_s=4)
    for alert in (a, b, c, d):
        sink.opened(alert)
    assert active(sink) == ["a1", "b1"]          # a series is kept while its alert is open
    text = sink.exposition()
    assert value(text, "active_alert_series_overflow") == 2
    assert value(text, "active_alert_series_dropped_total") == 2
    sink.closed(a)
    assert active(sink) == ["b1", "d1"]          # critical before the older medium
    sink.closed(c)                              # a waiting alert closes: nothing to show
    sink.closed(b)
    assert active(sink) == ["d1"]
    text = sink.exposition()
    assert value(text, "active_alert_series_overflow") == 0
    assert value(text, "active_alert_series_dropped_total") == 2
    assert value(text, "active_alerts", rule="unknown_bssid", severity="critical") == 1
    assert value(text, "alerts_total", rule="unknown_bssid", severity="low") == 2


def test_an_alert_closed_by_the_hold_down_leaves_the_exposition():
    decoder = Decoder()
    sink = metrics()
    engine = Engine(REGISTRY, facility=FACILITY, sensor=SENSOR, sinks=[sink], hold_down_s=60)
    twin = BeaconFactory("Shinjuku_Free_Wi-Fi", channel=11, security=("open",))
    engine.feed(decoder.decode(twin(bytes.fromhex("025e1fa00c99")), 127, T0, 1))
    assert active(sink) == ["99"]
    engine.advance(T0 + 61 * NS)
    assert active(sink) == []
    assert value(sink.exposition(), "alerts_total", rule="unknown_bssid", severity="critical") == 1


def test_lowering_max_alert_series_keeps_the_most_severe():
    sink = metrics(max_alert_series=3)
    for i, severity in enumerate(("low", "critical", "medium")):
        sink.opened(make_alert(b"S", bytes([2, 0, 0, 0, 0, i]), severity=severity, t_s=i))
    sink.set_max_alert_series(1)
    assert active(sink) == ["01"]
    sink.set_max_alert_series(3)
    assert active(sink) == ["00", "01", "02"]


def test_zero_alert_series_still_counts_alerts():
    sink = metrics(max_alert_series=0)
    sink.opened(make_alert(b"S", bytes.fromhex("020000000001")))
    text = sink.exposition()
    assert "active_alert" not in samples(text)
    assert value(text, "active_alert_series_overflow") == 1
    assert value(text, "active_alerts", rule="unknown_bssid", severity="high") == 1


# -- health, APs, reload ----------------------------------------------------------------------

def test_radio_metrics_follow_the_radio():
    sink = metrics()
    sink.update_health({"beacon": 5}, {"bad_fcs": 2}, 7, True, 5180, 0)
    text = sink.exposition()
    assert value(text, "radio_up") == 1
    assert value(text, "radio_channel") == 36
    assert value(text, "radio_frequency_hertz") == 5_180_000_000
    assert value(text, "kernel_drops_total") == 7
    assert value(text, "frames_total", kind="beacon") == 5
    assert value(text, "malformed_frames_total", reason="bad_fcs") == 2
    sink.update_health({"beacon": 9}, {}, 7, False, None, 0)
    found = samples(sink.exposition())
    assert found["radio_up"][0].value == 0
    assert "radio_channel" not in found and "radio_frequency_hertz" not in found


def test_replay_without_radio_leaves_radio_metrics_out():
    sink = metrics()
    sink.update_health({"beacon": 1}, {}, None, None, None, 3)
    found = samples(sink.exposition())
    assert not {"radio_up", "radio_channel", "kernel_drops_total"} & set(found)
    assert found["dropped_findings_total"][0].value == 3


def test_ap_metrics_are_one_series_per_registry_entry():
    sink = metrics()
    sink.update_aps([
        (bytes.fromhex("001a2b3c4e01"), T0 + 5 * NS, -61, 5180, 10),  # inside city-hall's /44
        (bytes.fromhex("001a2b3c4e02"), T0 + 9 * NS, -70, 5200, 4),
        (bytes.fromhex("001a2b3c5d10"), T0 + 9 * NS, -50, 2412, 99),  # the library's AP
    ])
    text = sink.exposition()
    multi = {"bssid": "00:1a:2b:3c:4e:00/44", "label": "2F council hall (multi-BSSID)"}
    assert value(text, "ap_frames_total", **multi) == 14
    assert value(text, "ap_channel", **multi) == 40               # from the newest frame
    assert value(text, "ap_signal_dbm", **multi) == -70
    assert value(text, "ap_last_heard_timestamp_seconds", **multi) == T0 / NS + 9
    unheard = {"bssid": "00:1a:2b:3c:4d:50"}
    assert value(text, "ap_frames_total", **unheard) == 0
    found = samples(text)
    assert all(s.labels["bssid"] != "00:1a:2b:3c:4d:50" for s in found["ap_last_heard_timestamp_seconds"])
    assert all(s.labels["bssid"] != "00:1a:2b:3c:5d:10" for s in found["ap_frames_total"])
    sink.update_aps(None)  # ap_missing disabled
    assert "ap_frames_total" not in samples(sink.exposition())


def test_reload_outcome_and_time():
    sink = metrics()
    text = sink.exposition()
    assert value(text, "config_last_reload_successful") == 1
    assert value(text, "config_last_reload_success_timestamp_seconds") == 1_800_000_000
    sink.reload(False, now=1_800_000_100.0)
    text = sink.exposition()
    assert value(text, "config_last_reload_successful") == 0
    assert value(text, "config_last_reload_success_timestamp_seconds") == 1_800_000_000
    sink.reload(True, REGISTRY, now=1_800_000_200.0)
    text = sink.exposition()
    assert value(text, "config_last_reload_successful") == 1
    assert value(text, "config_last_reload_success_timestamp_seconds") == 1_800_000_200


def test_a_new_facility_starts_its_own_counters():
    sink = metrics()
    sink.opened(make_alert(b"S", bytes.fromhex("020000000001")))
    sink.reload(True, REGISTRY, facility="central-library", sensor="library-01")
    text = sink.exposition()
    assert value(text, "alerts_total", facility="central-library", rule="unknown_bssid",
                 severity="high") == 0
    assert value(text, "build_info", sensor="library-01") == 1


def test_every_rule_and_severity_is_exported_from_the_start():
    from evil_twin_monitor.rules import ALL_RULES
    found = samples(metrics().exposition())
    pairs = {(s.labels["rule"], s.labels["severity"]) for s in found["alerts_total"]}
    assert {rule.id for rule in ALL_RULES} == {rule for rule, _ in pairs}
    assert len(pairs) == len(ALL_RULES) * 5


# -- writing a file ------------------------------------------------------------------------

def test_write_file_is_atomic_and_parseable(tmp_path):
    sink = metrics()
    sink.opened(make_alert(b"S", bytes.fromhex("020000000001")))
    target = tmp_path / "metrics.prom"
    target.write_text("old")
    sink.write_file(target)
    assert value(target.read_bytes(), "active_alert", bssid="02:00:00:00:00:01") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.prom"]


def test_write_file_failure_is_one_line(tmp_path):
    with pytest.raises(MetricsError) as caught:
        metrics().write_file(tmp_path / "missing" / "metrics.prom")
    assert "\n" not in str(caught.value) and "missing/metrics.prom" in str(caught.value)


# -- configuration ------------------------------------------------------------------------

def read_section(tmp_path: Path, text: str) -> tuple[MetricsSettings | None, list[str]]:
    file = tmp_path / "sensor.yaml"
    file.write_text(text)
    root, problems = parse_yaml(text, str(file))
    assert not problems
    reader = Reader(str(file))
    settings = read_metrics_section(reader, root.value["metrics"], "metrics")
    return settings, [str(p).removeprefix(f"{file}:") for p in reader.problems]


def test_section_defaults(tmp_path):
    settings, problems = read_section(tmp_path, "metrics: {}\n")
    assert problems == []
    assert settings == MetricsSettings()
    assert (settings.enabled, settings.listen_address, settings.port, settings.max_alert_series) \
        == (True, "0.0.0.0", DEFAULT_PORT, 100)
    assert settings.url == f"http://127.0.0.1:{DEFAULT_PORT}/metrics"


def test_section_errors_name_line_and_field(tmp_path):
    _, problems = read_section(tmp_path, (
        "metrics:\n"
        "  listen_address: sensor.local\n"
        "  port: 70000\n"
        "  max_alert_series: -1\n"
        "  tls: yes\n"))
    assert problems == [
        "5: metrics.tls: unknown key 'tls'; valid keys: enabled, listen_address, port, "
        "max_alert_series, tls_certfile, tls_keyfile, tls_client_cafile",
        "2: metrics.listen_address: 'sensor.local' is not an IP address; use 0.0.0.0 (every "
        "IPv4 address), :: (IPv6 and IPv4), or one address of this host such as 127.0.0.1",
        "3: metrics.port: 70000 is out of range; valid: 1-65535",
        "4: metrics.max_alert_series: -1 is out of range; valid: 0-10000",
    ]


def test_section_tls_files_are_relative_to_the_config_and_checked(tmp_path, pki):
    (tmp_path / "tls").mkdir()
    for name in ("server.pem", "server.key", "ca.pem"):
        (tmp_path / "tls" / name).write_bytes((pki / name).read_bytes())
    settings, problems = read_section(tmp_path, (
        "metrics:\n  tls_certfile: tls/server.pem\n  tls_keyfile: tls/server.key\n"
        "  tls_client_cafile: tls/ca.pem\n"))
    assert problems == []
    assert settings.tls_certfile == str(tmp_path / "tls" / "server.pem")
    assert settings.client_auth and settings.url.startswith("https://")

    _, problems = read_section(tmp_path, "metrics:\n  tls_certfile: tls/server.pem\n")
    assert problems == ["2: metrics.tls_keyfile: missing; tls_certfile and tls_keyfile go "
                        "together (both for HTTPS, neither for plain HTTP)"]
    _, problems = read_section(tmp_path, (
        "metrics:\n  tls_certfile: tls/server.pem\n  tls_keyfile: tls/nothing.key\n"))
    assert problems == [f"3: metrics.tls_keyfile: {tmp_path}/tls/nothing.key: "
                        "no such file or directory"]
    (tmp_path / "tls" / "other.key").write_bytes((pki / "client.key").read_bytes())
    _, problems = read_section(tmp_path, (
        "metrics:\n  tls_certfile: tls/server.pem\n  tls_keyfile: tls/other.key\n"))
    assert problems == [f"2: metrics.tls_certfile: {tmp_path}/tls/server.pem with tls_keyfile "
                        f"{tmp_path}/tls/other.key: the key does not belong to the certificate"]


# -- serving ------------------------------------------------------------------------------

def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A test CA, a server certificate for 127.0.0.1 and two client
    certificates: one from the CA, one self-signed (a stranger)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=evil-twin-monitor test CA", cwd=d)
    for name, usage, extra in (("server", "serverAuth", "subjectAltName=IP:127.0.0.1\n"),
                               ("client", "clientAuth", "")):
        (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                                       f"extendedKeyUsage={usage}\n{extra}"
                                       "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", "1" if name == "server" else "2", "-days", "2",
                "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2",
            "-subj", "/CN=stranger", cwd=d)
    return d


@pytest.fixture
def running():
    servers = []

    def start(settings: MetricsSettings, sink: SensorMetrics | None = None):
        server = serve(sink or metrics(), settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()


def local(**kwargs) -> MetricsSettings:
    return MetricsSettings(listen_address="127.0.0.1", port=0, **kwargs)


def scrape(url: str, context: ssl.SSLContext | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        assert response.status == 200
        return response.read()


def client_context(pki: Path, cert: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert is not None:
        context.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    return context


def tls(pki: Path, client_ca: bool = False) -> MetricsSettings:
    return local(tls_certfile=str(pki / "server.pem"), tls_keyfile=str(pki / "server.key"),
                 tls_client_cafile=str(pki / "ca.pem") if client_ca else None)


def test_plain_http_scrape(running):
    sink = metrics()
    sink.opened(make_alert(b"S", bytes.fromhex("020000000001")))
    server = running(local(), sink)
    body = scrape(server.url)
    assert value(body, "active_alert", bssid="02:00:00:00:00:01") == 1


def test_openmetrics_as_prometheus_negotiates_it(running):
    """Prometheus asks for OpenMetrics first; that format must parse as well."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
    sink = metrics()
    sink.opened(make_alert(HOSTILE[5], bytes.fromhex("020000000001")))
    server = running(local(), sink)
    request = urllib.request.Request(server.url, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        body = response.read().decode()
    families = {f.name: f for f in parse_om(body)}
    (alert,) = families[P + "active_alert"].samples
    assert alert.labels["ssid"] == printable_ssid(HOSTILE[5])
    assert P + "radio_up" not in families


def test_a_port_in_use_is_a_one_line_transient_error(running):
    server = running(local())
    with pytest.raises(MetricsError) as caught:
        serve(metrics(), MetricsSettings(listen_address="127.0.0.1", port=server.port))
    message = str(caught.value)
    assert "\n" not in message and "in use" in message and f"127.0.0.1:{server.port}" in message
    assert caught.value.permanent is False


def test_shutdown_frees_the_port(running):
    server = running(local())
    port = server.port
    server.shutdown()
    again = running(MetricsSettings(listen_address="127.0.0.1", port=port))
    assert scrape(again.url)


def test_https_scrape_with_the_servers_ca(running, pki):
    server = running(tls(pki))
    assert server.url.startswith("https://127.0.0.1:")
    assert "build_info" in samples(scrape(server.url, client_context(pki)))
    with pytest.raises((urllib.error.URLError, ssl.SSLError)):
        scrape(server.url, ssl.create_default_context())  # an unknown CA: not trusted


def test_client_certificate_required_when_a_client_ca_is_set(running, pki):
    server = running(tls(pki, client_ca=True))
    assert "build_info" in samples(scrape(server.url, client_context(pki, "client")))
    refused = (urllib.error.URLError, ssl.SSLError, ConnectionError, http.client.HTTPException)
    with pytest.raises(refused):
        scrape(server.url, client_context(pki))
    with pytest.raises(refused):
        scrape(server.url, client_context(pki, "stranger"))
    assert server.client_errors >= 2
    assert scrape(server.url, client_context(pki, "client"))  # still serving


def test_a_silent_client_does_not_stop_https_scrapes(running, pki):
    server = running(tls(pki))
    with socket.create_connection(("127.0.0.1", server.port)) as silent:
        silent.settimeout(5)
        assert "build_info" in samples(scrape(server.url, client_context(pki)))


def test_a_bad_certificate_is_a_one_line_permanent_error(pki, tmp_path):
    with pytest.raises(MetricsError) as caught:
        serve(metrics(), local(tls_certfile=str(pki / "server.pem"),
                               tls_keyfile=str(pki / "client.key")))
    assert "does not belong" in str(caught.value) and caught.value.permanent
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(MetricsError) as caught:
        serve(metrics(), local(tls_certfile=str(garbage), tls_keyfile=str(pki / "server.key")))
    assert "\n" not in str(caught.value) and str(garbage) in str(caught.value)


def test_an_address_not_on_this_host_is_a_one_line_error():
    with pytest.raises(MetricsError) as caught:
        serve(metrics(), MetricsSettings(listen_address="192.0.2.1", port=0))
    assert "\n" not in str(caught.value) and "192.0.2.1" in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="optional: root may bind any port")
def test_a_privileged_port_is_a_permanent_error():
    with pytest.raises(MetricsError) as caught:
        serve(metrics(), MetricsSettings(listen_address="127.0.0.1", port=80))
    assert caught.value.permanent and "1024" in str(caught.value)


def test_alert_store_health_is_exported_while_a_store_is_configured():
    m = metrics()
    assert "store_ok" not in samples(m.exposition())   # no store: no series
    m.update_store({"ok": False, "written": 7, "writes_failed": 3, "queue_dropped": 1,
                    "pending_dropped": 2, "rejected": 0, "pending": 4, "queued": 1})
    exposition = m.exposition()
    assert value(exposition, "store_ok") == 0
    assert value(exposition, "store_rows_written_total") == 7
    assert value(exposition, "store_write_failures_total") == 3
    assert value(exposition, "store_dropped_total") == 3
    assert value(exposition, "store_pending") == 5
