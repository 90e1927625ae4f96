"""fingerprint_mismatch: a registered BSSID whose frames look like other hardware.

Theory of operation
-------------------
Attack: an evil twin that copies the city AP's BSSID, SSID and security.
Nothing in the frame's addresses gives it away, but the twin runs on other
hardware and firmware (a pentest router, a laptop with hostapd), which builds
its beacons differently: other rates, other HT/VHT capabilities, other
vendor elements, elements in another order.

Signal: a *fingerprint* of each beacon and probe response of a registered
BSSID, built only from what one radio keeps stable (see `fingerprint_components`):

- beacon interval;
- capability bits masked to the configured ones (`CAPABILITY_BITS`);
- the ordered element ids minus volatile elements (`VOLATILE_ELEMENTS`);
  vendor elements count as id 221 there, and separately as OUI+type;
- rates; HT, VHT and HE capabilities bodies; RSN and WPA contents; WPS
  manufacturer/model/device names; the extended capabilities element's
  length (beacons) or presence (probe responses) only, because real APs
  vary its bits (see `_ext_cap_text`).
HT/VHT/HE operation and the WMM parameter element change at run time (channel
width, EDCA parameters), so they count by presence only (their id).

Beacons and probe responses are fingerprinted separately ("beacon:v1:<hex>",
"probe_resp:v1:<hex>"; a contract: the survey tooling writes these strings
into the registry), because probe responses legitimately carry fewer
elements (no TIM) and sometimes more (requested elements).

Expected fingerprints: the registry's ``fingerprints`` of the same kind and
version, else learned: the first ``learn_count`` *consecutive* frames with
the same fingerprint, per BSSID and kind.

Threshold: ``mismatch_count`` frames with an unexpected fingerprint within
``mismatch_window_s``. Matching frames in between do not reset the count: a
twin that interleaves with the real AP sends half the beacons. A single odd
frame never alerts.

Blind spots: a twin that replays the real AP's element bytes and beacon
interval verbatim has the same fingerprint (``cloned_bssid`` looks at TSF and
sequence numbers instead). If the twin is on the air before learning ends, or
the real AP alternates between fingerprints, learning may never complete (no
alerts, never false ones) or learn the twin's (then the real AP raises the
alert): registering the fingerprints with the survey tooling avoids both. A
firmware update or configuration change of the real AP changes its
fingerprint and raises this alert until the registry is updated (or, for
learned fingerprints, the sensor restarts): that is by design.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any, Mapping

from ..decoding.frame import BEACON, PROBE_RESP, Frame
from ..registry.model import AccessPoint
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import city_ap_phrase, operating_frequency

FINGERPRINT_VERSION = "v1"

# Elements whose presence or content changes at run time on one radio,
# left out of the element-id list. id -> why.
VOLATILE_ELEMENTS: dict[int, str] = {
    5: "TIM: DTIM count and traffic bitmap change every beacon",
    11: "BSS Load: station count and channel utilisation",
    32: "Power Constraint: follows regulatory/DFS state",
    35: "TPC Report: transmit power and link margin",
    37: "Channel Switch Announcement: only during a switch",
    40: "Quiet: only while a quiet period is scheduled",
    42: "ERP: protection bits follow which stations are near",
    47: "ERP (pre-standard id some Broadcom firmware still sends)",
    60: "Extended Channel Switch Announcement: only during a switch",
    74: "Overlapping BSS Scan Parameters: appears with 20/40 coexistence",
    104: "Max Channel Switch Time: only during a switch",
    194: "Wide Bandwidth Channel Switch: only during a switch",
    196: "Channel Switch Wrapper: only during a switch",
    201: "Reduced Neighbor Report: follows the neighbouring APs",
    255 * 256 + 42: "BSS Color Change Announcement: only during a colour change",
}

# Capability information bits: True = stable configuration, kept; False =
# masked out because the AP flips it at run time.
CAPABILITY_BITS: dict[int, tuple[bool, str]] = {
    0: (True, "ESS"),
    1: (True, "IBSS"),
    2: (True, "CF-Pollable"),
    3: (True, "CF-Poll Request"),
    4: (True, "Privacy: configuration"),
    5: (False, "Short Preamble: cleared while a long-preamble station is associated"),
    6: (True, "PBCC"),
    7: (True, "Channel Agility"),
    8: (True, "Spectrum Management: configuration (5 GHz)"),
    9: (True, "QoS"),
    10: (False, "Short Slot Time: cleared while a long-slot station is associated"),
    11: (True, "APSD"),
    12: (True, "Radio Measurement: configuration"),
    13: (True, "DSSS-OFDM / EPD"),
    14: (True, "Delayed Block Ack"),
    15: (True, "Immediate Block Ack"),
}
CAPABILITY_MASK = sum(1 << bit for bit, (keep, _why) in CAPABILITY_BITS.items() if keep)

# The components, in hashing order. Changing names or order is a new version.
COMPONENTS = ("interval", "capability", "elements", "rates", "ht_cap", "vht_cap",
              "he_cap", "ext_cap", "rsn", "wpa", "wps", "vendor")

# Component values longer than this are shown as '#' + 8 hex digits of their hash.
_MAX_COMPONENT_TEXT = 40
_WPS_KEYS = ("manufacturer", "model_name", "model_number", "device_name")
_KIND_WORDS = {BEACON: "beacons", PROBE_RESP: "probe responses"}
_EXT_HE_CAP = 35


def _short(text: str) -> str:
    if len(text) <= _MAX_COMPONENT_TEXT:
        return text
    return "#" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _suite_text(info: Any) -> str:
    """RSN/WPA contents as 'version/group/pairwise+.../akm+.../capabilities'."""
    if info is None:
        return "-"
    group = info.group.hex() if info.group else "-"
    caps = f"{info.capabilities:04x}" if info.capabilities is not None else "-"
    return (f"{info.version}/{group}/{'+'.join(s.hex() for s in info.pairwise)}/"
            f"{'+'.join(s.hex() for s in info.akm)}/{caps}")


def _ext_cap_text(kind: str, body: bytes | None) -> str:
    """Extended capabilities: the length in beacons, presence in probe responses.

    The bits are not stable on real hardware: some consumer APs fill them with
    changing bytes from beacon to beacon (ehn1225 airodump captures), and
    some tailor the length of a probe response to the asking client
    (HEIGVD-SWI23 ex_1_2 capture: 8 or 10 octets by client).
    """
    if body is None:
        return "-"
    return f"{len(body)} octets" if kind == BEACON else "present"


def _walk_raw(raw: bytes) -> tuple[list[str], str]:
    """What the decoder's Elements does not keep: vendor OUI+type and the HE
    capabilities body. Stops at the first element that overruns."""
    vendors: list[str] = []
    he_cap = "-"
    pos, size = 0, len(raw)
    while pos + 2 <= size:
        eid, length = raw[pos], raw[pos + 1]
        body = raw[pos + 2:pos + 2 + length]
        pos += 2 + length
        if pos > size:
            break
        if eid == 221 and length >= 3:
            vendors.append(body[:3].hex() + (f"-{body[3]}" if length >= 4 else ""))
        elif eid == 255 and length >= 1 and body[0] == _EXT_HE_CAP and he_cap == "-":
            he_cap = body[1:].hex()
    return vendors, he_cap


def fingerprint_components(frame: Frame) -> dict[str, str]:
    """The named parts of a frame's fingerprint, each a short readable value
    (or '#' + hash when long), '-' when absent. Empty dict without elements."""
    el = frame.elements
    if el is None:
        return {}
    vendors, he_cap = _walk_raw(el.raw)
    if not vendors and el.vendor_ouis:  # hand-built Elements without raw bytes
        vendors = [oui.hex() for oui in el.vendor_ouis]
    wps = "-"
    if el.wps:
        wps = "|".join(el.wps.get(key, "") for key in _WPS_KEYS)
    parts = {
        "interval": str(frame.beacon_interval) if frame.beacon_interval is not None else "-",
        "capability": (f"{frame.capability & CAPABILITY_MASK:04x}"
                       if frame.capability is not None else "-"),
        "elements": ",".join(str(i) for i in el.ids if i not in VOLATILE_ELEMENTS),
        "rates": bytes(el.rates).hex() or "-",
        "ht_cap": el.ht_capabilities.hex() if el.ht_capabilities is not None else "-",
        "vht_cap": el.vht_capabilities.hex() if el.vht_capabilities is not None else "-",
        "he_cap": he_cap,
        "ext_cap": _ext_cap_text(frame.kind, el.ext_capabilities),
        "rsn": _suite_text(el.rsn),
        "wpa": _suite_text(el.wpa),
        "wps": wps,
        "vendor": ",".join(vendors) or "-",
    }
    return {name: _short(parts[name]) for name in COMPONENTS}


def _hash_components(kind: str, parts: Mapping[str, str]) -> str:
    text = "\n".join(f"{name}={parts[name]}" for name in COMPONENTS)
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    return f"{kind}:{FINGERPRINT_VERSION}:{digest}"


def fingerprint_of(frame: Frame) -> str | None:
    """'beacon:v1:<16 hex>' / 'probe_resp:v1:<16 hex>'; None for other kinds
    or a frame without elements."""
    if frame.kind not in _KIND_WORDS or frame.elements is None:
        return None
    return _hash_components(frame.kind, fingerprint_components(frame))


class _Track:
    """Per (BSSID, kind): learning run, learned set, recent mismatches."""

    __slots__ = ("candidate", "run", "learned", "expected_parts", "mismatch_ts",
                 "matched", "mismatched")

    def __init__(self, window_cap: int) -> None:
        self.candidate: str | None = None
        self.run = 0
        self.learned: frozenset[str] = frozenset()
        self.expected_parts: dict[str, str] | None = None
        self.mismatch_ts: deque[int] = deque(maxlen=window_cap)
        self.matched = 0
        self.mismatched = 0


class FingerprintMismatch(Rule):
    """A registered BSSID persistently sending frames of unfamiliar hardware."""

    id = "fingerprint_mismatch"
    kinds = frozenset({BEACON, PROBE_RESP})
    severity = "high"
    DEFAULTS = {
        "learn_count": 5,         # consecutive identical frames to learn from
        "mismatch_count": 10,     # unexpected frames ...
        "mismatch_window_s": 60,  # ... within this many seconds -> finding
        "max_tracked": 4096,      # (BSSID, kind) pairs kept
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        s = self.settings
        self._learn = int(s["learn_count"])
        self._count = int(s["mismatch_count"])
        self._window_ns = int(s["mismatch_window_s"] * 1_000_000_000)
        if self._learn < 1 or self._count < 1 or self._window_ns <= 0:
            raise ValueError("rule fingerprint_mismatch: learn_count, mismatch_count and "
                             "mismatch_window_s must be positive")
        cap = int(s["max_tracked"])
        self._tracks: dict[str, BoundedDict[bytes, _Track]] = {
            BEACON: BoundedDict(cap), PROBE_RESP: BoundedDict(cap)}
        # (kind, interval, capability, element bytes) -> (fingerprint, components)
        self._cache: BoundedDict[tuple, tuple[str, dict[str, str]]] = BoundedDict(cap)
        self._registered: dict[tuple[AccessPoint, str], frozenset[str]] = {}

    def registry_changed(self) -> None:
        self._registered.clear()

    def _expected_registered(self, ap: AccessPoint, kind: str) -> frozenset[str]:
        key = (ap, kind)
        found = self._registered.get(key)
        if found is None:
            prefix = f"{kind}:{FINGERPRINT_VERSION}:"
            found = frozenset(f for f in ap.fingerprints if f.startswith(prefix))
            self._registered[key] = found
        return found

    def _fingerprint(self, frame: Frame) -> tuple[str, dict[str, str]]:
        el = frame.elements
        key = (frame.kind, frame.beacon_interval,
               None if frame.capability is None else frame.capability & CAPABILITY_MASK,
               el.raw)  # type: ignore[union-attr]
        hit = self._cache.get(key)
        if hit is None:
            parts = fingerprint_components(frame)
            hit = (_hash_components(frame.kind, parts), parts)
            self._cache[key] = hit
        return hit

    def on_frame(self, frame: Frame) -> Finding | None:
        if frame.elements is None:
            return None
        bssid = frame.addr3
        ap = self.ctx.registry.ap_for_bssid(bssid)
        if ap is None:
            return None
        kind = frame.kind
        tracks = self._tracks.get(kind)
        if tracks is None:
            return None
        fp, parts = self._fingerprint(frame)
        track = tracks.get(bssid)
        if track is None:
            track = _Track(self._count * 4)
            tracks[bssid] = track  # type: ignore[index]
        registered = self._expected_registered(ap, kind)
        expected = registered or track.learned
        if not expected:
            if fp == track.candidate:
                track.run += 1
            else:
                track.candidate, track.run = fp, 1
            if track.run >= self._learn:
                track.learned = frozenset((fp,))
                track.expected_parts = parts
            return None
        if fp in expected:
            track.matched += 1
            track.expected_parts = parts
            return None
        track.mismatched += 1
        stamps = track.mismatch_ts
        stamps.append(frame.ts_ns)
        oldest = frame.ts_ns - self._window_ns
        while stamps and stamps[0] < oldest:
            stamps.popleft()
        if len(stamps) < self._count:
            return None
        return self._finding(frame, ap, bssid, fp, parts, expected,  # type: ignore[arg-type]
                             "registry" if registered else "learned", track)

    def _finding(self, frame: Frame, ap: AccessPoint, bssid: bytes, fp: str,
                 parts: dict[str, str], expected: frozenset[str], source: str,
                 track: _Track) -> Finding:
        differing = None
        if track.expected_parts is not None:
            differing = [{"component": name, "expected": track.expected_parts[name],
                          "observed": parts[name]}
                         for name in COMPONENTS if track.expected_parts[name] != parts[name]]
        ssid = frame.elements.ssid or ap.network.ssid  # type: ignore[union-attr]
        freq = operating_frequency(frame)
        message = (f"The {city_ap_phrase(ap, bssid, ssid, freq)} is sending "
                   f"{_KIND_WORDS[frame.kind]} that look like they come from different hardware "
                   f"than usual; another device may be copying its identity.")
        evidence = {
            "frame_kind": frame.kind,
            "expected_fingerprints": sorted(expected),
            "expected_source": source,
            "observed_fingerprint": fp,
            "differing_components": differing,
            "mismatching_frames_in_window": len(track.mismatch_ts),
            "window_s": self.settings["mismatch_window_s"],
            "matching_frames": track.matched,
            "mismatching_frames": track.mismatched,
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=ssid,
                       bssid=bssid, freq_mhz=freq, evidence=evidence)
