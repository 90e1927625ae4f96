"""The compact records the decoder hands to the engine.

Theory of operation
-------------------
One `Frame` is built per decoded management frame, and nothing else is built
per frame: the rules read its attributes directly. Information elements are
parsed into an `Elements` record that is *shared* between frames with the
same element bytes (the decoder caches them), because an access point sends
the same elements ten times a second. So `Elements` is immutable by contract:
no rule may modify it, and rules may cache their own verdicts keyed on it
(``id(elements)`` is not stable, the ``raw`` bytes are).

Addresses stay 6-byte ``bytes`` on the hot path; ``mac_text`` turns them into
the ``aa:bb:cc:dd:ee:ff`` form only when something is shown to a person.
"""

from __future__ import annotations

# Frame kinds: the management subtypes the rules use. Plain strings so that
# comparisons are cheap and the values read well in logs and statistics.
ASSOC_REQ = "assoc_req"
ASSOC_RESP = "assoc_resp"
REASSOC_REQ = "reassoc_req"
REASSOC_RESP = "reassoc_resp"
PROBE_REQ = "probe_req"
PROBE_RESP = "probe_resp"
BEACON = "beacon"
DISASSOC = "disassoc"
AUTH = "auth"
DEAUTH = "deauth"
ACTION = "action"

BROADCAST = b"\xff\xff\xff\xff\xff\xff"


def mac_text(addr: bytes | None) -> str | None:
    """``b'\\x00\\x1a...'`` -> ``'00:1a:...'`` for people and for JSON."""
    return addr.hex(":") if addr is not None else None


class Elements:
    """Information elements of one frame body, parsed once and shared.

    Every attribute is None (or empty) when the element is absent.
    """

    __slots__ = (
        "raw",            # bytes: the whole element region as received (cache key)
        "ids",            # tuple[int, ...]: element ids in order; 255 -> 255*256+ext id
        "ssid",           # bytes | None: first SSID element, raw octets (may be > 32 if malformed: then None and counted)
        "rates",          # tuple[int, ...]: supported + extended rates, raw octets (basic bit kept)
        "ds_channel",     # int | None: DS Parameter Set current channel
        "ht_primary",     # int | None: HT Operation primary channel
        "vht_present",    # bool
        "he_present",     # bool (element-id-extension 35)
        "eht_present",    # bool (element-id-extension 106)
        "multi_link",     # bool (element-id-extension 107)
        "multiple_bssid", # bool (element 71)
        "country",        # bytes | None: the 2-letter country code plus environment octet
        "csa",            # tuple[int, int, int] | None: (mode, new_channel, count) from element 37
        "ecsa",           # tuple[int, int, int, int] | None: (mode, new_op_class, new_channel, count) from element 60
        "rsn",            # RsnInfo | None
        "wpa",            # RsnInfo | None: the WPA1 vendor element (00:50:f2 type 1)
        "wmm",            # bool
        "wps",            # dict[str, str] | None: WPS attributes of interest (device_name, model_name, manufacturer, ...)
        "vendor_ouis",    # tuple[bytes, ...]: 3-byte OUIs of vendor-specific elements, in order
        "ext_capabilities",  # bytes | None
        "ht_capabilities",   # bytes | None: the element body (stable per radio)
        "vht_capabilities",  # bytes | None
        "security",       # frozenset[str]: registry vocabulary: open, owe, wep, wpa-psk, wpa-eap, wpa2-psk, wpa2-eap, wpa3-sae, wpa3-eap, wpa3-eap-192
        "pmf",            # str: disabled | optional | required
        "malformed",      # str | None: reason when the element list was cut short (the rest is still used)
    )

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.ids = ()
        self.ssid = None
        self.rates = ()
        self.ds_channel = None
        self.ht_primary = None
        self.vht_present = False
        self.he_present = False
        self.eht_present = False
        self.multi_link = False
        self.multiple_bssid = False
        self.country = None
        self.csa = None
        self.ecsa = None
        self.rsn = None
        self.wpa = None
        self.wmm = False
        self.wps = None
        self.vendor_ouis = ()
        self.ext_capabilities = None
        self.ht_capabilities = None
        self.vht_capabilities = None
        self.security = frozenset()
        self.pmf = "disabled"
        self.malformed = None

    @property
    def channel(self) -> int | None:
        """The channel the transmitter says it operates on."""
        return self.ds_channel if self.ds_channel is not None else self.ht_primary


class RsnInfo:
    """RSN (element 48) or WPA1 contents. Suites are 4-byte ``bytes`` (OUI + type)."""

    __slots__ = ("version", "group", "pairwise", "akm", "capabilities", "mfpr", "mfpc", "truncated")

    def __init__(self, version: int, group: bytes | None, pairwise: tuple[bytes, ...],
                 akm: tuple[bytes, ...], capabilities: int | None, truncated: bool = False) -> None:
        self.truncated = truncated  # a suite list was cut short: the AKMs are not all known
        self.version = version
        self.group = group
        self.pairwise = pairwise
        self.akm = akm
        self.capabilities = capabilities
        caps = capabilities or 0
        self.mfpr = bool(caps & 0x40)
        self.mfpc = bool(caps & 0x80)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RsnInfo) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self) -> str:
        return (f"RsnInfo(group={self.group!r}, pairwise={self.pairwise!r}, "
                f"akm={self.akm!r}, capabilities={self.capabilities!r})")


class Frame:
    """One decoded 802.11 management frame, with what the radio told us."""

    __slots__ = (
        "number",       # int: 1-based frame number in the capture (all frames counted)
        "ts_ns",        # int: capture timestamp, nanoseconds since the epoch
        "kind",         # str: one of the kind constants above
        "addr1",        # bytes: receiver / destination
        "addr2",        # bytes | None: transmitter / source
        "addr3",        # bytes | None: BSSID for frames to/from an AP
        "seq",          # int | None: 12-bit sequence number
        "retry",        # bool
        "protected",    # bool: the Protected Frame bit (management frame protection)
        # radio (None when the link header does not say)
        "freq_mhz",     # int | None
        "signal_dbm",   # int | None
        "antenna",      # int | None
        "rate_500k",    # int | None: legacy rate in 500 kb/s units
        "mactime",      # int | None: the sensor radio's own clock (radiotap TSFT) when the frame arrived, µs
        # beacon / probe response fixed fields
        "tsf",          # int | None: the 64-bit timestamp field
        "beacon_interval",  # int | None: TU
        "capability",   # int | None: capability information bits
        # other fixed fields
        "reason",       # int | None: deauth/disassoc reason code
        "status",       # int | None: auth/assoc status code
        "auth_algorithm",   # int | None
        "action_category",  # int | None
        "action_code",      # int | None
        "elements",     # Elements | None
    )

    def __init__(self) -> None:
        self.number = 0
        self.ts_ns = 0
        self.kind = ""
        self.addr1 = BROADCAST
        self.addr2 = None
        self.addr3 = None
        self.seq = None
        self.retry = False
        self.protected = False
        self.freq_mhz = None
        self.signal_dbm = None
        self.antenna = None
        self.rate_500k = None
        self.mactime = None
        self.tsf = None
        self.beacon_interval = None
        self.capability = None
        self.reason = None
        self.status = None
        self.auth_algorithm = None
        self.action_category = None
        self.action_code = None
        self.elements = None

    @property
    def bssid(self) -> bytes | None:
        """BSSID of management frames (addr3)."""
        return self.addr3

    def __repr__(self) -> str:
        return (f"Frame(#{self.number} {self.kind} ta={mac_text(self.addr2)} "
                f"bssid={mac_text(self.addr3)} freq={self.freq_mhz})")
