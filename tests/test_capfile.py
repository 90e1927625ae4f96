"""Capture file reading: pcap variants, pcapng sections and interfaces, errors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from evil_twin_monitor.decoding import CaptureFileError, Decoder, open_capture

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-captures"
if not REAL.is_dir():
    REAL = Path("/work/shared/real-captures")

PKT_A = b"\x80\x00first"
PKT_B = b"\x80\x00second-packet"
PKT_C = b"\x80\x00third"


def pcap(records: list[tuple[int, int, bytes]], linktype: int = 127, order: str = "<",
         nanos: bool = False) -> bytes:
    """records: (seconds, fraction in the file's unit, data)."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, data in records:
        out += struct.pack(order + "IIII", sec, frac, len(data), len(data)) + data
    return out


def block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def shb(order: str) -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(order + "HHB3x", 9, 1, tsresol)
    if tsoffset is not None:
        opts += struct.pack(order + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(order + "HH", 0, 0)
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, 65535) + opts)


def epb(order: str, ifid: int, ticks: int, data: bytes) -> bytes:
    return block(order, 6, struct.pack(order + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF,
                                       len(data), len(data)) + data)


def spb(order: str, data: bytes) -> bytes:
    return block(order, 3, struct.pack(order + "I", len(data)) + data)


def pb(order: str, ifid: int, ticks: int, data: bytes) -> bytes:
    return block(order, 2, struct.pack(order + "HHIIII", ifid, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                                       len(data), len(data)) + data)


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read_all(path: Path) -> tuple[list, dict]:
    with open_capture(path) as reader:
        records = [(n, ts, lt, bytes(d)) for n, ts, lt, d in reader]
        return records, dict(reader.skipped)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcap_microseconds_both_byte_orders(tmp_path, order):
    path = write(tmp_path, "a.pcap", pcap([(1700000000, 123456, PKT_A), (1700000001, 7, PKT_B)],
                                         order=order))
    records, skipped = read_all(path)
    assert records == [(1, 1700000000123456000, 127, PKT_A), (2, 1700000001000007000, 127, PKT_B)]
    assert skipped == {}


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcap_nanosecond_magic(tmp_path, order):
    path = write(tmp_path, "n.pcap", pcap([(1700000000, 123456789, PKT_A)], linktype=105,
                                         order=order, nanos=True))
    assert read_all(path)[0] == [(1, 1700000000123456789, 105, PKT_A)]


def test_pcapng_sections_interfaces_and_block_kinds(tmp_path):
    little = (shb("<")
              + idb("<", 127)                                  # if 0: default microseconds
              + idb("<", 1)                                    # if 1: Ethernet
              + epb("<", 0, 1_700_000_000_000_001, PKT_A)      # 1
              + epb("<", 1, 1_700_000_000_000_002, b"ether")   # 2: unsupported interface
              + block("<", 0x00000BAD, b"custom")              # not a packet: ignored
              + spb("<", PKT_B)                                # 3: no timestamp of its own
              + pb("<", 0, 1_700_000_000_000_009, PKT_C))      # 4: obsolete Packet Block
    big = (shb(">")
           + idb(">", 105, tsresol=9)                          # nanoseconds
           + idb(">", 127, tsresol=0x80 | 10, tsoffset=1_700_000_000)  # 2^-10 s + offset
           + epb(">", 0, 1_700_000_000_123_456_789, PKT_A)     # 5
           + epb(">", 1, 1536, PKT_B))                         # 6: 1.5 s after the offset
    records, skipped = read_all(write(tmp_path, "two.pcapng", little + big))
    assert records == [
        (1, 1_700_000_000_000_001_000, 127, PKT_A),
        (3, 1_700_000_000_000_001_000, 127, PKT_B),
        (4, 1_700_000_000_000_009_000, 127, PKT_C),
        (5, 1_700_000_000_123_456_789, 105, PKT_A),
        (6, 1_700_000_001_500_000_000, 127, PKT_B),
    ]
    assert skipped == {"unsupported_linktype": 1}


def test_pcap_of_ethernet_is_refused_with_a_plain_message(tmp_path):
    path = write(tmp_path, "capture.pcap", pcap([(1, 0, b"x" * 60)], linktype=1))
    with pytest.raises(CaptureFileError) as err:
        open_capture(path)
    assert str(err.value) == (f"{path}: link type 1 (EN10MB, Ethernet) is not 802.11; "
                              "supported: 105, 119, 127, 163, 192")


def test_pcapng_with_no_802_11_interface_is_refused(tmp_path):
    path = write(tmp_path, "eth.pcapng", shb("<") + idb("<", 1) + epb("<", 0, 5, b"x" * 60))
    with pytest.raises(CaptureFileError) as err:
        open_capture(path)
    assert str(err.value) == (f"{path}: link type 1 (EN10MB, Ethernet) is not 802.11; "
                              "supported: 105, 119, 127, 163, 192")


def test_not_a_capture_file(tmp_path):
    path = write(tmp_path, "x.pcap", b"Hello, world\n")
    with pytest.raises(CaptureFileError) as err:
        open_capture(path)
    assert str(err.value) == f"{path}: not a pcap or pcapng file (magic 0x48656c6c)"


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.pcap", b"")
    with pytest.raises(CaptureFileError) as err:
        open_capture(path)
    assert str(err.value) == f"{path}: empty file"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pcap"
    with pytest.raises(CaptureFileError) as err:
        open_capture(path)
    assert str(err.value) == f"{path}: cannot read (No such file or directory)"


@pytest.mark.parametrize("cut", [5, 20])   # inside the last record's data / its header
def test_truncated_pcap_stops_quietly(tmp_path, cut):
    content = pcap([(1, 0, PKT_A), (2, 0, PKT_B), (3, 0, PKT_C * 3)])
    path = write(tmp_path, "cut.pcap", content[:-cut])
    records, skipped = read_all(path)
    assert [r[0] for r in records] == [1, 2]
    assert skipped == {"truncated_record": 1}


def test_truncated_pcapng_stops_quietly(tmp_path):
    content = shb("<") + idb("<", 127) + epb("<", 0, 1, PKT_A) + epb("<", 0, 2, PKT_B)
    records, skipped = read_all(write(tmp_path, "cut.pcapng", content[:-6]))
    assert [r[3] for r in records] == [PKT_A]
    assert skipped == {"truncated_record": 1}


# -- real captures ----------------------------------------------------------------

def real(name: str) -> Path:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def test_every_real_capture_decodes_without_exception():
    if not REAL.is_dir():
        pytest.skip("real captures not available")
    files = sorted(p for p in REAL.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap"))
    assert len(files) > 40
    for path in files:
        decoder = Decoder()
        frames = list(decoder.decode_file(path))
        assert sum(decoder.frames.values()) >= len(frames)


def test_real_capture_counts_match_tshark():
    decoder = Decoder()
    frames = list(decoder.decode_file(real("Fuuntz__ncae-tryouts-script__deauth.pcapng")))
    kinds = [f.kind for f in frames]
    assert (kinds.count("beacon"), kinds.count("probe_resp"), kinds.count("deauth")) == (3449, 474, 5442)
    assert len({f.addr3 for f in frames if f.kind in ("beacon", "probe_resp")}) == 15


def test_real_capture_truncated_last_record():
    decoder = Decoder()
    frames = list(decoder.decode_file(real("aircrack-ng__aircrack-ng__pmkid-not-recognized.cap")))
    assert sum(1 for f in frames if f.kind == "deauth") == 6153
    assert decoder.skipped == {"truncated_record": 1}


def test_real_prism_capture_is_decoded():
    decoder = Decoder()
    frames = list(decoder.decode_file(real("aircrack-ng__aircrack-ng__wpa.cap")))
    beacon = frames[0]
    assert (beacon.kind, beacon.freq_mhz, beacon.rate_500k, beacon.elements.ssid) == \
        ("beacon", 2442, 2, b"test")
    assert beacon.signal_dbm is None          # Prism "signal" 57 is raw RSSI, not dBm
