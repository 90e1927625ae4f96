"""fingerprint_mismatch: the fingerprint contract and the rule's learning and counting."""

from __future__ import annotations

import re
import struct

import pytest

from evil_twin_monitor.decoding.elements import build_elements
from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.fingerprint_mismatch import (
    FingerprintMismatch, fingerprint_components, fingerprint_of)

SSID = b"Shinjuku_Free_Wi-Fi"
BSSID = bytes.fromhex("001a2b3c4d50")
OTHER_BSSID = bytes.fromhex("001a2b3c4d99")
SEC = 1_000_000_000

RSN = bytes.fromhex("0100" "000fac04" "0100" "000fac04" "0100" "000fac02" "8000")
HT_CAP = bytes.fromhex("ef1917ffff000000000000000000000000000000000000000000")
WMM_PARAM = bytes.fromhex("0050f2020101" "80" "00" "03a40000" "27a40000" "42435e00" "62322f00")
WMM_PARAM_OTHER = bytes.fromhex("0050f2020101" "81" "00" "03a40000" "27a40000" "42435e00" "62322f00")
CITY_CAP = 0x0431  # ESS, privacy, short preamble, short slot time


def tlv(eid: int, body: bytes) -> bytes:
    return bytes([eid, len(body)]) + body


def city_raw(tim: bytes = b"\x00\x01\x00\x00", extra: bytes = b"", erp: bytes = b"\x00",
             ht_op_body: bytes = b"\x06" + bytes(21), wmm: bytes = WMM_PARAM) -> bytes:
    """Elements of the city AP's beacon, with the volatile parts as parameters."""
    return (tlv(0, SSID) + tlv(1, bytes.fromhex("82848b960c121824")) + tlv(3, b"\x06")
            + tlv(5, tim) + extra + tlv(42, erp) + tlv(50, bytes.fromhex("3048606c"))
            + tlv(48, RSN) + tlv(45, HT_CAP) + tlv(61, ht_op_body)
            + tlv(127, bytes.fromhex("0400000000000040")) + tlv(221, wmm))


def clone_raw() -> bytes:
    """A hostapd-style twin: same SSID, channel and RSN, other hardware."""
    return (tlv(0, SSID) + tlv(1, bytes.fromhex("8c129824b048606c")) + tlv(3, b"\x06")
            + tlv(5, b"\x00\x02\x00\x00") + tlv(48, RSN)
            + tlv(127, bytes.fromhex("0000000000000040")) + tlv(221, WMM_PARAM))


def frame(raw: bytes, ts_s: float = 0.0, kind: str = BEACON, capability: int = CITY_CAP,
          interval: int = 100, bssid: bytes = BSSID, number: int = 1) -> Frame:
    f = Frame()
    f.number = number
    f.ts_ns = int(ts_s * SEC)
    f.kind = kind
    f.addr2 = f.addr3 = bssid
    f.freq_mhz = 2437
    f.signal_dbm = -60
    f.beacon_interval = interval
    f.capability = capability
    f.elements = build_elements(raw, privacy=bool(capability & 0x10))
    return f


def rule(fingerprints: tuple[str, ...] = (), **settings) -> FingerprintMismatch:
    registry = build_registry([{"id": "city-hall", "name": "City hall", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "pmf": "optional", "access_points": [
            {"bssid": BSSID, "frequencies": {2412, 2437, 2462}, "label": "3F lobby",
             "fingerprints": fingerprints}]}]}])
    return FingerprintMismatch(RuleContext(registry), settings)


CITY_FP = fingerprint_of(frame(city_raw()))
CLONE_FP = fingerprint_of(frame(clone_raw()))


# -- the fingerprint contract ---------------------------------------------------

def test_fingerprint_format_is_kind_version_and_16_hex_digits():
    assert re.fullmatch(r"beacon:v1:[0-9a-f]{16}", CITY_FP)
    probe = fingerprint_of(frame(city_raw(), kind=PROBE_RESP))
    assert re.fullmatch(r"probe_resp:v1:[0-9a-f]{16}", probe)
    assert probe[len("probe_resp:"):] != CITY_FP[len("beacon:"):]  # kinds never collide


def test_fingerprint_value_is_stable_across_releases():
    # The survey tool writes these strings into registries: a change here is a new version.
    assert CITY_FP == "beacon:v1:d306fb7a93768542"


def test_components_name_each_stable_part():
    assert fingerprint_components(frame(city_raw())) == {
        "interval": "100",
        "capability": "0011",
        "elements": "0,1,3,50,48,45,61,127,221",
        "rates": "82848b960c1218243048606c",
        "ht_cap": "#5d1a3746",
        "vht_cap": "-",
        "he_cap": "-",
        "ext_cap": "8 octets",
        "rsn": "1/000fac04/000fac04/000fac02/0080",
        "wpa": "-",
        "wps": "-",
        "vendor": "0050f2-2",
    }


def test_no_fingerprint_for_other_kinds_or_without_elements():
    probe_req = frame(city_raw(), kind="probe_req")
    assert fingerprint_of(probe_req) is None
    bare = frame(city_raw())
    bare.elements = None
    assert fingerprint_of(bare) is None
    assert fingerprint_components(bare) == {}


@pytest.mark.parametrize("variant", [
    dict(raw=city_raw(tim=b"\x02\x03\x01\x00\x00\x40")),                 # DTIM count, traffic bitmap
    dict(raw=city_raw(erp=b"\x03")),                                    # ERP protection on
    dict(raw=city_raw(extra=tlv(11, b"\x05\x00\x80\x00\x00"))),         # BSS Load appears
    dict(raw=city_raw(extra=tlv(37, b"\x01\x0b\x05"))),                 # channel switch announced
    dict(raw=city_raw(ht_op_body=b"\x06\x05" + bytes(20))),             # HT operation changed
    dict(raw=city_raw(wmm=WMM_PARAM_OTHER)),                            # WMM parameter set count
    dict(raw=city_raw(), capability=CITY_CAP & ~0x0020),                # short preamble off
    dict(raw=city_raw(), capability=CITY_CAP & ~0x0400),                # short slot time off
])
def test_runtime_changes_keep_the_fingerprint(variant):
    raw = variant.pop("raw")
    assert fingerprint_of(frame(raw, **variant)) == CITY_FP


@pytest.mark.parametrize("variant, component", [
    (dict(interval=200), "interval"),
    (dict(capability=CITY_CAP & ~0x0010), "capability"),   # privacy bit
    (dict(raw=city_raw().replace(bytes.fromhex("3048606c"), bytes.fromhex("30486c"))), "rates"),
    (dict(raw=city_raw().replace(HT_CAP, b"\xee" + HT_CAP[1:])), "ht_cap"),
    (dict(raw=city_raw(extra=tlv(221, bytes.fromhex("00904c0400bf0c")))), "vendor"),
])
def test_hardware_differences_change_the_fingerprint(variant, component):
    raw = variant.pop("raw", city_raw())
    other = frame(raw, **variant)
    assert fingerprint_of(other) != CITY_FP
    expected = fingerprint_components(frame(city_raw()))
    observed = fingerprint_components(other)
    assert component in {name for name in expected if expected[name] != observed[name]}


def test_frames_with_and_without_fcs_give_the_same_fingerprint():
    from scapy.layers.dot11 import Dot11, RadioTap
    from evil_twin_monitor.decoding.decoder import Decoder

    def captured(with_fcs: bool) -> bytes:
        radiotap = RadioTap(present="Flags+Channel", Flags="FCS" if with_fcs else 0,
                            ChannelFrequency=2437, ChannelFlags="2GHz+OFDM")
        header = Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=BSSID.hex(":"),
                       addr3=BSSID.hex(":"))
        # Fixed fields written by hand: timestamp, interval, capability (little-endian).
        data = bytes(radiotap / header) + struct.pack("<QHH", 0, 100, CITY_CAP) + city_raw()
        return data + b"\x12\x34\x56\x78" if with_fcs else data

    decoder = Decoder()
    with_fcs = decoder.decode(captured(True), 127, 0, 1)
    without = decoder.decode(captured(False), 127, 0, 2)
    assert with_fcs is not None and without is not None
    assert fingerprint_of(with_fcs) == fingerprint_of(without) == CITY_FP


# -- the rule ------------------------------------------------------------------

def feed(r: FingerprintMismatch, frames: list[Frame]) -> list:
    return [out for f in frames if (out := r.on_frame(f)) is not None]


def learned_rule(**settings) -> FingerprintMismatch:
    r = rule(**settings)
    assert feed(r, [frame(city_raw(), ts_s=i * 0.1) for i in range(5)]) == []
    return r


def test_interleaving_clone_is_caught_after_ten_mismatches_in_a_minute():
    r = learned_rule()
    findings = []
    clone_frames = 0
    for i in range(40):  # real and twin alternate: half the beacons are the twin's
        ts = 1 + i * 0.1
        out = r.on_frame(frame(city_raw(), ts_s=ts))
        assert out is None
        out = r.on_frame(frame(clone_raw(), ts_s=ts + 0.05, number=100 + i))
        clone_frames += 1
        if out is not None:
            findings.append((clone_frames, out))
    first_at, finding = findings[0]
    assert first_at == 10
    assert finding.rule == "fingerprint_mismatch"
    assert finding.severity == "high"
    assert finding.bssid == BSSID
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2437
    assert finding.message == (
        'The city access point "3F lobby" (00:1a:2b:3c:4d:50, "Shinjuku_Free_Wi-Fi", channel 6) '
        "is sending beacons that look like they come from different hardware than usual; "
        "another device may be copying its identity.")
    ev = finding.evidence
    assert ev["expected_fingerprints"] == [CITY_FP]
    assert ev["expected_source"] == "learned"
    assert ev["observed_fingerprint"] == CLONE_FP
    assert ev["mismatching_frames_in_window"] == 10
    assert ev["matching_frames"] == 10
    assert ev["mismatching_frames"] == 10
    assert ev["differing_components"] == [
        {"component": "elements", "expected": "0,1,3,50,48,45,61,127,221",
         "observed": "0,1,3,48,127,221"},
        {"component": "rates", "expected": "82848b960c1218243048606c",
         "observed": "8c129824b048606c"},
        {"component": "ht_cap", "expected": "#5d1a3746", "observed": "-"},
    ]


def test_odd_frames_below_the_count_never_alert():
    r = learned_rule()
    frames = [frame(clone_raw(), ts_s=1 + i) for i in range(9)]
    frames += [frame(city_raw(), ts_s=20 + i * 0.1) for i in range(100)]
    assert feed(r, frames) == []


def test_mismatches_spread_over_more_than_the_window_do_not_alert():
    r = learned_rule()
    assert feed(r, [frame(clone_raw(), ts_s=1 + i * 7) for i in range(30)]) == []


def test_settings_change_the_count_and_window():
    r = learned_rule(mismatch_count=3, mismatch_window_s=5)
    out = feed(r, [frame(clone_raw(), ts_s=1 + i) for i in range(3)])
    assert len(out) == 1
    assert out[0].evidence["window_s"] == 5


def test_learning_needs_consecutive_identical_frames():
    r = rule()
    # Alternating from the start: nothing is learned, so nothing can be accused.
    frames = []
    for i in range(50):
        frames.append(frame(city_raw(), ts_s=i * 0.1))
        frames.append(frame(clone_raw(), ts_s=i * 0.1 + 0.05))
    assert feed(r, frames) == []


def test_runtime_variation_after_learning_does_not_alert():
    r = learned_rule()
    frames = [frame(city_raw(tim=bytes([i % 3, 3, 0, 0]), erp=bytes([i % 2])), ts_s=1 + i * 0.1,
                    capability=CITY_CAP ^ (0x0020 if i % 2 else 0))
              for i in range(100)]
    assert feed(r, frames) == []


def test_registered_fingerprint_is_used_without_learning():
    r = rule(fingerprints=(CITY_FP,))
    out = feed(r, [frame(clone_raw(), ts_s=i * 0.1) for i in range(10)])
    assert len(out) == 1
    assert out[0].evidence["expected_source"] == "registry"
    assert out[0].evidence["expected_fingerprints"] == [CITY_FP]
    # No frame with the registered fingerprint was seen: which parts differ is unknown.
    assert out[0].evidence["differing_components"] is None


def test_registry_with_only_a_beacon_fingerprint_learns_probe_responses():
    r = rule(fingerprints=(CITY_FP,))
    probe_fp = fingerprint_of(frame(city_raw(), kind=PROBE_RESP))
    # The AP's own probe responses differ from its beacon fingerprint (other kind): learned.
    assert feed(r, [frame(city_raw(), ts_s=i * 0.1, kind=PROBE_RESP) for i in range(30)]) == []
    out = feed(r, [frame(clone_raw(), ts_s=5 + i * 0.1, kind=PROBE_RESP) for i in range(10)])
    assert len(out) == 1
    assert out[0].evidence["expected_fingerprints"] == [probe_fp]
    assert out[0].evidence["expected_source"] == "learned"
    assert "is sending probe responses that look like" in out[0].message


def test_registered_fingerprint_of_another_version_is_ignored():
    r = rule(fingerprints=("beacon:v9:0123456789abcdef",))
    frames = [frame(city_raw(), ts_s=i * 0.1) for i in range(50)]
    assert feed(r, frames) == []  # learned instead of accused


def test_unregistered_bssid_is_ignored():
    r = rule(fingerprints=(CITY_FP,))
    frames = [frame(clone_raw(), ts_s=i * 0.1, bssid=OTHER_BSSID) for i in range(50)]
    assert feed(r, frames) == []


def test_tracked_bssids_are_bounded():
    registry = build_registry([{"id": "city-hall", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "access_points": [
            {"bssid": bytes.fromhex("001a2b000000"), "prefix_len": 24,
             "frequencies": {2437}}]}]}])
    r = FingerprintMismatch(RuleContext(registry), {"max_tracked": 8})
    for i in range(100):
        r.on_frame(frame(city_raw(), bssid=bytes.fromhex("001a2b") + i.to_bytes(3, "big")))
    assert len(r._tracks[BEACON]) == 8
