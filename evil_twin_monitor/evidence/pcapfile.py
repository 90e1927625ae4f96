"""Recorded frames -> the bytes of an evidence pcap, client addresses pseudonymised.

Theory of operation
-------------------
`build_pcap` turns the frames the recorder kept for one offender into a
classic pcap file (microsecond timestamps, the frames' own link type), and
`rewrite_frame` decides frame by frame what may go into it:

- **Management frames only.** The frame control field is checked again here
  (type 0, not protected), so nothing but management frames can ever be
  written, whatever a caller hands in.
- **Sent by the offender.** A frame whose transmitter (addr2) is the
  offender is kept whole: its body describes the offender (its beacon, its
  probe responses, its authentication answers). So is a beacon or probe
  response that names the offender as its BSSID (addr3) while its
  transmitter address says something else (forged frames do that): it
  advertises the offender's network. A frame sent *to* the offender by
  someone else is kept only if it is a deauthentication or disassociation
  naming the offender as BSSID or receiver (the forged half of a deauth
  flood), and then cut to its header and reason code: anything after the
  reason code (vendor elements) was written by a client.
- **Addresses.** Every address field that is not the offender, a group
  address (broadcast, multicast), the all-zero address or a registered
  BSSID is replaced by ``Pseudonymizer.address(addr)``: a locally
  administered address, the same for the same client within one
  installation, that nobody can turn back without the installation's
  secret.
- **FCS.** A frame captured with its FCS gets a new one computed over the
  rewritten bytes: the old one was computed over the real addresses, and a
  CRC-32 with the rest of the frame known gives most of an address away.
- **Link header** (radiotap, PPI, Prism, AVS) kept as captured: it describes
  the radio, never a station.

The newest ``max_frames`` frames that fit in ``max_bytes`` are written, in
capture order; frames of another link type than the newest frame's are left
out (a pcap has one link type).
"""

from __future__ import annotations

import struct
import zlib
from typing import Callable, Sequence

from ..decoding.linklayer import link_header
from .recorder import Record

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD_HEADER = struct.Struct("<IIII")
PCAP_MAGIC_US = 0xA1B2C3D4
SNAPLEN = 65535
_ZERO = b"\0" * 6

# Management subtypes written whole when the offender sent them: association
# request/response (0, 1), reassociation response (3), probe request/response
# (4, 5), beacon (8), disassociation (10), authentication (11),
# deauthentication (12). Not: reassociation request (2, its body names the
# previous AP), action frames (13, 14: bodies may carry other stations' addresses).
OFFENDER_SUBTYPES = frozenset({0, 1, 3, 4, 5, 8, 10, 11, 12})
# Subtypes kept whole when addr3 (the BSSID) is the offender but addr2 is not:
# probe response, beacon.
AS_BSSID_SUBTYPES = frozenset({5, 8})
# Subtypes kept, cut to header + reason code, when someone else sent them to the offender.
TO_OFFENDER_SUBTYPES = frozenset({10, 12})


def rewrite_frame(data: bytes, linktype: int, offender: bytes, keep: Callable[[bytes], bool],
                  pseudonym: Callable[[bytes], bytes]) -> bytes | None:
    """``data`` ready for an evidence file, or None when it must not go in.

    ``keep(addr)`` says whether an address other than the offender's may stay
    (a registered BSSID); ``pseudonym(addr)`` replaces the others."""
    header = link_header(linktype, data)
    if isinstance(header, str):
        return None
    off, end, _link = header
    if end - off < 24:
        return None
    fc0, fc1 = data[off], data[off + 1]
    if fc0 & 0x0F or fc1 & 0x40:   # not type 0 version 0 (management), or protected
        return None
    subtype = fc0 >> 4
    addr1, addr2, addr3 = data[off + 4:off + 10], data[off + 10:off + 16], data[off + 16:off + 22]
    if addr2 == offender:
        if subtype not in OFFENDER_SUBTYPES:
            return None
        body_end = end
    elif subtype in AS_BSSID_SUBTYPES and addr3 == offender:
        body_end = end
    elif subtype in TO_OFFENDER_SUBTYPES and (addr3 == offender or addr1 == offender):
        body_end = off + (28 if fc1 & 0x80 else 24) + 2   # header (+HT control), reason code
        if body_end > end:
            return None
    else:
        return None
    frame = bytearray(data[off:body_end])
    for at, addr in ((4, addr1), (10, addr2), (16, addr3)):
        if addr != offender and not addr[0] & 1 and addr != _ZERO and not keep(addr):
            frame[at:at + 6] = pseudonym(addr)
    fcs = b""
    if end < len(data):   # captured with its FCS: one over what we write
        fcs = struct.pack("<I", zlib.crc32(frame))
    return data[:off] + bytes(frame) + fcs


def build_pcap(records: Sequence[Record], offender: bytes, keep: Callable[[bytes], bool],
               pseudonym: Callable[[bytes], bytes], *, max_frames: int,
               max_bytes: int) -> tuple[bytes, int] | None:
    """(pcap file bytes, frames in it) for ``records`` (oldest first), or None
    when not one frame may be written. Newest frames win the caps."""
    if not records:
        return None
    linktype = records[-1][2]
    budget = max_bytes - PCAP_HEADER.size
    chosen: list[tuple[int, bytes]] = []
    for ts_ns, _kind, link, data in reversed(records):
        if len(chosen) >= max_frames:
            break
        if link != linktype:
            continue
        written = rewrite_frame(data, link, offender, keep, pseudonym)
        if written is None:
            continue
        cost = RECORD_HEADER.size + len(written)
        if cost > budget:
            break
        budget -= cost
        chosen.append((ts_ns, written))
    if not chosen:
        return None
    parts = [PCAP_HEADER.pack(PCAP_MAGIC_US, 2, 4, 0, 0, SNAPLEN, linktype)]
    for ts_ns, written in reversed(chosen):
        seconds, ns = divmod(ts_ns, 1_000_000_000)
        parts.append(RECORD_HEADER.pack(seconds, ns // 1000, len(written), len(written)))
        parts.append(written)
    return b"".join(parts), len(chosen)
