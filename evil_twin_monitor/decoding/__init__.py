"""Decoding: capture files and captured bytes -> compact `Frame` records.

The pieces, each with one job: `capfile` (pcap/pcapng records),
`linklayer` (radiotap, PPI, Prism, AVS), `dot11` (MAC header and fixed
fields), `elements` (information elements, cached), and `decoder` (the
pipeline and its counters). `frame` holds the records, `channels` and `text`
the helpers for people.
"""

from .capfile import (SUPPORTED_LINKTYPES, CaptureFileError, CaptureReader,
                      describe_linktype, open_capture)
from .decoder import Decoder
from .elements import build_elements, derive_pmf, derive_security, parse_elements, parse_rsn
from .frame import (ACTION, ASSOC_REQ, ASSOC_RESP, AUTH, BEACON, BROADCAST, DEAUTH, DISASSOC,
                    PROBE_REQ, PROBE_RESP, REASSOC_REQ, REASSOC_RESP, Elements, Frame,
                    RsnInfo, mac_text)
from .linklayer import link_header

__all__ = [
    "ACTION", "ASSOC_REQ", "ASSOC_RESP", "AUTH", "BEACON", "BROADCAST", "DEAUTH", "DISASSOC",
    "PROBE_REQ", "PROBE_RESP", "REASSOC_REQ", "REASSOC_RESP",
    "CaptureFileError", "CaptureReader", "Decoder", "Elements", "Frame", "RsnInfo",
    "SUPPORTED_LINKTYPES", "build_elements", "derive_pmf", "derive_security",
    "describe_linktype", "link_header", "mac_text", "open_capture", "parse_elements",
    "parse_rsn",
]
