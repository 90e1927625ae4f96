"""deauth_flood: disconnect storms against a registered AP, and what must stay quiet."""

from __future__ import annotations

import json

import pytest

from evil_twin_monitor.decoding.frame import BROADCAST, DEAUTH, DISASSOC, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.deauth_flood import DeauthFlood

SSID = b"Shinjuku_Free_Wi-Fi"
AP = bytes.fromhex("001a2b3c4d50")
PREFIX_AP = bytes.fromhex("001a2b3c4e07")      # inside the /44 prefix entry
STRANGER_AP = bytes.fromhex("0a0b0c0d0e0f")
CLIENTS = [bytes.fromhex(f"3a11223344{i:02x}") for i in range(8)]
SEC = 1_000_000_000


def registry():
    return build_registry([{"id": "city-hall", "name": "City hall", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "pmf": "optional", "access_points": [
            {"bssid": AP, "frequencies": {2437}},
            {"bssid": bytes.fromhex("001a2b3c4e00"), "prefix_len": 44, "label": "5F hall",
             "frequencies": {5180}}]}]}])


def rule(**settings) -> DeauthFlood:
    return DeauthFlood(RuleContext(registry()), settings)


def deauth(ts_s: float, addr1: bytes = BROADCAST, addr2: bytes = AP, bssid: bytes = AP,
           kind: str = DEAUTH, reason: int | None = 7, protected: bool = False,
           freq: int | None = 2437, number: int = 1) -> Frame:
    f = Frame()
    f.number = number
    f.ts_ns = int(ts_s * SEC)
    f.kind = kind
    f.addr1, f.addr2, f.addr3 = addr1, addr2, bssid
    f.reason = reason
    f.protected = protected
    f.freq_mhz = freq
    return f


def feed(r: DeauthFlood, frames: list[Frame]) -> list:
    return [out for f in frames if (out := r.on_frame(f)) is not None]


def test_aireplay_style_flood_is_reported_with_counts_but_no_client_addresses():
    frames = []
    for i in range(10):   # both directions, like aireplay-ng -0 at one client
        frames.append(deauth(i * 0.1, addr1=CLIENTS[0], addr2=AP, number=2 * i + 1))
        frames.append(deauth(i * 0.1 + 0.01, addr1=AP, addr2=CLIENTS[0], number=2 * i + 2))
    out = feed(rule(), frames)
    assert len(out) == 1
    finding = out[0]
    assert finding.rule == "deauth_flood"
    assert finding.severity == "high"
    assert finding.bssid == AP
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2437
    assert finding.message == (
        "Someone is sending a flood of disconnect messages (20 in 5 s) to users of the city "
        'access point 00:1a:2b:3c:4d:50 ("Shinjuku_Free_Wi-Fi", channel 6); this knocks people '
        "off the real network, often to push them onto a fake one.")
    assert finding.evidence == {
        "frames_in_window": 20,
        "window_s": 5,
        "threshold": 20,
        "reason_codes": {"7": 20},
        "frame_kinds": {"deauth": 20},
        "broadcast_frames": 0,
        "from_ap": 10,
        "to_ap": 10,
        "clients_targeted": 1,
    }
    assert CLIENTS[0].hex(":") not in json.dumps(finding.evidence)


def test_mixed_flood_histograms_and_distinct_clients():
    frames = [deauth(i * 0.1, addr1=CLIENTS[i % 4], reason=(7 if i % 2 else 1),
                     kind=(DEAUTH if i < 15 else DISASSOC)) for i in range(17)]
    frames += [deauth(2 + i * 0.1) for i in range(3)]  # broadcast, reason 7
    out = feed(rule(), frames)
    assert len(out) == 1
    ev = out[0].evidence
    assert ev["reason_codes"] == {"1": 9, "7": 11}
    assert ev["frame_kinds"] == {"deauth": 18, "disassoc": 2}
    assert ev["broadcast_frames"] == 3
    assert ev["from_ap"] == 20
    assert ev["clients_targeted"] == 4


def test_nineteen_frames_or_a_slow_trickle_stay_quiet():
    r = rule()
    assert feed(r, [deauth(i * 0.2) for i in range(19)]) == []
    r = rule()
    assert feed(r, [deauth(i * 0.3) for i in range(200)]) == []  # 17 per 5 s, forever


def test_protected_deauths_are_skipped():
    assert feed(rule(), [deauth(i * 0.01, protected=True) for i in range(100)]) == []


def test_frames_of_unregistered_networks_are_ignored():
    frames = [deauth(i * 0.01, addr1=CLIENTS[1], addr2=STRANGER_AP, bssid=STRANGER_AP)
              for i in range(100)]
    assert feed(rule(), frames) == []


def test_a_client_address_in_the_bssid_field_still_finds_the_ap():
    # Spoofed client -> AP frames where the tool put the client in addr3.
    frames = [deauth(i * 0.01, addr1=AP, addr2=CLIENTS[2], bssid=CLIENTS[2]) for i in range(20)]
    out = feed(rule(), frames)
    assert len(out) == 1
    assert out[0].bssid == AP
    assert out[0].evidence["to_ap"] == 20


def test_prefix_entry_uses_the_heard_bssid_and_label():
    frames = [deauth(i * 0.01, addr2=PREFIX_AP, bssid=PREFIX_AP, freq=5180) for i in range(20)]
    out = feed(rule(), frames)
    assert out[0].bssid == PREFIX_AP
    assert ('the city access point "5F hall" (00:1a:2b:3c:4e:07, "Shinjuku_Free_Wi-Fi", '
            "channel 36)") in out[0].message


def test_a_long_storm_is_repeated_once_per_window():
    frames = [deauth(i * 0.05, number=i + 1) for i in range(400)]  # 20 s at 20/s
    r = rule()
    numbers = [f.number for f in frames if r.on_frame(f) is not None]
    assert numbers == [20, 120, 220, 320]
    out = feed(rule(), frames)
    # The window holds at most threshold*4 frames: counts say "at least 80".
    assert out[-1].evidence["frames_in_window"] == 80


def test_settings_threshold_and_window():
    r = rule(threshold=3, window_s=1)
    assert feed(r, [deauth(0), deauth(0.5), deauth(2)]) == []
    out = feed(r, [deauth(2.2), deauth(2.4)])
    assert len(out) == 1
    assert "(3 in 1 s)" in out[0].message


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="threshold"):
        rule(threshold=0)
    with pytest.raises(ValueError, match="unknown setting"):
        rule(treshold=5)


def test_tracked_bssids_are_bounded():
    r = rule(max_tracked=3)
    for i in range(16):
        bssid = bytes.fromhex("001a2b3c4e") + bytes([i])
        r.on_frame(deauth(0, addr2=bssid, bssid=bssid))
    assert len(r._windows) == 3
