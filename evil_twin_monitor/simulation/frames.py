"""Radiotap + 802.11 frames as bytes, built with plain `struct`.

Theory of operation
-------------------
The scenario player writes beacons ten times a second per transmitter and
the live benchmark tens of thousands of frames a second, so frames are built
without scapy: a radiotap header as a Linux monitor-mode driver writes it
(flags, rate, channel frequency and flags, dBm antenna signal, antenna;
optionally the TSFT first), then the 802.11 header, fixed fields and
information elements. Whatever varies per frame (TSF, sequence number) is a
parameter, so a caller can keep the element region and rebuild only the
header (`Transmitter` in player.py does).

Access points are described with the registry's vocabulary: a frequency in
MHz (the channel number in the DS/HT elements follows from it unless told
otherwise, which is how a lying twin is built) and a set of security words
(``open``, ``owe``, ``wep``, ``wpa-psk``, ``wpa-eap``, ``wpa2-psk``,
``wpa2-eap``, ``wpa3-sae``, ``wpa3-eap``, ``wpa3-eap-192``), turned into the
RSN / WPA elements and Privacy bit from which our decoder derives those same
words. PMF defaults to what the registry assumes for the set
(`registry.default_pmf`), so a simulated legitimate AP matches an entry
that does not say ``pmf:``.

`Profile` holds what one model of radio puts in its beacons (rates, HT/VHT
capabilities, WMM, vendor elements): two profiles with the same SSID and
security differ in fingerprint, as a city AP and a hostapd laptop do.

`traffic_mix` prepares a reproducible list of frames for the benchmark
flood: a named blend of data, control and management frames (table
`MIXES`), the shape of a busy channel.

Frames carry no FCS (radiotap flags 0), as most drivers deliver them.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from typing import Iterable

from ..decoding.channels import band_of, frequency_to_channel, BAND_2G, BAND_6G
from ..registry import PMF_VALUES, SECURITY_VALUES, default_pmf

BROADCAST = b"\xff\xff\xff\xff\xff\xff"

# ---------------------------------------------------------------------------
# Addresses and security words
# ---------------------------------------------------------------------------


def mac(addr: str | bytes) -> bytes:
    """``'00:1a:2b:3c:4d:50'`` (or ``-`` separated, or 6 bytes) -> 6 bytes."""
    if isinstance(addr, (bytes, bytearray)):
        if len(addr) != 6:
            raise ValueError(f"a MAC address has 6 octets, got {len(addr)}")
        return bytes(addr)
    text = addr.strip().replace("-", ":")
    parts = text.split(":")
    try:
        if len(parts) != 6 or any(len(p) != 2 for p in parts):
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"{addr!r} is not a MAC address; write six hex octets like "
                         "\"00:1a:2b:3c:4d:50\"") from None


def security_set(security: str | Iterable[str]) -> frozenset[str]:
    """Validated security words: ``'wpa2-psk'``, ``'wpa2-psk+wpa3-sae'`` or a list."""
    words = security.replace(",", "+").split("+") if isinstance(security, str) else list(security)
    out = frozenset(w.strip() for w in words if w.strip())
    unknown = sorted(out - set(SECURITY_VALUES))
    if unknown or not out:
        raise ValueError(f"unknown security {', '.join(unknown) or '(none)'}; valid: "
                         + ", ".join(SECURITY_VALUES))
    if len(out) > 1 and out & {"open", "wep"}:
        raise ValueError(f"security {'+'.join(sorted(out))}: open and wep cannot be combined "
                         "with other types in one beacon")
    return out


# ---------------------------------------------------------------------------
# Radiotap
# ---------------------------------------------------------------------------

# present bits: Flags(1) Rate(2) Channel(3) dBm antenna signal(5) Antenna(11); TSFT(0)
_RT_PRESENT = 0x0000082E
_RT = struct.Struct("<BBHIBBHHbB")          # 16 bytes
_RT_TSFT = struct.Struct("<BBHIQBBHHbB")    # 24 bytes (TSFT is 8-aligned at offset 8)

CHAN_CCK_2GHZ = 0x00A0
CHAN_OFDM_5GHZ = 0x0140  # mac80211 uses these flags for 6 GHz too


def radiotap(freq_mhz: int, signal_dbm: int = -50, tsft: int | None = None,
             flags: int = 0, antenna: int = 0) -> bytes:
    """The radiotap header a monitor-mode driver puts before a received frame."""
    two = 2400 <= freq_mhz < 2500
    rate = 2 if two else 12                 # 1 Mb/s DSSS or 6 Mb/s OFDM (500 kb/s units)
    chflags = CHAN_CCK_2GHZ if two else CHAN_OFDM_5GHZ
    signal_dbm = max(-128, min(127, signal_dbm))
    if tsft is None:
        return _RT.pack(0, 0, _RT.size, _RT_PRESENT, flags, rate, freq_mhz, chflags,
                        signal_dbm, antenna)
    return _RT_TSFT.pack(0, 0, _RT_TSFT.size, _RT_PRESENT | 1, tsft & 0xFFFFFFFFFFFFFFFF,
                         flags, rate, freq_mhz, chflags, signal_dbm, antenna)


# ---------------------------------------------------------------------------
# 802.11 headers
# ---------------------------------------------------------------------------

_MGMT = struct.Struct("<BBH6s6s6sH")        # frame control, duration, 3 addresses, seq ctrl
_BEACON_FIXED = struct.Struct("<QHH")       # timestamp, beacon interval, capability

FC_PROBE_REQ = 0x40
FC_PROBE_RESP = 0x50
FC_BEACON = 0x80
FC_DEAUTH = 0xC0
FC_QOS_DATA = 0x88
FC_ACK = 0xD4


def mgmt_header(fc0: int, addr1: bytes, addr2: bytes, addr3: bytes, seq: int,
                fc1: int = 0, duration: int = 0) -> bytes:
    """24-byte management (or 3-address data) header."""
    return _MGMT.pack(fc0, fc1, duration, addr1, addr2, addr3, (seq & 0xFFF) << 4)


# ---------------------------------------------------------------------------
# Elements
# ---------------------------------------------------------------------------


def element(eid: int, body: bytes) -> bytes:
    """One information element; bodies over 255 octets are a caller error."""
    if len(body) > 255:
        raise ValueError(f"element {eid} body is {len(body)} octets; at most 255")
    return bytes((eid, len(body))) + body


def ext_element(ext_id: int, body: bytes) -> bytes:
    """An element-id-extension element (id 255)."""
    return element(255, bytes((ext_id,)) + body)


OUI_IEEE = b"\x00\x0f\xac"
OUI_MICROSOFT = b"\x00\x50\xf2"
_RSN_AKM = {"wpa2-eap": 1, "wpa2-psk": 2, "wpa3-eap": 5, "wpa3-sae": 8, "wpa3-eap-192": 12,
            "owe": 18}
_WPA_AKM = {"wpa-eap": 1, "wpa-psk": 2}
_CIPHER_TKIP, _CIPHER_CCMP, _CIPHER_GCMP256 = 2, 4, 9
_PMF_BITS = {"disabled": 0x0000, "optional": 0x0080, "required": 0x00C0}
_RSN_CAPS = 0x000C  # 16 PTKSA replay counters, as WMM access points set


def _suites(oui: bytes, types: list[int]) -> bytes:
    return struct.pack("<H", len(types)) + b"".join(oui + bytes((t,)) for t in types)


def security_elements(security: str | Iterable[str], pmf: str | None = None) -> tuple[bytes, bool]:
    """``(RSN and/or WPA elements, Privacy bit)`` for a set of security words.

    ``pmf`` (disabled | optional | required) goes into the RSN capabilities;
    None takes the registry's default for the set.
    """
    words = security_set(security)
    if pmf is None:
        pmf = default_pmf(words)
    if pmf not in PMF_VALUES:
        raise ValueError(f"unknown pmf {pmf!r}; valid: {', '.join(PMF_VALUES)}")
    rsn_akms = sorted(_RSN_AKM[w] for w in words if w in _RSN_AKM)
    wpa_akms = sorted(_WPA_AKM[w] for w in words if w in _WPA_AKM)
    out = b""
    if rsn_akms:
        suite_b = rsn_akms == [12]
        group = _CIPHER_GCMP256 if suite_b else (_CIPHER_TKIP if wpa_akms else _CIPHER_CCMP)
        pairwise = [_CIPHER_GCMP256] if suite_b else [_CIPHER_CCMP]
        body = (struct.pack("<H", 1) + OUI_IEEE + bytes((group,)) + _suites(OUI_IEEE, pairwise)
                + _suites(OUI_IEEE, rsn_akms) + struct.pack("<H", _RSN_CAPS | _PMF_BITS[pmf]))
        out += element(48, body)
    if wpa_akms:
        body = (OUI_MICROSOFT + b"\x01" + struct.pack("<H", 1) + OUI_MICROSOFT
                + bytes((_CIPHER_TKIP,)) + _suites(OUI_MICROSOFT, [_CIPHER_TKIP])
                + _suites(OUI_MICROSOFT, wpa_akms))
        out += element(221, body)
    return out, words != {"open"}


@dataclass(frozen=True)
class Profile:
    """What one model of radio puts in its beacons: its fingerprint."""

    name: str
    rates_24: bytes
    ext_rates_24: bytes
    rates_5: bytes
    country: bool
    ht_cap: bytes
    vht_cap: bytes
    ext_cap: bytes | None
    wmm: bytes | None
    dtim_period: int
    capability_extra: int   # e.g. short slot time


PROFILES: dict[str, Profile] = {
    # An enterprise access point, as the city deploys.
    "city-ap": Profile(
        "city-ap",
        rates_24=bytes([0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24]),
        ext_rates_24=bytes([0x30, 0x48, 0x60, 0x6C]),
        rates_5=bytes([0x8C, 0x12, 0x98, 0x24, 0xB0, 0x48, 0x60, 0x6C]),
        country=True,
        ht_cap=bytes.fromhex("ef0917ffff000000000000000000000000000000000000000000"),
        vht_cap=bytes.fromhex("b2018033faff0000faff0000"),
        ext_cap=bytes.fromhex("0400080000000040"),
        wmm=bytes.fromhex("0050f2020101800003a4000027a4000042435e0062322f00"),
        dtim_period=2, capability_extra=0x0400),
    # A laptop or travel router running hostapd: what an evil twin usually is.
    "hostapd": Profile(
        "hostapd",
        rates_24=bytes([0x82, 0x84, 0x8B, 0x96, 0x24, 0x30, 0x48, 0x6C]),
        ext_rates_24=bytes([0x0C, 0x12, 0x18, 0x60]),
        rates_5=bytes([0x8C, 0x12, 0x98, 0x24, 0xB0, 0x48, 0x60, 0x6C]),
        country=False,
        ht_cap=bytes.fromhex("2c011bffff000000000000000000000000000000000000000000"),
        vht_cap=bytes.fromhex("9119800ffaff0000faff0000"),
        ext_cap=bytes.fromhex("0000000000000040"),
        wmm=bytes.fromhex("0050f2020101000003a4000027a4000042435e0062322f00"),
        dtim_period=1, capability_extra=0x0400),
}

# HE capabilities: MAC (6 octets), PHY (11), HE-MCS/NSS for <= 80 MHz (4).
_HE_CAP = bytes.fromhex("0108001a4010" "04200a0000000000000000" "faff" "faff")
_HE_OP_6G_PARAMS = b"\x00\x00\x02"          # 6 GHz Operation Information present
_HE_6G_BAND_CAP = b"\x00\x00"


def capability(freq_mhz: int, privacy: bool, profile: Profile) -> int:
    """Capability information: ESS, Privacy, short preamble (2.4 GHz), profile bits."""
    cap = 0x0001 | profile.capability_extra
    if privacy:
        cap |= 0x0010
    if band_of(freq_mhz) == BAND_2G:
        cap |= 0x0020
    return cap


def channel_of(freq_mhz: int) -> int:
    """Channel number of a centre frequency; ValueError outside the Wi-Fi bands."""
    channel = frequency_to_channel(freq_mhz)
    if channel is None or band_of(freq_mhz) is None:
        raise ValueError(f"{freq_mhz} MHz is not a Wi-Fi channel centre frequency")
    return channel


def ap_elements(ssid: bytes, freq_mhz: int, security: str | Iterable[str] = "wpa2-psk",
                pmf: str | None = None, *, kind: str = "beacon",
                profile: Profile = PROFILES["city-ap"], channel: int | None = None,
                dtim_count: int = 0, csa: tuple[int, int, int] | None = None,
                extra: bytes = b"") -> tuple[bytes, bool]:
    """``(element region, Privacy bit)`` of a beacon (``kind='beacon'``) or probe response.

    ``channel`` is the channel the AP *announces* (DS / HT operation); by
    default the one of ``freq_mhz``. 6 GHz APs announce HE operation instead.
    """
    if len(ssid) > 32:
        raise ValueError(f"SSID is {len(ssid)} octets; at most 32")
    band = band_of(freq_mhz)
    announced = channel_of(freq_mhz) if channel is None else channel
    sec, privacy = security_elements(security, pmf)
    out = [element(0, ssid)]
    if band == BAND_2G:
        out.append(element(1, profile.rates_24))
        out.append(element(3, bytes((announced,))))
    else:
        out.append(element(1, profile.rates_5))
    if kind == "beacon":
        out.append(element(5, bytes((dtim_count, profile.dtim_period, 0, 0))))
    if profile.country:
        if band == BAND_2G:
            out.append(element(7, b"JP " + bytes((1, 13, 20))))
        else:
            out.append(element(7, b"JP " + bytes((36, 4, 20, 52, 4, 20, 100, 12, 23))))
    if csa is not None:
        out.append(element(37, bytes(csa)))
    if band == BAND_2G:
        out.append(element(42, b"\x00"))                    # ERP
        out.append(element(50, profile.ext_rates_24))
    out.append(sec)
    if band == BAND_6G:
        out.append(ext_element(35, _HE_CAP))
        out.append(ext_element(36, _HE_OP_6G_PARAMS + b"\x01\xfc\xff"
                               + bytes((announced, 0x00, announced, 0, 0))))
        out.append(ext_element(59, _HE_6G_BAND_CAP))
    else:
        out.append(element(45, profile.ht_cap))
        out.append(element(61, bytes((announced, 0, 0x04, 0, 0, 0)) + bytes(16)))
    if profile.ext_cap is not None:
        out.append(element(127, profile.ext_cap))
    if band != BAND_2G and band != BAND_6G:
        out.append(element(191, profile.vht_cap))
        out.append(element(192, bytes((0, announced, 0, 0xFC, 0xFF))))
    out.append(extra)
    if profile.wmm is not None:
        out.append(element(221, profile.wmm))
    return b"".join(out), privacy


# ---------------------------------------------------------------------------
# Whole frames
# ---------------------------------------------------------------------------


def beacon(bssid: str | bytes, ssid: str | bytes, freq_mhz: int, *,
           security: str | Iterable[str] = "wpa2-psk", pmf: str | None = None,
           tsf: int = 0, seq: int = 0, interval_tu: int = 100, signal_dbm: int = -50,
           channel: int | None = None, profile: str | Profile = "city-ap",
           sensor_tsft: int | None = None) -> bytes:
    """A received beacon. ``freq_mhz`` is where it is heard (radiotap) and,
    unless ``channel`` says otherwise, where the AP says it is."""
    prof = profile_named(profile)
    region, privacy = ap_elements(_ssid(ssid), freq_mhz, security, pmf, profile=prof,
                                  channel=channel)
    addr = mac(bssid)
    return (radiotap(freq_mhz, signal_dbm, sensor_tsft)
            + mgmt_header(FC_BEACON, BROADCAST, addr, addr, seq)
            + _BEACON_FIXED.pack(tsf & 0xFFFFFFFFFFFFFFFF, interval_tu,
                                 capability(freq_mhz, privacy, prof))
            + region)


def probe_response(bssid: str | bytes, ssid: str | bytes, freq_mhz: int, client: str | bytes, *,
                   security: str | Iterable[str] = "wpa2-psk", pmf: str | None = None,
                   tsf: int = 0, seq: int = 0, interval_tu: int = 100, signal_dbm: int = -50,
                   channel: int | None = None, profile: str | Profile = "city-ap") -> bytes:
    """A probe response to ``client`` (a beacon's elements without the TIM)."""
    prof = profile_named(profile)
    region, privacy = ap_elements(_ssid(ssid), freq_mhz, security, pmf, kind="probe_resp",
                                  profile=prof, channel=channel)
    addr = mac(bssid)
    return (radiotap(freq_mhz, signal_dbm)
            + mgmt_header(FC_PROBE_RESP, mac(client), addr, addr, seq)
            + _BEACON_FIXED.pack(tsf & 0xFFFFFFFFFFFFFFFF, interval_tu,
                                 capability(freq_mhz, privacy, prof))
            + region)


_CLIENT_HT_CAP = bytes.fromhex("6f0117ffff000000000000000000000000000000000000000000")


def probe_request(client: str | bytes, ssid: str | bytes, freq_mhz: int, *, seq: int = 0,
                  signal_dbm: int = -60) -> bytes:
    """A phone's probe request; an empty ``ssid`` is a wildcard probe."""
    region = element(0, _ssid(ssid))
    if band_of(freq_mhz) == BAND_2G:
        region += element(1, bytes((0x02, 0x04, 0x0B, 0x16)))
        region += element(50, bytes((0x0C, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6C)))
    else:
        region += element(1, bytes((0x0C, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6C)))
    region += element(45, _CLIENT_HT_CAP)
    return (radiotap(freq_mhz, signal_dbm)
            + mgmt_header(FC_PROBE_REQ, BROADCAST, mac(client), BROADCAST, seq)
            + region)


def deauth(source: str | bytes, destination: str | bytes, bssid: str | bytes, freq_mhz: int, *,
           reason: int = 7, seq: int = 0, signal_dbm: int = -45) -> bytes:
    """An unprotected deauthentication frame (what aireplay-ng sends)."""
    return (radiotap(freq_mhz, signal_dbm)
            + mgmt_header(FC_DEAUTH, mac(destination), mac(source), mac(bssid), seq)
            + struct.pack("<H", reason))


def data_frame(bssid: str | bytes, client: str | bytes, freq_mhz: int, payload: bytes = b"", *,
               to_ds: bool = True, seq: int = 0, signal_dbm: int = -60) -> bytes:
    """A protected QoS data frame between a client and its AP (the payload
    stands for CCMP header, ciphertext and MIC: opaque bytes)."""
    ap, sta = mac(bssid), mac(client)
    if to_ds:
        header = mgmt_header(FC_QOS_DATA, ap, sta, ap, seq, fc1=0x41)
    else:
        header = mgmt_header(FC_QOS_DATA, sta, ap, ap, seq, fc1=0x42)
    return radiotap(freq_mhz, signal_dbm) + header + b"\x00\x00" + payload


def ack(receiver: str | bytes, freq_mhz: int, *, signal_dbm: int = -60) -> bytes:
    """A control frame (ACK): 10 octets after radiotap."""
    return radiotap(freq_mhz, signal_dbm) + struct.pack("<BBH6s", FC_ACK, 0, 0, mac(receiver))


def _ssid(ssid: str | bytes) -> bytes:
    return ssid if isinstance(ssid, bytes) else ssid.encode("utf-8")


def profile_named(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}") from None


# ---------------------------------------------------------------------------
# Traffic mixes for the benchmark flood
# ---------------------------------------------------------------------------

# mix name -> share of each frame kind. "beacon_flood" beacons come from a new
# random BSSID each (an mdk4-style flood); the others from a fixed neighbourhood.
MIXES: dict[str, dict[str, float]] = {
    # A busy channel: mostly data and their ACKs; a fifth management.
    "mixed": {"data": 0.55, "ack": 0.25, "beacon": 0.14, "probe_req": 0.03, "probe_resp": 0.03},
    # Only what the capture filter lets through: the daemon's worst case.
    "mgmt": {"beacon": 0.7, "probe_req": 0.15, "probe_resp": 0.15},
    "beacons": {"beacon": 1.0},
    "beacon_flood": {"beacon_flood": 1.0},
    # Only what the capture filter drops: measures the kernel filter.
    "data": {"data": 0.7, "ack": 0.3},
}


def traffic_mix(name: str, count: int = 4096, freq_mhz: int = 2437, seed: int = 1,
                neighbours: int = 20) -> list[bytes]:
    """``count`` frames of the named mix heard on ``freq_mhz``, reproducible from ``seed``."""
    shares = MIXES.get(name)
    if shares is None:
        raise ValueError(f"unknown mix {name!r}; valid: {', '.join(MIXES)}")
    rng = random.Random(seed)
    aps = [(bytes((0x02, 0x00, 0x5E, rng.randrange(256), rng.randrange(256), i)),
            f"neighbour-{i:02d}".encode()) for i in range(max(1, neighbours))]
    clients = [bytes((0x02, 0x11, 0x22, rng.randrange(256), rng.randrange(256), i))
               for i in range(64)]
    # Element regions are built once per AP: building them per frame would
    # make preparing a large flood slow, and real APs repeat them anyway.
    beacons = [beacon(b, s, freq_mhz, signal_dbm=-70) for b, s in aps]
    responses = [probe_response(b, s, freq_mhz, clients[0], signal_dbm=-70) for b, s in aps]
    kinds = list(shares)
    weights = [shares[k] for k in kinds]
    out: list[bytes] = []
    for n, kind in enumerate(rng.choices(kinds, weights, k=count)):
        seq = n & 0xFFF
        if kind == "data":
            ap, _ = rng.choice(aps)
            payload = rng.randbytes(rng.choice((60, 120, 400, 1200)))
            out.append(data_frame(ap, rng.choice(clients), freq_mhz, payload,
                                  to_ds=rng.random() < 0.5, seq=seq))
        elif kind == "ack":
            out.append(ack(rng.choice(clients), freq_mhz))
        elif kind == "beacon":
            out.append(_with_seq(rng.choice(beacons), seq))
        elif kind == "probe_resp":
            out.append(_with_seq(rng.choice(responses), seq))
        elif kind == "probe_req":
            out.append(probe_request(rng.choice(clients), b"", freq_mhz, seq=seq))
        else:  # beacon_flood
            bssid = bytes((0x02,)) + rng.randbytes(5)
            out.append(beacon(bssid, f"free-wifi-{rng.randrange(10**6):06d}", freq_mhz,
                              security="open", seq=seq, signal_dbm=-40))
    return out


_SEQ_AT = _RT.size + 22   # sequence control offset in a 16-byte-radiotap management frame


def _with_seq(frame: bytes, seq: int) -> bytes:
    return frame[:_SEQ_AT] + struct.pack("<H", (seq & 0xFFF) << 4) + frame[_SEQ_AT + 2:]
