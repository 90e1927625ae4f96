"""Information elements: each element type, security derivation, malformed lists, cache."""

from __future__ import annotations

import struct

import pytest

from evil_twin_monitor.decoding import RsnInfo, build_elements, parse_elements
from evil_twin_monitor.decoding import elements as elements_module


def el(eid: int, body: bytes) -> bytes:
    return bytes([eid, len(body)]) + body


def ieee(n: int) -> bytes:
    return b"\x00\x0f\xac" + bytes([n])


def ms(n: int) -> bytes:
    return b"\x00\x50\xf2" + bytes([n])


def rsn(akms: list[int], caps: int | None = 0, group: int = 4, pairwise: tuple[int, ...] = (4,)) -> bytes:
    body = struct.pack("<H", 1) + ieee(group) + struct.pack("<H", len(pairwise))
    body += b"".join(ieee(p) for p in pairwise)
    body += struct.pack("<H", len(akms)) + b"".join(ieee(a) for a in akms)
    if caps is not None:
        body += struct.pack("<H", caps)
    return el(48, body)


def wpa1(akms: list[int]) -> bytes:
    body = ms(1) + struct.pack("<H", 1) + ms(2) + struct.pack("<H", 1) + ms(2)
    body += struct.pack("<H", len(akms)) + b"".join(ms(a) for a in akms)
    return el(221, body)


SSID = el(0, b"Shinjuku_Free_Wi-Fi")


def test_ssid_rates_ds_tim_country():
    raw = (SSID + el(1, b"\x82\x84\x8b\x96") + el(3, b"\x0b") + el(5, b"\x00\x01\x00\x00")
           + el(7, b"JP\x20\x01\x0d\x14") + el(50, b"\x0c\x12"))
    e = build_elements(raw)
    assert e.raw == raw
    assert e.ssid == b"Shinjuku_Free_Wi-Fi"
    assert e.rates == (0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12)
    assert (e.ds_channel, e.channel) == (11, 11)
    assert e.country == b"JP\x20"
    assert e.ids == (0, 1, 3, 5, 7, 50)
    assert e.malformed is None


def test_channel_switch_elements():
    e = build_elements(el(37, bytes([1, 44, 5])) + el(60, bytes([0, 115, 36, 10])))
    assert (e.csa, e.ecsa) == ((1, 44, 5), (0, 115, 36, 10))


def test_ht_vht_extended_capabilities_and_multiple_bssid():
    ht_cap = bytes(range(26))
    vht_cap = bytes(range(12))
    raw = (el(45, ht_cap) + el(61, bytes([36]) + bytes(21)) + el(191, vht_cap)
           + el(127, b"\x04\x00\x08") + el(71, b"\x03"))
    e = build_elements(raw)
    assert (e.ht_capabilities, e.ht_primary, e.channel) == (ht_cap, 36, 36)
    assert (e.vht_present, e.vht_capabilities) == (True, vht_cap)
    assert e.ext_capabilities == b"\x04\x00\x08"
    assert e.multiple_bssid is True


def test_element_id_extension():
    e = build_elements(el(255, bytes([35]) + bytes(6)) + el(255, bytes([108]) + bytes(4))
                       + el(255, bytes([107]) + bytes(3)) + el(255, bytes([106]) + bytes(2)))
    assert e.ids == (255 * 256 + 35, 255 * 256 + 108, 255 * 256 + 107, 255 * 256 + 106)
    assert (e.he_present, e.eht_present, e.multi_link) == (True, True, True)
    plain = build_elements(SSID)
    assert (plain.he_present, plain.eht_present, plain.multi_link, plain.vht_present) == \
        (False, False, False, False)


def test_rsn_contents():
    e = build_elements(rsn([2, 8], caps=0x00C0, pairwise=(4, 2)))
    assert e.rsn == RsnInfo(1, ieee(4), (ieee(4), ieee(2)), (ieee(2), ieee(8)), 0x00C0)
    assert (e.rsn.mfpr, e.rsn.mfpc) == (True, True)


def test_truncated_rsn_keeps_what_is_complete():
    body = struct.pack("<H", 1) + ieee(4) + struct.pack("<H", 2) + ieee(4) + b"\x00\x0f"
    e = build_elements(el(48, body) + SSID)
    assert e.rsn == RsnInfo(1, ieee(4), (ieee(4),), (), None, truncated=True)
    assert e.ssid == b"Shinjuku_Free_Wi-Fi"
    # The AKM list was never reached: unknown, not the 802.1X default.
    assert e.security == frozenset()
    no_caps = build_elements(rsn([2], caps=None))
    assert (no_caps.rsn.akm, no_caps.rsn.capabilities, no_caps.pmf) == ((ieee(2),), None, "disabled")
    # An element that simply ends after the pairwise list means 802.1X (the standard's default).
    ends_early = build_elements(el(48, struct.pack("<H", 1) + ieee(4) + struct.pack("<H", 1) + ieee(4)))
    assert ends_early.security == frozenset({"wpa2-eap"})


def test_wpa1_wmm_and_vendor_ouis():
    raw = wpa1([2]) + el(221, ms(2) + b"\x00\x01\x80") + el(221, b"\x00\x13\x37\x01")
    e = build_elements(raw)
    assert e.wpa == RsnInfo(1, ms(2), (ms(2),), (ms(2),), None)
    assert e.wmm is True
    assert e.vendor_ouis == (b"\x00\x50\xf2", b"\x00\x50\xf2", b"\x00\x13\x37")


def test_wps_attributes_are_printable_text():
    def tlv(kind: int, value: bytes) -> bytes:
        return struct.pack(">HH", kind, len(value)) + value
    body = (ms(4) + tlv(0x104A, b"\x10") + tlv(0x1044, b"\x02") + tlv(0x1021, b"Buffalo Inc.")
            + tlv(0x1023, b"WXR-1900DHP") + tlv(0x1024, b"123") + tlv(0x1042, b"0001")
            + tlv(0x1011, b"AirStation\x1b[31m"))
    e = build_elements(el(221, body))
    assert e.wps == {"manufacturer": "Buffalo Inc.", "model_name": "WXR-1900DHP",
                     "model_number": "123", "serial_number": "0001",
                     "device_name": "AirStation\\x1b[31m"}
    assert build_elements(SSID).wps is None


def test_element_overrun_keeps_what_came_before():
    e = build_elements(SSID + el(3, b"\x06") + b"\x30\x14\x01\x00")
    assert (e.ssid, e.ds_channel, e.ids) == (b"Shinjuku_Free_Wi-Fi", 6, (0, 3))
    assert e.malformed == "element_overrun"
    assert build_elements(SSID + b"\xdd").malformed == "element_overrun"


def test_ssid_longer_than_32_octets():
    e = build_elements(el(0, b"A" * 40) + el(3, b"\x01"))
    assert (e.ssid, e.malformed, e.ds_channel) == (None, "ssid_too_long", 1)
    assert build_elements(el(0, b"B" * 32)).ssid == b"B" * 32


@pytest.mark.parametrize("raw,privacy,security,pmf", [
    (SSID, False, {"open"}, "disabled"),
    (SSID, True, {"wep"}, "disabled"),
    (SSID + wpa1([2]), True, {"wpa-psk"}, "disabled"),
    (SSID + wpa1([1]), True, {"wpa-eap"}, "disabled"),
    (SSID + rsn([2]), True, {"wpa2-psk"}, "disabled"),
    (SSID + rsn([2]) + wpa1([2]), True, {"wpa2-psk", "wpa-psk"}, "disabled"),
    (SSID + rsn([2, 6], caps=0x0080), True, {"wpa2-psk"}, "optional"),
    (SSID + rsn([4]), True, {"wpa2-psk"}, "disabled"),
    (SSID + rsn([8], caps=0x00C0), True, {"wpa3-sae"}, "required"),
    (SSID + rsn([24], caps=0x00C0), True, {"wpa3-sae"}, "required"),
    (SSID + rsn([9], caps=0x00C0), True, {"wpa3-sae"}, "required"),
    (SSID + rsn([2, 8], caps=0x0080), True, {"wpa2-psk", "wpa3-sae"}, "optional"),
    (SSID + rsn([18], caps=0x00C0), True, {"owe"}, "required"),
    (SSID + rsn([1]), True, {"wpa2-eap"}, "disabled"),
    (SSID + rsn([3]), True, {"wpa2-eap"}, "disabled"),
    (SSID + rsn([5], caps=0x0080), True, {"wpa3-eap"}, "optional"),
    (SSID + rsn([12], caps=0x00C0, group=9, pairwise=(9,)), True, {"wpa3-eap-192"}, "required"),
])
def test_security_derivation(raw, privacy, security, pmf):
    e = build_elements(raw, privacy)
    assert (e.security, e.pmf) == (frozenset(security), pmf)


def test_cache_shares_elements_per_privacy_bit():
    elements_module.clear_cache()
    raw = SSID + el(3, b"\x01")
    first = parse_elements(raw)
    assert parse_elements(bytes(raw)) is first
    with_privacy = parse_elements(raw, True)
    assert with_privacy is not first
    assert (first.security, with_privacy.security) == (frozenset({"open"}), frozenset({"wep"}))


def test_cache_is_cleared_when_full(monkeypatch):
    elements_module.clear_cache()
    monkeypatch.setattr(elements_module, "CACHE_CAP", 2)
    a = parse_elements(el(0, b"a"))
    parse_elements(el(0, b"b"))
    assert parse_elements(el(0, b"a")) is a
    parse_elements(el(0, b"c"))                   # third entry: the cache starts over
    assert parse_elements(el(0, b"a")) is not a
    elements_module.clear_cache()
