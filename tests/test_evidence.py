"""Evidence captures: one pcap per new alert, the offender's management frames only,
client addresses pseudonymised, capped, deleted after the retention, and never a
reason for detection to stop (unwritable directory, full disk)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
import time
import tracemalloc
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from evil_twin_monitor.cli import main
from evil_twin_monitor.config import ConfigError, load_config
from evil_twin_monitor.decoding import Decoder
from evil_twin_monitor.decoding.frame import BEACON, Frame
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.evidence import (
    EvidenceSettings, EvidenceSink, FrameRecorder, delete_evidence_before, evidence_name,
    replace_evidence_sink,
)
from evil_twin_monitor.evidence import files as files_module
from evil_twin_monitor.evidence.pcapfile import rewrite_frame
from evil_twin_monitor.evidence.recorder import RING
from evil_twin_monitor.privacy import Pseudonymizer
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
DEMO = ROOT / "fixtures" / "pcaps" / "demo_evil_twin.pcap"
TWIN = "02:5e:1f:a0:0c:99"
LOOKALIKE = "02:7c:3a:11:00:99"
LOBBY = "00:1a:2b:3c:4d:50"
DEMO_FILES = {
    "unknown_bssid": "2026-04-01T09-00-08Z_unknown_bssid_025e1fa00c99.pcap",
    "lookalike_ssid": "2026-04-01T09-00-12Z_lookalike_ssid_027c3a110099.pcap",
    "deauth_flood": "2026-04-01T09-00-20Z_deauth_flood_001a2b3c4d50.pcap",
}
SAFE_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[a-z_]+_[0-9a-f]{12}(-\d+)?\.pcap$")
NOW = 1_775_034_000.0   # 2026-04-01T09:00:00Z, the demo capture's start
DAY = 86_400
SECRET = b"s" * 32
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None,
                                  reason="needs tshark (scripts/setup.sh --with-test-tools)")


class Log:
    """Collects structlog-style calls: log.warning("event", key=value)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    def __getattr__(self, level: str):
        if level not in ("debug", "info", "warning", "error", "exception"):
            raise AttributeError(level)
        return lambda event, **kw: self.events.append((level, event, kw))

    def named(self, event: str) -> list[dict]:
        return [kw for _, name, kw in self.events if name == event]


class Seen:
    """A sink after the evidence sink: what the log and store sinks see."""

    def __init__(self) -> None:
        self.opened_alerts: list[dict] = []
        self.closed_alerts: list[dict] = []

    def opened(self, alert) -> None:
        self.opened_alerts.append(alert.to_dict())

    def closed(self, alert) -> None:
        self.closed_alerts.append(alert.to_dict())


def tshark(path: Path, *fields: str) -> list[list[str]]:
    """Field rows of every frame of ``path``; fails the test if tshark cannot read it."""
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for name in fields:
        cmd += ["-e", name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [line.split("|") for line in done.stdout.splitlines()]


def replay_demo(tmp_path: Path, capsys, *extra: str, evidence: Path | None = None,
                pcap: Path = DEMO) -> list[dict]:
    evidence = evidence or tmp_path / "evidence"
    status = main(["replay", str(pcap), "--registry", str(REGISTRY), "--facility", "city-hall",
                   "--format", "jsonl", "--quiet", "--evidence", str(evidence), *extra])
    out = capsys.readouterr().out
    assert status == 0
    return [json.loads(line) for line in out.splitlines()]


def demo_engine(*sinks) -> Engine:
    return Engine(load_registry(REGISTRY), facility="city-hall", sensor="demo", sinks=list(sinks))


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def demo_addresses() -> tuple[set[str], set[str]]:
    """(AP BSSIDs, client addresses) of the demo capture, as tshark sees them."""
    rows = tshark(DEMO, "wlan.fc.type_subtype", "wlan.ta", "wlan.ra", "wlan.bssid", "wlan.sa",
                  "wlan.da")
    aps: set[str] = set()
    every: set[str] = set()
    for subtype, *addrs in rows:
        if subtype in ("0x0008", "0x0005"):   # beacon, probe response: the sender is an AP
            aps.add(addrs[0])
        every.update(a for a in addrs if a)
    clients = {a for a in every - aps if not int(a[:2], 16) & 1}
    assert "32:f4:a2:fd:0b:54" in clients
    return aps, clients


# -- the demo, end to end ---------------------------------------------------------------

@needs_tshark
def test_the_demo_gives_one_readable_pcap_per_alert_named_in_output_and_store(tmp_path, capsys):
    store = tmp_path / "alerts.sqlite3"
    alerts = replay_demo(tmp_path, capsys, "--store", str(store))
    evidence = tmp_path / "evidence"
    assert {a["rule"]: a["evidence"]["evidence_file"] for a in alerts} == DEMO_FILES
    assert sorted(os.listdir(evidence)) == sorted(DEMO_FILES.values())
    assert stat.S_IMODE(evidence.stat().st_mode) == 0o700
    for name in DEMO_FILES.values():
        assert SAFE_NAME.match(name)
        assert stat.S_IMODE((evidence / name).stat().st_mode) == 0o600
    assert main(["alerts", "--store", str(store), "--format", "jsonl"]) == 0
    stored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {a["rule"]: a["evidence"]["evidence_file"] for a in stored} == DEMO_FILES

    by_rule = {a["rule"]: a for a in alerts}
    for rule, name in DEMO_FILES.items():
        bssid = by_rule[rule]["bssid"]
        rows = tshark(evidence / name, "wlan.fc.type", "wlan.fc.type_subtype", "wlan.ta",
                      "wlan.bssid", "frame.time_epoch")
        assert rows, name
        assert {r[0] for r in rows} == {"0"}, "management frames only"
        if rule == "deauth_flood":
            # Forged both ways: "from the AP" (sent as the offender) and "to the AP".
            assert {r[1] for r in rows} == {"0x000c"}
            assert all(r[3] == bssid for r in rows)
            assert {r[2] == bssid for r in rows} == {True, False}
            assert len(rows) == by_rule[rule]["evidence"]["frames_in_window"] == 20
        else:
            assert all(r[2] == bssid == r[3] for r in rows), "the offender's frames only"
            assert {r[1] for r in rows} <= {"0x0008", "0x0005"}
        # The frames that caused it: none later than the alert.
        alert_s = datetime.fromisoformat(by_rule[rule]["time"].replace("Z", "+00:00")).timestamp()
        assert max(float(r[4]) for r in rows) == pytest.approx(alert_s, abs=1e-6)


@needs_tshark
def test_no_client_address_of_the_demo_reaches_any_evidence_file(tmp_path, capsys,
                                                                demo_addresses):
    aps, clients = demo_addresses
    replay_demo(tmp_path, capsys)
    pseudonyms_seen = set()
    for path in (tmp_path / "evidence").iterdir():
        raw = path.read_bytes()
        for client in clients:
            assert bytes.fromhex(client.replace(":", "")) not in raw, (client, path.name)
        for row in tshark(path, "wlan.ta", "wlan.ra", "wlan.bssid", "wlan.sa", "wlan.da"):
            for addr in filter(None, row):
                assert addr not in clients
                if addr not in aps and addr != "ff:ff:ff:ff:ff:ff":
                    assert int(addr[:2], 16) & 0x03 == 0x02   # a pseudonym: local, unicast
                    pseudonyms_seen.add(addr)
    assert pseudonyms_seen, "the deauth flood's client appears, pseudonymised"


@needs_tshark
@pytest.mark.parametrize("pcap", sorted((ROOT / "fixtures" / "pcaps").glob("*.pcap")),
                         ids=lambda p: p.stem)
def test_no_client_address_of_any_fixture_reaches_evidence(pcap, tmp_path, capsys):
    """Clients: unicast addresses that never send a beacon or probe response and
    are not an alert's offender (a tool may transmit as a client)."""
    alerts = replay_demo(tmp_path, capsys, pcap=pcap)
    offenders = {a["bssid"] for a in alerts}
    rows = tshark(pcap, "wlan.fc.type_subtype", "wlan.ta", "wlan.ra", "wlan.bssid", "wlan.sa",
                  "wlan.da")
    senders = {addrs[0] for subtype, *addrs in rows if subtype in ("0x0008", "0x0005")}
    every = {a for _, *addrs in rows for a in addrs if a}
    clients = {a for a in every - senders - offenders if not int(a[:2], 16) & 1}
    written = list((tmp_path / "evidence").iterdir())
    assert len(written) == sum(bool(a["evidence"]["evidence_file"]) for a in alerts)
    for path in written:
        raw = path.read_bytes()
        for client in clients:
            assert bytes.fromhex(client.replace(":", "")) not in raw, (client, path.name)


def test_pseudonyms_come_from_the_configured_secret(tmp_path, capsys):
    secret = tmp_path / "privacy.secret"
    secret.write_bytes(SECRET)
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: demo, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      f"evidence: {{secret_file: privacy.secret}}\n")
    replay_demo(tmp_path, capsys, "--config", str(config))
    raw = (tmp_path / "evidence" / DEMO_FILES["deauth_flood"]).read_bytes()
    client = bytes.fromhex("32f4a2fd0b54")
    assert Pseudonymizer(SECRET).address(client) in raw
    assert client not in raw


# -- which frames, and how they are rewritten ---------------------------------------------

OFFENDER = bytes.fromhex("025e1fa00c99")
CLIENT = bytes.fromhex("32f4a2fd0b54")
REGISTERED = bytes.fromhex("001a2b3c4d50")
BROADCAST = b"\xff" * 6
PSEUDO = Pseudonymizer(SECRET)


def radiotap(fcs: bool) -> bytes:
    if fcs:  # present: flags; flags: FCS at end
        return struct.pack("<BBHIB", 0, 0, 9, 0x02, 0x10)
    return struct.pack("<BBHI", 0, 0, 8, 0)


def mgmt(subtype: int, a1: bytes, a2: bytes, a3: bytes, body: bytes = b"", *, fc0_type: int = 0,
         fc1: int = 0, fcs: bool = False) -> bytes:
    frame = bytes([subtype << 4 | fc0_type << 2, fc1]) + b"\0\0" + a1 + a2 + a3 + b"\x10\x00" + body
    if fcs:
        frame += struct.pack("<I", zlib.crc32(frame))
    return radiotap(fcs) + frame


BEACON_BODY = bytes(8) + b"\x64\x00\x01\x00" + b"\x00\x04Test"


def rewrite(data: bytes) -> bytes | None:
    return rewrite_frame(data, 127, OFFENDER, lambda a: a == REGISTERED, PSEUDO.address)


def test_a_probe_response_of_the_offender_is_kept_whole_with_the_client_pseudonymised():
    data = mgmt(5, CLIENT, OFFENDER, OFFENDER, BEACON_BODY)
    out = rewrite(data)
    assert out is not None and len(out) == len(data)
    assert out[8 + 4:8 + 10] == PSEUDO.address(CLIENT)
    assert out[8 + 10:8 + 22] == OFFENDER * 2 and out.endswith(BEACON_BODY)


def test_a_deauth_to_the_offender_is_cut_to_its_reason_and_registered_addresses_stay():
    vendor = b"\xdd\x09" + b"\x00\x50\xf2" + CLIENT   # a client-written element after the reason
    out = rewrite(mgmt(12, OFFENDER, CLIENT, OFFENDER, b"\x07\x00" + vendor))
    assert out == mgmt(12, OFFENDER, PSEUDO.address(CLIENT), OFFENDER, b"\x07\x00")
    out = rewrite(mgmt(12, REGISTERED, CLIENT, OFFENDER, b"\x07\x00"))
    assert out[8 + 4:8 + 10] == REGISTERED


@pytest.mark.parametrize("data, why", [
    (mgmt(0, OFFENDER, OFFENDER, OFFENDER, fc0_type=2), "a data frame"),
    (mgmt(13, CLIENT, OFFENDER, OFFENDER, b"\x06\x01" + CLIENT), "an action frame"),
    (mgmt(2, OFFENDER, OFFENDER, CLIENT, b"\x11\x04\x0a\x00" + CLIENT), "a reassociation request"),
    (mgmt(12, CLIENT, OFFENDER, OFFENDER, b"\0" * 24, fc1=0x40), "a protected frame"),
    (mgmt(4, BROADCAST, CLIENT, OFFENDER, b"\x00\x00"), "a client's probe request to it"),
    (mgmt(8, BROADCAST, REGISTERED, REGISTERED, BEACON_BODY), "another transmitter's beacon"),
])
def test_frames_that_never_go_into_evidence(data, why):
    assert rewrite(data) is None, why


def test_a_forged_beacon_of_the_offender_s_bssid_is_kept_with_its_transmitter_pseudonymised():
    out = rewrite(mgmt(8, BROADCAST, CLIENT, OFFENDER, BEACON_BODY))
    assert out == mgmt(8, BROADCAST, PSEUDO.address(CLIENT), OFFENDER, BEACON_BODY)


def test_a_captured_fcs_is_computed_again_over_the_rewritten_frame():
    data = mgmt(5, CLIENT, OFFENDER, OFFENDER, BEACON_BODY, fcs=True)
    out = rewrite(data)
    frame, fcs = out[9:-4], out[-4:]
    assert frame[4:10] == PSEUDO.address(CLIENT)
    assert struct.unpack("<I", fcs)[0] == zlib.crc32(frame)
    assert fcs != data[-4:]   # the old FCS gave the real address away


# -- the recorder ---------------------------------------------------------------------------

def decoded(data: bytes, ts: int = 1) -> Frame:
    frame = Decoder().decode(data, 127, ts, 1)
    assert frame is not None
    return frame


def test_the_recorder_keeps_deauths_next_to_a_beaconing_ap_and_under_the_bssid():
    recorder = FrameRecorder()
    for n in range(100):   # ten beacons a second, ten seconds
        data = mgmt(8, BROADCAST, REGISTERED, REGISTERED, BEACON_BODY)
        recorder.record(decoded(data, n), data, 127)
    for n in range(20):    # a slow flood "from clients", interleaved
        data = mgmt(12, REGISTERED, CLIENT, REGISTERED, b"\x07\x00")
        recorder.record(decoded(data, 1000 + n), data, 127)
    assert len(recorder.frames_of(REGISTERED, {"beacon"})) == RING
    deauths = recorder.frames_of(REGISTERED, {"deauth"})
    assert [r[0] for r in deauths] == list(range(1000, 1020))
    assert len(recorder.frames_of(CLIENT, {"deauth"})) == 20
    action = mgmt(13, CLIENT, REGISTERED, REGISTERED, b"\x00\x04" + b"\x25\x03\x01\x0b\x02")
    recorder.record(decoded(action), action, 127)
    assert recorder.frames_of(REGISTERED, {"action", "beacon"}) == \
        recorder.frames_of(REGISTERED, {"beacon"})


ALL_KINDS = ("beacon", "probe_resp", "probe_req", "auth", "deauth", "disassoc", "assoc_req",
             "assoc_resp", "reassoc_req", "reassoc_resp", "action")


def test_the_recorder_keeps_no_frame_a_client_sent_but_its_deauths():
    """Data minimisation: a phone's probe requests (with the names it asks for),
    authentication and association requests are never kept; evidence never
    uses them. The AP's answers and the deauth flood's frames are kept."""
    recorder = FrameRecorder()
    client_frames = [
        mgmt(4, BROADCAST, CLIENT, BROADCAST, b"\x00\x08HomeWiFi"),      # probe request
        mgmt(4, REGISTERED, CLIENT, REGISTERED, b"\x00\x08HomeWiFi"),    # directed probe request
        mgmt(11, REGISTERED, CLIENT, REGISTERED, b"\x00\x00\x01\x00\x00\x00"),  # auth request
        mgmt(0, REGISTERED, CLIENT, REGISTERED, b"\x31\x04\x0a\x00\x00\x08HomeWiFi"),  # assoc req
    ]
    ap_frames = [
        mgmt(11, CLIENT, REGISTERED, REGISTERED, b"\x00\x00\x02\x00\x00\x00"),  # auth response
        mgmt(1, CLIENT, REGISTERED, REGISTERED, b"\x31\x04\x00\x00\x01\xc0"),   # assoc response
    ]
    flood = [mgmt(12, REGISTERED, CLIENT, REGISTERED, b"\x07\x00"),              # "from" the client
             mgmt(10, REGISTERED, CLIENT, REGISTERED, b"\x08\x00")]
    for n, data in enumerate(client_frames + ap_frames + flood):
        recorder.record(decoded(data, n), data, 127)
    assert [r[3] for r in recorder.frames_of(CLIENT, ALL_KINDS)] == flood
    assert [r[3] for r in recorder.frames_of(REGISTERED, ALL_KINDS)] == ap_frames + flood
    assert len(recorder) == 2


@pytest.mark.parametrize("name", ["karma_responder", "demo_evil_twin", "benign_steady"])
def test_no_client_sent_frame_of_a_fixture_is_held_in_memory(name):
    """Every frame the recorder holds was sent by an AP (or one posing as
    one: beacon, probe response, transmitter = BSSID) or is a deauth/disassoc."""
    from evil_twin_monitor.decoding import open_capture
    recorder = FrameRecorder()
    decoder = Decoder()
    addresses: set[bytes] = set()
    client_sent = 0
    with open_capture(ROOT / "fixtures" / "pcaps" / f"{name}.pcap") as reader:
        for number, ts_ns, linktype, data in reader:
            frame = decoder.decode(data, linktype, ts_ns, number)
            if frame is None:
                continue
            recorder.record(frame, data, linktype)
            addresses.update(a for a in (frame.addr1, frame.addr2, frame.addr3) if a)
            client_sent += frame.kind in ("probe_req", "assoc_req", "auth") \
                and frame.addr2 != frame.addr3
    assert client_sent, "the capture has frames of clients"
    held = [Decoder().decode(record[3], record[2], record[0], 1)
            for addr in addresses for record in recorder.frames_of(addr, ALL_KINDS)]
    assert held
    for frame in held:
        assert frame.kind in ("beacon", "probe_resp", "deauth", "disassoc") \
            or frame.addr2 == frame.addr3, frame.kind


def test_the_recorder_stays_bounded_under_100k_random_bssids_and_keeps_the_twin():
    """Memory bound: max_bytes as accounted (frame bytes + per-object costs), which
    tracemalloc shows to be at least the real heap; plus the table itself."""
    rng = random.Random(6)
    recorder = FrameRecorder()
    twin = bytes.fromhex("025e1fa00c33")
    frame = Frame()
    frame.kind = BEACON
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for n in range(100_000):
            bssid = twin if n % 10 == 0 else bytes([0x02]) + rng.randbytes(5)
            frame.addr2 = frame.addr3 = bssid
            frame.ts_ns = n
            recorder.record(frame, rng.randbytes(rng.randrange(80, 400)), 127)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(recorder) <= recorder.max_addresses
    assert recorder.bytes <= recorder.max_bytes
    assert used <= recorder.max_bytes, used
    assert recorder.evicted >= 90_000 - recorder.max_addresses
    assert len(recorder.frames_of(twin, {"beacon"})) == RING   # heard every 10 frames: kept


def test_a_few_big_transmitters_are_held_to_the_byte_budget():
    recorder = FrameRecorder(max_bytes=1 << 20)
    frame = Frame()
    frame.kind = BEACON
    for n in range(5000):
        frame.addr2 = frame.addr3 = bytes([2, 0, 0, 0, 0, n % 200])
        recorder.record(frame, bytes(2300), 127)
    assert recorder.bytes <= 1 << 20
    assert 0 < len(recorder) < 200


# -- caps -----------------------------------------------------------------------------------

def config_with(tmp_path: Path, evidence: str) -> Path:
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: demo, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      f"evidence: {{{evidence}}}\n")
    return config


@needs_tshark
def test_frames_and_bytes_per_file_keep_the_newest_frames(tmp_path, capsys):
    alerts = replay_demo(tmp_path, capsys, "--config",
                         str(config_with(tmp_path, "max_frames: 5")))
    flood = tmp_path / "evidence" / DEMO_FILES["deauth_flood"]
    rows = tshark(flood, "frame.time_epoch")
    assert len(rows) == 5
    assert rows[-1][0].startswith("1775034020.040374")   # the frame that completed the alert
    assert [a["evidence"]["evidence_file"] for a in alerts] == list(DEMO_FILES.values())

    small = tmp_path / "small"
    replay_demo(tmp_path, capsys, "--config", str(config_with(tmp_path, "max_file_kb: 1")),
                evidence=small)
    flood = small / DEMO_FILES["deauth_flood"]
    assert 900 < flood.stat().st_size <= 1024
    assert len(tshark(flood, "frame.number")) == 15   # 24 + 15 * (16 + 50) = 1014 bytes


def test_beyond_the_hourly_rate_alerts_say_evidence_file_null_and_are_counted(tmp_path, capsys):
    config = config_with(tmp_path, "max_files_per_hour: 1")
    status = main(["replay", str(DEMO), "--config", str(config), "--format", "jsonl",
                   "--evidence", str(tmp_path / "evidence")])
    captured = capsys.readouterr()
    assert status == 0
    alerts = [json.loads(line) for line in captured.out.splitlines()]
    assert [(a["evidence"]["evidence_file"], a["evidence"].get("evidence_skipped"))
            for a in alerts] == [(DEMO_FILES["unknown_bssid"], None), (None, "rate_cap"),
                                 (None, "rate_cap")]
    assert os.listdir(tmp_path / "evidence") == [DEMO_FILES["unknown_bssid"]]
    assert "evidence: 1 file(s) written to" in captured.err
    assert "rate_cap 2" in captured.err


def test_a_full_directory_refuses_new_files_and_keeps_the_old_ones(tmp_path, capsys):
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    old = evidence / "2026-03-01T00-00-00Z_unknown_bssid_0a0b0c0d0e0f.pcap"
    old.write_bytes(bytes(1024 * 1024 - 100))
    alerts = replay_demo(tmp_path, capsys, "--config",
                         str(config_with(tmp_path, "max_total_mb: 1")))
    assert {a["evidence"].get("evidence_skipped") for a in alerts} == {"directory_full"}
    assert os.listdir(evidence) == [old.name]


def test_file_names_come_from_time_rule_and_bssid_only():
    assert evidence_name(int(NOW * 1e9), "unknown_bssid", OFFENDER) == \
        "2026-04-01T09-00-00Z_unknown_bssid_025e1fa00c99.pcap"
    assert evidence_name(int(NOW * 1e9), "karma", OFFENDER, 2).endswith("_025e1fa00c99-2.pcap")
    with pytest.raises(ValueError):
        evidence_name(0, "../x", None)


# -- retention ------------------------------------------------------------------------------

def test_delete_evidence_before_deletes_old_evidence_and_nothing_else(tmp_path):
    names = {
        "old": evidence_name(int((NOW - 40 * DAY) * 1e9), "unknown_bssid", OFFENDER),
        "left-over temporary": "." + evidence_name(int((NOW - 40 * DAY) * 1e9), "karma", OFFENDER)
                               + ".tmp",
        "young": evidence_name(int((NOW - 10 * DAY) * 1e9), "unknown_bssid", OFFENDER),
        "not ours": "2020-01-01-notes.pcap",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    assert delete_evidence_before(tmp_path, int((NOW - 30 * DAY) * 1e9)) == 2
    assert sorted(os.listdir(tmp_path)) == sorted([names["young"], names["not ours"]])
    assert delete_evidence_before(tmp_path / "missing", 0) == 0


def test_the_daemon_sink_applies_retention_at_start_and_periodically(tmp_path):
    clock = [NOW]
    first = evidence_name(int((NOW - 31 * DAY) * 1e9), "unknown_bssid", OFFENDER)
    second = evidence_name(int((NOW - 29 * DAY) * 1e9), "unknown_bssid", OFFENDER)
    for name in (first, second):
        (tmp_path / name).write_bytes(b"x" * 100)
    log = Log()
    sink = EvidenceSink(EvidenceSettings(directory=tmp_path), PSEUDO, load_registry(REGISTRY),
                        log, clock=lambda: clock[0], purge_interval_s=0.05)
    try:
        wait_for(lambda: sink.deleted == 1)
        assert os.listdir(tmp_path) == [second]
        assert log.named("evidence_purged")[0]["deleted"] == 1
        clock[0] += 2 * DAY
        wait_for(lambda: sink.deleted == 2)
        assert os.listdir(tmp_path) == []
        assert sink.stats()["directory_bytes"] == 0
    finally:
        assert sink.close()


# -- failures never stop detection ----------------------------------------------------------

@contextlib.contextmanager
def tmpfs(where: Path, options: str):
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def readonly_dir(tmp_path):
    """A directory this process cannot write to (root ignores modes: a read-only mount)."""
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "ro", "ro,size=64k") as where:
            yield where
    else:
        where = tmp_path / "ro"
        where.mkdir(mode=0o500)
        try:
            yield where
        finally:
            where.chmod(0o700)


def run_demo_with(sink: EvidenceSink) -> tuple[Seen, object]:
    seen = Seen()
    engine = demo_engine(sink, seen)
    # As the daemon does at shutdown: the writes are done before the alerts close,
    # so the closing snapshots know which failed.
    stats = replay_files([str(DEMO)], engine, recorder=sink.recorder,
                         before_finish=lambda _stats: sink.flush())
    return seen, stats


def test_an_unwritable_directory_is_reported_and_detection_goes_on(readonly_dir):
    log = Log()
    sink = EvidenceSink(EvidenceSettings(directory=readonly_dir / "evidence"), PSEUDO,
                        load_registry(REGISTRY), log)
    try:
        seen, stats = run_demo_with(sink)
        assert sink.flush()
    finally:
        assert sink.close()
    assert stats.alerts_by_rule == {"deauth_flood": 1, "lookalike_ssid": 1, "unknown_bssid": 1}
    # The log and store saw the name when the alert opened; the closing snapshot corrects it.
    assert all(a["evidence"]["evidence_file"] is None for a in seen.closed_alerts)
    assert {a["evidence"]["evidence_skipped"] for a in seen.closed_alerts} == {"write_failed"}
    stats = sink.stats()
    assert (stats["ok"], stats["written"], stats["failed"]) == (False, 0, 3)
    assert stats["skipped"]["write_failed"] == 3
    errors = log.named("evidence_write_failed")
    assert errors[0]["error"].endswith(("Read-only file system", "Permission denied"))
    assert len(errors) == 1   # one line per distinct error, not one per alert


def test_replay_into_an_unwritable_directory_is_an_error_before_the_replay(readonly_dir, capsys):
    status = main(["replay", str(DEMO), "--registry", str(REGISTRY), "--evidence",
                   str(readonly_dir / "evidence")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"evil-twin-monitor: error: {readonly_dir / 'evidence'}: cannot write "
                          "evidence files there: ")
    assert len(err.splitlines()) == 1


def test_a_full_disk_is_reported_detection_goes_on_and_writing_resumes(tmp_path, monkeypatch):
    def full(fd, content):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files_module, "_write_all", full)
    log = Log()
    sink = EvidenceSink(EvidenceSettings(directory=tmp_path), PSEUDO, load_registry(REGISTRY), log)
    try:
        seen, stats = run_demo_with(sink)
        assert sum(stats.alerts_by_rule.values()) == 3
        assert sink.flush()
        assert sink.failed == 3 and not sink.ok
        assert "No space left on device" in sink.last_error
        assert os.listdir(tmp_path) == []   # no half-written file, no temporary left over
        monkeypatch.undo()
        seen, stats = run_demo_with(sink)   # the same alerts, a second later: written now
        assert sink.flush()
    finally:
        assert sink.close()
    assert sink.ok and sink.written == 3 and log.named("evidence_recovered")
    assert all(a["evidence"]["evidence_file"] for a in seen.closed_alerts)
    assert len(os.listdir(tmp_path)) == 3


@needs_root
def test_a_really_full_file_system_during_replay_is_a_warning_not_a_failure(tmp_path, capsys):
    with tmpfs(tmp_path / "disk", "size=64k") as disk:
        with open(disk / "filler", "wb", buffering=0) as filler:
            with pytest.raises(OSError) as exc:
                while True:
                    filler.write(b"\0" * 512)
        assert exc.value.errno == errno.ENOSPC
        status = main(["replay", str(DEMO), "--registry", str(REGISTRY), "--format", "jsonl",
                       "--quiet", "--evidence", str(disk)])
        captured = capsys.readouterr()
    assert status == 0
    alerts = [json.loads(line) for line in captured.out.splitlines()]
    assert len(alerts) == 3
    assert all(a["evidence"]["evidence_file"] is None
               and a["evidence"]["evidence_skipped"] == "write_failed" for a in alerts)
    [warning] = captured.err.splitlines()
    assert warning.startswith("evil-twin-monitor: warning: evidence: 0 file(s) written")
    assert warning.endswith("No space left on device")


# -- configuration, reload, metrics -------------------------------------------------------

def test_the_evidence_section_is_read_relative_and_checked(tmp_path):
    config = config_with(tmp_path, "directory: ev, retention_days: 7, max_files_per_hour: 5, "
                                   "secret_file: keys/secret")
    settings = load_config(config).evidence
    assert settings == EvidenceSettings(directory=tmp_path / "ev", retention_days=7,
                                        max_files_per_hour=5, secret_file=tmp_path / "keys/secret")
    assert load_config(config_with(tmp_path, "")).evidence == EvidenceSettings()
    (tmp_path / "afile").write_text("")
    with pytest.raises(ConfigError) as exc:
        load_config(config_with(tmp_path, "max_frames: 65, directory: afile, secrets: x"))
    text = str(exc.value)
    assert "evidence.max_frames" in text and "65" in text
    assert "evidence.directory" in text and "is a file" in text
    assert "unknown key 'secrets'" in text


def test_a_reload_changes_caps_in_place_and_a_new_directory_makes_a_new_sink(tmp_path):
    registry = load_registry(REGISTRY)
    log = Log()
    settings = EvidenceSettings(directory=tmp_path / "a", secret_file=tmp_path / "secret")
    sink = replace_evidence_sink(None, settings, log, registry=registry)
    try:
        capped = EvidenceSettings(directory=tmp_path / "a", secret_file=tmp_path / "secret",
                                  max_files_per_hour=1)
        assert replace_evidence_sink(sink, capped, log, registry=registry) is sink
        assert sink.settings.max_files_per_hour == 1
        moved = EvidenceSettings(directory=tmp_path / "b", secret_file=tmp_path / "secret")
        new = replace_evidence_sink(sink, moved, log, registry=registry)
        assert new is not sink and new.recorder is sink.recorder and new.directory == tmp_path / "b"
        assert sink._thread is not None and not sink._thread.is_alive()
        assert replace_evidence_sink(new, EvidenceSettings(enabled=False), log,
                                     registry=registry) is None
    finally:
        sink.close()
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_evidence_metrics(tmp_path):
    from evil_twin_monitor.evidence.metrics import EvidenceCollector
    from evil_twin_monitor.metrics import SensorMetrics

    sink = EvidenceSink(EvidenceSettings(directory=tmp_path, max_files_per_hour=2), PSEUDO,
                        load_registry(REGISTRY), background=False)
    run_demo_with(sink)
    metrics = SensorMetrics(load_registry(REGISTRY), "city-hall", "demo")
    metrics.collector_registry.register(EvidenceCollector(lambda: sink,
                                                          lambda: ("city-hall", "demo")))
    text = metrics.exposition().decode()
    ident = 'facility="city-hall",sensor="demo"'
    assert f"evil_twin_monitor_evidence_files_written_total{{{ident}}} 2.0" in text
    assert ('evil_twin_monitor_evidence_skipped_total{facility="city-hall",reason="rate_cap",'
            'sensor="demo"} 1.0') in text
    assert f"evil_twin_monitor_evidence_ok{{{ident}}} 1.0" in text
    size = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert f"evil_twin_monitor_evidence_directory_bytes{{{ident}}} {float(size)}" in text


# -- the daemon -----------------------------------------------------------------------------

@needs_root
@needs_tshark
def test_the_daemon_writes_evidence_and_a_reload_moves_it(lab_factory):
    from lab import HALL, LOBBY as LAB_LOBBY, transmitter

    twin, second = "0a:0b:0c:0d:0e:0f", "0a:0b:0c:0d:0e:10"
    lab = lab_factory([transmitter(LAB_LOBBY, 1), transmitter(HALL, 36),
                       transmitter(twin, 1, security="open")])
    lab.start()
    alert = lab.wait_for("alert", bssid=twin)
    name = alert["evidence"]["evidence_file"]
    assert SAFE_NAME.match(name) and name.endswith("_0a0b0c0d0e0f.pcap")
    written = lab.wait_for("evidence_written", file=name)
    path = lab.tmp / "evidence" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((lab.tmp / "evidence").stat().st_mode) == 0o700
    assert stat.S_IMODE((lab.tmp / "privacy.secret").stat().st_mode) == 0o600
    rows = tshark(path, "wlan.fc.type", "wlan.ta")
    assert len(rows) == written["frames"] and {tuple(r) for r in rows} == {("0", twin)}

    sensor = lab.tmp / "sensor.yaml"
    sensor.write_text(sensor.read_text().replace("directory: evidence", "directory: moved"))
    lab.signal(signal.SIGHUP)
    lab.wait_for("reload_ok")
    lab.player_command({"cmd": "add", "transmitter": transmitter(second, 1)}, "added")
    alert = lab.wait_for("alert", bssid=second)
    assert lab.wait_for("evidence_written", file=alert["evidence"]["evidence_file"])
    assert (lab.tmp / "moved" / alert["evidence"]["evidence_file"]).exists()
    stats = lab.wait_for("stats", since=len(lab.log.log))["evidence"]
    assert stats["ok"] is True and stats["written"] == 1   # the new sink's count
    assert lab.stop()[0] == 0
