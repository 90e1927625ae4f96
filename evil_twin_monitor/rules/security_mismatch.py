"""security_mismatch: a registered BSSID advertises security other than its registry entry.

Theory of operation
-------------------
Attack: a twin that copies a city AP's BSSID and SSID but offers weaker
security, so that clients hand it their traffic: open instead of WPA2 (the
captive-portal twin), WPA2 instead of WPA3 (offline password guessing),
management-frame protection switched off (clients can be disconnected at will
and pushed towards the twin), or the outdated TKIP/WEP ciphers. The same
signal also catches a real AP that was reset to factory settings.

Signal: beacons and probe responses of a registered BSSID (unknown BSSIDs are
``unknown_bssid``'s, so one twin yields one alert). The frame's SSID must be
the network's (a hidden SSID is taken to be it; a multi-SSID radio's other
registered SSIDs are judged against their own network; an unregistered SSID
is no business of this rule). Compared with the registry entry:

  difference        when                                                 severity
  ----------------  ---------------------------------------------------  --------
  downgrade         observed weakest rank < registered weakest rank      critical
  unrecognised      observed security set empty                          high
  security          observed set not a subset of the allowed set         high
  pmf               observed PMF weaker (required > optional > disabled) high
  cipher            pairwise TKIP/WEP only, or group WEP/TKIP, on a      high
                    network registered without wep/wpa-* (unless
                    ``allow_tkip``)
  upgrade           registered open, observed Enhanced Open (OWE) only   low

The subset test lets a transition network (``wpa2-psk, wpa3-sae``) run both
modes on one BSSID or on separate BSSIDs. Ranks are ``common.SECURITY_TABLE``:
open 0, wep 1, wpa-psk 2, wpa-eap 2, owe 3, wpa2-psk 3, wpa2-eap 4,
wpa3-sae 5, wpa3-eap 5, wpa3-eap-192 6.

Decision (OWE on an open network): OWE encrypts, so for a network registered
``open`` it is an upgrade, not an attack; it still is not what the registry
says, so it is reported with severity low and a message that says the change
is safer and the registry should be updated. PMF is only compared when both
the registry and the frame use RSN (PMF does not exist without it; an open
frame is already a security difference).

One finding per frame, carrying every difference in the evidence; its
severity and message are those of the most serious difference. Verdicts are
cached per (network, element bytes) in a capped dict: an AP repeats its
elements in every beacon.

DEFAULTS: allow_tkip False, max_cached 4096.

A frame whose element list breaks off before any RSN/WPA element gives no
verdict: its security element may lie beyond the break, and the Privacy bit
alone would read as WEP (seen in a real capture: a false "downgrade").

Blind spots: a twin that copies the advertised security exactly (see
``cloned_bssid``, ``fingerprint_mismatch``, ``unexpected_channel``); what an
AP actually negotiates in the handshake is not checked, only what it
advertises.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from ..decoding.frame import BEACON, PROBE_RESP, Frame, RsnInfo, mac_text
from ..decoding.text import printable_ssid
from ..registry.model import AccessPoint, Network, Registry
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import (city_ap_phrase, operating_frequency, security_phrase, security_unreadable,
                     weakest_rank)

RSN_OUI = b"\x00\x0f\xac"
WPA_OUI = b"\x00\x50\xf2"

# Suite type -> name, for the RSN OUI (IEEE 802.11 tables 9-149 and 9-151).
CIPHER_NAMES = {
    0: "use-group", 1: "WEP-40", 2: "TKIP", 4: "CCMP-128", 5: "WEP-104",
    6: "BIP-CMAC-128", 7: "group-not-allowed", 8: "GCMP-128", 9: "GCMP-256",
    10: "CCMP-256", 11: "BIP-GMAC-128", 12: "BIP-GMAC-256", 13: "BIP-CMAC-256",
}
AKM_NAMES = {
    1: "802.1X", 2: "PSK", 3: "FT-802.1X", 4: "FT-PSK", 5: "802.1X-SHA256",
    6: "PSK-SHA256", 7: "TDLS", 8: "SAE", 9: "FT-SAE", 10: "AP-PeerKey",
    11: "802.1X-Suite-B", 12: "802.1X-Suite-B-192", 13: "FT-802.1X-SHA384",
    14: "FILS-SHA256", 15: "FILS-SHA384", 16: "FT-FILS-SHA256", 17: "FT-FILS-SHA384",
    18: "OWE", 19: "FT-PSK-SHA384", 20: "PSK-SHA384", 24: "SAE-EXT-KEY",
    25: "FT-SAE-EXT-KEY",
}
# The WPA1 element uses Microsoft's OUI with the same low type numbers.
WPA_CIPHER_NAMES = {0: "use-group", 1: "WEP-40", 2: "TKIP", 4: "CCMP-128", 5: "WEP-104"}
WPA_AKM_NAMES = {1: "802.1X", 2: "PSK"}

WEAK_CIPHERS = frozenset({"WEP-40", "WEP-104", "TKIP"})
LEGACY_SECURITY = frozenset({"wep", "wpa-psk", "wpa-eap"})
RSN_SECURITY = frozenset({"owe", "wpa2-psk", "wpa2-eap", "wpa3-sae", "wpa3-eap", "wpa3-eap-192"})
PMF_ORDER = {"disabled": 0, "optional": 1, "required": 2}
PMF_WORDS = {"disabled": "off", "optional": "optional", "required": "required"}

# Difference -> severity; the order is also which one the message describes.
DIFFERENCES = {
    "downgrade": "critical",
    "unrecognised": "high",
    "security": "high",
    "pmf": "high",
    "cipher": "high",
    "upgrade": "low",
}


def suite_name(suite: bytes | None, names: Mapping[int, str], oui: bytes) -> str | None:
    """``b'\\x00\\x0f\\xac\\x04'`` -> ``'CCMP-128'``; unknown suites as hex."""
    if suite is None:
        return None
    if suite[:3] == oui and suite[3] in names:
        return names[suite[3]]
    return suite.hex(":")


def suites_evidence(info: RsnInfo | None, wpa1: bool) -> dict[str, Any] | None:
    """Group, pairwise and AKM suite names of an RSN or WPA1 element."""
    if info is None:
        return None
    oui = WPA_OUI if wpa1 else RSN_OUI
    ciphers = WPA_CIPHER_NAMES if wpa1 else CIPHER_NAMES
    akms = WPA_AKM_NAMES if wpa1 else AKM_NAMES
    return {
        "group": suite_name(info.group, ciphers, oui),
        "pairwise": [suite_name(s, ciphers, oui) for s in info.pairwise],
        "akm": [suite_name(s, akms, oui) for s in info.akm],
    }


class Verdict(NamedTuple):
    differences: tuple[str, ...]   # keys of DIFFERENCES, most serious first
    weak_ciphers: tuple[str, ...]  # names, for the cipher difference


def judge(network: Network, security: frozenset[str], pmf: str, rsn: RsnInfo | None,
          wpa: RsnInfo | None, allow_tkip: bool) -> Verdict | None:
    """What differs between an advertisement and the registry, or None."""
    allowed = network.security
    found: set[str] = set()
    if not security:
        found.add("unrecognised")
    elif not security <= allowed:
        observed_rank, allowed_rank = weakest_rank(security), weakest_rank(allowed)
        if observed_rank is not None and allowed_rank is not None and observed_rank < allowed_rank:
            found.add("downgrade")
        elif allowed == {"open"} and security == {"owe"}:
            found.add("upgrade")
        else:
            found.add("security")
    if (allowed & RSN_SECURITY and security & RSN_SECURITY
            and PMF_ORDER.get(pmf, 0) < PMF_ORDER.get(network.pmf, 0)):
        found.add("pmf")
    weak: list[str] = []
    if not allow_tkip and not allowed & LEGACY_SECURITY:
        for info, wpa1 in ((rsn, False), (wpa, True)):
            names = suites_evidence(info, wpa1)
            if names is None:
                continue
            pairwise = [p for p in names["pairwise"] if p != "use-group"]
            if pairwise and all(p in WEAK_CIPHERS for p in pairwise):
                weak.extend(pairwise)
            if names["group"] in WEAK_CIPHERS:
                weak.append(names["group"])
    if weak:
        found.add("cipher")
    if not found:
        return None
    ordered = tuple(d for d in DIFFERENCES if d in found)
    return Verdict(ordered, tuple(sorted(set(weak))))


class SecurityMismatch(Rule):
    """A registered BSSID advertising security its registry entry does not allow."""

    id = "security_mismatch"
    kinds = frozenset({BEACON, PROBE_RESP})
    memoizable = True
    severity = "high"
    DEFAULTS = {"allow_tkip": False, "max_cached": 4096}

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        self._registry: Registry | None = None
        self._verdicts: BoundedDict[tuple[int, bytes], Verdict | None] = BoundedDict(
            self.settings["max_cached"])

    def registry_changed(self) -> None:
        self._registry = None

    def on_frame(self, frame: Frame) -> Finding | None:
        elements = frame.elements
        if elements is None or security_unreadable(elements):
            return None
        registry = self.ctx.registry
        ap = registry.ap_for_bssid(frame.addr3)
        if ap is None:
            return None
        if registry is not self._registry:
            self._registry = registry
            self._verdicts.clear()
        ssid = elements.ssid
        if ssid and ssid != ap.network.ssid:
            ap = self._other_entry(registry, ssid, frame.addr3)
            if ap is None:
                return None
        network = ap.network
        key = (id(network), elements.raw)
        try:
            verdict = self._verdicts[key]
        except KeyError:
            verdict = self._verdicts[key] = judge(
                network, elements.security, elements.pmf, elements.rsn, elements.wpa,
                self.settings["allow_tkip"])
        if verdict is None:
            return None
        return self._finding(frame, ap, verdict)

    @staticmethod
    def _other_entry(registry: Registry, ssid: bytes, bssid: bytes) -> AccessPoint | None:
        """The AP entry of another registered network with this SSID that
        covers this BSSID (a multi-SSID radio), if any."""
        for network in registry.networks_for_ssid(ssid):
            for ap in network.access_points:
                if ap.matches(bssid):
                    return ap
        return None

    def _finding(self, frame: Frame, ap: AccessPoint, verdict: Verdict) -> Finding:
        network = ap.network
        elements = frame.elements
        bssid = frame.addr3
        freq = operating_frequency(frame)
        primary = verdict.differences[0]
        message = _message(primary, network, elements.security, elements.pmf, verdict,
                           f"The {city_ap_phrase(ap, bssid, network.ssid, freq)}")
        evidence = {
            "ssid": printable_ssid(network.ssid),
            "bssid": mac_text(bssid),
            "expected": {"security": sorted(network.security), "pmf": network.pmf},
            "observed": {
                "security": sorted(elements.security),
                "pmf": elements.pmf,
                "rsn": suites_evidence(elements.rsn, False),
                "wpa": suites_evidence(elements.wpa, True),
            },
            "differences": list(verdict.differences),
            "unexpected_security": sorted(elements.security - network.security),
            "frame_kind": frame.kind,
        }
        if verdict.weak_ciphers:
            evidence["weak_ciphers"] = list(verdict.weak_ciphers)
        return Finding(rule=self.id, severity=DIFFERENCES[primary], message=message,
                       ssid=network.ssid, bssid=bssid, freq_mhz=freq, evidence=evidence)


def _message(primary: str, network: Network, security: frozenset[str], pmf: str,
             verdict: Verdict, where: str) -> str:
    """One sentence for the most serious difference."""
    registered = security_phrase(network.security, "or")
    observed = security_phrase(security)
    if primary == "downgrade":
        return (f"{where} now advertises {observed} although it is registered as {registered}; "
                f"someone may be impersonating it to capture users' traffic.")
    if primary == "unrecognised":
        return (f"{where} advertises security settings this sensor does not recognise although "
                f"it is registered as {registered}; someone may be impersonating it, or it was "
                f"reconfigured.")
    if primary == "security":
        return (f"{where} advertises {observed} although it is registered as {registered}; the "
                f"access point may have been replaced or reconfigured, or someone may be "
                f"impersonating it.")
    if primary == "pmf":
        return (f"{where} advertises management-frame protection as {PMF_WORDS.get(pmf, pmf)} "
                f"although it is registered as {PMF_WORDS[network.pmf]}; without it, users can "
                f"be disconnected at will and pushed towards a fake access point.")
    if primary == "cipher":
        return (f"{where} offers the outdated {' and '.join(verdict.weak_ciphers)} encryption "
                f"although it is registered without legacy WPA or WEP; such traffic can be "
                f"attacked, and the change may mean someone is impersonating it.")
    return (f"{where} advertises {observed} although it is registered as {registered}; this "
            f"is safer for users, but the registry entry should be updated if the change is "
            f"intended.")
