"""Link-layer headers: radiotap (alignment, namespaces, FCS), PPI, Prism, AVS."""

from __future__ import annotations

import struct

from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt
from scapy.packet import raw

from evil_twin_monitor.decoding import Decoder, link_header

BSSID = "00:1a:2b:3c:4d:50"
BEACON = raw(Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=BSSID, addr3=BSSID)
             / Dot11Beacon(cap=0x0401) / Dot11Elt(ID=0, info=b"Shinjuku_Free_Wi-Fi")
             / Dot11Elt(ID=3, info=b"\x06"))

FLAGS, CHANNEL, SIGNAL, ANTENNA = 1 << 1, 1 << 3, 1 << 5, 1 << 11
EXT, RT_NS, VENDOR_NS = 1 << 31, 1 << 29, 1 << 30


def radiotap(words: list[int], fields: bytes) -> bytes:
    """A radiotap header whose field bytes (already aligned) are given."""
    head_len = 4 + 4 * len(words)
    return struct.pack("<BBH", 0, 0, head_len + len(fields)) + \
        struct.pack(f"<{len(words)}I", *words) + fields


def decode(data: bytes, linktype: int = 127):
    decoder = Decoder()
    return decoder.decode(data, linktype, 1_700_000_000_000_000_000, 1), decoder


def radio_of(frame) -> tuple:
    return frame.freq_mhz, frame.signal_dbm, frame.antenna, frame.rate_500k


# -- radiotap -------------------------------------------------------------------

def test_common_fields_and_padding_before_channel():
    # flags @8, rate @9, channel @10 (aligned), signal @14, antenna @15
    rt = radiotap([FLAGS | 1 << 2 | CHANNEL | SIGNAL | ANTENNA],
                  struct.pack("<BBHHbB", 0, 12, 5180, 0x0140, -61, 2))
    frame, decoder = decode(rt + BEACON)
    assert radio_of(frame) == (5180, -61, 2, 12)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"
    assert decoder.frames == {"beacon": 1}


def test_fcs_at_end_is_stripped():
    # These four FCS octets would read as a Country element if left in place.
    rt = radiotap([FLAGS | CHANNEL], struct.pack("<BxHH", 0x10, 2437, 0xA0))
    frame, _ = decode(rt + BEACON + b"\x07\x02JP")
    assert frame.elements.ids == (0, 3)
    assert frame.elements.country is None
    assert frame.elements.malformed is None
    assert frame.freq_mhz == 2437


def test_bad_fcs_frame_is_dropped_and_counted():
    rt = radiotap([FLAGS], struct.pack("<B", 0x50))
    frame, decoder = decode(rt + BEACON + b"\x00\x00\x00\x00")
    assert frame is None
    assert decoder.malformed == {"bad_fcs": 1}
    assert decoder.frames == {"malformed": 1}


def test_extended_bitmaps_first_signal_wins():
    words = [1 | FLAGS | 1 << 2 | CHANNEL | SIGNAL | RT_NS | EXT,
             SIGNAL | ANTENNA | RT_NS | EXT,
             SIGNAL]
    # data starts at 16: TSFT @16, flags @24, rate @25, channel @26, signal @30;
    # second namespace: signal @31, antenna @32; third: signal @33
    fields = struct.pack("<QBBHHbbBb", 123456789, 0, 2, 2412, 0xA0, -40, -50, 2, -60)
    frame, _ = decode(radiotap(words, fields) + BEACON)
    assert radio_of(frame) == (2412, -40, 2, 2)
    offset, end, link = link_header(127, radiotap(words, fields) + BEACON)
    assert (offset, link[1]) == (34, 123456789)


def test_tsft_after_an_odd_length_field_in_a_second_namespace():
    words = [FLAGS | 1 << 2 | SIGNAL | RT_NS | EXT, 1 | CHANNEL]
    # flags @12, rate @13, signal @14, pad 15, TSFT @16 (8-aligned), channel @24
    fields = struct.pack("<BBbxQHH", 0, 4, -70, 0x1122334455667788, 5745, 0x140)
    offset, end, link = link_header(127, radiotap(words, fields) + BEACON)
    assert offset == 28
    assert link[1:8] == (0x1122334455667788, 0, 4, 5745, 0x140, -70, None)


def test_skipped_fields_keep_alignment_and_xchannel_gives_the_frequency():
    words = [FLAGS | SIGNAL | 1 << 7 | ANTENNA | 1 << 18]
    # flags @8, signal @9, lock quality @10 (2-aligned), antenna @12,
    # XChannel @16 (4-aligned): flags u32, freq u16 @20, channel, max power
    fields = struct.pack("<BbHBxxxIHBB", 0, -33, 77, 3, 0x140, 5500, 100, 20)
    frame, _ = decode(radiotap(words, fields) + BEACON)
    assert radio_of(frame) == (5500, -33, 3, None)


def test_every_defined_field_is_sized_and_aligned():
    # Bits 0-27 except 5 and 11 in the first word; the second (radiotap
    # namespace again) carries dBm signal (-47) and antenna (3) last, at 136.
    header = bytes.fromhex(
        "00008a00dff7ffaf2008000000000000010101010101010100013c144001010101000101010101010101010001010101"
        "010100000101010101010101010101000101010101010101010101010101010101010101000000000101010101010101"
        "01010101010101010101010101010101010101010101010101010101010101010101010001010101d103")
    frame, _ = decode(header + BEACON)
    assert radio_of(frame) == (5180, -47, 3, 1)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"


def test_vendor_namespace_is_skipped_by_its_length():
    words = [FLAGS | CHANNEL | VENDOR_NS | EXT,
             0b11 | RT_NS | EXT,            # vendor-defined bits: their data is skip_length long
             SIGNAL | ANTENNA]
    # flags @16, channel @18, vendor header @22 (OUI, sub-namespace, skip_length=5),
    # vendor data @28..33, signal @33, antenna @34
    fields = (struct.pack("<BxHH", 0, 2462, 0xA0) + b"\x00\x11\x22\x00" + struct.pack("<H", 5)
              + b"\xee" * 5 + struct.pack("<bB", -58, 1))
    frame, _ = decode(radiotap(words, fields) + BEACON)
    assert radio_of(frame) == (2462, -58, 1, None)
    assert frame.elements.ds_channel == 6


def test_unknown_bit_keeps_earlier_fields_and_finds_the_frame():
    # Bit 32 (first bit of a second default-namespace word) is not defined:
    # its size is unknown, so parsing stops there; it_len still locates the frame.
    words = [CHANNEL | SIGNAL | EXT, 1]
    fields = struct.pack("<HHb", 2412, 0xA0, -44) + b"\x99" * 7
    frame, decoder = decode(radiotap(words, fields) + BEACON)
    assert radio_of(frame) == (2412, -44, None, None)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"
    assert decoder.malformed == {}


def test_tlv_bit_stops_fixed_fields():
    words = [FLAGS | SIGNAL | 1 << 28]
    fields = struct.pack("<Bb", 0, -66) + b"\x00\x00" + struct.pack("<HH", 3, 0) + b"TLVs"
    frame, _ = decode(radiotap(words, fields) + BEACON)
    assert radio_of(frame) == (None, -66, None, None)
    assert frame.kind == "beacon"


def test_truncated_and_lying_radiotap_headers():
    cases = {
        b"\x00\x00\x08": "truncated_radiotap",
        struct.pack("<BBHI", 0, 0, 200, 0) + BEACON: "bad_radiotap_length",       # it_len past end
        struct.pack("<BBHI", 0, 0, 4, 0) + BEACON: "bad_radiotap_length",         # it_len too small
        struct.pack("<BBHI", 0, 0, 8, EXT) + BEACON: "bad_radiotap_length",       # bitmaps past it_len
        struct.pack("<BBHI", 0, 0, 9, 1) + b"\x00" + BEACON: "bad_radiotap_length",  # TSFT past it_len
        struct.pack("<BBHI", 1, 0, 8, 0) + BEACON: "bad_radiotap_version",
    }
    for data, reason in cases.items():
        frame, decoder = decode(data)
        assert frame is None
        assert decoder.malformed == {reason: 1}, data.hex()


def test_same_bitmap_with_a_shorter_header_is_still_checked():
    good = radiotap([1 | SIGNAL], struct.pack("<Qb", 5, -50))
    bad = struct.pack("<BBHI", 0, 0, 12, 1 | SIGNAL) + b"\x00" * 4 + BEACON
    decoder = Decoder()
    assert decoder.decode(good + BEACON, 127, 0, 1).signal_dbm == -50
    assert decoder.decode(bad, 127, 0, 2) is None
    assert decoder.malformed == {"bad_radiotap_length": 1}


# -- PPI ----------------------------------------------------------------------------

def ppi(dlt: int = 105, flags: int = 0, signal: int = -55) -> bytes:
    common = struct.pack("<QHHHHBBbb", 99, flags, 2, 2412, 0xA0, 0, 0, signal, -95)
    field = struct.pack("<HH", 2, len(common)) + common
    return struct.pack("<BBHI", 0, 0, 8 + len(field), dlt) + field


def test_ppi_80211_common():
    frame, _ = decode(ppi() + BEACON, 192)
    assert radio_of(frame) == (2412, -55, None, 2)
    assert frame.elements.ssid == b"Shinjuku_Free_Wi-Fi"


def test_ppi_fcs_flags():
    frame, _ = decode(ppi(flags=0x1) + BEACON + b"\x07\x02JP", 192)
    assert frame.elements.ids == (0, 3)
    frame, decoder = decode(ppi(flags=0x5) + BEACON + b"\x07\x02JP", 192)
    assert frame is None and decoder.malformed == {"bad_fcs": 1}


def test_ppi_problems():
    frame, decoder = decode(ppi(dlt=1) + BEACON, 192)
    assert frame is None and decoder.malformed == {"unsupported_inner_dlt": 1}
    lying = struct.pack("<BBHI", 0, 0, 500, 105) + BEACON
    frame, decoder = decode(lying, 192)
    assert frame is None and decoder.malformed == {"bad_ppi": 1}
    bad_field = struct.pack("<BBHI", 0, 0, 12, 105) + struct.pack("<HH", 2, 20) + BEACON
    frame, decoder = decode(bad_field, 192)
    assert frame is None and decoder.malformed == {"bad_ppi": 1}


# -- Prism and AVS -------------------------------------------------------------------

def prism(channel: int = 6, signal: int = -60, rate: int = 22, order: str = "<") -> bytes:
    items = [(0x1044, 0, 0), (0x2044, 0, 0), (0x3044, 0, channel), (0x4044, 0, 0),
             (0x5044, 1, 0), (0x6044, 0, signal), (0x7044, 0, -95), (0x8044, 0, rate),
             (0x9044, 0, 0), (0xA044, 0, len(BEACON))]
    head = struct.pack(order + "II16s", 0x44, 144, b"wlan0")
    return head + b"".join(struct.pack(order + "IHHi", did, st, 4, v) for did, st, v in items)


def avs(channel: int = 36, signal: int = -70, ssi_type: int = 2, length: int = 64) -> bytes:
    return struct.pack(">IIQQIIIIIIiiII", 0x80211001, length, 5, 6, 8, channel, 60, 1, 0,
                       ssi_type, signal, -95, 0, 0)


def test_prism_header_both_byte_orders():
    for order in "<>":
        frame, _ = decode(prism(order=order) + BEACON, 119)
        assert radio_of(frame) == (2437, -60, None, 22)


def test_prism_problems():
    frame, decoder = decode(prism()[:100], 119)
    assert frame is None and decoder.malformed == {"bad_prism": 1}
    lying = bytearray(prism() + BEACON)
    struct.pack_into("<I", lying, 4, 5000)
    frame, decoder = decode(bytes(lying), 119)
    assert frame is None and decoder.malformed == {"bad_prism": 1}


def test_avs_header_and_avs_in_a_prism_file():
    for linktype in (163, 119):
        frame, _ = decode(avs() + BEACON, linktype)
        assert radio_of(frame) == (5180, -70, 1, 12)


def test_avs_signal_in_other_units_is_not_dbm():
    frame, _ = decode(avs(ssi_type=1, signal=500) + BEACON, 163)
    assert frame.signal_dbm is None


def test_avs_problems():
    frame, decoder = decode(avs(length=20) + BEACON, 163)
    assert frame is None and decoder.malformed == {"bad_avs": 1}
    frame, decoder = decode(b"\x00" * 64 + BEACON, 163)
    assert frame is None and decoder.malformed == {"bad_avs": 1}


def test_bare_80211_has_no_radio_information():
    frame, _ = decode(BEACON, 105)
    assert radio_of(frame) == (None, None, None, None)
    assert frame.kind == "beacon"


def test_unsupported_link_type_is_counted():
    frame, decoder = decode(BEACON, 1)
    assert frame is None and decoder.malformed == {"unsupported_linktype": 1}
