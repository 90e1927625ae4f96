"""Small helpers several rules share.

Kept deliberately tiny: anything specific to one rule lives in that rule's
module. Functions here are pure and cheap enough for the hot path.
"""

from __future__ import annotations

from ..decoding.channels import BAND_6G, band_of, element_channel_frequency, frequency_to_channel
from ..decoding.frame import Elements, Frame
from ..decoding.text import printable_ssid
from ..registry.model import AccessPoint


def operating_frequency(frame: Frame) -> int | None:
    """Where the transmitter operates, in MHz.

    The AP's own DS/HT channel wins when it says so (interpreted in the band
    the frame was heard in): on 2.4 GHz a beacon leaks into adjacent channels,
    so the radio's frequency is not necessarily the AP's. Otherwise the
    radiotap frequency, or None when nothing is known.
    """
    elements = frame.elements
    if elements is not None:
        channel = elements.channel
        if channel is not None:
            freq = element_channel_frequency(channel, frame.freq_mhz)
            if freq is not None:
                return freq
    return frame.freq_mhz


def security_unreadable(elements: Elements) -> bool:
    """The element list broke off before any RSN/WPA element: what the frame
    says about security cannot be known (the Privacy bit alone would read as WEP)."""
    return elements.malformed is not None and elements.rsn is None and elements.wpa is None


def channel_label(freq_mhz: int | None) -> str:
    """A channel as people say it: "channel 6", "6 GHz channel 5", "5010 MHz"."""
    if freq_mhz is None:
        return "an unknown channel"
    channel = frequency_to_channel(freq_mhz)
    if channel is None:
        return f"{freq_mhz} MHz"
    if band_of(freq_mhz) == BAND_6G:
        return f"6 GHz channel {channel}"
    return f"channel {channel}"


# Security in the registry's words -> (strength rank, what people call it).
# The rank orders how much an attacker gains when a client accepts it: open
# is nothing, WEP and WPA1 are broken, OWE encrypts but authenticates nobody
# (like a shared WPA2 password, which every visitor of a public network
# knows), WPA3 resists offline guessing, Suite-B 192-bit is the strongest.
#
#   word          rank  people's words
SECURITY_TABLE: dict[str, tuple[int, str]] = {
    "open":         (0, "no encryption (open)"),
    "wep":          (1, "WEP"),
    "wpa-psk":      (2, "WPA-Personal"),
    "wpa-eap":      (2, "WPA-Enterprise"),
    "owe":          (3, "Enhanced Open (OWE)"),
    "wpa2-psk":     (3, "WPA2-Personal"),
    "wpa2-eap":     (4, "WPA2-Enterprise"),
    "wpa3-sae":     (5, "WPA3-Personal"),
    "wpa3-eap":     (5, "WPA3-Enterprise"),
    "wpa3-eap-192": (6, "WPA3-Enterprise 192-bit"),
}


def weakest_rank(words: frozenset[str] | set[str]) -> int | None:
    """Rank of the weakest security a client could pick; None if nothing known."""
    ranks = [SECURITY_TABLE[w][0] for w in words if w in SECURITY_TABLE]
    return min(ranks) if ranks else None


def security_phrase(words: frozenset[str] | set[str], joiner: str = "and") -> str:
    """``{"wpa2-psk", "wpa3-sae"}`` -> ``"WPA2-Personal and WPA3-Personal"``, weakest first."""
    if not words:
        return "no recognisable security"
    ordered = sorted(words, key=lambda w: (SECURITY_TABLE.get(w, (99, w))[0], w))
    names = [SECURITY_TABLE[w][1] if w in SECURITY_TABLE else w for w in ordered]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {joiner} {names[-1]}"


def city_ap_phrase(ap: AccessPoint, bssid: bytes, ssid: bytes | None,
                   freq_mhz: int | None = None, with_channel: bool = True) -> str:
    """How a message names one of the city's APs, after "the ":
    ``city access point "3F lobby" (00:1a:2b:3c:4d:50, "Shinjuku_Free_Wi-Fi", channel 6)``.

    The label (operator text) leads when the registry has one; the SSID is the
    given octets, or the registered network's when the frame carries none.
    """
    parts = [bssid.hex(":"), f'"{printable_ssid(ssid or ap.network.ssid)}"']
    if with_channel and freq_mhz is not None:
        parts.append(channel_label(freq_mhz))
    inner = ", ".join(parts)
    if ap.label:
        return f'city access point "{printable_ssid(ap.label.encode())}" ({inner})'
    return f"city access point {parts[0]} ({', '.join(parts[1:])})"
