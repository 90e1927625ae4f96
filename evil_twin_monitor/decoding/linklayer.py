"""Link-layer headers in front of an 802.11 frame: radiotap, PPI, Prism, AVS.

Theory of operation
-------------------
Every parser takes the captured bytes and returns either a reason string
(the frame is dropped and the decoder counts the reason) or the 8-tuple
``(offset, tsft, flags, rate_500k, freq_mhz, channel_flags, signal_dbm,
antenna)``: the 802.11 frame starts at ``data[offset]``, and the rest is
what the radio said, None where the header does not say. ``flags`` uses the
radiotap convention whatever the header (0x10: the frame ends with a 4-byte
FCS, 0x40: the FCS was bad); `link_header` applies it and returns
``(offset, end, radio)`` for callers off the hot path. Parsers never raise
on input they check; a lying length is a reason, not an exception.

Radiotap is the hot one. Where its fields lie depends only on the set of
presence bitmaps (and on vendor-namespace skip lengths, which are rare), so
each distinct bitmap set is compiled once into a `struct.Struct` that reads
the header and exactly the wanted fields in one ``unpack_from`` call, plus
an ``itemgetter`` that puts them, or None, into the tuple order. The layout
used last is tried first (a capture comes from one radio, so it nearly
always fits, checked by comparing the presence words); otherwise a dict
keyed by the presence words finds it. Per frame that is one C unpack, one
comparison and one C getter.

Compilation follows radiotap.org: fields come in bit order, each aligned to
its natural alignment relative to the start of the header; bit 31 chains
another bitmap word; bit 29 makes the next word radiotap namespace again
(bit numbers restart at 0), bit 30 opens a vendor namespace whose data
(after a 6-byte OUI/sub-namespace/skip_length header) is skipped whole. Bit
28 means the rest are TLVs: fixed-field parsing stops there. A bit we do not
know in the radiotap namespace makes every later field unlocatable, so we
keep what was found before it; ``it_len`` still tells where the 802.11 frame
begins. The first occurrence of a field wins (later radiotap namespaces
repeat e.g. per-chain signal).
"""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Callable, Union

from .channels import channel_to_frequency

# The link tuple: (offset, tsft, flags, rate_500k, freq_mhz, channel_flags, signal_dbm, antenna)
Link = tuple
LinkResult = Union[str, Link]

# Positions in the link tuple.
OFFSET, TSFT, FLAGS, RATE, FREQ, CHFLAGS, SIGNAL, ANTENNA = range(8)

# radiotap flags field (also used for PPI's FCS flags)
FLAG_FCS_AT_END = 0x10
FLAG_BAD_FCS = 0x40

_NONE8 = (None,) * 8

# radiotap namespace: bit -> (alignment, size, ((struct code, slot), ...)).
# A field we only skip has no codes; its bytes become padding.
_RT_FIELDS: dict[int, tuple[int, int, tuple[tuple[str, int], ...]]] = {
    0: (8, 8, (("Q", TSFT),)),            # TSFT
    1: (1, 1, (("B", FLAGS),)),           # Flags
    2: (1, 1, (("B", RATE),)),            # Rate
    3: (2, 4, (("H", FREQ), ("H", CHFLAGS))),  # Channel
    4: (1, 2, ()),                        # FHSS
    5: (1, 1, (("b", SIGNAL),)),          # dBm antenna signal
    6: (1, 1, ()),                        # dBm antenna noise
    7: (2, 2, ()),                        # lock quality
    8: (2, 2, ()),                        # TX attenuation
    9: (2, 2, ()),                        # dB TX attenuation
    10: (1, 1, ()),                       # dBm TX power
    11: (1, 1, (("B", ANTENNA),)),        # antenna
    12: (1, 1, ()),                       # dB antenna signal
    13: (1, 1, ()),                       # dB antenna noise
    14: (2, 2, ()),                       # RX flags
    15: (2, 2, ()),                       # TX flags
    16: (1, 1, ()),                       # RTS retries
    17: (1, 1, ()),                       # data retries
    18: (4, 8, ()),                       # XChannel: u32 flags, u16 freq, u8 chan, u8 maxpower
    19: (1, 3, ()),                       # MCS
    20: (4, 8, ()),                       # A-MPDU status
    21: (2, 12, ()),                      # VHT
    22: (8, 12, ()),                      # timestamp
    23: (2, 12, ()),                      # HE
    24: (2, 12, ()),                      # HE-MU
    25: (2, 6, ()),                       # HE-MU-other-user
    26: (1, 1, ()),                       # 0-length PSDU
    27: (2, 4, ()),                       # L-SIG
}
_BIT_TLV = 28
_BIT_RT_NS = 29
_BIT_VENDOR_NS = 30
_XCHANNEL = 18

_RT_HDR = struct.Struct("<BBHI")
_U32 = struct.Struct("<I")


class _Layout:
    """Where the wanted fields of one radiotap bitmap set lie.

    ``unpack`` reads version, pad, it_len, the first presence word, then the
    wanted fields; ``getter`` turns that (plus None padding) into the link
    tuple. ``key`` is the presence words' bytes (checked when there are more
    than one), ``size`` what ``unpack`` needs, ``fields_end`` where the last
    known field ends (must not exceed it_len).
    """

    __slots__ = ("unpack", "getter", "present", "key", "size", "fields_end")

    def __init__(self, fmt: str, slots: list[int], key: bytes, fields_end: int) -> None:
        st = struct.Struct(fmt)
        self.unpack = st.unpack_from
        self.size = st.size
        count = len(slots)
        index = [count + i for i in range(8)]  # default: the None padding
        index[OFFSET] = 2                     # it_len
        for pos, slot in enumerate(slots):
            if slot >= 0:
                index[slot] = pos
        self.getter = itemgetter(*index)
        self.key = key
        (self.present,) = _U32.unpack_from(key, 0)
        self.fields_end = fields_end


def _compile(data: bytes, it_len: int) -> tuple[_Layout, bool] | str:
    """Lay out the fields of this header. Returns (layout, cacheable) or a reason."""
    words: list[int] = []
    pos = 4
    while True:
        if pos + 4 > it_len:
            return "bad_radiotap_length"
        (word,) = _U32.unpack_from(data, pos)
        words.append(word)
        pos += 4
        if not word & 0x80000000:
            break
    off = pos                 # field data starts after the last bitmap word
    fmt = ["<BBHI"]
    slots: list[int] = [-1, -1, -1, -1]   # version, pad, it_len, present: not link slots
    cursor = 8                # bytes already covered by fmt
    seen: set[int] = set()
    cacheable = True
    namespace = "rt"
    bit_base = 0
    vendor_end = 0

    def take(at: int, codes: tuple[tuple[str, int], ...]) -> None:
        nonlocal cursor
        if at > cursor:
            fmt.append(f"{at - cursor}x")
        width = 0
        for code, slot in codes:
            size = struct.calcsize("<" + code)
            if slot in seen:
                fmt.append(f"{size}x")
            else:
                seen.add(slot)
                fmt.append(code)
                slots.append(slot)
            width += size
        cursor = at + width

    stopped = False
    for word in words:
        if namespace == "rt":
            for bit in range(29):
                if not word & (1 << bit):
                    continue
                field = _RT_FIELDS.get(bit_base + bit) if bit != _BIT_TLV else None
                if field is None:   # TLVs follow, or a field we cannot size
                    stopped = True
                    break
                align, size, codes = field
                off = (off + align - 1) & ~(align - 1)
                if bit_base + bit == _XCHANNEL:
                    if FREQ not in seen:
                        take(off + 4, (("H", FREQ),))
                elif codes:
                    take(off, codes)
                off += size
        if stopped:
            break
        if word & (1 << _BIT_VENDOR_NS):
            if namespace == "vendor":
                off = vendor_end
            off = (off + 1) & ~1
            if off + 6 > it_len:
                return "bad_radiotap_length"
            (skip,) = struct.unpack_from("<H", data, off + 4)
            vendor_end = off + 6 + skip
            off = vendor_end
            namespace = "vendor"
            cacheable = False
            bit_base = 0
        elif word & (1 << _BIT_RT_NS):
            if namespace == "vendor":
                off = vendor_end
            namespace = "rt"
            bit_base = 0
        else:
            bit_base += 32
    if cursor > it_len:
        return "bad_radiotap_length"
    layout = _Layout("".join(fmt), slots, bytes(data[4:pos]), max(cursor, pos))
    return layout, cacheable


_layouts: dict[bytes, _Layout] = {}
_LAYOUT_CAP = 1024
# The layout used last, as a tuple so that the fast path reads it in one go:
# (present, size, fields_end, unpack, getter, key or None if one word).
_last: tuple = (None, 1 << 30, 0, None, None, None)


def parse_radiotap(data: bytes) -> LinkResult:
    """Radiotap header (link type 127)."""
    present, size, fields_end, unpack, getter, key = _last
    length = len(data)
    if length >= size:
        values = unpack(data, 0)
        if (values[3] == present and values[0] == 0 and fields_end <= values[2] <= length
                and (key is None or data[4:4 + len(key)] == key)):
            return getter(values + _NONE8)
    return _parse_radiotap_slow(data)


def _remember(layout: _Layout) -> None:
    global _last
    key = layout.key if len(layout.key) > 4 else None
    _last = (layout.present, layout.size, layout.fields_end, layout.unpack, layout.getter, key)


def _parse_radiotap_slow(data: bytes) -> LinkResult:
    if len(data) < 8:
        return "truncated_radiotap"
    version, _pad, it_len, present = _RT_HDR.unpack_from(data, 0)
    if it_len > len(data) or it_len < 8:
        return "bad_radiotap_length"
    if version != 0:
        return "bad_radiotap_version"
    pos = 4
    while True:
        if pos + 4 > it_len:
            return "bad_radiotap_length"
        if not data[pos + 3] & 0x80:
            break
        pos += 4
    key = bytes(data[4:pos + 4])
    layout = _layouts.get(key)
    if layout is None:
        compiled = _compile(data, it_len)
        if compiled.__class__ is str:
            return compiled  # type: ignore[return-value]
        layout, cacheable = compiled  # type: ignore[misc]
        if cacheable:
            if len(_layouts) >= _LAYOUT_CAP:
                _layouts.clear()
            _layouts[key] = layout
            _remember(layout)
    elif layout.fields_end > it_len:
        return "bad_radiotap_length"
    else:
        _remember(layout)
    if len(data) < layout.size:
        return "bad_radiotap_length"
    return layout.getter(layout.unpack(data, 0) + _NONE8)


def parse_bare(data: bytes) -> LinkResult:
    """Plain 802.11 (link type 105): nothing to strip, nothing known."""
    return _BARE


_BARE = (0,) + (None,) * 7


# -- PPI (192) ----------------------------------------------------------------

_PPI_HDR = struct.Struct("<BBHI")
_PPI_FIELD = struct.Struct("<HH")
_PPI_COMMON = struct.Struct("<QHHHHBBbb")
_PPI_80211_COMMON = 2
_PPI_FLAG_FCS = 0x0001
_PPI_FLAG_FCS_ERROR = 0x0004


def parse_ppi(data: bytes) -> LinkResult:
    """PPI header; only 802.11 (inner DLT 105) is accepted."""
    if len(data) < 8:
        return "bad_ppi"
    version, _flags, pph_len, dlt = _PPI_HDR.unpack_from(data, 0)
    if version != 0 or pph_len < 8 or pph_len > len(data):
        return "bad_ppi"
    if dlt != 105:
        return "unsupported_inner_dlt"
    link: Link = (pph_len,) + (None,) * 7
    found = False
    pos = 8
    while pos + 4 <= pph_len:
        ftype, flen = _PPI_FIELD.unpack_from(data, pos)
        body = pos + 4
        if body + flen > pph_len:
            return "bad_ppi"
        if ftype == _PPI_80211_COMMON and flen >= 20 and not found:
            found = True
            tsft, ppi_flags, rate, freq, chflags, _hop, _pat, signal, _noise = \
                _PPI_COMMON.unpack_from(data, body)
            flags = ((FLAG_FCS_AT_END if ppi_flags & _PPI_FLAG_FCS else 0)
                     | (FLAG_BAD_FCS if ppi_flags & _PPI_FLAG_FCS_ERROR else 0))
            # Writers zero-fill what they do not know: 0 reads as absent.
            link = (pph_len, tsft or None, flags, rate or None, freq or None, chflags,
                    signal or None, None)
        pos = body + flen
    return link


# -- Prism (119) and AVS (163) ----------------------------------------------------

_PRISM_LEN = 144
_AVS_MAGIC_TOP = 0x802110      # 0x80211001 (v1), 0x80211002 (v2), big-endian
_AVS_HDR = struct.Struct(">IIQQIIIIIIiiII")   # the 64 bytes of the v1 header
# Prism items after the 24-byte message header: hosttime, mactime, channel,
# rssi, sq, signal, noise, rate, istx, frmlen; each did(4) status(2) len(2) data(4).
_PRISM_CHANNEL = 24 + 2 * 12
_PRISM_SIGNAL = 24 + 5 * 12
_PRISM_RATE = 24 + 7 * 12


def parse_avs(data: bytes) -> LinkResult:
    """AVS capture header (big-endian, length in the header)."""
    if len(data) < 64:
        return "bad_avs"
    (version, length, mactime, _hosttime, _phy, channel, datarate, antenna,
     _prio, ssi_type, ssi_signal, _noise, _pre, _enc) = _AVS_HDR.unpack_from(data, 0)
    if version >> 8 != _AVS_MAGIC_TOP or length < 64 or length > len(data):
        return "bad_avs"
    freq = channel_to_frequency(channel) if channel else None
    signal = ssi_signal if ssi_type == 2 and -128 <= ssi_signal <= 127 else None
    rate = datarate // 5 if datarate else None         # 100 kb/s -> 500 kb/s units
    return (length, mactime or None, None, rate, freq, None, signal, antenna)


def parse_prism(data: bytes) -> LinkResult:
    """Prism monitoring header (144 bytes, host byte order), or AVS in disguise.

    Prism gives a channel *number*; it becomes a frequency by the usual
    convention (1-14: 2.4 GHz, else 5 GHz).
    """
    if len(data) >= 4 and data[0] == 0x80 and data[1] == 0x21 and data[2] == 0x10:
        return parse_avs(data)
    if len(data) < _PRISM_LEN:
        return "bad_prism"
    order = "<"
    (msglen,) = struct.unpack_from("<I", data, 4)
    if msglen != _PRISM_LEN:
        (big,) = struct.unpack_from(">I", data, 4)
        if big == _PRISM_LEN:
            order, msglen = ">", big
    if msglen < _PRISM_LEN or msglen > len(data):
        return "bad_prism"
    item = struct.Struct(order + "IHHi").unpack_from
    values = []
    for at in (_PRISM_CHANNEL, _PRISM_SIGNAL, _PRISM_RATE):
        _did, status, _len, value = item(data, at)
        values.append(value if status == 0 else None)
    channel, signal, rate = values
    freq = channel_to_frequency(channel) if channel else None
    if signal is not None and not -128 <= signal < 0:
        signal = None          # drivers put raw RSSI units here too: only negatives are dBm
    return (msglen, None, None, rate or None, freq, None, signal, None)


PARSERS: dict[int, Callable[[bytes], LinkResult]] = {
    105: parse_bare,
    119: parse_prism,
    127: parse_radiotap,
    163: parse_avs,
    192: parse_ppi,
}


def link_header(linktype: int, data: bytes) -> str | tuple[int, int, Link]:
    """``(offset, end, link)`` with the FCS flags applied, or a reason
    (``'unsupported_linktype'``, ``'bad_fcs'``, a header problem)."""
    parser = PARSERS.get(linktype)
    if parser is None:
        return "unsupported_linktype"
    link = parser(data)
    if link.__class__ is str:
        return link  # type: ignore[return-value]
    end = len(data)
    flags = link[FLAGS]
    if flags:
        if flags & FLAG_BAD_FCS:
            return "bad_fcs"
        if flags & FLAG_FCS_AT_END:
            end -= 4
    return link[OFFSET], end, link
