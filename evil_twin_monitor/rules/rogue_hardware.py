"""rogue_hardware: frames that carry a known attack-device signature.

Theory of operation
-------------------
Attack: off-the-shelf rogue-AP hardware and firmware (the Hak5 WiFi
Pineapple, the ESP8266 Deauther, hostapd-wpe) used with its factory
settings. Such a device is not necessarily impersonating the city yet, but
nobody runs one near a public hotspot for a good reason.

Signal: the table `SIGNATURES` below, the one place where signatures live.
Each record says what it matches and why it is there:

- ``oui``: the first three octets of the transmitter address (addr2) or the
  BSSID (addr3), in every management frame kind;
- ``ssid``: the whole SSID (a regular expression over the octets) of
  beacons and probe responses;
- ``wps``: a case-insensitive substring of the WPS manufacturer, model or
  device name of beacons and probe responses.

SSID and WPS signatures are read from AP frames only: a client's probe
request carries the names of networks it *looks for* and the owner's device
name, which say nothing about the sender being an attack tool.

Settings: ``extra_ouis`` adds address prefixes (``"aa:bb:cc"``) that the
operator knows to be attack devices; ``disabled`` switches off signatures by
id. Both are checked when the rule is built (a bad value is a ValueError that
names it).

Hot path: one dict lookup per address (verdict cached per address) and one
per element region (verdict cached per raw element bytes), both capped.

Severity: critical. Thresholds: none; one frame is proof enough.

Blind spots: every signature is a factory default the attacker can change
(the Pineapple's MAC address, the SSID). OUI 00:13:37 is also registered by
IEEE to a consumer-electronics maker; an ordinary device using it would be a
false alert (none is known to be common). Devices built from generic parts
(an ESP32 or a laptop running airbase-ng) carry no signature at all: other
rules catch what they do, not what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..decoding.frame import (ACTION, ASSOC_REQ, ASSOC_RESP, AUTH, BEACON, BROADCAST, DEAUTH,
                              DISASSOC, PROBE_REQ, PROBE_RESP, REASSOC_REQ, REASSOC_RESP, Frame,
                              mac_text)
from ..decoding.text import printable_ssid
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import channel_label, operating_frequency

_PINEAPPLE = "identifies itself like a WiFi Pineapple, a tool made for attacking Wi-Fi users"


@dataclass(frozen=True)
class Signature:
    """One attack-device signature: what it matches, and why it is here."""

    id: str
    field: str        # "oui" | "ssid" | "wps"
    pattern: str      # 'aa:bb:cc' | regular expression over the SSID | substring
    claim: str        # the message's verb phrase: what the match means to a person
    description: str  # what the signature is, for the evidence
    why: str          # public knowledge behind it


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "hak5-pineapple-oui", "oui", "00:13:37", _PINEAPPLE,
        "Address prefix 00:13:37, used by the Hak5 WiFi Pineapple",
        "WiFi Pineapple units ship with MAC addresses in 00:13:37 (widely "
        "reported; the design notes name it). IEEE lists the prefix for a "
        "small maker whose products are rarely seen, so false alerts are rare."),
    Signature(
        "pineapple-wps-name", "wps", "pineapple", _PINEAPPLE,
        "WPS manufacturer, model or device name containing 'Pineapple'",
        "No access point vendor ships products under that name; a match is a "
        "Pineapple or a device deliberately posing as one."),
    Signature(
        "hak5-wps-name", "wps", "hak5", _PINEAPPLE,
        "WPS manufacturer, model or device name containing 'Hak5'",
        "Hak5 sells penetration-testing gear (the WiFi Pineapple among it) "
        "and no ordinary access points."),
    Signature(
        "pineapple-setup-ssid", "ssid", r"Pineapple_[0-9A-F]{4}", _PINEAPPLE,
        "SSID 'Pineapple_XXXX', the WiFi Pineapple's factory management network",
        "A Pineapple opens 'Pineapple_' plus the last four hex digits of its "
        "MAC address until its owner renames it. Upper-case hex only, so that "
        "a cafe's 'Pineapple_Cafe' does not match."),
    Signature(
        "esp8266-deauther-ssid", "ssid", r"pwned",
        "identifies itself like an ESP8266 Deauther, a tool made for knocking "
        "people off Wi-Fi networks",
        "SSID 'pwned', the control network of the ESP8266 Deauther firmware",
        "The spacehuhn esp8266_deauther firmware opens 'pwned' (password "
        "'deauther') for its web interface by default."),
    Signature(
        "hostapd-wpe-ssid", "ssid", r"hostapd-wpe",
        "identifies itself like hostapd-wpe, a tool made for stealing Wi-Fi logins",
        "SSID 'hostapd-wpe', the default of the hostapd-wpe credential harvester",
        "hostapd-wpe (packaged in Kali Linux) ships a configuration with "
        "ssid=hostapd-wpe; it captures enterprise (802.1X) logins."),
)

SIGNATURE_IDS = frozenset(sig.id for sig in SIGNATURES)
_ALL_MGMT = frozenset({ASSOC_REQ, ASSOC_RESP, REASSOC_REQ, REASSOC_RESP, PROBE_REQ,
                       PROBE_RESP, BEACON, DISASSOC, AUTH, DEAUTH, ACTION})
_AP_KINDS = frozenset({BEACON, PROBE_RESP})
_OUI_TEXT = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}", re.IGNORECASE)
_WPS_FIELDS = ("manufacturer", "model_name", "model_number", "device_name")

# A verdict: (signature, matched field, shown value), or None for "clean".
_Verdict = tuple[Signature, str, str] | None


def parse_oui(text: Any) -> bytes:
    """'00:13:37' (or '00-13-37') -> 3 bytes; ValueError naming the value."""
    if not isinstance(text, str) or not _OUI_TEXT.fullmatch(text):
        raise ValueError(f"rule rogue_hardware: extra_ouis value {text!r} is not an address "
                         f"prefix like 'aa:bb:cc'")
    return bytes.fromhex(text.replace("-", "").replace(":", ""))


class RogueHardware(Rule):
    """Frames from a device that identifies itself as an attack tool."""

    id = "rogue_hardware"
    kinds = _ALL_MGMT
    memoizable = True
    severity = "critical"
    DEFAULTS = {
        "extra_ouis": [],     # more attack-device address prefixes, 'aa:bb:cc'
        "disabled": [],       # signature ids to switch off
        "max_tracked": 4096,  # cached verdicts per address and per element region
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        disabled = set(self.settings["disabled"])
        unknown = disabled - SIGNATURE_IDS
        if unknown:
            raise ValueError(f"rule rogue_hardware: unknown signature id(s) in disabled: "
                             f"{sorted(unknown)}; valid: {sorted(SIGNATURE_IDS)}")
        active = [sig for sig in SIGNATURES if sig.id not in disabled]
        for text in self.settings["extra_ouis"]:
            oui = parse_oui(text).hex(":")
            active.append(Signature(
                f"extra-oui:{oui}", "oui", oui,
                f"uses an address prefix ({oui}) that this sensor's configuration lists "
                f"as an attack device",
                f"Address prefix {oui} from the sensor configuration (extra_ouis)",
                "Listed by the operator."))
        self._ouis = {bytes.fromhex(s.pattern.replace(":", "")): s
                      for s in active if s.field == "oui"}
        self._ssids = [(re.compile(s.pattern.encode()), s) for s in active if s.field == "ssid"]
        self._wps = [(s.pattern.casefold(), s) for s in active if s.field == "wps"]
        cap = int(self.settings["max_tracked"])
        self._by_addr: BoundedDict[bytes, Signature | None] = BoundedDict(cap)
        self._by_raw: BoundedDict[bytes, _Verdict] = BoundedDict(cap)

    def _addr_verdict(self, addr: bytes) -> Signature | None:
        try:
            return self._by_addr[addr]
        except KeyError:
            sig = self._ouis.get(addr[:3]) if addr != BROADCAST else None
            self._by_addr[addr] = sig
            return sig

    def _element_verdict(self, frame: Frame) -> _Verdict:
        el = frame.elements
        raw = el.raw  # type: ignore[union-attr]
        try:
            return self._by_raw[raw]
        except KeyError:
            pass
        verdict: _Verdict = None
        ssid = el.ssid  # type: ignore[union-attr]
        if ssid:
            for regex, sig in self._ssids:
                if regex.fullmatch(ssid):
                    verdict = (sig, "ssid", printable_ssid(ssid))
                    break
        wps = el.wps  # type: ignore[union-attr]
        if verdict is None and wps:
            for key in _WPS_FIELDS:
                value = wps.get(key)
                if not value:
                    continue
                folded = value.casefold()
                hit = next((sig for needle, sig in self._wps if needle in folded), None)
                if hit is not None:
                    verdict = (hit, f"wps.{key}", value)
                    break
        self._by_raw[raw] = verdict
        return verdict

    def on_frame(self, frame: Frame) -> Finding | None:
        verdict: _Verdict = None
        device = frame.addr2
        if device is not None:
            sig = self._addr_verdict(device)
            if sig is not None:
                verdict = (sig, "transmitter_oui", sig.pattern)
        bssid = frame.addr3
        if verdict is None and bssid is not None and bssid != device:
            sig = self._addr_verdict(bssid)
            if sig is not None:
                verdict, device = (sig, "bssid_oui", sig.pattern), bssid
        if verdict is None and frame.elements is not None and frame.kind in _AP_KINDS:
            verdict = self._element_verdict(frame)
        if verdict is None:
            return None
        return self._finding(frame, device or bssid, verdict)

    def _finding(self, frame: Frame, device: bytes | None, verdict: tuple[Signature, str, str]
                 ) -> Finding:
        sig, field, value = verdict
        ssid = frame.elements.ssid if frame.elements is not None else None
        freq = operating_frequency(frame)
        where = f"A device at {mac_text(device)}" if device is not None else "A device"
        if ssid:
            where += f' advertising "{printable_ssid(ssid)}"'
        message = f"{where} on {channel_label(freq)} {sig.claim}."
        evidence = {
            "signature": sig.id,
            "description": sig.description,
            "matched_field": field,
            "matched_value": value,
            "frame_kind": frame.kind,
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=ssid or None,
                       bssid=device, freq_mhz=freq, evidence=evidence)
