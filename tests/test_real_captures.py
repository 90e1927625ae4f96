"""Differential test: our decoder against tshark on every real public capture.

Theory of operation
-------------------
Each file of ``../shared/real-captures/`` is read twice: by our decoder, and
by tshark printing, per frame, the subtype, BSSID, first SSID (as hex, so
non-UTF-8 and invisible octets compare exactly), DS Parameter Set channel
and radio frequency. For beacons, probe responses and deauthentications the
two views must agree frame by frame: same counts, same BSSID set, same SSID
set, same channel and frequency per frame number.

They may differ only where `ALLOWANCES` says so: an entry names a file, the
reason our decoder gave for dropping frames that tshark still shows, the
exact number of such frames and why that is right. Frames are matched to an
allowance by the reason our decoder counted for them, and the count is
literal, so a new difference, or a stale allowance, fails the test.

tshark runs once per file (cached for the session): it takes a few seconds
over the whole folder. Without tshark these comparisons skip, except in CI
(``CI`` set) where they fail, because there the tool is expected.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evil_twin_monitor.decoding import Decoder, open_capture

CAPTURES = Path(os.environ.get(
    "ETM_REAL_CAPTURES", Path(__file__).resolve().parents[2] / "shared" / "real-captures"))
if not CAPTURES.is_dir():
    pytest.skip(f"real captures not found at {CAPTURES}", allow_module_level=True)

FILES = sorted(p.name for p in CAPTURES.iterdir()
               if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap"))

# The frame kinds compared, as tshark's wlan.fc.type_subtype values.
SUBTYPE = {"beacon": 8, "probe_resp": 5, "deauth": 12}
COMPARED = frozenset(SUBTYPE.values())


@dataclass(frozen=True)
class Allowance:
    count: int   # exact number of frames tshark shows and we drop for this reason
    why: str


# (file, our decoder's malformed reason) -> allowance. Keep it narrow.
ALLOWANCES: dict[tuple[str, str], Allowance] = {
    ("JPaulMora__Pyrit__wpapsk-virgin_broadband.dump.pcap", "truncated_80211"): Allowance(
        188, "26-byte probe responses: the MAC header and two octets, cut before the "
             "12 octets of fixed fields. tshark still labels the subtype; a probe response "
             "without timestamp, interval and capabilities is of no use to any rule, so we "
             "drop it and count it."),
}

TSHARK_FIELDS = (
    "frame.number", "wlan.fc.type_subtype", "wlan.bssid", "wlan.ssid",
    "wlan.ds.current_channel", "wlan_radio.frequency", "prism.did.channel",
)


@dataclass(frozen=True)
class Row:
    """What one side says about one compared frame."""

    subtype: int
    bssid: str        # aa:bb:cc:dd:ee:ff
    ssid: str         # hex of the first SSID element; "" when empty or absent
    ds_channel: str   # decimal, "" when absent
    freq: str         # MHz, "" when unknown


@dataclass
class OurView:
    records: int = 0
    rows: dict[int, Row] = field(default_factory=dict)
    dropped: dict[int, str] = field(default_factory=dict)   # frame number -> reason
    frames: Counter = field(default_factory=Counter)


def _prism_frequency(channel: int) -> int:
    """tshark 4.0 does not fill wlan_radio.frequency for Prism headers; it
    shows the channel number, which we turn into MHz the obvious way."""
    if channel == 14:
        return 2484
    if 1 <= channel <= 13:
        return 2407 + 5 * channel
    return 5000 + 5 * channel


def tshark_view(name: str) -> tuple[int, dict[int, Row]]:
    """(frame count, compared rows by frame number) as tshark sees the file."""
    return _tshark_all()[name]


@functools.cache
def _tshark_all() -> dict[str, tuple[int, dict[int, Row]]]:
    """tshark over every file, a few at a time: its start-up (about a second
    of loading dissectors) dominates, so the runs overlap."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(FILES, pool.map(_run_tshark, FILES)))


def _run_tshark(name: str) -> tuple[int, dict[int, Row]]:
    cmd = ["tshark", "-n", "-r", str(CAPTURES / name), "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=f"]
    for name_ in TSHARK_FIELDS:
        cmd += ["-e", name_]
    with tempfile.TemporaryDirectory() as conf:  # no personal preferences
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=300).stdout
    count = 0
    rows: dict[int, Row] = {}
    for line in out.splitlines():
        number, subtype, bssid, ssid, ds, freq, prism_channel = line.split("\t")
        count += 1
        if not subtype or int(subtype, 0) not in COMPARED:
            continue
        if not freq and prism_channel:
            freq = str(_prism_frequency(int(prism_channel)))
        if ssid == "<MISSING>":   # how tshark prints a zero-length SSID
            ssid = ""
        rows[int(number)] = Row(int(subtype, 0), bssid, ssid.lower(), ds, freq)
    return count, rows


@functools.cache
def our_view(name: str) -> OurView:
    view = OurView()
    decoder = Decoder()
    dropped_before = 0
    with open_capture(CAPTURES / name) as reader:
        records = list(reader)
    for number, ts_ns, linktype, data in records:
        view.records += 1
        before = dict(decoder.malformed)
        frame = decoder.decode(data, linktype, ts_ns, number)
        if decoder.frames["malformed"] != dropped_before:
            dropped_before = decoder.frames["malformed"]
            reasons = [r for r, n in decoder.malformed.items() if before.get(r, 0) != n]
            view.dropped[number] = reasons[0] if len(reasons) == 1 else repr(reasons)
        if frame is None or frame.kind not in SUBTYPE:
            continue
        el = frame.elements
        ssid = el.ssid.hex() if el is not None and el.ssid is not None else ""
        ds = str(el.ds_channel) if el is not None and el.ds_channel is not None else ""
        view.rows[number] = Row(SUBTYPE[frame.kind], frame.addr3.hex(":") if frame.addr3 else "",
                                ssid, ds, str(frame.freq_mhz) if frame.freq_mhz else "")
    view.frames = Counter(decoder.frames)
    return view


@pytest.fixture(scope="module")
def tshark() -> None:
    if shutil.which("tshark") is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is required for the differential test in CI")
        pytest.skip("tshark not installed")


def compared(name: str) -> tuple[dict[int, Row], dict[int, Row]]:
    """(tshark rows, our rows) after applying this file's allowances.

    Fails on a frame tshark shows that we dropped without an allowance, and
    on an allowance whose count is not exactly what happened."""
    ours = our_view(name)
    _count, theirs = tshark_view(name)
    allowed: Counter[str] = Counter()
    unexplained = []
    kept = {}
    for number, row in theirs.items():
        reason = ours.dropped.get(number)
        if reason is None:
            kept[number] = row
        elif (name, reason) in ALLOWANCES:
            allowed[reason] += 1
        else:
            unexplained.append((number, reason, row))
    assert unexplained == [], f"frames tshark decodes but we dropped: {unexplained[:5]}"
    expected = {reason: a.count for (file, reason), a in ALLOWANCES.items() if file == name}
    assert dict(allowed) == expected
    return kept, ours.rows


@pytest.mark.parametrize("name", FILES)
def test_decoder_survives_and_accounts_for_every_record(name: str) -> None:
    view = our_view(name)
    assert view.records > 0
    assert sum(view.frames.values()) == view.records


@pytest.mark.parametrize("name", FILES)
def test_record_count_matches_tshark(name: str, tshark: None) -> None:
    assert our_view(name).records == tshark_view(name)[0]


@pytest.mark.parametrize("name", FILES)
def test_frame_kind_counts_match_tshark(name: str, tshark: None) -> None:
    theirs, ours = compared(name)
    assert Counter(r.subtype for r in ours.values()) == Counter(r.subtype for r in theirs.values())


@pytest.mark.parametrize("name", FILES)
def test_frame_numbers_and_kinds_match_tshark(name: str, tshark: None) -> None:
    theirs, ours = compared(name)
    assert {n: r.subtype for n, r in ours.items()} == {n: r.subtype for n, r in theirs.items()}


def _beacons_and_responses(rows: dict[int, Row]) -> list[Row]:
    return [r for r in rows.values() if r.subtype in (5, 8)]


@pytest.mark.parametrize("name", FILES)
def test_bssid_set_matches_tshark(name: str, tshark: None) -> None:
    theirs, ours = compared(name)
    assert ({r.bssid for r in _beacons_and_responses(ours)}
            == {r.bssid for r in _beacons_and_responses(theirs)})


@pytest.mark.parametrize("name", FILES)
def test_ssid_set_matches_tshark(name: str, tshark: None) -> None:
    theirs, ours = compared(name)
    assert ({r.ssid for r in _beacons_and_responses(ours)}
            == {r.ssid for r in _beacons_and_responses(theirs)})


@pytest.mark.parametrize("name", FILES)
def test_channel_and_frequency_per_frame_match_tshark(name: str, tshark: None) -> None:
    theirs, ours = compared(name)
    mismatched = []
    for number, row in sorted(theirs.items()):
        mine = ours.get(number)
        got = (mine.ds_channel, mine.freq) if mine is not None else None
        if row.subtype in (5, 8) and got != (row.ds_channel, row.freq):
            mismatched.append((number, got, (row.ds_channel, row.freq)))
    assert mismatched == []


def test_corpus_has_the_link_types_the_decoder_claims() -> None:
    """The comparisons above are only worth something if the corpus exercises
    radiotap, plain 802.11 and Prism; fail loudly if the folder shrinks."""
    linktypes = {lt for name in FILES for _n, _t, lt, _d in _first_record(name)}
    assert {105, 119, 127} <= linktypes


def _first_record(name: str) -> list[tuple[int, int, int, bytes]]:
    with open_capture(CAPTURES / name) as reader:
        for record in reader:
            return [record]
    return []


def test_the_comparison_covers_many_frames(tshark: None) -> None:
    """Guard against a silently empty comparison (a tshark field renamed,
    an output format change): the corpus has thousands of beacons."""
    beacons = sum(1 for name in FILES for r in tshark_view(name)[1].values() if r.subtype == 8)
    ssids = {r.ssid for name in FILES for r in tshark_view(name)[1].values() if r.ssid}
    assert beacons > 5000
    assert len(ssids) > 20
