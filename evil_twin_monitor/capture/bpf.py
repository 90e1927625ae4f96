"""The kernel filter: only the management frames some enabled rule reads.

A monitor interface delivers every frame on the air, and on a busy channel
most are data frames no rule looks at. Filtering them in the kernel (a BPF
program attached to the capture socket) means they never cross into Python,
which is what keeps a small sensor ahead of a busy channel. The expression is
derived from the rules' ``kinds``, so a rule that starts reading a new
subtype widens the filter without anyone editing it.
"""

from __future__ import annotations

from typing import Iterable

from ..decoding.frame import (ACTION, ASSOC_REQ, ASSOC_RESP, AUTH, BEACON, DEAUTH, DISASSOC,
                              PROBE_REQ, PROBE_RESP, REASSOC_REQ, REASSOC_RESP)

# First frame-control byte (subtype << 4 | type << 2 | version) of each kind.
FRAME_CONTROL = {
    ASSOC_REQ: 0x00, ASSOC_RESP: 0x10, REASSOC_REQ: 0x20, REASSOC_RESP: 0x30,
    PROBE_REQ: 0x40, PROBE_RESP: 0x50, BEACON: 0x80, DISASSOC: 0xA0,
    AUTH: 0xB0, DEAUTH: 0xC0, ACTION: 0xD0,
}


def filter_expression(kinds: Iterable[str]) -> str:
    """A libpcap expression passing exactly the management subtypes in ``kinds``.

    ``type mgt`` when every subtype we decode is wanted (the shortest program);
    otherwise one comparison of the first frame-control byte per subtype
    (``wlan[0]`` is relative to the 802.11 header, so libpcap skips the
    radiotap or Prism header whatever its length).
    """
    wanted = sorted({FRAME_CONTROL[k] for k in kinds if k in FRAME_CONTROL})
    if not wanted:
        raise ValueError("no enabled rule reads management frames; nothing to capture")
    if len(wanted) == len(FRAME_CONTROL):
        return "type mgt"
    return " or ".join(f"wlan[0] == 0x{fc:02x}" for fc in wanted)
