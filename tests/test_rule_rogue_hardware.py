"""rogue_hardware: known attack-device signatures, and ordinary devices left alone."""

from __future__ import annotations

import pytest

from evil_twin_monitor.decoding.frame import (BEACON, BROADCAST, DEAUTH, PROBE_REQ, PROBE_RESP,
                                              Elements, Frame)
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.rogue_hardware import SIGNATURES, RogueHardware

PINEAPPLE = bytes.fromhex("001337a1b2c3")
ESPRESSIF = bytes.fromhex("240ac4112233")   # an ESP32: ordinary IoT, not an attack tool
CITY = bytes.fromhex("001a2b3c4d50")


def elements(raw: bytes, ssid: bytes | None = None, wps: dict | None = None,
             channel: int | None = 6) -> Elements:
    el = Elements(raw=raw)
    el.ssid = ssid
    el.wps = wps
    el.ds_channel = channel
    return el


def frame(kind: str = BEACON, addr2: bytes | None = CITY, addr3: bytes | None = None,
          el: Elements | None = None, freq: int | None = 2437) -> Frame:
    f = Frame()
    f.number = 7
    f.kind = kind
    f.addr2 = addr2
    f.addr3 = addr2 if addr3 is None else addr3
    f.freq_mhz = freq
    f.elements = el
    return f


def rule(**settings) -> RogueHardware:
    return RogueHardware(RuleContext(build_registry([])), settings)


def test_pineapple_oui_on_the_transmitter():
    out = rule().on_frame(frame(addr2=PINEAPPLE, el=elements(b"a", ssid=b"Free Airport WiFi")))
    assert out.rule == "rogue_hardware"
    assert out.severity == "critical"
    assert out.bssid == PINEAPPLE
    assert out.ssid == b"Free Airport WiFi"
    assert out.freq_mhz == 2437
    assert out.message == (
        'A device at 00:13:37:a1:b2:c3 advertising "Free Airport WiFi" on channel 6 identifies '
        "itself like a WiFi Pineapple, a tool made for attacking Wi-Fi users.")
    assert out.evidence == {
        "signature": "hak5-pineapple-oui",
        "description": "Address prefix 00:13:37, used by the Hak5 WiFi Pineapple",
        "matched_field": "transmitter_oui",
        "matched_value": "00:13:37",
        "frame_kind": "beacon",
    }


def test_pineapple_oui_in_frames_without_elements():
    # A Pineapple's client radio probing, and its deauths: no SSID to show.
    r = rule()
    out = r.on_frame(frame(kind=PROBE_REQ, addr2=PINEAPPLE, addr3=BROADCAST, freq=2412))
    assert out.message == ("A device at 00:13:37:a1:b2:c3 on channel 1 identifies itself like "
                           "a WiFi Pineapple, a tool made for attacking Wi-Fi users.")
    out = r.on_frame(frame(kind=DEAUTH, addr2=CITY, addr3=PINEAPPLE, freq=None))
    assert out.bssid == PINEAPPLE
    assert out.evidence["matched_field"] == "bssid_oui"
    assert "on an unknown channel" in out.message


@pytest.mark.parametrize("wps, field", [
    ({"manufacturer": "Hak5", "model_name": "WiFi Pineapple"}, "wps.manufacturer"),
    ({"manufacturer": "Unknown", "device_name": "PINEAPPLE nano"}, "wps.device_name"),
    ({"model_name": "wifi pineapple mk7"}, "wps.model_name"),
])
def test_wps_names_of_pineapples(wps, field):
    out = rule().on_frame(frame(addr2=ESPRESSIF, el=elements(b"wps" + field.encode(), wps=wps)))
    assert out.evidence["matched_field"] == field
    assert out.evidence["matched_value"] == wps[field[len("wps."):]]
    assert out.bssid == ESPRESSIF


@pytest.mark.parametrize("ssid, signature", [
    (b"Pineapple_1A2B", "pineapple-setup-ssid"),
    (b"pwned", "esp8266-deauther-ssid"),
    (b"hostapd-wpe", "hostapd-wpe-ssid"),
])
def test_factory_ssids_of_attack_tools(ssid, signature):
    out = rule().on_frame(frame(kind=PROBE_RESP, addr2=ESPRESSIF, el=elements(ssid, ssid=ssid)))
    assert out.evidence["signature"] == signature
    assert out.evidence["matched_field"] == "ssid"
    assert out.evidence["matched_value"] == ssid.decode()


def test_deauther_message_names_its_purpose():
    out = rule().on_frame(frame(addr2=ESPRESSIF, el=elements(b"pwned", ssid=b"pwned")))
    assert out.message == (
        'A device at 24:0a:c4:11:22:33 advertising "pwned" on channel 6 identifies itself like '
        "an ESP8266 Deauther, a tool made for knocking people off Wi-Fi networks.")


@pytest.mark.parametrize("ssid, wps", [
    (b"Pineapple_Cafe", None),              # words are not the MAC's hex digits
    (b"Pineapple_Shop", None),
    (b"pwned2", None),                      # whole-SSID matches only
    (b"My Pineapple_1A2B", None),
    (b"Shinjuku_Free_Wi-Fi", {"manufacturer": "Buffalo Inc.", "model_name": "WXR-5950AX12"}),
    (b"ESP_112233", {"manufacturer": "Espressif", "device_name": "ESP32"}),
])
def test_ordinary_access_points_are_left_alone(ssid, wps):
    assert rule().on_frame(frame(addr2=ESPRESSIF, el=elements(ssid + b"!", ssid=ssid, wps=wps))) is None


def test_client_probe_requests_do_not_match_names():
    # A phone looking for "pwned", or named "Pineapple", is not an attack tool.
    el = elements(b"probe", ssid=b"pwned", wps={"device_name": "Pineapple"})
    assert rule().on_frame(frame(kind=PROBE_REQ, addr2=ESPRESSIF, addr3=BROADCAST, el=el)) is None


def test_disabled_signature_is_not_reported():
    r = rule(disabled=["hak5-pineapple-oui"])
    assert r.on_frame(frame(addr2=PINEAPPLE)) is None


def test_extra_oui_from_the_configuration():
    r = rule(extra_ouis=["02-AB-CD"])
    out = r.on_frame(frame(kind=DEAUTH, addr2=bytes.fromhex("02abcd000001"), addr3=CITY))
    assert out.evidence["signature"] == "extra-oui:02:ab:cd"
    assert out.message == (
        "A device at 02:ab:cd:00:00:01 on channel 6 uses an address prefix (02:ab:cd) that this "
        "sensor's configuration lists as an attack device.")


@pytest.mark.parametrize("bad", ["00:13", "00:13:3g", "001337", 1337, "00:13-37"])
def test_invalid_extra_oui_is_rejected_naming_the_value(bad):
    with pytest.raises(ValueError, match="extra_ouis value " + repr(bad).replace("(", r"\(")):
        rule(extra_ouis=[bad])


def test_unknown_disabled_id_is_rejected():
    with pytest.raises(ValueError, match="pinapple-oui"):
        rule(disabled=["pinapple-oui"])


def test_every_signature_says_why_it_is_there():
    assert len({s.id for s in SIGNATURES}) == len(SIGNATURES)
    for sig in SIGNATURES:
        assert sig.field in {"oui", "ssid", "wps"}
        assert sig.description and sig.why and sig.claim


def test_verdict_caches_are_bounded():
    r = rule(max_tracked=4)
    for i in range(50):
        addr = bytes.fromhex("240ac4") + i.to_bytes(3, "big")
        assert r.on_frame(frame(addr2=addr, el=elements(bytes([i]), ssid=b"x"))) is None
    assert len(r._by_addr) == 4
    assert len(r._by_raw) == 4
