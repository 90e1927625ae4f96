"""Reading pcap and pcapng capture files without a dissection library.

Theory of operation
-------------------
The file is mapped (or, when it cannot be mapped, read) once, and records are
sliced out of it with ``struct.unpack_from``; each record's bytes are one
slice. `open_capture` checks everything a person can get wrong before the
first packet is asked for: that the file is readable, not empty, a pcap or a
pcapng file, and that it carries 802.11 frames. Those problems raise
`CaptureFileError` with one line naming the file and the problem, which the
command line prints as is.

Problems *inside* an otherwise usable file are not fatal, because a capture
cut short by a full disk or a killed tcpdump is still worth replaying: a last
record that runs past the end of the file is counted in
``reader.skipped['truncated_record']`` and iteration stops; packets from a
pcapng interface whose link type we do not decode are counted in
``reader.skipped['unsupported_linktype']``. Packet numbers count every packet
in the file, skipped or not, so they match Wireshark's frame numbers.

Timestamps become integer nanoseconds since the epoch. pcapng interfaces may
declare their own resolution (``if_tsresol``: 10^-n or 2^-n seconds, default
microseconds) and an offset in seconds (``if_tsoffset``). A Simple Packet
Block carries no timestamp: it gets the previous packet's.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections import Counter
from typing import Iterator

LINKTYPE_IEEE802_11 = 105
LINKTYPE_PRISM = 119
LINKTYPE_RADIOTAP = 127
LINKTYPE_AVS = 163
LINKTYPE_PPI = 192
SUPPORTED_LINKTYPES = (LINKTYPE_IEEE802_11, LINKTYPE_PRISM, LINKTYPE_RADIOTAP,
                       LINKTYPE_AVS, LINKTYPE_PPI)

# Names for the link types people are likely to feed us by mistake.
LINKTYPE_NAMES = {
    0: "NULL, BSD loopback",
    1: "EN10MB, Ethernet",
    101: "RAW, raw IP",
    105: "IEEE802_11, 802.11",
    113: "LINUX_SLL, Linux cooked capture",
    119: "PRISM_HEADER, 802.11 with Prism header",
    127: "IEEE802_11_RADIOTAP, 802.11 with radiotap",
    163: "IEEE802_11_AVS, 802.11 with AVS header",
    192: "PPI, 802.11 with PPI header",
    228: "IPV4, raw IPv4",
    229: "IPV6, raw IPv6",
    276: "LINUX_SLL2, Linux cooked capture v2",
}

_PCAP_MAGICS = {
    # magic as read little-endian -> (byte order, nanoseconds?, record header size)
    0xA1B2C3D4: ("<", False, 16),
    0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16),
    0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24),   # Kuznetzov's modified pcap: 8 extra bytes per record
    0x34CDB2A1: (">", False, 24),
}
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
_BLOCK_IDB = 1
_BLOCK_PB = 2
_BLOCK_SPB = 3
_BLOCK_EPB = 6
_OPT_TSRESOL = 9
_OPT_TSOFFSET = 14


class CaptureFileError(Exception):
    """The file cannot be replayed at all; the message names file and problem."""


def describe_linktype(linktype: int) -> str:
    """``"1 (EN10MB, Ethernet)"`` for messages."""
    name = LINKTYPE_NAMES.get(linktype)
    return f"{linktype} ({name})" if name else str(linktype)


def _unsupported_message(name: str, linktype: int) -> str:
    supported = ", ".join(str(t) for t in SUPPORTED_LINKTYPES)
    return f"{name}: link type {describe_linktype(linktype)} is not 802.11; supported: {supported}"


class _Interface:
    """A pcapng interface: link type and how to turn its timestamps into ns."""

    __slots__ = ("linktype", "mul", "div", "shift", "offset_ns")

    def __init__(self, linktype: int, tsresol: int = 6, tsoffset: int = 0) -> None:
        self.linktype = linktype
        self.offset_ns = tsoffset * 1_000_000_000
        self.mul, self.div, self.shift = 1, 1, 0
        if tsresol & 0x80:                      # 2^-n seconds
            self.mul, self.shift = 1_000_000_000, tsresol & 0x7F
        elif tsresol <= 9:
            self.mul = 10 ** (9 - tsresol)
        else:
            self.div = 10 ** (tsresol - 9)

    def to_ns(self, ticks: int) -> int:
        return ((ticks * self.mul) >> self.shift) // self.div + self.offset_ns


class CaptureReader:
    """Iterates ``(number, ts_ns, linktype, data)`` over one capture file.

    Use as a context manager (or call `close`). ``format`` is ``'pcap'`` or
    ``'pcapng'``; ``skipped`` counts packets not delivered, by reason.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.name = self.path
        self.skipped: Counter[str] = Counter()
        self.format = ""
        self.linktype: int | None = None  # pcap's one link type; pcapng: first interface's
        self._mm: mmap.mmap | None = None
        self._buf = self._load()
        self._check()

    # -- opening -------------------------------------------------------------

    def _load(self) -> bytes | mmap.mmap:
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size == 0:
                    raise CaptureFileError(f"{self.name}: empty file")
                try:
                    self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                    return self._mm
                except (OSError, ValueError):   # not mappable (a pipe, a special file)
                    return fh.read()
        except IsADirectoryError:
            raise CaptureFileError(f"{self.name}: is a directory, not a capture file") from None
        except OSError as exc:
            raise CaptureFileError(f"{self.name}: cannot read ({exc.strerror or exc})") from None

    def _check(self) -> None:
        buf = self._buf
        if len(buf) < 4:
            raise CaptureFileError(f"{self.name}: not a pcap or pcapng file (only {len(buf)} bytes)")
        (magic,) = struct.unpack_from("<I", buf, 0)
        if magic in _PCAP_MAGICS:
            self.format = "pcap"
            if len(buf) < 24:
                raise CaptureFileError(f"{self.name}: pcap file header cut short ({len(buf)} bytes)")
            order = _PCAP_MAGICS[magic][0]
            (network,) = struct.unpack_from(order + "I", buf, 20)
            self.linktype = network & 0xFFFF        # upper bits may carry the FCS length
            if self.linktype not in SUPPORTED_LINKTYPES:
                raise CaptureFileError(_unsupported_message(self.name, self.linktype))
        elif magic == _PCAPNG_SHB:
            self.format = "pcapng"
            self._check_pcapng()
        else:
            raise CaptureFileError(
                f"{self.name}: not a pcap or pcapng file (magic 0x{bytes(buf[:4]).hex()})")

    def _check_pcapng(self) -> None:
        """Require one 802.11 interface, looking no further than needed."""
        first: int | None = None
        for kind, value in self._pcapng_blocks(header_only=True):
            if kind == "idb":
                if first is None:
                    first = value
                if value in SUPPORTED_LINKTYPES:
                    self.linktype = value
                    return
            elif kind == "error":
                if value == "bad_section_header":
                    raise CaptureFileError(f"{self.name}: pcapng section header is damaged")
                break
        if first is not None:
            self.linktype = first
            raise CaptureFileError(_unsupported_message(self.name, first))
        # No interface at all: a valid but empty capture.

    # -- iteration -----------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[int, int, int, bytes]]:
        if self.format == "pcap":
            return self._iter_pcap()
        return self._iter_pcapng()

    def _iter_pcap(self) -> Iterator[tuple[int, int, int, bytes]]:
        buf = self._buf
        (magic,) = struct.unpack_from("<I", buf, 0)
        order, nanos, hdr_size = _PCAP_MAGICS[magic]
        rec = struct.Struct(order + "IIII").unpack_from
        frac_mul = 1 if nanos else 1000
        linktype = self.linktype
        size = len(buf)
        pos = 24
        number = 0
        skipped = self.skipped
        while pos < size:
            if pos + hdr_size > size:
                skipped["truncated_record"] += 1
                return
            sec, frac, incl, _orig = rec(buf, pos)
            start = pos + hdr_size
            pos = start + incl
            if pos > size:
                skipped["truncated_record"] += 1
                return
            number += 1
            yield number, sec * 1_000_000_000 + frac * frac_mul, linktype, buf[start:pos]

    def _iter_pcapng(self) -> Iterator[tuple[int, int, int, bytes]]:
        return self._pcapng_blocks(header_only=False)  # type: ignore[return-value]

    def _pcapng_blocks(self, header_only: bool) -> Iterator[tuple]:
        """Walk pcapng blocks. With ``header_only`` yield ``('idb', linktype)``
        and ``('error', reason)`` only (the caller stops when satisfied);
        otherwise yield packets."""
        buf = self._buf
        size = len(buf)
        pos = 0
        number = 0
        last_ts = 0
        skipped = self.skipped
        order = "<"
        u32 = struct.Struct("<I").unpack_from
        hdr = struct.Struct("<II").unpack_from
        epb = struct.Struct("<IIIII").unpack_from
        interfaces: list[_Interface] = []
        supported = SUPPORTED_LINKTYPES
        while pos < size:
            if pos + 12 > size:
                if header_only:
                    return
                skipped["truncated_record"] += 1
                return
            (btype,) = u32(buf, pos)
            if btype == _PCAPNG_SHB:
                (bom,) = struct.unpack_from("<I", buf, pos + 8)
                if bom == _PCAPNG_BOM:
                    order = "<"
                elif bom == 0x4D3C2B1A:
                    order = ">"
                else:
                    if header_only:
                        yield "error", "bad_section_header"
                        return
                    skipped["bad_section_header"] += 1
                    return
                u32 = struct.Struct(order + "I").unpack_from
                hdr = struct.Struct(order + "II").unpack_from
                epb = struct.Struct(order + "IIIII").unpack_from
                interfaces = []
            btype, blen = hdr(buf, pos)
            if blen < 12 or blen % 4:
                if header_only:
                    yield "error", "bad_block_length"
                    return
                skipped["bad_block_length"] += 1
                return
            end = pos + blen
            if end > size:
                if not header_only:
                    skipped["truncated_record"] += 1
                return
            body = pos + 8
            if btype == _BLOCK_EPB or btype == _BLOCK_SPB or btype == _BLOCK_PB:
                if header_only:       # looking for interfaces only
                    pos = end
                    continue
                number += 1
                if btype == _BLOCK_EPB:
                    if blen < 32:
                        skipped["bad_block_length"] += 1
                        pos = end
                        continue
                    ifid, hi, lo, caplen, _orig = epb(buf, body)
                    data_start = body + 20
                elif btype == _BLOCK_SPB:
                    ifid, hi, lo = 0, -1, 0
                    (orig,) = u32(buf, body)
                    data_start = body + 4
                    caplen = min(orig, end - 4 - data_start)
                else:  # obsolete Packet Block: 16-bit interface id and drop count
                    if blen < 32:
                        skipped["bad_block_length"] += 1
                        pos = end
                        continue
                    (ifid_drops, hi, lo, caplen, _orig) = epb(buf, body)
                    ifid = (ifid_drops >> 16) if order == ">" else (ifid_drops & 0xFFFF)
                    data_start = body + 20
                data_end = data_start + caplen
                pos = end
                if data_end > end - 4:
                    skipped["bad_block_length"] += 1
                    continue
                if ifid >= len(interfaces):
                    skipped["unknown_interface"] += 1
                    continue
                iface = interfaces[ifid]
                if iface.linktype not in supported:
                    skipped["unsupported_linktype"] += 1
                    continue
                if hi >= 0:
                    last_ts = iface.to_ns((hi << 32) | lo)
                yield number, last_ts, iface.linktype, buf[data_start:data_end]
                continue
            if btype == _BLOCK_IDB and blen >= 20:
                iface = self._parse_idb(buf, body, end - 4, order)
                interfaces.append(iface)
                if header_only:
                    yield "idb", iface.linktype
            pos = end

    @staticmethod
    def _parse_idb(buf: bytes | mmap.mmap, body: int, end: int, order: str) -> _Interface:
        (linktype,) = struct.unpack_from(order + "H", buf, body)
        tsresol, tsoffset = 6, 0
        pos = body + 8
        opt = struct.Struct(order + "HH").unpack_from
        while pos + 4 <= end:
            code, length = opt(buf, pos)
            if code == 0:
                break
            value = pos + 4
            if value + length > end:
                break
            if code == _OPT_TSRESOL and length >= 1:
                tsresol = buf[value]
            elif code == _OPT_TSOFFSET and length >= 8:
                (tsoffset,) = struct.unpack_from(order + "q", buf, value)
            pos = value + ((length + 3) & ~3)
        return _Interface(linktype, tsresol, tsoffset)

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:   # a caller still holds a view; the GC will do it
                pass
            self._mm = None

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capture(path: str | os.PathLike[str]) -> CaptureReader:
    """Open a pcap or pcapng file of 802.11 frames; raises `CaptureFileError`."""
    return CaptureReader(path)
