"""security_mismatch: registered BSSIDs advertising security other than registered."""

from __future__ import annotations

from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Elements, Frame, RsnInfo
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.security_mismatch import SecurityMismatch

SSID = b"Shinjuku_Free_Wi-Fi"
PSK_AP = bytes.fromhex("001a2b3c4d50")        # wpa2-psk, pmf optional
SAE_AP = bytes.fromhex("001a2b3c4d60")        # wpa3-sae, pmf required, label "Council room"
MIXED_AP = bytes.fromhex("001a2b3c4d70")      # transition wpa2-psk + wpa3-sae
OPEN_AP = bytes.fromhex("001a2b3c4d80")       # open
EAP_AP = bytes.fromhex("001a2b3c4d90")        # wpa2-eap, pmf required
LEGACY_AP = bytes.fromhex("001a2b3c4da0")     # wpa-psk + wpa2-psk
STRANGER = bytes.fromhex("0213374d5e6f")

CCMP, TKIP, GCMP256, BIP = (b"\x00\x0f\xac\x04", b"\x00\x0f\xac\x02", b"\x00\x0f\xac\x09",
                            b"\x00\x0f\xac\x06")
PSK, SAE, EAP = b"\x00\x0f\xac\x02", b"\x00\x0f\xac\x08", b"\x00\x0f\xac\x01"
WPA_TKIP, WPA_PSK = b"\x00\x50\xf2\x02", b"\x00\x50\xf2\x02"


def net(ssid, security, pmf, bssid, label=""):
    return {"ssid": ssid, "security": set(security), "pmf": pmf,
            "access_points": [{"bssid": bssid, "frequencies": {2437}, "label": label}]}


def registry():
    return build_registry([{"id": "city-hall", "networks": [
        net(SSID, ["wpa2-psk"], "optional", PSK_AP),
        net(b"Shinjuku_Council", ["wpa3-sae"], "required", SAE_AP, "Council room"),
        net(b"Shinjuku_Mixed", ["wpa2-psk", "wpa3-sae"], "optional", MIXED_AP),
        net(b"Shinjuku_Guest", ["open"], "optional", OPEN_AP),
        net(b"Shinjuku_Staff", ["wpa2-eap"], "required", EAP_AP),
        net(b"Shinjuku_Old", ["wpa-psk", "wpa2-psk"], "optional", LEGACY_AP),
    ]}])


def rsn(pairwise=(CCMP,), group=CCMP, akm=(PSK,), caps=0x80) -> RsnInfo:
    return RsnInfo(1, group, tuple(pairwise), tuple(akm), caps)


def beacon(bssid=PSK_AP, ssid=SSID, security=("wpa2-psk",), pmf="optional", rsn_info="default",
           wpa_info=None, kind=BEACON, raw=b"") -> Frame:
    e = Elements(raw=raw)
    e.ssid = ssid
    e.ds_channel = 6
    e.security = frozenset(security)
    e.pmf = pmf
    e.rsn = rsn() if rsn_info == "default" else rsn_info
    e.wpa = wpa_info
    f = Frame()
    f.kind = kind
    f.addr2 = f.addr3 = bssid
    f.freq_mhz = 2437
    f.signal_dbm = -50
    f.elements = e
    return f


def rule(**settings) -> SecurityMismatch:
    return SecurityMismatch(RuleContext(registry=registry()), settings or None)


def test_open_where_wpa2_is_registered_is_a_critical_downgrade():
    finding = rule().on_frame(beacon(security=("open",), pmf="disabled", rsn_info=None))
    assert finding.rule == "security_mismatch"
    assert finding.severity == "critical"
    assert finding.bssid == PSK_AP
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2437
    assert finding.message == (
        'The city access point 00:1a:2b:3c:4d:50 ("Shinjuku_Free_Wi-Fi", channel 6) now '
        "advertises no encryption (open) although it is registered as WPA2-Personal; someone "
        "may be impersonating it to capture users' traffic.")
    assert finding.evidence == {
        "ssid": "Shinjuku_Free_Wi-Fi",
        "bssid": "00:1a:2b:3c:4d:50",
        "expected": {"security": ["wpa2-psk"], "pmf": "optional"},
        "observed": {"security": ["open"], "pmf": "disabled", "rsn": None, "wpa": None},
        "differences": ["downgrade"],
        "unexpected_security": ["open"],
        "frame_kind": "beacon",
    }


def test_matching_advertisement_is_quiet():
    assert rule().on_frame(beacon()) is None
    assert rule().on_frame(beacon(kind=PROBE_RESP, pmf="required")) is None   # stronger PMF


def test_transition_network_accepts_both_modes_or_either():
    r = rule()
    both = rsn(akm=(PSK, SAE))
    assert r.on_frame(beacon(MIXED_AP, b"Shinjuku_Mixed", ("wpa2-psk", "wpa3-sae"),
                             rsn_info=both)) is None
    assert r.on_frame(beacon(MIXED_AP, b"Shinjuku_Mixed", ("wpa2-psk",))) is None
    assert r.on_frame(beacon(MIXED_AP, b"Shinjuku_Mixed", ("wpa3-sae",), "required",
                             rsn(akm=(SAE,), caps=0xc0))) is None


def test_wpa3_to_wpa2_is_a_downgrade_and_names_the_label():
    finding = rule().on_frame(beacon(SAE_AP, b"Shinjuku_Council", ("wpa2-psk",), "optional"))
    assert finding.severity == "critical"
    assert finding.evidence["differences"] == ["downgrade", "pmf"]
    assert finding.message == (
        'The city access point "Council room" (00:1a:2b:3c:4d:60, "Shinjuku_Council", '
        "channel 6) now advertises WPA2-Personal although it is registered as WPA3-Personal; "
        "someone may be impersonating it to capture users' traffic.")


def test_management_frame_protection_switched_off():
    finding = rule().on_frame(beacon(SAE_AP, b"Shinjuku_Council", ("wpa3-sae",), "disabled",
                                     rsn(akm=(SAE,), caps=0)))
    assert finding.severity == "high"
    assert finding.evidence["differences"] == ["pmf"]
    assert finding.evidence["expected"] == {"security": ["wpa3-sae"], "pmf": "required"}
    assert finding.evidence["observed"]["pmf"] == "disabled"
    assert finding.message == (
        'The city access point "Council room" (00:1a:2b:3c:4d:60, "Shinjuku_Council", '
        "channel 6) advertises management-frame protection as off although it is registered "
        "as required; without it, users can be disconnected at will and pushed towards a fake "
        "access point.")


def test_pmf_is_not_compared_on_an_open_network():
    assert rule().on_frame(beacon(OPEN_AP, b"Shinjuku_Guest", ("open",), "disabled",
                                  None)) is None


def test_enterprise_to_personal_is_a_downgrade():
    finding = rule().on_frame(beacon(EAP_AP, b"Shinjuku_Staff", ("wpa2-psk",), "required"))
    assert finding.severity == "critical"
    assert finding.evidence["unexpected_security"] == ["wpa2-psk"]


def test_different_but_not_weaker_security_is_high():
    finding = rule().on_frame(beacon(security=("wpa2-eap",), rsn_info=rsn(akm=(EAP,))))
    assert finding.severity == "high"
    assert finding.evidence["differences"] == ["security"]
    assert finding.message == (
        'The city access point 00:1a:2b:3c:4d:50 ("Shinjuku_Free_Wi-Fi", channel 6) '
        "advertises WPA2-Enterprise although it is registered as WPA2-Personal; the access "
        "point may have been replaced or reconfigured, or someone may be impersonating it.")


def test_enhanced_open_on_an_open_network_is_a_low_upgrade():
    finding = rule().on_frame(beacon(OPEN_AP, b"Shinjuku_Guest", ("owe",), "required",
                                     rsn(akm=(b"\x00\x0f\xac\x12",), caps=0xc0)))
    assert finding.severity == "low"
    assert finding.evidence["differences"] == ["upgrade"]
    assert finding.evidence["observed"]["rsn"]["akm"] == ["OWE"]
    assert finding.message == (
        'The city access point 00:1a:2b:3c:4d:80 ("Shinjuku_Guest", channel 6) advertises '
        "Enhanced Open (OWE) although it is registered as no encryption (open); this is safer "
        "for users, but the registry entry should be updated if the change is intended.")


def test_unrecognised_security_is_high():
    finding = rule().on_frame(beacon(security=(), rsn_info=rsn(akm=(b"\x00\x0f\xac\x63",))))
    assert finding.severity == "high"
    assert finding.evidence["differences"] == ["unrecognised"]
    assert finding.evidence["observed"]["rsn"]["akm"] == ["00:0f:ac:63"]


def test_tkip_only_pairwise_cipher():
    finding = rule().on_frame(beacon(rsn_info=rsn(pairwise=(TKIP,), group=TKIP)))
    assert finding.severity == "high"
    assert finding.evidence["differences"] == ["cipher"]
    assert finding.evidence["weak_ciphers"] == ["TKIP"]
    assert finding.evidence["observed"]["rsn"] == {
        "group": "TKIP", "pairwise": ["TKIP"], "akm": ["PSK"]}
    assert ("offers the outdated TKIP encryption although it is registered without legacy "
            "WPA or WEP;") in finding.message


def test_tkip_group_cipher_beside_ccmp_counts_too():
    finding = rule().on_frame(beacon(rsn_info=rsn(pairwise=(CCMP, TKIP), group=TKIP)))
    assert finding.evidence["differences"] == ["cipher"]


def test_strong_ciphers_are_named_and_quiet():
    r = rule()
    assert r.on_frame(beacon(rsn_info=rsn(pairwise=(GCMP256,), group=GCMP256))) is None


def test_tkip_is_fine_where_legacy_wpa_is_registered_or_allowed():
    mixed = dict(security=("wpa-psk", "wpa2-psk"), rsn_info=rsn(pairwise=(CCMP, TKIP), group=TKIP),
                 wpa_info=RsnInfo(1, WPA_TKIP, (WPA_TKIP,), (WPA_PSK,), None))
    assert rule().on_frame(beacon(LEGACY_AP, b"Shinjuku_Old", **mixed)) is None
    assert rule(allow_tkip=True).on_frame(beacon(rsn_info=rsn(pairwise=(TKIP,)))) is None


def test_wpa1_offered_on_a_wpa2_network_lists_every_difference():
    finding = rule().on_frame(beacon(
        security=("wpa-psk", "wpa2-psk"), rsn_info=rsn(pairwise=(CCMP, TKIP), group=TKIP),
        wpa_info=RsnInfo(1, WPA_TKIP, (WPA_TKIP,), (WPA_PSK,), None)))
    assert finding.severity == "critical"
    assert finding.evidence["differences"] == ["downgrade", "cipher"]
    assert finding.evidence["observed"]["wpa"] == {
        "group": "TKIP", "pairwise": ["TKIP"], "akm": ["PSK"]}
    assert "now advertises WPA-Personal and WPA2-Personal although" in finding.message


def test_unknown_bssids_are_left_to_unknown_bssid():
    assert rule().on_frame(beacon(STRANGER, security=("open",), rsn_info=None)) is None


def test_hidden_ssid_is_judged_against_the_registered_network():
    finding = rule().on_frame(beacon(ssid=b"", security=("open",), rsn_info=None))
    assert finding.severity == "critical"
    assert finding.ssid == SSID


def test_unregistered_ssid_on_a_registered_radio_is_not_judged():
    assert rule().on_frame(beacon(ssid=b"Lobby-Printer", security=("open",),
                                  rsn_info=None)) is None


def test_cached_verdicts_belong_to_one_network():
    # Hidden SSID: the very same element bytes from two radios of different networks.
    r = rule()
    hidden = dict(ssid=b"", security=("open",), pmf="disabled", rsn_info=None, raw=b"\x00\x00")
    assert r.on_frame(beacon(PSK_AP, **hidden)).severity == "critical"
    assert r.on_frame(beacon(OPEN_AP, **hidden)) is None
    assert r.on_frame(beacon(PSK_AP, **hidden)).severity == "critical"
