"""Information elements of a management frame body -> one shared `Elements`.

Theory of operation
-------------------
An access point repeats the same element bytes in every beacon, so parsing
is done once per distinct byte string and the `Elements` record is shared by
every frame that carries those bytes (it is immutable by contract). The
cache is a plain dict capped at `CACHE_CAP` entries and cleared when full: a
beacon flood of random elements costs one parse per frame, as without a
cache, and memory stays bounded.

Security words depend on one bit that is not in the element bytes: the
Privacy bit of the capability field (RSN/WPA absent: privacy set means WEP,
clear means open). Rather than key the cache on ``(raw, privacy)`` (a tuple
allocated and hashed per frame), there are two dicts, one per value of the
bit, both keyed on the raw bytes: ``parse_elements(raw, privacy)``. Frames
without a capability field (probe requests, auth, action, deauth) use
``privacy=False``.

Parsing walks id/length/body triples. An element whose length runs past the
end stops the walk: what came before is kept and ``malformed`` is
``'element_overrun'``. An SSID longer than 32 octets is kept out
(``ssid=None``) and marks ``'ssid_too_long'``; the walk goes on. The first
reason found is the one recorded.
"""

from __future__ import annotations

import struct

from .frame import Elements, RsnInfo
from .text import printable_ssid

CACHE_CAP = 8192

EID_SSID = 0
EID_RATES = 1
EID_DS = 3
EID_TIM = 5
EID_COUNTRY = 7
EID_CSA = 37
EID_HT_CAP = 45
EID_RSN = 48
EID_EXT_RATES = 50
EID_ECSA = 60
EID_HT_OP = 61
EID_MULTIPLE_BSSID = 71
EID_EXT_CAP = 127
EID_VHT_CAP = 191
EID_VHT_OP = 192
EID_VENDOR = 221
EID_EXTENSION = 255

EXT_HE_CAP = 35
EXT_HE_OP = 36
EXT_EHT_OP = 106
EXT_MULTI_LINK = 107
EXT_EHT_CAP = 108

OUI_IEEE = b"\x00\x0f\xac"
OUI_MICROSOFT = b"\x00\x50\xf2"

# RSN AKM suite type (00-0f-ac:N) -> registry security word.
RSN_AKM_WORDS = {
    1: "wpa2-eap",       # 802.1X
    2: "wpa2-psk",       # PSK
    3: "wpa2-eap",       # FT over 802.1X
    4: "wpa2-psk",       # FT-PSK
    5: "wpa3-eap",       # 802.1X SHA-256 (WPA3-Enterprise with PMF)
    6: "wpa2-psk",       # PSK SHA-256
    8: "wpa3-sae",       # SAE
    9: "wpa3-sae",       # FT-SAE
    11: "wpa3-eap",      # Suite B 802.1X SHA-256
    12: "wpa3-eap-192",  # Suite B 192-bit
    13: "wpa3-eap-192",  # FT 802.1X SHA-384
    18: "owe",           # Opportunistic Wireless Encryption
    24: "wpa3-sae",      # SAE with group-dependent hash (SAE-EXT-KEY)
    25: "wpa3-sae",      # FT-SAE-EXT-KEY
}
WPA_AKM_WORDS = {1: "wpa-eap", 2: "wpa-psk"}

# WPS attribute type -> key in Elements.wps.
WPS_ATTRIBUTES = {
    0x1011: "device_name",
    0x1021: "manufacturer",
    0x1023: "model_name",
    0x1024: "model_number",
    0x1042: "serial_number",
}

_U16 = struct.Struct("<H")
_BE_TLV = struct.Struct(">HH")

_cache_clear: dict[bytes, Elements] = {}
_cache_privacy: dict[bytes, Elements] = {}


def parse_elements(raw: bytes, privacy: bool = False) -> Elements:
    """The shared `Elements` for an element region (cached).

    ``privacy`` is the capability Privacy bit of the frame, which decides
    ``open`` vs ``wep`` when there is no RSN or WPA element.
    """
    cache = _cache_privacy if privacy else _cache_clear
    el = cache.get(raw)
    if el is None:
        el = build_elements(raw, privacy)
        if len(cache) >= CACHE_CAP:
            cache.clear()
        cache[raw] = el
    return el


def clear_cache() -> None:
    """Forget every cached `Elements` (tests, or a new capture)."""
    _cache_clear.clear()
    _cache_privacy.clear()


def build_elements(raw: bytes, privacy: bool = False) -> Elements:
    """Parse an element region into a new, unshared `Elements`."""
    raw = bytes(raw)
    el = Elements(raw)
    ids: list[int] = []
    rates: list[int] = []
    ouis: list[bytes] = []
    ssid_seen = False
    size = len(raw)
    pos = 0
    while pos < size:
        if pos + 2 > size:
            _mark(el, "element_overrun")
            break
        eid = raw[pos]
        length = raw[pos + 1]
        body_at = pos + 2
        pos = body_at + length
        if pos > size:
            _mark(el, "element_overrun")
            break
        body = raw[body_at:pos]
        if eid == EID_EXTENSION and length >= 1:
            ext = body[0]
            ids.append(255 * 256 + ext)
            if ext == EXT_HE_CAP or ext == EXT_HE_OP:
                el.he_present = True
            elif ext == EXT_EHT_CAP or ext == EXT_EHT_OP:
                el.eht_present = True
            elif ext == EXT_MULTI_LINK:
                el.multi_link = True
            continue
        ids.append(eid)
        if eid == EID_SSID:
            if not ssid_seen:
                ssid_seen = True
                if length > 32:
                    _mark(el, "ssid_too_long")
                else:
                    el.ssid = body
        elif eid == EID_RATES or eid == EID_EXT_RATES:
            rates.extend(body)
        elif eid == EID_DS:
            if length >= 1 and el.ds_channel is None:
                el.ds_channel = body[0]
        elif eid == EID_COUNTRY:
            if length >= 2 and el.country is None:
                el.country = body[:3]
        elif eid == EID_CSA:
            if length >= 3 and el.csa is None:
                el.csa = (body[0], body[1], body[2])
        elif eid == EID_ECSA:
            if length >= 4 and el.ecsa is None:
                el.ecsa = (body[0], body[1], body[2], body[3])
        elif eid == EID_RSN:
            if el.rsn is None and length >= 2:
                el.rsn = parse_rsn(body)
        elif eid == EID_HT_CAP:
            if el.ht_capabilities is None:
                el.ht_capabilities = body
        elif eid == EID_HT_OP:
            if length >= 1 and el.ht_primary is None:
                el.ht_primary = body[0]
        elif eid == EID_VHT_CAP:
            el.vht_present = True
            if el.vht_capabilities is None:
                el.vht_capabilities = body
        elif eid == EID_VHT_OP:
            el.vht_present = True
        elif eid == EID_EXT_CAP:
            if el.ext_capabilities is None:
                el.ext_capabilities = body
        elif eid == EID_MULTIPLE_BSSID:
            el.multiple_bssid = True
        elif eid == EID_VENDOR and length >= 3:
            oui = body[:3]
            ouis.append(oui)
            if oui == OUI_MICROSOFT and length >= 4:
                vtype = body[3]
                if vtype == 1:
                    if el.wpa is None and length >= 6:
                        el.wpa = parse_rsn(body[4:])
                elif vtype == 2:
                    el.wmm = True
                elif vtype == 4:
                    el.wps = _parse_wps(body[4:], el.wps)
    el.ids = tuple(ids)
    el.rates = tuple(rates)
    el.vendor_ouis = tuple(ouis)
    el.security = derive_security(el.rsn, el.wpa, privacy)
    el.pmf = derive_pmf(el.rsn)
    return el


def _mark(el: Elements, reason: str) -> None:
    if el.malformed is None:
        el.malformed = reason


def parse_rsn(body: bytes) -> RsnInfo:
    """RSN element body (or WPA1 body after OUI+type): version, group suite,
    pairwise list, AKM list, capabilities. A truncated body yields what is
    complete; a list cut mid-way keeps its complete suites."""
    size = len(body)
    (version,) = _U16.unpack_from(body, 0)
    group = body[2:6] if size >= 6 else None
    pairwise: tuple[bytes, ...] = ()
    akm: tuple[bytes, ...] = ()
    capabilities = None
    pos = 6
    whole = True
    if group is not None and pos + 2 <= size:
        pairwise, pos, whole = _suite_list(body, pos)
        if whole and pos + 2 <= size:
            akm, pos, whole = _suite_list(body, pos)
            if whole and pos + 2 <= size:
                (capabilities,) = _U16.unpack_from(body, pos)
    return RsnInfo(version, group, pairwise, akm, capabilities, truncated=not whole)


def _suite_list(body: bytes, pos: int) -> tuple[tuple[bytes, ...], int, bool]:
    (count,) = _U16.unpack_from(body, pos)
    pos += 2
    available = (len(body) - pos) // 4
    take = min(count, available)
    suites = tuple(body[pos + 4 * i:pos + 4 * i + 4] for i in range(take))
    return suites, pos + 4 * take, take == count


def _parse_wps(body: bytes, into: dict[str, str] | None) -> dict[str, str]:
    """WPS attributes are big-endian type/length/value triples."""
    out = dict(into) if into else {}
    pos = 0
    size = len(body)
    while pos + 4 <= size:
        atype, alen = _BE_TLV.unpack_from(body, pos)
        value = body[pos + 4:pos + 4 + alen]
        pos += 4 + alen
        if pos > size:
            break
        key = WPS_ATTRIBUTES.get(atype)
        if key is not None and key not in out:
            out[key] = printable_ssid(value.rstrip(b"\x00"))
    return out


def derive_security(rsn: RsnInfo | None, wpa: RsnInfo | None, privacy: bool) -> frozenset[str]:
    """Registry security words advertised by RSN/WPA elements and the Privacy bit.

    An RSN or WPA element that ends before its AKM list means 802.1X (the
    standard's default); one whose suite list is cut short, or AKMs we have no
    word for, add nothing (the security is then unrecognised, not guessed).
    """
    words: set[str] = set()
    if rsn is not None:
        for suite in rsn.akm or (() if rsn.truncated else (OUI_IEEE + b"\x01",)):
            if suite[:3] == OUI_IEEE:
                word = RSN_AKM_WORDS.get(suite[3])
                if word:
                    words.add(word)
    if wpa is not None:
        for suite in wpa.akm or (() if wpa.truncated else (OUI_MICROSOFT + b"\x01",)):
            if suite[:3] == OUI_MICROSOFT:
                word = WPA_AKM_WORDS.get(suite[3])
                if word:
                    words.add(word)
    if rsn is None and wpa is None:
        words.add("wep" if privacy else "open")
    return frozenset(words)


def derive_pmf(rsn: RsnInfo | None) -> str:
    """Management frame protection from the RSN capabilities MFPR/MFPC bits."""
    if rsn is None:
        return "disabled"
    if rsn.mfpr:
        return "required"
    if rsn.mfpc:
        return "optional"
    return "disabled"
