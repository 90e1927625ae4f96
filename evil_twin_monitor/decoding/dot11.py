"""802.11 management frames: MAC header, fixed fields, where elements start.

Theory of operation
-------------------
`decode_management` fills a `Frame` from ``data[off:end]`` (the 802.11
frame without FCS) and returns None when the frame is one we hand on, or a
string: a malformed reason, or ``'mgmt_other'`` / ``'action_other'`` for
management frames no rule reads. The caller counts the string.

The fixed fields sit between the 24-byte header (28 with the HT Control
field that the Order bit announces in management frames) and the elements;
their length depends on the subtype (`FIXED_LENGTH`). Beacons and probe
responses, almost all of the traffic, take one ``unpack_from`` for header and
fixed fields together.

A frame with the Protected bit has an encrypted body (a CCMP header, then
ciphertext): only the header is decoded, never fixed fields or elements.
Action frames are handed on only when they carry a channel switch: spectrum
management (category 0) action 4 is a Channel Switch Announcement whose body
is elements; public (category 4) action 4 is an Extended Channel Switch
Announcement whose fixed fields (mode, new operating class, new channel,
count) go into ``Elements.ecsa`` of a per-frame (uncached) `Elements`.
"""

from __future__ import annotations

import struct

from .elements import build_elements, parse_elements
from .frame import (ACTION, ASSOC_REQ, ASSOC_RESP, AUTH, BEACON, DEAUTH, DISASSOC,
                    PROBE_REQ, PROBE_RESP, REASSOC_REQ, REASSOC_RESP, Frame)

TYPE_MGMT = 0x00
TYPE_CONTROL = 0x04
TYPE_DATA = 0x08
TYPE_EXTENSION = 0x0C
TYPE_NAMES = {TYPE_MGMT: "mgmt", TYPE_CONTROL: "control", TYPE_DATA: "data",
              TYPE_EXTENSION: "extension"}

# Frame control, second octet.
FC_RETRY = 0x08
FC_PROTECTED = 0x40
FC_ORDER = 0x80

# Management subtype -> Frame kind (None: counted as 'mgmt_other').
MGMT_KINDS: tuple[str | None, ...] = (
    ASSOC_REQ, ASSOC_RESP, REASSOC_REQ, REASSOC_RESP, PROBE_REQ, PROBE_RESP,
    None,        # 6 timing advertisement
    None,        # 7 reserved
    BEACON,
    None,        # 9 ATIM
    DISASSOC, AUTH, DEAUTH,
    ACTION,
    ACTION,      # 14 action no ack
    None,        # 15 reserved
)

# Octets of fixed fields before the elements, by subtype.
FIXED_LENGTH = {0: 4, 1: 6, 2: 10, 3: 6, 4: 0, 5: 12, 8: 12, 10: 2, 11: 6, 12: 2, 13: 2, 14: 2}

# Authentication algorithms whose frames carry elements after the fixed fields
# (open system, shared key's challenge text, fast BSS transition); SAE, FILS
# and PASN bodies are not element lists.
AUTH_WITH_ELEMENTS = frozenset({0, 1, 2})
CAPABILITY_PRIVACY = 0x0010

CATEGORY_SPECTRUM = 0
CATEGORY_PUBLIC = 4
ACTION_CSA = 4            # in category 0
PUBLIC_ECSA = 4           # in category 4

HEADER = struct.Struct("<BBH6s6s6sH")
HEADER_BEACON = struct.Struct("<BBH6s6s6sHQHH")
_BEACON_FIXED = struct.Struct("<QHH")
_U16 = struct.Struct("<H")
_U16X2 = struct.Struct("<HH")
_U16X3 = struct.Struct("<HHH")


_new_frame = Frame.__new__


def decode_management(data: bytes, off: int, end: int, link: tuple,
                      number: int, ts_ns: int) -> Frame | str:
    """The management frame at ``data[off:end]`` as a `Frame`, or a string
    to count. ``link`` is the link-layer tuple (see `linklayer`)."""
    fc0 = data[off]
    fc1 = data[off + 1]
    if (fc0 == 0x80 or fc0 == 0x50) and not fc1 & (FC_ORDER | FC_PROTECTED) and off + 36 <= end:
        return _beacon(data, off, end, link, number, ts_ns, BEACON if fc0 == 0x80 else PROBE_RESP,
                       fc1, off + 36)
    subtype = fc0 >> 4
    kind = MGMT_KINDS[subtype]
    if kind is None:
        return "mgmt_other"
    body = off + 28 if fc1 & FC_ORDER else off + 24
    if body > end:
        return "truncated_80211"
    fixed_end = body + FIXED_LENGTH[subtype]
    frame = Frame()
    frame.number = number
    frame.ts_ns = ts_ns
    frame.freq_mhz = link[4]
    frame.signal_dbm = link[6]
    frame.antenna = link[7]
    frame.rate_500k = link[3]
    frame.mactime = link[1]
    (_, _, _, frame.addr1, frame.addr2, frame.addr3, seqctl) = HEADER.unpack_from(data, off)
    frame.kind = kind
    frame.seq = seqctl >> 4
    frame.retry = fc1 & FC_RETRY != 0
    protected = frame.protected = bool(fc1 & FC_PROTECTED)
    if subtype >= 13:
        outcome = _action(frame, data, body, end, protected)
        return frame if outcome is None else outcome
    if protected:
        return frame
    if fixed_end > end:
        return "truncated_80211"
    privacy = False
    has_elements = True
    if subtype == 8 or subtype == 5:
        frame.tsf, frame.beacon_interval, frame.capability = _BEACON_FIXED.unpack_from(data, body)
        privacy = bool(frame.capability & CAPABILITY_PRIVACY)
    elif subtype == 12 or subtype == 10:
        (frame.reason,) = _U16.unpack_from(data, body)
        has_elements = fixed_end < end      # only vendor elements / MME follow, if any
    elif subtype == 11:
        frame.auth_algorithm, _seq, frame.status = _U16X3.unpack_from(data, body)
        has_elements = frame.auth_algorithm in AUTH_WITH_ELEMENTS and fixed_end < end
    elif subtype == 0 or subtype == 2:       # capability, listen interval (+ current AP)
        (frame.capability,) = _U16.unpack_from(data, body)
        privacy = bool(frame.capability & CAPABILITY_PRIVACY)
    elif subtype == 1 or subtype == 3:       # capability, status, AID
        frame.capability, frame.status = _U16X2.unpack_from(data, body)
        privacy = bool(frame.capability & CAPABILITY_PRIVACY)
    if has_elements:
        frame.elements = parse_elements(data[fixed_end:end], privacy)
    return frame


def _beacon(data: bytes, off: int, end: int, link: tuple, number: int, ts_ns: int,
            kind: str, fc1: int, fixed_end: int) -> Frame:
    """Beacons and probe responses, most of what we decode: one unpack for
    header and fixed fields, and every slot written once (no __init__ pass;
    tests check that no slot is left unset)."""
    frame = _new_frame(Frame)
    (_, _, _, frame.addr1, frame.addr2, frame.addr3, seqctl,
     frame.tsf, frame.beacon_interval, capability) = HEADER_BEACON.unpack_from(data, off)
    frame.number = number
    frame.ts_ns = ts_ns
    frame.kind = kind
    frame.seq = seqctl >> 4
    frame.retry = fc1 & FC_RETRY != 0
    frame.protected = False
    frame.freq_mhz = link[4]
    frame.signal_dbm = link[6]
    frame.antenna = link[7]
    frame.rate_500k = link[3]
    frame.mactime = link[1]
    frame.capability = capability
    frame.reason = None
    frame.status = None
    frame.auth_algorithm = None
    frame.action_category = None
    frame.action_code = None
    frame.elements = parse_elements(data[fixed_end:end], capability & CAPABILITY_PRIVACY != 0)
    return frame


def _action(frame: Frame, data: bytes, body: int, end: int, protected: bool) -> str | None:
    """Keep only channel-switch action frames."""
    if protected or body + 2 > end:
        return "action_other"
    category = data[body]
    code = data[body + 1]
    frame.action_category = category
    frame.action_code = code
    if category == CATEGORY_SPECTRUM and code == ACTION_CSA:
        frame.elements = parse_elements(data[body + 2:end])
        return None
    if category == CATEGORY_PUBLIC and code == PUBLIC_ECSA:
        fixed = body + 2
        if fixed + 4 > end:
            return "truncated_80211"
        elements = build_elements(data[fixed + 4:end])
        elements.ecsa = (data[fixed], data[fixed + 1], data[fixed + 2], data[fixed + 3])
        frame.elements = elements
        return None
    return "action_other"
