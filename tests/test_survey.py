"""The survey: the table of what was heard and the registry draft, from captures and live.

The draft is judged the way it will be used: loaded by the registry loader,
then replayed against. Hostile SSIDs (YAML syntax, line breaks, terminal
escapes, bytes that are not UTF-8) must come back as the same octets.
"""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from evil_twin_monitor.cli import main
from evil_twin_monitor.decoding import Decoder
from evil_twin_monitor.decoding.text import printable_ssid, ssid_from_printable
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files
from evil_twin_monitor.rules.fingerprint_mismatch import fingerprint_of
from evil_twin_monitor.simulation import frames as F
from evil_twin_monitor.survey import SurveyCollector, render_draft, render_table, yaml_scalar

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "fixtures" / "pcaps"
FIXTURE_REGISTRY = ROOT / "fixtures" / "registry.yaml"
T0 = 1_775_034_000 * 10**9  # 2026-04-01T09:00:00Z

HOSTILE_SSIDS = [
    b"a: b # c",
    b"- [x] {y} & *z ! | > ' \" % @ `",
    b"'single'", b'"double"', b"it's", b"\\", b"\\x41 not an escape", b"C:\\path\\n",
    b"line1\nline2", b"cr\rlf\r\n", b"tab\there", b"\x0b\x0c",
    b"\x1b[31mred\x1b[0m", b"\x1b]0;title\x07", b"\x7f\x08",
    b" lead", b"trail ", b"  ", b"a\x00b", b"\x00x",
    b"\xff\xfe\xfd", b"caf\xc3", b"\xe6\x96\xb0\xe5\xae\xbf\xff", b"\xb2\xe2\xca\xd4",
    "新宿区役所 Free".encode(), b"\xc2\x85 NEL", "\u2028LS\u2029PS".encode(),
    "\ufeffBOM".encode(), "\u202eRTL".encode(), "zero\u200bwidth".encode(),
    b"null", b"yes", b"~", b"0123", b"1e3", b"10:20:30:40:50:59", b"<<", b"=", b"?x",
    b"!!binary", b"&anchor", b"*alias", b"%TAG ! x", b"---", b"...", b"#hash",
    b"<script>alert(1)</script>", b'{"json": [1, 2]}', b"x" * 32, b"\xff" * 32,
]
HIDDEN_SSIDS = [b"", b"\x00" * 32]


def write_pcap(path: Path, packets: list[tuple[int, bytes]]) -> Path:
    """A radiotap pcap (link type 127) of (timestamp ns, frame) records."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127)]
    for ts_ns, data in packets:
        sec, usec = divmod(ts_ns // 1000, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    path.write_bytes(b"".join(out))
    return path


def bssid(i: int) -> str:
    return f"02:00:00:00:{i >> 8:02x}:{i & 0xff:02x}"


def beacons(bssid_text: str, ssid: bytes, freq: int, count: int = 6, start: int = 0,
            **kwargs) -> list[tuple[int, bytes]]:
    interval = kwargs.get("interval_tu", 100)
    return [(T0 + (start + n) * interval * 1024_000,
             F.beacon(bssid_text, ssid, freq, seq=n, **kwargs)) for n in range(count)]


def collect(packets: list[tuple[int, bytes]], **kwargs) -> SurveyCollector:
    collector = SurveyCollector(**kwargs)
    decoder = Decoder()
    for number, (ts, data) in enumerate(sorted(packets, key=lambda p: p[0]), 1):
        frame = decoder.decode(data, 127, ts, number)
        if frame is not None:
            collector.feed(frame)
    return collector


def load_draft(tmp_path: Path, text: str):
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    return load_registry(path)


def aps_of(registry) -> dict[str, tuple]:
    """BSSID -> (SSID octets, security, pmf, frequencies, fingerprints)."""
    return {ap.bssid_text: (ap.network.ssid, tuple(sorted(ap.network.security)), ap.network.pmf,
                            tuple(sorted(ap.frequencies)), ap.fingerprints)
            for ap in registry.access_points()}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- the acceptance path: survey a capture, load the draft, replay against it ------------

def test_draft_of_the_city_hall_ssids_lists_exactly_the_registered_aps_and_replays_clean(
        capsys, tmp_path):
    draft = tmp_path / "city-hall.yaml"
    code, out, err = run(capsys, "survey", str(PCAPS / "benign_steady.pcap"),
                         "--draft", str(draft), "--facility", "city-hall",
                         "--facility-name", "新宿区役所 本庁舎",
                         "--ssid", "Shinjuku_Free_Wi-Fi", "--ssid", "Shinjuku_Secure")
    assert code == 0, err
    registry = load_registry(draft)
    [facility] = registry.facilities
    assert (facility.id, facility.name) == ("city-hall", "新宿区役所 本庁舎")
    aps = aps_of(registry)
    free, secure = b"Shinjuku_Free_Wi-Fi", b"Shinjuku_Secure"
    assert {k: v[:4] for k, v in aps.items()} == {
        "00:1a:2b:3c:4d:50": (free, ("wpa2-psk",), "optional", (2412,)),
        "00:1a:2b:3c:4d:60": (free, ("wpa2-psk",), "optional", (5180,)),
        "00:1a:2b:3c:4e:00": (free, ("wpa2-psk",), "optional", (5200,)),   # the multi-BSSID radio
        "00:1a:2b:3c:4d:70": (secure, ("wpa2-psk", "wpa3-sae"), "optional", (2437,)),
    }
    for _ssid, _sec, _pmf, _freqs, fingerprints in aps.values():
        assert len(fingerprints) == 1 and fingerprints[0].startswith("beacon:v1:")
    # The neighbours are in the table, not in the draft.
    assert "eduroam" in out and "Buffalo-G-7F10" in out
    assert "eduroam" not in draft.read_text()
    assert draft.read_text().startswith("# Registry draft for facility city-hall")
    assert "REVIEW BEFORE MERGING" in draft.read_text()

    engine = Engine(registry, facility="city-hall")
    stats = replay_files([str(PCAPS / "benign_steady.pcap")], engine)
    assert stats.alerts_by_rule == {}   # no unknown_bssid, and the fingerprints match


def test_a_draft_of_every_network_heard_is_readable_by_its_writer_only(capsys, tmp_path):
    """Without --ssid the draft lists the neighbourhood, phone hotspots included."""
    draft = tmp_path / "all.yaml"
    code, _, err = run(capsys, "survey", str(PCAPS / "benign_neighbours.pcap"),
                       "--draft", str(draft), "--facility", "city-hall")
    assert code == 0, err
    assert draft.stat().st_mode & 0o777 == 0o600


def test_fingerprints_in_the_draft_are_the_rules_own():
    packets = beacons(bssid(1), b"Ward", 2412)
    collector = collect(packets)
    frame = Decoder().decode(packets[0][1], 127, T0, 1)
    assert collector.station(bytes.fromhex("020000000001")).learned == [fingerprint_of(frame)]


def test_table_lists_every_network_sorted_by_ssid_then_bssid(capsys):
    code, out, _ = run(capsys, "survey", str(PCAPS / "benign_steady.pcap"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["SSID", "BSSID", "CHANNEL", "SECURITY"]
    rows = [line.split()[:2] for line in lines[1:-1]]
    assert rows == [
        ["Buffalo-G-7F10", "10:6f:3f:7f:10:a8"],
        ["Shinjuku_Free_Wi-Fi", "00:1a:2b:3c:4d:50"],
        ["Shinjuku_Free_Wi-Fi", "00:1a:2b:3c:4d:60"],
        ["Shinjuku_Free_Wi-Fi", "00:1a:2b:3c:4e:00"],
        ["Shinjuku_Secure", "00:1a:2b:3c:4d:70"],
        ["aterm-1a2b3c-g", "c0:25:a2:1a:2b:3c"],
        ["eduroam", "00:3a:9a:12:34:5f"],
    ]
    secure = next(line for line in lines if line.startswith("Shinjuku_Secure"))
    assert secure.split()[2:6] == ["6", "wpa2-psk+wpa3-sae", "optional", "100"]
    assert "7 networks on 7 BSSIDs" in lines[-1]


# -- hostile SSIDs --------------------------------------------------------------------------

def hostile_capture(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    packets = []
    expected = {}
    for i, ssid in enumerate(HOSTILE_SSIDS + HIDDEN_SSIDS):
        packets += beacons(bssid(i), ssid, 2437, start=i)
        if ssid not in HIDDEN_SSIDS:
            expected[bssid(i)] = ssid
    return write_pcap(tmp_path / "hostile.pcap", packets), expected


def test_hostile_ssids_round_trip_through_the_draft_octet_for_octet(capsys, tmp_path):
    capture, expected = hostile_capture(tmp_path)
    draft = tmp_path / "draft.yaml"
    code, out, err = run(capsys, "survey", str(capture), "--draft", str(draft),
                         "--facility", "city-hall")
    assert code == 0, err
    registry = load_registry(draft)
    assert {bssid: v[0] for bssid, v in aps_of(registry).items()} == expected
    text = draft.read_text(encoding="utf-8")
    # Hidden networks are reported in a comment, not registered.
    assert f"{bssid(len(HOSTILE_SSIDS))} (no SSID)" in text
    assert f"{bssid(len(HOSTILE_SSIDS) + 1)} (32 zero octets)" in text
    # Nothing in the file is a control or a line break YAML would honour.
    for ch in text:
        assert ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs"), repr(ch)
    # The table: a header, one line per network, the summary; nothing breaks a line.
    lines = out.splitlines()
    assert len(lines) == 1 + len(HOSTILE_SSIDS) + len(HIDDEN_SSIDS) + 1
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in out if ch != "\n")


def test_hostile_ssids_can_be_selected_in_printable_form(capsys, tmp_path):
    capture, _ = hostile_capture(tmp_path)
    chosen = [b"line1\nline2", b"\xff\xfe\xfd", b"- [x] {y} & *z ! | > ' \" % @ `", b"\\"]
    args = ["survey", str(capture), "--draft", "-", "--facility", "city-hall"]
    for ssid in chosen:
        args += ["--ssid", printable_ssid(ssid)]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    registry = load_draft(tmp_path, out)   # stdout holds the draft alone: the table went to stderr
    assert sorted(registry.ssids) == sorted(chosen)
    assert "SSID" in err.splitlines()[0]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=32))
def test_yaml_scalar_of_any_printable_ssid_reads_back_as_the_octets(ssid):
    text = printable_ssid(ssid)
    scalar = yaml_scalar(text)
    assert "\n" not in scalar and "\r" not in scalar
    assert ssid_from_printable(yaml.safe_load(f"ssid: {scalar}  # comment\n")["ssid"]) == ssid


# -- what the registry cannot express is left out, with a reason ----------------------------

def test_multi_bssid_radio_stays_separate_exact_entries_and_its_hidden_bssid_a_comment(
        capsys, tmp_path):
    code, out, err = run(capsys, "survey", str(PCAPS / "benign_multi_bssid.pcap"), "--draft", "-",
                         "--facility", "city-hall", "--ssid", "Shinjuku_Free_Wi-Fi")
    assert code == 0, err
    registry = load_draft(tmp_path, out)
    assert sorted(aps_of(registry)) == ["00:1a:2b:3c:4d:50", "00:1a:2b:3c:4e:00",
                                        "00:1a:2b:3c:4e:02"]
    assert "#   00:1a:2b:3c:4e:01 (no SSID): " in out


def test_channels_are_every_channel_the_ap_announced(capsys, tmp_path):
    code, out, err = run(capsys, "survey", str(PCAPS / "benign_dfs_move.pcap"), "--draft", "-",
                         "--facility", "city-hall", "--ssid", "Shinjuku_Free_Wi-Fi")
    assert code == 0, err
    aps = aps_of(load_draft(tmp_path, out))
    assert aps["00:1a:2b:3c:4d:60"][3] == (5260, 5500)   # channels 52 and 100
    assert "channels: [52, 100]" in out


def test_draft_for_unusual_but_valid_networks(tmp_path):
    packets = (beacons(bssid(1), b"Six", 5975)                              # 6 GHz
               + beacons(bssid(2), b"Slow", 2412, interval_tu=200)
               + beacons(bssid(3), b"Open", 2462, security="open")
               + beacons(bssid(4), b"Ward", 5180, security=["wpa2-psk", "wpa3-sae"], pmf="optional")
               + beacons(bssid(5), b"Ward", 5200, security="wpa3-sae"))
    draft = render_draft(collect(packets), "ward")
    aps = aps_of(load_draft(tmp_path, draft.text))
    assert aps[bssid(1)][3] == (5975,) and "frequencies: [5975]" in draft.text
    assert "beacon_interval: 200" in draft.text
    assert load_draft(tmp_path, draft.text).ap_for_bssid(
        bytes.fromhex("020000000002")).beacon_interval == 200
    assert aps[bssid(3)][1:3] == (("open",), "disabled")
    assert aps[bssid(4)][1:3] == (("wpa2-psk", "wpa3-sae"), "optional")
    assert aps[bssid(5)][1:3] == (("wpa3-sae",), "required")
    assert draft.warnings == [] and draft.left_out == 0


def test_what_the_registry_cannot_express_is_a_comment_and_the_draft_still_loads(tmp_path):
    packets = (beacons(bssid(1), b"Broken WPA3", 2412, security="wpa3-sae", pmf="optional")
               + beacons(bssid(2), b"Ward", 2412)
               + beacons(bssid(2), b"Ward Guest", 2412, count=3, start=10))   # 2nd SSID, same BSSID
    draft = render_draft(collect(packets), "ward")
    registry = load_draft(tmp_path, draft.text)
    assert {k: v[0] for k, v in aps_of(registry).items()} == {bssid(2): b"Ward"}
    assert f'{bssid(1)} "Broken WPA3" (6 frames): the registry cannot express what it ' \
           "advertises wpa3-sae with PMF optional" in draft.text
    assert f'{bssid(2)} "Ward Guest" (3 frames): this BSSID is listed under "Ward"' in draft.text
    assert draft.left_out == 2


def test_a_bssid_with_two_security_settings_or_fingerprints_is_flagged(tmp_path):
    packets = (beacons(bssid(1), b"Ward", 2412, count=6)
               + beacons(bssid(1), b"Ward", 2412, count=6, start=6, profile="hostapd")
               + beacons(bssid(1), b"Ward", 2412, count=2, start=12, security="open"))
    collector = collect(packets)
    draft = render_draft(collector, "ward")
    assert "CHECK: several beacon fingerprints" in draft.text
    assert "CHECK: 2 frames advertised open with PMF disabled instead" in draft.text
    [ap] = load_draft(tmp_path, draft.text).access_points()
    assert len(ap.fingerprints) == 2 and ap.network.security == {"wpa2-psk"}
    assert "2 fingerprints" in render_table(collector)[1]


def test_no_fingerprint_from_too_few_beacons_and_an_empty_draft_still_loads(tmp_path):
    collector = collect(beacons(bssid(1), b"Ward", 2412, count=3))
    draft = render_draft(collector, "ward", ssids=[b"Ward"])
    [ap] = load_draft(tmp_path, draft.text).access_points()
    assert ap.fingerprints == () and "no fingerprint: fewer than 5" in draft.text
    empty = render_draft(collector, "ward", ssids=[b"Elsewhere"])
    assert load_draft(tmp_path, empty.text).facility("ward").networks == ()
    assert empty.warnings == ['--ssid "Elsewhere": heard on no BSSID; the draft has no entry for it']


def test_memory_is_bounded_and_the_overflow_counted(tmp_path):
    packets = []
    for i in range(10):
        packets += beacons(bssid(i), f"net{i}".encode(), 2412, count=2, start=2 * i)
    collector = collect(packets, max_networks=4)
    assert len(collector.networks()) == 4 and collector.untracked_frames == 12
    draft = render_draft(collector, "ward")
    assert "CHECK: 12 frames of further networks were not recorded" in draft.text
    assert "not recorded: 12 frames" in render_table(collector)[-1]
    load_draft(tmp_path, draft.text)


def test_one_karma_bssid_cannot_fill_the_table():
    packets = [(T0 + n * 1000, F.beacon(bssid(1), f"ssid{n}".encode(), 2412, seq=n))
               for n in range(100)]
    collector = collect(packets)
    assert len(collector.networks()) == 64 and collector.untracked_frames == 36
    assert collector.station(bytes.fromhex("020000000001")).ssids_untracked == 36


def test_probe_requests_and_client_addresses_are_not_recorded(capsys, tmp_path):
    client = "5a:11:22:33:44:55"
    capture = write_pcap(tmp_path / "c.pcap", beacons(bssid(1), b"Ward", 2412) + [
        (T0 + 10**9, F.probe_request(client, b"Ward", 2412)),
        (T0 + 2 * 10**9, F.probe_response(bssid(1), b"Ward", 2412, client))])
    code, out, err = run(capsys, "survey", str(capture), "--draft", "-", "--facility", "ward")
    assert code == 0
    assert client not in out + err and "5a11" not in out + err
    assert "6 beacons, 1 probe response" in out


# -- errors: one line, status 2; a missing SSID is a warning -------------------------------

@pytest.mark.parametrize("argv, message", [
    (["survey"], "survey needs capture files (survey PCAP...) or --config PATH"),
    (["survey", "missing.pcap"], "missing.pcap"),
    (["survey", "BENIGN", "--draft", "d.yaml"], "--draft needs --facility ID"),
    (["survey", "BENIGN", "--draft", "d.yaml", "--facility", "City Hall"],
     "--facility City Hall: not a valid facility id"),
    (["survey", "BENIGN", "--draft", "d.yaml", "--facility", "x", "--ssid", "x" * 33],
     "an SSID is 1 to 32 octets; this is 33"),
    (["survey", "BENIGN", "--draft", "nodir/d.yaml", "--facility", "x"], "no such directory"),
    (["survey", "BENIGN", "--dwell", "1"], "--dwell is for a live survey"),
    (["survey", "BENIGN", "--config", "sensor.yaml"], "not both"),
    (["survey", "BENIGN", "--max-networks", "0"], "--max-networks 0"),
    (["survey", "--config", "missing.yaml"], "missing.yaml: no such file or directory"),
    (["survey", "--config", "missing.yaml", "--duration", "soon"], "--duration soon"),
])
def test_errors_are_one_line_and_status_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    argv = [str(PCAPS / "benign_steady.pcap") if a == "BENIGN" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in err


def test_an_existing_draft_is_kept_unless_forced(capsys, tmp_path):
    draft = tmp_path / "registry.yaml"
    draft.write_text("precious\n")
    argv = ["survey", str(PCAPS / "benign_steady.pcap"), "--draft", str(draft),
            "--facility", "city-hall"]
    code, _out, err = run(capsys, *argv)
    assert code == 2 and "already exists" in err and draft.read_text() == "precious\n"
    code, _out, err = run(capsys, *argv, "--force")
    assert code == 0, err
    assert len(load_registry(draft).access_points()) == 7
    assert [p.name for p in tmp_path.iterdir()] == ["registry.yaml"]   # no temporary left


def _special_targets(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Things at a --draft path that are not a regular file (never real device nodes)."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    registry = tmp_path / "live-registry.yaml"
    registry.write_text("precious\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(registry)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    return {"fifo": (fifo, "is a FIFO, not a regular file"),
            "link": (link, "is a symbolic link to "),
            "dangling": (dangling, "is a symbolic link to ")}


def _untouched(tmp_path: Path) -> None:
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo.yaml").st_mode)
    assert os.readlink(tmp_path / "link.yaml") == str(tmp_path / "live-registry.yaml")
    assert (tmp_path / "live-registry.yaml").read_text() == "precious\n"
    assert os.readlink(tmp_path / "dangling.yaml") == str(tmp_path / "nowhere.yaml")
    assert not (tmp_path / "nowhere.yaml").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("which", ["fifo", "link", "dangling"])
def test_force_replaces_only_a_regular_file(capsys, tmp_path, which):
    target, why = _special_targets(tmp_path)[which]
    argv = ["survey", str(PCAPS / "benign_steady.pcap"), "--draft", str(target),
            "--facility", "city-hall"]
    code, out, err = run(capsys, *argv)   # without --force: exists, as any file
    assert (code, out) == (2, "") and err.count("\n") == 1 and "already exists" in err
    code, out, err = run(capsys, *argv, "--force")
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: {target}: {why}" + err.split(why, 1)[1]
    assert err.count("\n") == 1 and "--force replaces only a regular file" in err
    _untouched(tmp_path)


@pytest.mark.parametrize("which", ["fifo", "link", "regular"])
def test_what_appears_at_the_draft_path_during_the_survey_is_not_replaced(
        capsys, tmp_path, monkeypatch, which):
    """The target is checked again just before the draft is put in place."""
    from evil_twin_monitor.survey import command as survey_command
    specials = _special_targets(tmp_path)
    draft = tmp_path / "draft.yaml"
    files = survey_command._files

    def survey_then_create(paths, collector):
        source = files(paths, collector)
        if which == "regular":
            draft.write_text("written meanwhile\n")
        else:
            os.rename(specials[which][0], draft)
        return source

    monkeypatch.setattr(survey_command, "_files", survey_then_create)
    force = () if which == "regular" else ("--force",)
    code, _out, err = run(capsys, "survey", str(PCAPS / "benign_steady.pcap"), "--draft",
                          str(draft), "--facility", "city-hall", *force)
    assert code == 2 and err.splitlines()[-1].startswith(f"evil-twin-monitor: error: {draft}: ")
    if which == "regular":
        assert "already exists" in err
        assert draft.read_text() == "written meanwhile\n"
    elif which == "fifo":
        assert stat.S_ISFIFO(os.lstat(draft).st_mode)
    else:
        assert draft.is_symlink() and (tmp_path / "live-registry.yaml").read_text() == "precious\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_ssid_heard_nowhere_is_a_warning_not_a_failure(capsys, tmp_path):
    code, out, err = run(capsys, "survey", str(PCAPS / "benign_steady.pcap"), "--draft", "-",
                         "--facility", "city-hall", "--ssid", "Shinjuku_Free_Wi-Fi",
                         "--ssid", "Nowhere\\x0a")
    assert code == 0
    assert ('evil-twin-monitor: warning: --ssid "Nowhere\\x0a": heard on no BSSID; '
            "the draft has no entry for it") in err.splitlines()
    assert len(load_draft(tmp_path, out).access_points()) == 3


def test_a_capture_file_that_is_not_802_11_fails_before_anything_is_printed(capsys, tmp_path):
    bad = tmp_path / "eth.pcap"
    bad.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    code, out, err = run(capsys, "survey", str(PCAPS / "benign_steady.pcap"), str(bad))
    assert (code, out) == (2, "")
    assert "eth.pcap" in err and "not 802.11" in err


def test_operator_text_in_file_names_and_facility_name_cannot_break_the_draft(capsys, tmp_path):
    capture = write_pcap(tmp_path / "a\nfacilities: []\r\u2028.pcap", beacons(bssid(1), b"Ward", 2412))
    name = 'Hall "A"\n# not a comment: {x}'
    code, out, err = run(capsys, "survey", str(capture), "--draft", "-", "--facility", "ward",
                         "--facility-name", name)
    assert code == 0, err
    registry = load_draft(tmp_path, out)
    assert registry.facility("ward").name == name
    assert "a\\x0afacilities: []\\x0d\\u2028.pcap" in out.splitlines()[1]


# -- the live loop with a fake radio: hopping, refused channels, restoring ------------------

class FakeRadio:
    def __init__(self) -> None:
        self.tuned: list[int] = []
        self.closed = 0
        self.opened = 0

    def open(self):
        from evil_twin_monitor.radio import RadioInfo
        self.opened += 1
        return RadioInfo("fake0", None, "fake", None)

    def tune(self, freq_mhz: int, width_mhz: int = 20) -> None:
        from evil_twin_monitor.radio import TuneFailed
        if freq_mhz > 5900:
            raise TuneFailed(f"{freq_mhz} MHz refused")
        self.tuned.append(freq_mhz)

    def close(self) -> None:
        self.closed += 1


class FakeCapture:
    """Delivers a beacon of the tuned channel's AP at each read (what the radio would hear)."""

    linktype = 127

    def __init__(self, radio: FakeRadio, fail_after: int | None = None) -> None:
        import socket
        self.radio = radio
        self._pair = socket.socketpair()
        self.closed = False
        self.fail_after = fail_after
        self.reads = 0

    def fileno(self) -> int:
        return self._pair[0].fileno()

    def read(self, limit: int):
        from evil_twin_monitor.capture import CaptureLost
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise CaptureLost("fake0: Network is down")
        freq = self.radio.tuned[-1] if self.radio.tuned else None
        if freq != 2437:
            return []
        return [(T0 + self.reads, F.beacon(bssid(6), b"Six", 2437, seq=self.reads))]

    def kernel_stats(self):
        return (0, 0)

    def close(self) -> None:
        self.closed = True
        for sock in self._pair:
            sock.close()


def fake_live(monkeypatch, tmp_path, channels: str = "", fail_after: int | None = None):
    from evil_twin_monitor.config import load_config
    from evil_twin_monitor.survey import live
    (tmp_path / "sensor.yaml").write_text(
        f"sensor: {{id: s1, facility: city-hall}}\nregistry: {FIXTURE_REGISTRY}\n"
        f"radio: {{interface: fake0, driver: simulated}}\nstore: {{path: alerts.sqlite3}}\n"
        f"{channels}")
    radio = FakeRadio()
    captures: list[FakeCapture] = []

    def capture(*_args):
        captures.append(FakeCapture(radio, fail_after))
        return captures[-1]

    monkeypatch.setattr(live, "make_radio", lambda settings: radio)
    monkeypatch.setattr(live, "LiveCapture", capture)
    return load_config(tmp_path / "sensor.yaml"), radio, captures


def test_live_loop_visits_every_channel_skips_refused_ones_and_restores_the_radio(
        monkeypatch, tmp_path):
    from evil_twin_monitor.channelplan import DOMAINS
    from evil_twin_monitor.survey.live import survey_live
    config, radio, captures = fake_live(monkeypatch, tmp_path,
                                        "channels: {only: [1], exclude: [13]}\n")
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    collector = SurveyCollector()
    said: list[str] = []
    result = survey_live(config, collector, 1.0, 0.01, said.append)
    everything = [f for f in DOMAINS["JP"].frequencies if f != 2472 and f < 5900]
    assert radio.tuned[:len(everything)] == everything       # all of JP but exclude: and 6 GHz
    assert set(radio.tuned) == set(everything)               # only: is ignored by a survey
    assert sorted(set(result.refused)) == [f for f in DOMAINS["JP"].frequencies if f > 5900]
    assert radio.closed == 1 and captures[0].closed
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert result.error is None and result.stopped_by is None
    [network] = collector.networks()
    assert network.ssid == b"Six" and network.frequencies == {2437}
    assert "surveying 56 channels of JP" in said[0]


def test_live_loop_lost_capture_ends_early_and_still_restores(monkeypatch, tmp_path):
    from evil_twin_monitor.survey.live import survey_live
    config, radio, captures = fake_live(monkeypatch, tmp_path, fail_after=3)
    result = survey_live(config, SurveyCollector(), 30.0, 0.01)
    assert result.error == "fake0: Network is down" and result.seconds < 5
    assert radio.closed == 1 and captures[0].closed


def test_live_survey_lost_radio_still_writes_the_outputs_and_exits_2(monkeypatch, tmp_path, capsys):
    config, radio, captures = fake_live(monkeypatch, tmp_path, fail_after=40)
    code, out, err = run(capsys, "survey", "--config", str(tmp_path / "sensor.yaml"),
                         "--duration", "30", "--dwell", "0.01", "--draft", "-")
    assert code == 2
    assert "INCOMPLETE: the survey ended early: fake0: Network is down" in out
    assert load_draft(tmp_path, out).facility("city-hall") is not None
    assert err.splitlines()[-1] == ("evil-twin-monitor: error: the survey ended early: fake0: "
                                    "Network is down; the outputs cover only the time before")


def test_live_survey_refuses_an_adapter_whose_lock_another_process_holds(
        monkeypatch, tmp_path, capsys):
    """The sensor (or another survey) holds the adapter's lock: the survey must not
    adopt, hop or delete its monitor interface."""
    from evil_twin_monitor.radio.lock import RadioLock, lock_path
    config, radio, captures = fake_live(monkeypatch, tmp_path)
    daemon = RadioLock()   # flock: another open file description conflicts like a process
    assert daemon.acquire(lock_path(config), "fake0") is None
    assert lock_path(config) == tmp_path / ".radio-fake0.lock"
    argv = ["survey", "--config", str(tmp_path / "sensor.yaml"), "--duration", "1",
            "--dwell", "0.01"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == (f"evil-twin-monitor: error: fake0 is in use by another evil-twin-monitor "
                   f"process (lock {lock_path(config)}), the sensor service or another survey; "
                   "stop the service first: systemctl stop evil-twin-monitor\n")
    assert (radio.opened, radio.tuned, captures) == (0, [], [])
    daemon.release()
    code, out, err = run(capsys, *argv)   # the sensor stopped: the survey runs
    assert code == 0, err
    assert radio.opened == 1 and radio.closed == 1
    assert daemon.acquire(lock_path(config), "fake0") is None   # and gave the lock back
    daemon.release()


def test_live_survey_without_a_usable_lock_directory_warns_and_runs(monkeypatch, tmp_path,
                                                                     capsys):
    config, radio, _captures = fake_live(monkeypatch, tmp_path)
    (tmp_path / "sensor.yaml").write_text((tmp_path / "sensor.yaml").read_text().replace(
        "alerts.sqlite3", "missing/alerts.sqlite3"))
    code, _out, err = run(capsys, "survey", "--config", str(tmp_path / "sensor.yaml"),
                          "--duration", "1", "--dwell", "0.01")
    assert code == 0, err
    assert (f"warning: cannot check whether the sensor is using fake0 ({tmp_path / 'missing'}: "
            "no such directory); stop the sensor service first") in err
    assert radio.opened == 1


# -- live, on the simulated monitor interface (root) ----------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root for network namespaces and TAP devices (CI runs as root)")


def _survey_process(lab, *extra: str) -> subprocess.Popen:
    return lab.netns.popen(
        [sys.executable, "-m", "evil_twin_monitor", "survey", "--config",
         str(lab.tmp / "sensor.yaml"), "--dwell", "0.05", *extra],
        cwd=lab.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@needs_root
def test_live_survey_hops_every_channel_and_drafts_what_it_heard(lab_factory):
    from lab import HALL, LOBBY, SSID, TWIN, transmitter
    six = "02:66:00:00:00:01"
    lab = lab_factory([transmitter(LOBBY, 1), transmitter(HALL, 36),
                       transmitter(TWIN, 13, security="open", profile="hostapd"),
                       {"bssid": six, "ssid": "Six", "freq_mhz": 5975, "beacon_interval_tu": 20}])
    started = time.monotonic()
    process = _survey_process(lab, "--duration", "9", "--draft", "draft.yaml")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert time.monotonic() - started < 30
    assert "surveying 57 channels of JP" in err
    table = {tuple(line.split()[:3]) for line in out.splitlines()}
    assert {(SSID, LOBBY, "1"), (SSID, HALL, "36"), (SSID, TWIN, "13"),
            ("Six", six, "5975MHz")} <= table
    registry = load_registry(lab.tmp / "draft.yaml")
    aps = aps_of(registry)
    assert aps[LOBBY][3] == (2412,) and aps[HALL][3] == (5180,) and aps[TWIN][3] == (2472,)
    assert aps[TWIN][1:3] == (("open",), "disabled") and aps[six][3] == (5975,)
    assert aps[LOBBY][4] and aps[LOBBY][4] != aps[TWIN][4]   # fingerprints, and different ones
    assert "live survey with" in (lab.tmp / "draft.yaml").read_text()


@needs_root
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_live_survey_ends_early_on_a_signal_and_keeps_what_it_heard(lab_factory, signum):
    from lab import LOBBY, transmitter
    lab = lab_factory([transmitter(LOBBY, 1)])
    process = _survey_process(lab, "--duration", "600", "--draft", "-", "--facility", "city-hall")
    assert process.stderr is not None
    assert "surveying" in process.stderr.readline()
    time.sleep(3.5)                                  # more than one sweep of 57 x 0.05 s
    stopped = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert time.monotonic() - stopped < 5
    name = signal.Signals(signum).name
    assert f"stopped by {name}" in err
    assert f"(stopped early by {name})" in out
    assert LOBBY in aps_of(load_draft(lab.tmp, out))


@needs_root
def test_live_survey_without_the_interface_is_one_line_and_status_2(lab_factory):
    from lab import LOBBY, transmitter
    lab = lab_factory([transmitter(LOBBY, 1)])
    lab.player_command({"cmd": "delete_interface"}, "interface_deleted")
    process = _survey_process(lab, "--duration", "5")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2 and out == ""
    assert len(err.splitlines()) == 1 and "mon0" in err and "no such network interface" in err
