"""lookalike_ssid: SSIDs a person could mistake for a registered one."""

from __future__ import annotations

import pytest

from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Elements, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.lookalike_ssid import LookalikeSsid, skeleton

REGISTERED = b"Shinjuku_Free_Wi-Fi"
STAFF = b"Shinjuku_Staff"
CITY_AP = bytes.fromhex("001a2b3c4d50")
FAKE = bytes.fromhex("0213374d5e6f")


def registry(*ssids: bytes):
    return build_registry([{"id": "city-hall", "networks": [
        {"ssid": ssid, "security": {"wpa2-psk"}, "pmf": "optional",
         "access_points": [{"bssid": CITY_AP if i == 0 else bytes([0, 0x1a, 0, 0, 0, i]),
                            "frequencies": {2437}}]}
        for i, ssid in enumerate(ssids)]}])


def beacon(ssid: bytes | None, bssid: bytes = FAKE, kind: str = BEACON) -> Frame:
    elements = Elements(raw=b"")
    elements.ssid = ssid
    elements.ds_channel = 11
    frame = Frame()
    frame.kind = kind
    frame.addr2 = frame.addr3 = bssid
    frame.freq_mhz = 2462
    frame.signal_dbm = -60
    frame.elements = elements
    return frame


def rule(*ssids: bytes, **settings) -> LookalikeSsid:
    return LookalikeSsid(RuleContext(registry=registry(*(ssids or (REGISTERED, STAFF)))),
                         settings or None)


@pytest.mark.parametrize("observed, reasons", [
    ("shinjuku_free_wi-fi", ["case"]),
    ("Shinjuku Free Wi-Fi", ["whitespace", "punctuation"]),
    ("Shinjuku_Free_WiFi", ["punctuation"]),
    ("Shinjuku_Free_Wi-Fi\u200b", ["invisible characters"]),
    ("Sh\u0456njuku_Free_Wi-Fi", ["confusable characters"]),          # Cyrillic і
    ("Shinjuku_Free_Wi-F\u0399", ["case", "confusable characters"]),  # Greek capital iota
    ("Shinjuku_Fre_Wi-Fi", ["edit distance 1"]),
    ("\uff33\uff48\uff49\uff4e\uff4a\uff55\uff4b\uff55_Free_Wi-Fi", ["confusable characters"]),
    ("Shinjuku_Free_Wi-Fi_2", ["punctuation", "edit distance 1"]),
])
def test_lookalikes_fire_with_their_reasons(observed, reasons):
    ssid = observed.encode()
    finding = rule().on_frame(beacon(ssid))
    assert finding is not None
    assert finding.rule == "lookalike_ssid"
    assert finding.severity == "medium"
    assert finding.bssid == FAKE
    assert finding.ssid == ssid
    assert finding.evidence["registered_ssid"] == "Shinjuku_Free_Wi-Fi"
    assert finding.evidence["reasons"] == reasons
    assert finding.evidence["observed_ssid_hex"] == ssid.hex()


def test_message_and_evidence_of_a_zero_width_space():
    ssid = "Shinjuku_Free_Wi-Fi\u200b".encode()
    finding = rule().on_frame(beacon(ssid))
    assert finding.freq_mhz == 2462
    assert finding.message == (
        'An access point (02:13:37:4d:5e:6f) on channel 11 is advertising '
        '"Shinjuku_Free_Wi-Fi\\u200b", which differs from the city network '
        '"Shinjuku_Free_Wi-Fi" only in invisible characters; people may mistake it for the '
        "city's Wi-Fi and connect to it.")
    assert finding.evidence == {
        "registered_ssid": "Shinjuku_Free_Wi-Fi",
        "observed_ssid": "Shinjuku_Free_Wi-Fi\\u200b",
        "observed_ssid_hex": "5368696e6a756b755f467265655f57692d4669e2808b",
        "reasons": ["invisible characters"],
        "edit_distance": 0,
        "bssid": "02:13:37:4d:5e:6f",
        "bssid_registered": False,
        "frame_kind": "beacon",
    }


def test_message_names_an_edit():
    finding = rule().on_frame(beacon(b"Shinjuku_Fre_Wi-Fi", kind=PROBE_RESP))
    assert "only in 1 changed character;" in finding.message
    assert finding.evidence["edit_distance"] == 1
    assert finding.evidence["frame_kind"] == "probe_resp"


@pytest.mark.parametrize("neighbour", [
    b"eduroam", b"aterm-1a2b3c-g", b"Buffalo-G-1234", b"iptime", b"KITRI_Mentee",
    b"xfinitywifi", b"HEIG-VD", b"2021CCohana", b"linksys", b"0000docomo", b"au_Wi-Fi2",
    b"Softbank Wi-Fi", "新宿_Free_Wi-Fi".encode(), b"\xff\xfe\x00garbage",
])
def test_unrelated_neighbours_do_not_fire(neighbour):
    assert rule().on_frame(beacon(neighbour)) is None


def test_registered_ssids_never_fire_not_even_against_each_other():
    r = rule()
    assert r.on_frame(beacon(REGISTERED)) is None
    assert r.on_frame(beacon(STAFF)) is None
    assert r.on_frame(beacon(REGISTERED, bssid=CITY_AP)) is None


def test_report_is_against_the_closest_registered_ssid():
    finding = rule().on_frame(beacon(b"shinjuku-staff"))
    assert finding.evidence["registered_ssid"] == "Shinjuku_Staff"
    assert finding.evidence["reasons"] == ["case", "punctuation"]


def test_short_names_only_match_on_an_equal_skeleton():
    r = rule(b"Wi2_5G")                                     # skeleton "wi25g": 5 characters
    assert r.on_frame(beacon(b"Wi3_5G")) is None           # one edit, too short to judge
    assert r.on_frame(beacon(b"WI2-5G")).evidence["reasons"] == ["case", "punctuation"]
    r = rule(b"Wi2_5GHz")                                   # 7 characters: edits count
    assert r.on_frame(beacon(b"Wi3_5GHz")).evidence["reasons"] == ["edit distance 1"]


def test_distance_limit_is_a_setting():
    assert rule(max_distance=0).on_frame(beacon(b"Shinjuku_Fre_Wi-Fi")) is None
    assert rule(max_distance=3).on_frame(beacon(b"Shinjuku_Fr_Wi-Fi")) is not None
    assert rule().on_frame(beacon(b"Shinjuku_F_Wi-Fi")) is None   # three edits


def test_city_radio_with_an_unregistered_variant_says_so():
    finding = rule().on_frame(beacon(b"shinjuku_free_wi-fi", bssid=CITY_AP))
    assert finding.evidence["bssid_registered"] is True


def test_hidden_and_missing_ssids_are_ignored():
    r = rule()
    assert r.on_frame(beacon(b"")) is None
    assert r.on_frame(beacon(None)) is None
    assert r.on_frame(beacon(b"\x00\x00\x00")) is None   # hidden by zero padding


def test_verdict_cache_is_capped():
    r = rule(max_cached=8)
    for i in range(100):
        r.on_frame(beacon(b"flood-%03d" % i))
    assert len(r._verdicts) == 8
    assert r.on_frame(beacon(b"SHINJUKU_FREE_WI-FI")) is not None


def test_registry_reload_is_picked_up():
    ctx = RuleContext(registry=registry(REGISTERED))
    r = LookalikeSsid(ctx)
    assert r.on_frame(beacon(b"shinjuku_staff")) is None
    ctx.registry = registry(REGISTERED, STAFF)
    r.registry_changed()
    assert r.on_frame(beacon(b"shinjuku_staff")).evidence["registered_ssid"] == "Shinjuku_Staff"


def test_skeleton_folds_what_people_cannot_see():
    assert skeleton("Ｓｈｉｎｊｕｋｕ Free\u200b_Wі-Fі") == "shinjukufreewifi"
    assert skeleton("Ο\u03bf") == "oo"   # Greek capital and small omicron
