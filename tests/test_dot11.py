"""802.11 header and fixed fields of every management subtype, and what is dropped."""

from __future__ import annotations

import random
import struct

import pytest
from scapy.layers.dot11 import (Dot11, Dot11AssoReq, Dot11AssoResp, Dot11Auth, Dot11Beacon,
                                Dot11Deauth, Dot11Disas, Dot11Elt, Dot11ProbeReq,
                                Dot11ProbeResp, Dot11ReassoReq, Dot11ReassoResp)
from scapy.packet import Raw, raw

from evil_twin_monitor.decoding import Decoder, Frame

AP = "00:1a:2b:3c:4d:50"
STA = "02:00:00:00:00:01"
AP_B = bytes.fromhex("001a2b3c4d50")
STA_B = bytes.fromhex("020000000001")
SSID = Dot11Elt(ID=0, info=b"Shinjuku_Free_Wi-Fi")


# scapy's capability fields do not come out in wire order, so fixed fields
# that carry one are packed by hand (little-endian, as on the air).


def hdr(subtype: int, to: str = STA, src: str = AP, fc: int = 0, seq: int = 0x7B0) -> Dot11:
    return Dot11(type=0, subtype=subtype, FCfield=fc, addr1=to, addr2=src, addr3=AP, SC=seq)


def decode(pkt, number: int = 7) -> tuple[Frame | None, Decoder]:
    decoder = Decoder()
    data = pkt if isinstance(pkt, bytes) else raw(pkt)
    return decoder.decode(data, 105, 1_700_000_000_000_000_000, number), decoder


def all_slots_set(frame: Frame) -> bool:
    return all(hasattr(frame, name) for name in Frame.__slots__)


def test_beacon_header_and_fixed_fields():
    frame, decoder = decode(hdr(8, to="ff:ff:ff:ff:ff:ff", fc=0x08)
                            / Raw(struct.pack("<QHH", 0x0102030405, 102, 0x0431))
                            / SSID)
    assert (frame.kind, frame.number, frame.ts_ns) == ("beacon", 7, 1_700_000_000_000_000_000)
    assert (frame.addr1, frame.addr2, frame.addr3, frame.bssid) == (b"\xff" * 6, AP_B, AP_B, AP_B)
    assert (frame.seq, frame.retry, frame.protected) == (0x7B, True, False)
    assert (frame.tsf, frame.beacon_interval, frame.capability) == (0x0102030405, 102, 0x0431)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"
    assert frame.elements.security == frozenset({"wep"})      # privacy bit, no RSN
    assert (frame.reason, frame.status, frame.auth_algorithm, frame.action_category) == \
        (None, None, None, None)
    assert all_slots_set(frame)
    assert decoder.frames == {"beacon": 1}


def test_probe_response():
    frame, _ = decode(hdr(5) / Raw(struct.pack("<QHH", 99, 100, 0x0401)) / SSID)
    assert (frame.kind, frame.addr1, frame.tsf, frame.capability) == ("probe_resp", STA_B, 99, 0x0401)
    assert frame.elements.security == frozenset({"open"})
    assert all_slots_set(frame)


def test_probe_request():
    frame, _ = decode(hdr(4, to="ff:ff:ff:ff:ff:ff", src=STA) / Dot11ProbeReq()
                      / Dot11Elt(ID=0, info=b"") / Dot11Elt(ID=1, info=b"\x02\x04"))
    assert (frame.kind, frame.addr2, frame.elements.ssid, frame.elements.rates) == \
        ("probe_req", STA_B, b"", (2, 4))
    assert all_slots_set(frame)


def test_assoc_request_and_response():
    frame, _ = decode(hdr(0, to=AP, src=STA) / Raw(struct.pack("<HH", 0x0411, 10)) / SSID)
    assert (frame.kind, frame.capability, frame.elements.ssid) == \
        ("assoc_req", 0x0411, b"Shinjuku_Free_Wi-Fi")
    frame, _ = decode(hdr(1) / Raw(struct.pack("<HHH", 0x0401, 17, 0xC001))
                      / Dot11Elt(ID=1, info=b"\x82"))
    assert (frame.kind, frame.capability, frame.status, frame.elements.rates) == \
        ("assoc_resp", 0x0401, 17, (0x82,))
    assert all_slots_set(frame)


def test_reassoc_request_and_response():
    frame, _ = decode(hdr(2, to=AP, src=STA)
                      / Raw(struct.pack("<HH6s", 0x0401, 3, bytes.fromhex("001a2b3c4d51")))
                      / SSID)
    assert (frame.kind, frame.capability, frame.elements.ssid) == \
        ("reassoc_req", 0x0401, b"Shinjuku_Free_Wi-Fi")
    frame, _ = decode(hdr(3) / Raw(struct.pack("<HHH", 0x0401, 0, 1)))
    assert (frame.kind, frame.status, frame.elements.ids) == ("reassoc_resp", 0, ())


def test_disassoc_and_deauth_reason():
    frame, _ = decode(hdr(10) / Dot11Disas(reason=8))
    assert (frame.kind, frame.reason, frame.elements) == ("disassoc", 8, None)
    frame, decoder = decode(hdr(12, to="ff:ff:ff:ff:ff:ff") / Dot11Deauth(reason=7))
    assert (frame.kind, frame.reason, frame.addr1) == ("deauth", 7, b"\xff" * 6)
    assert decoder.frames == {"deauth": 1}
    assert all_slots_set(frame)


def test_protected_deauth_keeps_header_only():
    body = b"\x01\x00\x00\x20\x00\x00\x00\x00" + b"\xaa" * 10   # CCMP header + ciphertext
    frame, _ = decode(hdr(12, fc=0x40) / Raw(body))
    assert (frame.kind, frame.protected, frame.addr2) == ("deauth", True, AP_B)
    assert (frame.reason, frame.elements) == (None, None)


def test_authentication():
    frame, _ = decode(hdr(11, to=AP, src=STA) / Dot11Auth(algo=0, seqnum=1, status=0))
    assert (frame.kind, frame.auth_algorithm, frame.status, frame.elements) == ("auth", 0, 0, None)
    frame, _ = decode(hdr(11) / Dot11Auth(algo=1, seqnum=2, status=0)
                      / Dot11Elt(ID=16, info=b"challenge"))
    assert (frame.auth_algorithm, frame.elements.ids) == (1, (16,))
    sae = hdr(11) / Dot11Auth(algo=3, seqnum=1, status=0) / Raw(b"\x13\x00" + b"\x55" * 40)
    frame, _ = decode(sae)
    assert (frame.auth_algorithm, frame.elements) == (3, None)   # SAE body is no element list


def test_channel_switch_action():
    csa = b"\x00\x04" + bytes([37, 3, 1, 44, 5])
    frame, decoder = decode(hdr(13, to="ff:ff:ff:ff:ff:ff") / Raw(csa))
    assert (frame.kind, frame.action_category, frame.action_code) == ("action", 0, 4)
    assert frame.elements.csa == (1, 44, 5)
    assert decoder.frames == {"action": 1}
    assert all_slots_set(frame)


def test_extended_channel_switch_action():
    ecsa = b"\x04\x04" + bytes([1, 115, 36, 10])
    frame, _ = decode(hdr(13, to="ff:ff:ff:ff:ff:ff") / Raw(ecsa))
    assert (frame.action_category, frame.action_code) == (4, 4)
    assert frame.elements.ecsa == (1, 115, 36, 10)


def test_other_action_frames_are_counted_not_returned():
    decoder = Decoder()
    block_ack = raw(hdr(13) / Raw(b"\x03\x00\x01\x02\x10\x00\x00"))
    protected = raw(hdr(13, fc=0x40) / Raw(b"\x00" * 20))
    assert decoder.decode(block_ack, 105, 0, 1) is None
    assert decoder.decode(protected, 105, 0, 2) is None
    assert decoder.frames == {"action_other": 2}


def test_htc_order_bit_moves_the_body():
    data = bytearray(raw(hdr(8, fc=0x80) / Raw(struct.pack("<QHH", 0, 100, 0x0001)) / SSID))
    data[24:24] = b"\x11\x22\x33\x44"                       # the HT Control field
    frame, _ = decode(bytes(data))
    assert (frame.beacon_interval, frame.elements.ssid) == (100, b"Shinjuku_Free_Wi-Fi")


def test_data_control_and_other_management_are_counted_cheaply():
    decoder = Decoder()
    data_frame = raw(Dot11(type=2, subtype=0, addr1=AP, addr2=STA, addr3=AP) / Raw(b"payload"))
    ack = raw(Dot11(type=1, subtype=13, addr1=STA))
    atim = raw(hdr(9))
    ext = b"\x0c\x00" + b"\x00" * 20
    for number, data in enumerate((data_frame, ack, data_frame, atim, ext), 1):
        assert decoder.decode(data, 105, 0, number) is None
    assert decoder.frames == {"data": 2, "control": 1, "mgmt_other": 1, "extension": 1}
    assert decoder.malformed == {}


def test_bad_version_and_truncated_header():
    decoder = Decoder()
    beacon = raw(hdr(8) / Dot11Beacon() / SSID)
    assert decoder.decode(b"\x81" + beacon[1:], 105, 0, 1) is None
    assert decoder.decode(beacon[:20], 105, 0, 2) is None
    assert decoder.decode(beacon[:30], 105, 0, 3) is None          # fixed fields cut
    assert decoder.decode(beacon[:5], 105, 0, 4) is None
    assert decoder.malformed == {"bad_version": 1, "truncated_80211": 3}
    assert decoder.frames == {"malformed": 4}


def test_element_overrun_still_gives_a_frame_and_counts_once():
    beacon = raw(hdr(8) / Raw(struct.pack("<QHH", 0, 100, 0x0001)) / SSID) + b"\x30\x40\x01\x00"
    frame, decoder = decode(beacon)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"
    assert frame.elements.malformed == "element_overrun"
    assert decoder.malformed == {"element_overrun": 1}
    assert decoder.frames == {"beacon": 1}


def test_garbage_never_raises():
    rng = random.Random(20240611)
    decoder = Decoder()
    beacon = raw(hdr(8) / Dot11Beacon() / SSID / Dot11Elt(ID=48, info=b"\x01\x00\x00\x0f\xac"))
    for number in range(3000):
        linktype = rng.choice((105, 119, 127, 163, 192))
        if rng.random() < 0.5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        else:   # a plausible frame with a few bytes flipped or cut
            data = bytearray(struct.pack("<BBHI", 0, 0, 8, 0) + beacon if linktype == 127 else beacon)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data[:rng.randrange(1, len(data) + 1)])
        decoder.decode(data, linktype, 0, number)
    assert sum(decoder.frames.values()) == 3000


@pytest.mark.parametrize("subtype,body", [
    (0, Dot11AssoReq()), (1, Dot11AssoResp()), (2, Dot11ReassoReq()), (3, Dot11ReassoResp()),
    (4, Dot11ProbeReq()), (5, Dot11ProbeResp()), (8, Dot11Beacon()), (10, Dot11Disas()),
    (11, Dot11Auth()), (12, Dot11Deauth()), (13, Raw(b"\x00\x04")),
])
def test_every_kind_has_every_slot(subtype, body):
    frame, _ = decode(hdr(subtype) / body)
    assert all_slots_set(frame)
    assert frame.kind == ("assoc_req", "assoc_resp", "reassoc_req", "reassoc_resp", "probe_req",
                          "probe_resp", None, None, "beacon", None, "disassoc", "auth", "deauth",
                          "action")[subtype]
