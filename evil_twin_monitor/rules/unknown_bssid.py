"""unknown_bssid: a registered SSID advertised by a BSSID the registry does not list.

Theory of operation
-------------------
Attack: the classic evil twin. Anyone can name an access point
"Shinjuku_Free_Wi-Fi"; phones that know the network join whichever
transmitter is strongest. The city knows every BSSID it runs, so a beacon or
probe response carrying a registered SSID from any other BSSID is a stranger
wearing the city's name.

Signal: beacons and probe responses. The SSID element must be exactly a
registered SSID (same octets); the BSSID is ``addr3``. An AP registered in
*any* facility counts as known, so a sensor near a facility border does not
accuse the neighbouring facility's access points.

Hot path: one set lookup (``ssid in registered SSIDs``) rejects almost every
frame; hidden SSIDs (empty or absent) are ignored. Only frames that pass it
reach the BSSID lookup.

Severity: high. Decision: when the stranger offers *weaker* security than the
weakest registered network with that SSID (ranked by
``common.SECURITY_TABLE``; e.g. open where WPA2-Personal is registered, the
captive-portal twin that needs no password at all), the finding is critical
and the message says so. ``security_mismatch`` only judges registered BSSIDs,
so one twin yields exactly one alert, from this rule.

Thresholds: none; one frame is enough (the engine's hold-down turns a stream
of beacons into one alert).

Blind spots: a twin that copies the registered BSSID (see ``cloned_bssid``,
``fingerprint_mismatch``, ``security_mismatch``); a twin with a look-alike
name (see ``lookalike_ssid``); a twin that hides its SSID in beacons and only
answers directed probes is caught by its probe responses only. A new city AP
that is not yet in the registry raises this alert too, by design.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..decoding.frame import BEACON, PROBE_RESP, Frame, mac_text
from ..decoding.text import printable_ssid
from ..registry.model import Registry
from .base import Finding, Rule, RuleContext
from .common import (channel_label, operating_frequency, security_phrase, security_unreadable,
                     weakest_rank)


class UnknownBssid(Rule):
    """A registered SSID from a BSSID the registry does not know."""

    id = "unknown_bssid"
    kinds = frozenset({BEACON, PROBE_RESP})
    memoizable = True
    severity = "high"
    DEFAULTS: dict = {}

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        self._registry: Registry | None = None
        self._ssids: frozenset[bytes] = frozenset()

    def registry_changed(self) -> None:
        self._registry = None

    def on_frame(self, frame: Frame) -> Finding | None:
        elements = frame.elements
        if elements is None:
            return None
        registry = self.ctx.registry
        if registry is not self._registry:  # reload, even if nobody told us
            self._registry = registry
            self._ssids = registry.ssids
        ssid = elements.ssid
        if not ssid or ssid not in self._ssids:
            return None
        bssid = frame.addr3
        if bssid is None or registry.ap_for_bssid(bssid) is not None:
            return None
        return self._finding(frame, ssid, bssid, registry)

    def _finding(self, frame: Frame, ssid: bytes, bssid: bytes, registry: Registry) -> Finding:
        elements = frame.elements
        networks = registry.networks_for_ssid(ssid)
        expected: set[str] = set()
        for network in networks:
            expected |= network.security
        expected_rank = min((r for r in (weakest_rank(n.security) for n in networks)
                             if r is not None), default=None)
        observed = elements.security
        observed_rank = weakest_rank(observed)
        weaker = (observed_rank is not None and expected_rank is not None
                  and observed_rank < expected_rank and not security_unreadable(elements))
        freq = operating_frequency(frame)
        where = f'"{printable_ssid(ssid)}" on {channel_label(freq)}'
        if weaker:
            severity = "critical"
            message = (f"An access point that is not in the registry ({mac_text(bssid)}) is "
                       f"advertising the city network {where} with "
                       f"{security_phrase(observed)} although the city network uses "
                       f"{security_phrase(frozenset(expected), 'or')}; it is probably an evil "
                       f"twin set up to capture users' traffic.")
        else:
            severity = self.severity
            message = (f"An access point that is not in the registry ({mac_text(bssid)}) is "
                       f"advertising the city network {where}; it may be an evil twin "
                       f"impersonating the city's Wi-Fi to intercept users.")
        evidence = {
            "ssid": printable_ssid(ssid),
            "bssid": mac_text(bssid),
            "frame_kind": frame.kind,
            "observed": {"security": sorted(observed), "pmf": elements.pmf},
            "expected": {
                "security": sorted(expected),
                "pmf": sorted({n.pmf for n in networks}),
                "facilities": sorted({n.facility.id for n in networks}),
            },
            "weaker_security": weaker,
        }
        if frame.addr2 is not None and frame.addr2 != bssid:
            evidence["transmitter"] = mac_text(frame.addr2)
        return Finding(rule=self.id, severity=severity, message=message, ssid=ssid,
                       bssid=bssid, freq_mhz=freq, evidence=evidence)
