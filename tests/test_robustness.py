"""Property tests: hostile bytes never crash the decoder or the engine.

Theory of operation
-------------------
Everything the sensor receives is attacker-controlled, so the decoder and the
engine are fed: random bytes under each link type; and *mutated* valid
frames, which get much deeper into the parsers than noise does. Seeds are
frames built here with scapy (every management subtype the decoder knows,
with a rich element list) plus beacons, probe responses and
deauthentications taken from the real public captures when they are
present. Each seed is wrapped in each link-layer header (radiotap in several
shapes, bare 802.11, Prism, AVS, PPI), then mutated: bit flips,
truncations, overwritten octets, inserted garbage, and the length fields
that parsers trust: element lengths, radiotap ``it_len`` and presence
words, Prism ``msglen``, AVS and PPI header lengths.

Two properties: nothing raises, and every input is accounted for (the
decoder's ``frames`` counter grows by exactly one per input, as a frame kind
or as ``malformed``). The engine then gets every frame decoded from a
mutated stream, with a registry naming the seeds' BSSIDs and SSIDs so the
rules look at them closely, and must survive ``finish()``.

Hypothesis runs derandomized with a fixed number of examples, so a run is
reproducible and a failure is reported with its minimal input.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import (
    Dot11, Dot11Action, Dot11AssoReq, Dot11AssoResp, Dot11Auth, Dot11Beacon, Dot11Deauth,
    Dot11Disas, Dot11Elt, Dot11ProbeReq, Dot11ProbeResp, Dot11QoS, Dot11ReassoReq,
    PrismHeader, RadioTap,
)

from evil_twin_monitor.decoding import Decoder, open_capture
from evil_twin_monitor.decoding.linklayer import link_header
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry

SETTINGS = settings(derandomize=True, max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LINKTYPES = (127, 105, 119, 163, 192)

BSSID = bytes.fromhex("001a2b3c4d50")
CLIENT = bytes.fromhex("5c5f67aabbcc")
SSID = b"Shinjuku_Free_Wi-Fi"
CAPTURES = Path(os.environ.get(
    "ETM_REAL_CAPTURES", Path(__file__).resolve().parents[2] / "shared" / "real-captures"))


# --------------------------------------------------------------------------
# Seed 802.11 frames (no link-layer header)

def _rsn(akms: bytes, caps: int, extra: bytes = b"") -> bytes:
    return (struct.pack("<H", 1) + b"\x00\x0f\xac\x04" + struct.pack("<H", 2)
            + b"\x00\x0f\xac\x04\x00\x0f\xac\x02" + struct.pack("<H", len(akms))
            + b"".join(b"\x00\x0f\xac" + bytes([a]) for a in akms) + struct.pack("<H", caps)
            + extra)


def _wps() -> bytes:
    def attr(kind: int, value: bytes) -> bytes:
        return struct.pack(">HH", kind, len(value)) + value
    return (b"\x00\x50\xf2\x04" + attr(0x104A, b"\x10") + attr(0x1044, b"\x02")
            + attr(0x1021, b"ACME") + attr(0x1023, b"Model 7") + attr(0x1011, b"ap\x00\xff"))


RICH_ELEMENTS = [
    Dot11Elt(ID=0, info=SSID),
    Dot11Elt(ID=1, info=b"\x82\x84\x8b\x96\x0c\x12\x18\x24"),
    Dot11Elt(ID=3, info=b"\x06"),
    Dot11Elt(ID=5, info=b"\x00\x01\x00\x00"),
    Dot11Elt(ID=7, info=b"JP\x20\x01\x0d\x14"),
    Dot11Elt(ID=37, info=b"\x01\x0b\x05"),                     # channel switch announcement
    Dot11Elt(ID=42, info=b"\x00"),
    Dot11Elt(ID=45, info=b"\xad\x19\x17\xff\xff" + b"\x00" * 21),
    Dot11Elt(ID=48, info=_rsn(b"\x02\x08", 0x80, b"\x01\x00" + b"\x11" * 16 + b"\x00\x0f\xac\x06")),
    Dot11Elt(ID=50, info=b"\x30\x48\x60\x6c"),
    Dot11Elt(ID=60, info=b"\x01\x51\x0b\x05"),                 # extended channel switch
    Dot11Elt(ID=61, info=b"\x06\x00" + b"\x00" * 20),
    Dot11Elt(ID=71, info=b"\x04\x00\x04abcd"),                 # multiple BSSID
    Dot11Elt(ID=127, info=b"\x04\x00\x08\x00\x00\x00\x00\x40"),
    Dot11Elt(ID=191, info=b"\xb2\x59\x82\x0f\xfa\xff\x00\x00\xfa\xff\x00\x00"),
    Dot11Elt(ID=192, info=b"\x01\x2a\x00\xfa\xff"),
    Dot11Elt(ID=255, info=b"\x23" + b"\x00" * 20),            # HE capabilities
    Dot11Elt(ID=255, info=b"\x6a" + b"\x00" * 8),             # EHT capabilities
    Dot11Elt(ID=255, info=b"\x6b" + b"\x00" * 10),            # multi-link
    Dot11Elt(ID=221, info=b"\x00\x50\xf2\x01\x01\x00\x00\x50\xf2\x02\x01\x00\x00\x50\xf2\x02"
                          b"\x01\x00\x00\x50\xf2\x02"),         # WPA1
    Dot11Elt(ID=221, info=b"\x00\x50\xf2\x02\x01\x01\x80\x00"),   # WMM
    Dot11Elt(ID=221, info=_wps()),
    Dot11Elt(ID=221, info=b"\x00\x13\x37\x01"),
]


def _with(frame, elements):  # type: ignore[no-untyped-def]
    for el in elements:
        frame = frame / el
    return bytes(frame)


def _mgmt(subtype: int, a1: bytes = BSSID, a2: bytes = CLIENT, fc: int = 0) -> Dot11:
    return Dot11(type=0, subtype=subtype, FCfield=fc, addr1=a1.hex(":"), addr2=a2.hex(":"),
                 addr3=BSSID.hex(":"), SC=0x1230)


def scapy_seeds() -> list[bytes]:
    bcast = b"\xff" * 6
    seeds = [
        _with(_mgmt(8, bcast, BSSID) / Dot11Beacon(timestamp=123456789, cap=0x1411), RICH_ELEMENTS),
        _with(_mgmt(5, CLIENT, BSSID) / Dot11ProbeResp(timestamp=987654321, cap=0x0411),
              RICH_ELEMENTS),
        _with(_mgmt(8, bcast, BSSID) / Dot11Beacon(cap=0x0401),
              [Dot11Elt(ID=0, info=b""), Dot11Elt(ID=3, info=b"\x24")]),
        _with(_mgmt(4, bcast) / Dot11ProbeReq(),
              [Dot11Elt(ID=0, info=SSID), Dot11Elt(ID=1, info=b"\x02\x04")]),
        bytes(_mgmt(12, CLIENT, BSSID) / Dot11Deauth(reason=7)),
        bytes(_mgmt(12, CLIENT, BSSID, fc=0x40) / Dot11Deauth(reason=7)),   # protected
        bytes(_mgmt(10, bcast, BSSID) / Dot11Disas(reason=8)),
        bytes(_mgmt(11) / Dot11Auth(algo=3, seqnum=1, status=0)) + b"\x13\x00" + b"\x55" * 32,
        _with(_mgmt(0) / Dot11AssoReq(cap=0x0411, listen_interval=10),
              [Dot11Elt(ID=0, info=SSID), Dot11Elt(ID=48, info=_rsn(b"\x02", 0x80))]),
        _with(_mgmt(1, CLIENT, BSSID) / Dot11AssoResp(status=0, AID=1),
              [Dot11Elt(ID=1, info=b"\x82\x84")]),
        _with(_mgmt(2) / Dot11ReassoReq(cap=0x0411, current_AP=BSSID.hex(":")),
              [Dot11Elt(ID=0, info=SSID)]),
        bytes(_mgmt(13, bcast, BSSID) / Dot11Action(category=0)) + b"\x04\x00\x25\x03\x01\x0b\x05",
        bytes(_mgmt(8, bcast, BSSID, fc=0x80)) + b"\x00\x00\x00\x00"          # +HTC bit
        + bytes(Dot11Beacon()) + bytes(Dot11Elt(ID=0, info=SSID)),
        bytes(Dot11(type=2, subtype=8, FCfield=0x41, addr1=BSSID.hex(":"), addr2=CLIENT.hex(":"),
                    addr3=BSSID.hex(":")) / Dot11QoS()) + b"\x00" * 40,
        bytes(Dot11(type=2, subtype=4, FCfield=0x01, addr1=BSSID.hex(":"), addr2=CLIENT.hex(":"),
                    addr3=BSSID.hex(":"))),
        bytes(Dot11(type=1, subtype=11, addr1=BSSID.hex(":"), addr2=CLIENT.hex(":")))[:16],
        bytes(Dot11(type=1, subtype=13, addr1=BSSID.hex(":")))[:10],
        bytes(Dot11(type=3, subtype=0, addr1=BSSID.hex(":"))) + b"\x00" * 20,
    ]
    return seeds


def real_seeds(limit_per_file: int = 3) -> list[tuple[int, bytes]]:
    """(linktype, record) of some beacons, probe responses and deauths of the
    real captures, when the folder is there."""
    if not CAPTURES.is_dir():
        return []
    out: list[tuple[int, bytes]] = []
    wanted = ("beacon", "probe_resp", "deauth")
    for path in sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap")):
        decoder = Decoder()
        taken = {kind: 0 for kind in wanted}
        with open_capture(path) as reader:
            for count, (number, ts_ns, linktype, data) in enumerate(reader):
                if count > 3000 or all(n >= limit_per_file for n in taken.values()):
                    break
                frame = decoder.decode(bytes(data), linktype, ts_ns, number)
                if frame is not None and frame.kind in taken and taken[frame.kind] < limit_per_file:
                    taken[frame.kind] += 1
                    out.append((linktype, bytes(data)))
    return out


# --------------------------------------------------------------------------
# Link-layer wrappers: 802.11 bytes -> (record, offsets of header length fields)

def _radiotap_plain(mac: bytes) -> bytes:
    return bytes(RadioTap(present="Flags+Rate+Channel+dBm_AntSignal+Antenna", Flags=0, Rate=2,
                          ChannelFrequency=2437, ChannelFlags=0x00A0, dBm_AntSignal=-55,
                          Antenna=1)) + mac


def _radiotap_fcs(mac: bytes) -> bytes:
    head = bytes(RadioTap(present="Flags+Channel+dBm_AntSignal", Flags=0x10,
                          ChannelFrequency=5180, ChannelFlags=0x0140, dBm_AntSignal=-70))
    return head + mac + b"\xde\xad\xbe\xef"


def _radiotap_multi_namespace(mac: bytes) -> bytes:
    # word0: TSFT Flags Rate Channel signal RX-flags, radiotap NS next, more words;
    # words 1-2: per-chain signal and antenna (as Intel and Atheros drivers write).
    words = struct.pack("<III", 0x0000_402F | (1 << 29) | (1 << 31),
                        (1 << 5) | (1 << 11) | (1 << 29) | (1 << 31), (1 << 5) | (1 << 11))
    fields = (b"\x00" * 4 + struct.pack("<QBBHHb", 0x1122334455667788, 0, 12, 5180, 0x0140, -60)
              + b"\x00" + struct.pack("<H", 0) + bytes((0xC4, 0, 0xC2, 1)))
    body = words + fields
    return struct.pack("<BBH", 0, 0, 4 + len(body)) + body + mac


def _radiotap_vendor_namespace(mac: bytes) -> bytes:
    words = struct.pack("<II", (1 << 1) | (1 << 3) | (1 << 30) | (1 << 31), 0x1)
    fields = (b"\x00" + b"\x00" + struct.pack("<HH", 2412, 0x00A0)
              + b"\x00\x11\x22" + b"\x00" + struct.pack("<H", 4) + b"\xaa\xbb\xcc\xdd")
    body = words + fields
    return struct.pack("<BBH", 0, 0, 4 + len(body)) + body + mac


def _prism(mac: bytes) -> bytes:
    return bytes(PrismHeader(channel=6, signal=-50, rate=2, frmlen=len(mac))) + mac


def _avs(mac: bytes) -> bytes:
    return struct.pack(">IIQQIIIIIIiiII", 0x80211001, 64, 1, 2, 4, 11, 10, 1, 0, 2, -48, -95,
                       0, 0) + mac


def _ppi(mac: bytes, flags: int = 0) -> bytes:
    common = struct.pack("<QHHHHBBbb", 5, flags, 2, 2437, 0x00A0, 0, 0, -60, -95)
    field_ = struct.pack("<HH", 2, len(common)) + common
    head = struct.pack("<BBHI", 0, 0, 8 + len(field_), 105) + field_
    return head + mac + (b"\x00" * 4 if flags & 1 else b"")


WRAPPERS = {
    127: (_radiotap_plain, _radiotap_fcs, _radiotap_multi_namespace, _radiotap_vendor_namespace),
    105: (lambda mac: mac,),
    119: (_prism,),
    163: (_avs,),
    192: (_ppi, lambda mac: _ppi(mac, flags=1)),
}

# Where each link type keeps the length/presence fields that parsers trust:
# (offset, size, byte order).
LENGTH_FIELDS = {
    127: ((2, 2, "little"), (4, 4, "little"), (8, 4, "little")),
    105: (),
    119: ((4, 4, "little"),),
    163: ((4, 4, "big"), (0, 4, "big")),
    192: ((2, 2, "little"), (10, 2, "little")),
}

FIXED_FIELDS = {0: 4, 1: 6, 2: 10, 3: 6, 4: 0, 5: 12, 8: 12, 14: 12}


def element_length_offsets(record: bytes, linktype: int) -> list[int]:
    """Offsets of the length octets of the information elements."""
    link = link_header(linktype, record)
    if isinstance(link, str):
        return []
    off, end, _radio = link
    if end - off < 24 or record[off] & 0x0C:
        return []
    subtype = record[off] >> 4
    if subtype not in FIXED_FIELDS:
        return []
    pos = off + 24 + (4 if record[off + 1] & 0x80 else 0) + FIXED_FIELDS[subtype]
    out = []
    while pos + 2 <= end:
        out.append(pos + 1)
        pos += 2 + record[pos + 1]
    return out


def _build_seed_records() -> dict[int, list[tuple[bytes, list[int]]]]:
    macs = scapy_seeds()
    real = real_seeds()
    for linktype, record in real:
        link = link_header(linktype, record)
        if not isinstance(link, str):
            macs.append(record[link[0]:link[1]])
    records: dict[int, list[tuple[bytes, list[int]]]] = {lt: [] for lt in LINKTYPES}
    for linktype, wrappers in WRAPPERS.items():
        for mac in macs:
            for wrap in wrappers:
                record = wrap(mac)
                records[linktype].append((record, element_length_offsets(record, linktype)))
    for linktype, record in real:   # the originals, link header and all
        if linktype in records:
            records[linktype].append((record, element_length_offsets(record, linktype)))
    return records


SEEDS = _build_seed_records()


# --------------------------------------------------------------------------
# Mutations

MUTATION = st.tuples(
    st.sampled_from(("flip", "truncate", "set", "insert", "delete", "element_length",
                     "header_length")),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
)


def mutate(record: bytes, elements: list[int], linktype: int,
           mutations: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(record)
    for op, a, b in mutations:
        if not data:
            break
        i = a % len(data)
        if op == "flip":
            data[i] ^= 1 << (b % 8)
        elif op == "truncate":
            del data[i:]
        elif op == "set":
            data[i] = b & 0xFF
        elif op == "insert":
            data[i:i] = (b & 0xFFFF).to_bytes(2, "little")[: 1 + b % 2] * (1 + b % 7)
        elif op == "delete":
            del data[i:i + 1 + b % 8]
        elif op == "element_length" and elements:
            pos = elements[a % len(elements)]
            if pos < len(data):
                data[pos] = (0, 1, 255, 254, data[pos] + 1 & 0xFF, data[pos] - 1 & 0xFF,
                             b & 0xFF)[b % 7]
        elif op == "header_length" and LENGTH_FIELDS[linktype]:
            offset, size, order = LENGTH_FIELDS[linktype][a % len(LENGTH_FIELDS[linktype])]
            if offset + size <= len(data):
                value = (0, 1, len(data), len(data) + 1, 2**(8 * size) - 1, b)[b % 6]
                data[offset:offset + size] = (value % 2**(8 * size)).to_bytes(size, order)
    return bytes(data)


def mutated_record(linktype: int):  # type: ignore[no-untyped-def]
    seeds = SEEDS[linktype]
    return st.tuples(st.integers(0, len(seeds) - 1),
                     st.lists(MUTATION, min_size=0, max_size=4)).map(
        lambda t: mutate(seeds[t[0]][0], seeds[t[0]][1], linktype, t[1]))


# --------------------------------------------------------------------------
# The properties

def _decode_all(linktype: int, records: list[bytes]) -> tuple[Decoder, list]:
    decoder = Decoder()
    frames = []
    for number, record in enumerate(records, 1):
        frame = decoder.decode(record, linktype, 1_717_200_000_000_000_000 + number * 50_000_000,
                               number)
        if frame is not None:
            frames.append(frame)
    return decoder, frames


def test_seeds_decode_as_the_frames_they_are() -> None:
    """The seeds must be valid, or the mutations start from noise."""
    for linktype in LINKTYPES:
        decoder, frames = _decode_all(linktype, [r for r, _ in SEEDS[linktype][:1]])
        assert [f.kind for f in frames] == ["beacon"]
        assert frames[0].elements.ssid == SSID
        assert frames[0].addr3 == BSSID


def test_seed_beacon_elements_are_walked() -> None:
    record, offsets = SEEDS[105][0]
    assert len(offsets) == len(RICH_ELEMENTS)


@pytest.mark.parametrize("linktype", LINKTYPES)
@SETTINGS
@given(records=st.lists(st.binary(max_size=400), min_size=1, max_size=8))
def test_random_bytes_never_raise_and_are_all_counted(linktype: int, records: list[bytes]) -> None:
    decoder, _frames = _decode_all(linktype, records)
    assert sum(decoder.frames.values()) == len(records)


@pytest.mark.parametrize("linktype", LINKTYPES)
@SETTINGS
@given(data=st.data())
def test_mutated_frames_never_raise_and_are_all_counted(linktype: int, data: st.DataObject
                                                        ) -> None:
    records = data.draw(st.lists(mutated_record(linktype), min_size=1, max_size=8))
    decoder, frames = _decode_all(linktype, records)
    assert sum(decoder.frames.values()) == len(records)
    for frame in frames:   # what comes out is usable by the rules
        assert len(frame.addr1) == 6
        ssid = frame.elements.ssid if frame.elements is not None else None
        assert ssid is None or len(ssid) <= 32


def _registry():  # type: ignore[no-untyped-def]
    return build_registry([{"id": "city-hall", "name": "test", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "pmf": "optional", "access_points": [
            {"bssid": BSSID, "frequencies": {2437, 2412}, "label": "lobby"},
            {"bssid": bytes.fromhex("001a2b3c4e00"), "prefix_len": 44,
             "frequencies": {5180}, "label": "hall"}]},
        {"ssid": b"\x00\xff odd", "security": {"open"}, "pmf": "disabled", "access_points": []},
    ]}])


@pytest.mark.parametrize("linktype", LINKTYPES)
@SETTINGS
@given(data=st.data())
def test_engine_survives_mutated_streams(linktype: int, data: st.DataObject) -> None:
    records = data.draw(st.lists(mutated_record(linktype), min_size=1, max_size=40))
    _decoder, frames = _decode_all(linktype, records)
    engine = Engine(_registry(), facility="city-hall", sensor="s1")
    for frame in frames:
        engine.feed(frame)
    engine.finish()
