"""unknown_bssid: a registered SSID from a BSSID the registry does not list."""

from __future__ import annotations

from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Elements, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.unknown_bssid import UnknownBssid

SSID = b"Shinjuku_Free_Wi-Fi"
CITY_AP = bytes.fromhex("001a2b3c4d50")
LIBRARY_RADIO = bytes.fromhex("001a2b3c4e07")   # inside the library's /44 prefix
TWIN = bytes.fromhex("0213374d5e6f")


def registry(ssid: bytes = SSID):
    return build_registry([
        {"id": "city-hall", "networks": [
            {"ssid": ssid, "security": {"wpa2-psk"}, "pmf": "optional",
             "access_points": [{"bssid": CITY_AP, "frequencies": {2412, 2437, 2462},
                                "label": "3F lobby"}]}]},
        {"id": "library", "networks": [
            {"ssid": ssid, "security": {"wpa2-psk"}, "pmf": "optional",
             "access_points": [{"bssid": bytes.fromhex("001a2b3c4e00"), "prefix_len": 44,
                                "frequencies": {5180}}]}]},
    ])


def beacon(bssid: bytes, ssid: bytes | None = SSID, security=("wpa2-psk",), pmf="optional",
           channel: int | None = 6, freq: int | None = 2437, kind: str = BEACON,
           transmitter: bytes | None = None) -> Frame:
    elements = Elements(raw=b"")
    elements.ssid = ssid
    elements.ds_channel = channel
    elements.security = frozenset(security)
    elements.pmf = pmf
    frame = Frame()
    frame.kind = kind
    frame.addr2 = transmitter or bssid
    frame.addr3 = bssid
    frame.freq_mhz = freq
    frame.signal_dbm = -48
    frame.elements = elements
    return frame


def rule() -> UnknownBssid:
    return UnknownBssid(RuleContext(registry=registry()))


def test_twin_with_the_same_security_is_high():
    finding = rule().on_frame(beacon(TWIN))
    assert finding.rule == "unknown_bssid"
    assert finding.severity == "high"
    assert finding.bssid == TWIN
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2437
    assert finding.message == (
        'An access point that is not in the registry (02:13:37:4d:5e:6f) is advertising the '
        'city network "Shinjuku_Free_Wi-Fi" on channel 6; it may be an evil twin impersonating '
        "the city's Wi-Fi to intercept users.")
    assert finding.evidence == {
        "ssid": "Shinjuku_Free_Wi-Fi",
        "bssid": "02:13:37:4d:5e:6f",
        "frame_kind": "beacon",
        "observed": {"security": ["wpa2-psk"], "pmf": "optional"},
        "expected": {"security": ["wpa2-psk"], "pmf": ["optional"],
                     "facilities": ["city-hall", "library"]},
        "weaker_security": False,
    }


def test_open_twin_of_a_protected_network_is_critical():
    finding = rule().on_frame(beacon(TWIN, security=("open",), pmf="disabled"))
    assert finding.severity == "critical"
    assert finding.message == (
        'An access point that is not in the registry (02:13:37:4d:5e:6f) is advertising the '
        'city network "Shinjuku_Free_Wi-Fi" on channel 6 with no encryption (open) although '
        "the city network uses WPA2-Personal; it is probably an evil twin set up to capture "
        "users' traffic.")
    assert finding.evidence["observed"] == {"security": ["open"], "pmf": "disabled"}
    assert finding.evidence["weaker_security"] is True


def test_stronger_security_on_an_unknown_bssid_stays_high():
    finding = rule().on_frame(beacon(TWIN, security=("wpa3-sae",), pmf="required"))
    assert finding.severity == "high"
    assert finding.evidence["weaker_security"] is False


def test_probe_response_counts_and_names_a_different_transmitter():
    other = bytes.fromhex("0213374d5e70")
    finding = rule().on_frame(beacon(TWIN, kind=PROBE_RESP, transmitter=other))
    assert finding.evidence["frame_kind"] == "probe_resp"
    assert finding.evidence["transmitter"] == "02:13:37:4d:5e:70"


def test_transmitter_is_left_out_when_it_is_the_bssid():
    assert "transmitter" not in rule().on_frame(beacon(TWIN)).evidence


def test_registered_bssid_does_not_fire():
    assert rule().on_frame(beacon(CITY_AP)) is None


def test_another_facilitys_access_point_counts_as_known():
    assert rule().on_frame(beacon(LIBRARY_RADIO, channel=36, freq=5180)) is None


def test_unregistered_ssid_does_not_fire():
    assert rule().on_frame(beacon(TWIN, ssid=b"aterm-1a2b3c-g")) is None


def test_case_variant_is_not_this_rules_business():
    assert rule().on_frame(beacon(TWIN, ssid=b"shinjuku_free_wi-fi")) is None


def test_hidden_ssid_is_ignored():
    r = rule()
    assert r.on_frame(beacon(TWIN, ssid=b"")) is None
    assert r.on_frame(beacon(TWIN, ssid=None)) is None


def test_frame_without_elements_is_ignored():
    frame = beacon(TWIN)
    frame.elements = None
    assert rule().on_frame(frame) is None


def test_channel_falls_back_to_the_radio_frequency():
    finding = rule().on_frame(beacon(TWIN, channel=None, freq=5180))
    assert finding.freq_mhz == 5180
    assert "on channel 36;" in finding.message


def test_registry_reload_is_picked_up():
    ctx = RuleContext(registry=registry())
    r = UnknownBssid(ctx)
    assert r.on_frame(beacon(TWIN, ssid=b"Shinjuku_Staff")) is None
    ctx.registry = registry(b"Shinjuku_Staff")
    r.registry_changed()
    assert r.on_frame(beacon(TWIN, ssid=b"Shinjuku_Staff")).severity == "high"
    assert r.on_frame(beacon(TWIN)) is None
