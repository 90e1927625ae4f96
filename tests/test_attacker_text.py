"""Attacker-controlled SSIDs, end to end: from frames on the air to every
output a person or a program reads.

Theory of operation
-------------------
The unit tests of each output (test_store, test_metrics, test_registry_approve,
test_survey, test_report) feed it hand-made alerts. Here one capture carries
hostile SSIDs through the real decoder and rules, so the texts the rules
compose themselves (messages quoting SSIDs, KARMA's list of names answered,
the beacon flood's sample names, look-alike evidence) go through each output
too:

- twins (``unknown_bssid``) of registered networks whose SSIDs are hostile
  (newlines, CR, terminal escapes, OSC title, HTML, YAML and JSON syntax,
  invalid UTF-8, a line separator and bidi override, a 32-octet name full of
  escapes); the registry lists them in their printable form;
- look-alikes (``lookalike_ssid``) of the city network with a newline, a
  terminal escape and HTML in the name;
- a KARMA responder answering phones' probes for the hostile names and for
  32 zero octets;
- a beacon flood whose names are hostile too.

Each output is checked for what breaks it: a line per event (no raw line
break, CR, U+2028/U+2029), no raw control or bidi character a terminal would
act on, valid JSON / YAML / Prometheus exposition, and the SSID octets coming
back exactly where a program reads them.
"""

from __future__ import annotations

import io
import json
import struct
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from evil_twin_monitor.cli import main
from evil_twin_monitor.daemon.logs import configure_logging
from evil_twin_monitor.decoding.text import printable_ssid, ssid_from_printable
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.metrics.exporter import label_text
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files
from evil_twin_monitor.simulation import frames as F
from evil_twin_monitor.sinks.log import LogSink

T0 = 1_775_034_000 * 10**9      # 2026-04-01T09:00:00Z
S = 10**9
TU_NS = 102_400_000
FREQ = 2437                     # channel 6
CITY_AP = "00:1a:2b:3c:4d:50"
KARMA = "02:4b:41:52:4d:41"

HOSTILE = [
    b"Free\nWi-Fi 2026-04-01 critical",        # a forged second log line
    b"Free\rWi-Fi\r\n",
    b"\x1b[2J\x1b[31mred",                      # clear screen, colour
    b"\x1b]0;owned\x07bell",                    # OSC: set the terminal title
    b"<script>alert(1)</script>",
    b": - # & * ! | > { } [ ]",
    b'"}, {"rule": "x',
    b"\xff\xfe",                                # not UTF-8
    b"\x1b[2J" + b"A" * 28,                     # 32 octets, the longest SSID
    "新宿\u2028\u202eABC".encode(),              # line separator, RTL override
]
ZEROS = b"\x00" * 32
LOOKALIKES = [b"Shinjuku_Free_Wi-Fi\n", b"Shinjuku\x1b[2J_Free_Wi-Fi", b"<b>Shinjuku_Free_Wi-Fi"]
FLOOD = [b"<i>%03d</i>\n\x1b]0;t\x07" % i for i in range(110)] + [ZEROS] * 10

# What no line may contain raw: line breaks of any kind, the controls a terminal
# acts on, and the invisible formatting characters (bidi overrides).
BREAKING = ("Cc", "Cf", "Zl", "Zp", "Cs")


def clean(text: str) -> None:
    """No character of `BREAKING` except the newline ending each line."""
    bad = {ch for ch in text if ch != "\n" and unicodedata.category(ch) in BREAKING}
    assert not bad, sorted(map(repr, bad))


def quoted(raw: bytes) -> str:
    return "'" + printable_ssid(raw).replace("'", "''") + "'"


def registry_text() -> str:
    lines = ["facilities:", "  - id: city-hall", "    name: City hall", "    networks:",
             "      - ssid: Shinjuku_Free_Wi-Fi", "        security: [wpa2-psk]",
             "        access_points:", f'          - {{bssid: "{CITY_AP}", channels: [6]}}']
    for i, raw in enumerate(HOSTILE):
        lines += [f"      - ssid: {quoted(raw)}   # hostile {i}", "        security: [wpa2-psk]",
                  "        access_points:",
                  f'          - {{bssid: "00:1a:2b:3c:50:{i:02x}", channels: [6]}}']
    return "\n".join(lines) + "\n"


def twin(i: int) -> str:
    return f"02:66:00:00:00:{i:02x}"


def beacons(bssid: str, ssid: bytes, start_ns: int, count: int, **kw) -> list[tuple[int, bytes]]:
    return [(start_ns + n * TU_NS, F.beacon(bssid, ssid, FREQ, seq=n + 1, tsf=(n + 1) * 102_400,
                                            **kw)) for n in range(count)]


def capture() -> bytes:
    packets = beacons(CITY_AP, b"Shinjuku_Free_Wi-Fi", T0, 700)
    for i, raw in enumerate(HOSTILE):
        packets += beacons(twin(i), raw, T0 + 21 * S + i * S // 10, 3)
    for i, raw in enumerate(LOOKALIKES):
        packets += beacons(f"02:77:00:00:00:{i:02x}", raw, T0 + 25 * S + i * S // 10, 3,
                           security="open")
    for i, raw in enumerate(HOSTILE + [ZEROS]):
        client = f"02:cc:00:00:00:{i:02x}"
        t = T0 + 30 * S + i * S // 5
        packets.append((t, F.probe_request(client, raw, FREQ, seq=i)))
        packets.append((t + 2_000_000, F.probe_response(KARMA, raw, FREQ, client, seq=i + 1,
                                                        tsf=30 * S // 1000 + i,
                                                        security="open")))
    for i, raw in enumerate(FLOOD):
        packets.append((T0 + 40 * S + i * 40_000_000,
                        F.beacon(f"02:f1:00:00:00:{i:02x}", raw, FREQ, seq=i + 1, tsf=i + 1,
                                 security="open")))
    packets.sort(key=lambda p: p[0])
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127)]
    for ts_ns, data in packets:
        sec, usec = divmod(ts_ns // 1000, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return b"".join(out)


class Collect:
    """The engine's alerts, as closed (what replay prints)."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []

    def opened(self, alert) -> None:  # noqa: ANN001
        pass

    def closed(self, alert) -> None:  # noqa: ANN001
        self.alerts.append(alert.to_dict())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("hostile")
    (site / "registry.yaml").write_text(registry_text(), encoding="utf-8")
    (site / "hostile.pcap").write_bytes(capture())
    return site


@pytest.fixture(scope="module")
def alerts(site: Path) -> list[dict]:
    collect = Collect()
    engine = Engine(load_registry(site / "registry.yaml"), facility="city-hall", sensor="s1",
                    sinks=[collect])
    replay_files([str(site / "hostile.pcap")], engine)
    return collect.alerts


def replay(site: Path, *extra: str) -> list[str]:
    return ["replay", str(site / "hostile.pcap"), "--registry", str(site / "registry.yaml"),
            "--facility", "city-hall", "--sensor", "s1", "--quiet", *extra]


def test_the_capture_makes_every_rule_quote_hostile_text(alerts):
    """Guards the other tests: each hostile path really is exercised."""
    twins = {a["bssid"]: ssid_from_printable(a["ssid"]) for a in alerts
             if a["rule"] == "unknown_bssid" and a["bssid"].startswith("02:66")}
    assert twins == {twin(i): raw for i, raw in enumerate(HOSTILE)}
    karma_answered = {a["ssid"] for a in alerts
                      if a["rule"] == "unknown_bssid" and a["bssid"] == KARMA}
    assert karma_answered == {printable_ssid(raw) for raw in HOSTILE}
    looks = sorted(ssid_from_printable(a["ssid"]) for a in alerts if a["rule"] == "lookalike_ssid")
    assert looks == sorted(LOOKALIKES)
    [karma] = [a for a in alerts if a["rule"] == "karma"]
    assert set(karma["evidence"]["ssids"]) >= {printable_ssid(raw) for raw in HOSTILE[:5]}
    [flood] = [a for a in alerts if a["rule"] == "beacon_flood"]
    assert flood["evidence"]
    for alert in alerts:  # the alert object itself: printable text only
        clean(json.dumps(alert, ensure_ascii=False))


def test_replay_jsonl_is_one_valid_object_per_alert(site, alerts, capsys):
    assert main(replay(site, "--format", "jsonl")) == 0
    out = capsys.readouterr().out
    clean(out)
    lines = out.splitlines()          # splitlines also splits at U+2028, \x1c, \x85 ...
    assert len(lines) == len(alerts) == out.count("\n")
    assert [json.loads(line) for line in lines] == alerts


def test_replay_text_is_two_lines_per_alert(site, alerts, capsys):
    assert main(replay(site)) == 0
    out = capsys.readouterr().out
    clean(out)
    lines = out.splitlines()
    assert len(lines) == 2 * len(alerts) == out.count("\n")
    assert [line.split()[2] for line in lines[::2]] == [a["rule"] for a in alerts]


@pytest.fixture
def logged(site: Path):
    """Run the capture through the daemon's log sink in the given format."""
    def run(fmt: str) -> str:
        stream = io.StringIO()
        try:
            sink = LogSink(configure_logging("info", fmt, stream))
            engine = Engine(load_registry(site / "registry.yaml"), facility="city-hall",
                            sensor="s1", sinks=[sink])
            replay_files([str(site / "hostile.pcap")], engine)
        finally:
            structlog.reset_defaults()
        return stream.getvalue()
    return run


def test_the_json_log_is_one_valid_event_per_line(logged, alerts):
    out = logged("json")
    clean(out)
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == out.count("\n") == 2 * len(alerts)   # alert + alert_closed
    opened = [e for e in events if e["event"] == "alert"]
    closed = [e for e in events if e["event"] == "alert_closed"]
    assert len(opened) == len(closed) == len(alerts)
    assert sorted((e["rule"], e["bssid"] or "", e["ssid"] or "") for e in opened) == sorted(
        (a["rule"], a["bssid"] or "", a["ssid"] or "") for a in alerts)
    for event in opened:
        if event["ssid"]:
            ssid_from_printable(event["ssid"])   # the printable form, reversible


def test_the_console_log_is_one_line_per_event_without_controls(logged, alerts):
    out = logged("console")
    clean(out)
    lines = out.splitlines()
    assert len(lines) == out.count("\n") == 2 * len(alerts)
    assert sum(" alert " in line for line in lines) == len(alerts)


def test_metric_labels_parse_and_round_trip(site, alerts, tmp_path, capsys):
    metrics = tmp_path / "metrics.prom"
    assert main(replay(site, "--format", "jsonl", "--metrics-file", str(metrics))) == 0
    capsys.readouterr()
    text = metrics.read_text(encoding="utf-8")
    clean(text)
    families = list(text_string_to_metric_families(text))
    labelled = [(s.name, s.labels) for f in families for s in f.samples if "ssid" in s.labels]
    assert labelled, "the exposition carries SSID labels"
    expected = {label_text(a["ssid"]) for a in alerts if a["ssid"]} | {
        label_text(printable_ssid(raw)) for raw in HOSTILE} | {"Shinjuku_Free_Wi-Fi", ""}
    seen = {labels["ssid"] for _, labels in labelled}
    assert seen <= expected
    hostile_labels = {label_text(printable_ssid(raw)) for raw in HOSTILE}
    assert hostile_labels & seen, "at least the registered hostile networks are labelled"
    for label in seen:
        if "…" not in label:              # not cut: the label is the printable SSID itself
            assert printable_ssid(ssid_from_printable(label)) == label


def test_store_listing_and_show_stay_one_line_per_field(site, alerts, tmp_path, capsys):
    store = tmp_path / "alerts.sqlite3"
    assert main(replay(site, "--format", "jsonl", "--store", str(store))) == 0
    capsys.readouterr()
    assert main(["alerts", "--store", str(store), "--limit", "0"]) == 0
    out = capsys.readouterr().out
    clean(out)
    assert len(out.splitlines()) == 1 + len(alerts) == out.count("\n")
    assert main(["alerts", "--store", str(store), "--limit", "0", "--format", "jsonl"]) == 0
    out = capsys.readouterr().out
    clean(out)
    stored = [json.loads(line) for line in out.splitlines()]
    assert len(stored) == len(alerts)
    assert sorted(json.dumps([a["rule"], a["ssid"], a["evidence"].get("ssids")]) for a in stored) \
        == sorted(json.dumps([a["rule"], a["ssid"], a["evidence"].get("ssids")]) for a in alerts)
    for alert in stored:
        assert main(["alerts", "--store", str(store), "show", str(alert["id"])]) == 0
        out = capsys.readouterr().out
        clean(out)
        # title, 12 fields, "evidence:", one line per evidence key
        assert len(out.splitlines()) == 14 + len(alert["evidence"]) == out.count("\n")


def test_approving_every_hostile_twin_writes_yaml_that_loads_back(site, alerts, tmp_path,
                                                                     capsys):
    store = tmp_path / "alerts.sqlite3"
    registry = tmp_path / "registry.yaml"
    registry.write_text(registry_text(), encoding="utf-8")
    assert main(replay(site, "--format", "jsonl", "--store", str(store))) == 0
    capsys.readouterr()
    for i in range(len(HOSTILE)):
        code = main(["registry", "approve", "--bssid", twin(i), "--store", str(store),
                     "--registry", str(registry), "--label", f"twin {i}\n\x1b[2J"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, ""), err
        clean(out)
    loaded = load_registry(registry)
    for i, raw in enumerate(HOSTILE):
        ap = loaded.ap_for_bssid(bytes.fromhex(twin(i).replace(":", "")))
        assert (ap.network.ssid, ap.label) == (raw, f"twin {i}\n\x1b[2J")
    # The running sensor would now accept the approved twins: replaying again,
    # only the KARMA responder and the flood are unknown.
    assert main(["replay", str(site / "hostile.pcap"), "--registry", str(registry),
                 "--facility", "city-hall", "--quiet", "--format", "jsonl"]) == 0
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not [a for a in again if a["rule"] == "unknown_bssid" and a["bssid"].startswith("02:66")]


def test_the_survey_draft_of_the_capture_is_valid_yaml_with_the_exact_octets(site, tmp_path,
                                                                            capsys):
    draft = tmp_path / "draft.yaml"
    assert main(["survey", str(site / "hostile.pcap"), "--draft", str(draft),
                 "--facility", "city-hall"]) == 0
    out = capsys.readouterr().out
    clean(out)
    clean(draft.read_text(encoding="utf-8"))
    loaded = load_registry(draft)
    for i, raw in enumerate(HOSTILE):
        ap = loaded.ap_for_bssid(bytes.fromhex(twin(i).replace(":", "")))
        assert ap is not None and ap.network.ssid == raw


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_of_the_capture_shows_hostile_names_as_text(site, alerts, tmp_path, capsys):
    store = tmp_path / "alerts.sqlite3"
    assert main(replay(site, "--format", "jsonl", "--store", str(store))) == 0
    capsys.readouterr()
    assert main(["report", "--store", str(store), "--registry", str(site / "registry.yaml"),
                 "--from", "2026-04-01", "--to", "2026-04-01", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    [html] = tmp_path.glob("report-city-hall-*.html")
    [markdown] = tmp_path.glob("report-city-hall-*.md")
    page = Tags()
    page.feed(html.read_text(encoding="utf-8"))
    assert not page.tags & {"script", "i", "b", "iframe", "img"}   # HTML in SSIDs stayed text
    shown = "".join(page.text)
    clean(shown.replace("\r", ""))
    for raw in HOSTILE:                                                # the twins' names
        assert printable_ssid(raw) in shown, raw
    text = markdown.read_text(encoding="utf-8")
    clean(text)
    assert "<script>" not in text and "<i>" not in text               # escaped for Markdown
