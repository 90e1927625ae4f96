"""unexpected_channel: a registered BSSID heard on a channel its entry does not allow.

Theory of operation
-------------------
Attack: a twin that copies a city AP's BSSID (and SSID) but runs on another
channel, where it does not fight the real AP and where a client that roams
or rescans finds it; or forged channel-switch announcements (CSA/ECSA) sent
in the real AP's name to push clients onto the attacker's channel (a known
attack: clients obey the announcement and follow it).

Signal, for beacons and probe responses of a registered BSSID:
  operating frequency = the AP's own DS/HT channel interpreted in the band it
  was heard in, else the radiotap frequency (``common.operating_frequency``);
  not in ``ap.frequencies`` -> finding (medium). No frequency known -> no
  verdict. 2.4 GHz beacons leak into adjacent channels, which is why the
  AP's own channel element wins over the radio; when only the radio says
  where the frame was heard, 2.4 GHz frequencies within
  ``radio_tolerance_mhz`` of an allowed one are accepted for the same reason.

Channel switches: a beacon, probe response or action frame (action frames
only when sent by the AP itself, addr2 == BSSID) carrying a CSA or ECSA
element announces a target channel, read in the band it was heard in (CSA)
or from the global operating class (ECSA, table ``OP_CLASS_BAND``).

  announced target allowed     -> remembered per BSSID with the time; frames
                                  on it within ``switch_grace_s`` are fine;
                                  the announcing frames themselves (still on
                                  the old channel) never alert.
  announced target not allowed -> finding (high): someone may be forging
                                  channel-switch announcements.
  target cannot be worked out  -> no verdict.

Action frames without a switch announcement carry no channel element, so
they give no verdict (their radio frequency alone is too weak a signal).

DEFAULTS: switch_grace_s 120, radio_tolerance_mhz 10, max_tracked 4096
(remembered switches, capped).

Blind spots: a twin on an allowed channel (see ``cloned_bssid`` and
``fingerprint_mismatch``); a twin whose DS element lies about its channel
while it transmits elsewhere on 5/6 GHz is judged by its element; forged
CSAs inside protected action frames are not readable.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..decoding.channels import (BAND_2G, BAND_5G, BAND_6G, band_of, channel_to_frequency,
                                 element_channel_frequency, frequency_to_channel)
from ..decoding.frame import ACTION, BEACON, PROBE_RESP, Frame, mac_text
from ..decoding.text import printable_ssid
from ..registry.model import AccessPoint
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import channel_label, city_ap_phrase, operating_frequency

# Global operating classes (IEEE 802.11 Annex E, table E-4) -> band of the
# channel numbers they carry. Enough for 2.4, 5 and 6 GHz access points.
OP_CLASS_BAND: dict[int, str] = {
    81: BAND_2G, 82: BAND_2G, 83: BAND_2G, 84: BAND_2G,
    **{op_class: BAND_5G for op_class in range(115, 131)},
    **{op_class: BAND_6G for op_class in range(131, 138)},
}


def announced_frequency(channel: int, op_class: int | None, heard_mhz: int | None) -> int | None:
    """Centre frequency of a channel-switch target, or None if unknown."""
    band = OP_CLASS_BAND.get(op_class) if op_class is not None else None
    if band is not None:
        return channel_to_frequency(channel, band)
    return element_channel_frequency(channel, heard_mhz)


def allowed_evidence(ap: AccessPoint) -> dict[str, list[int]]:
    """Allowed channels as numbers (2.4/5 GHz) and every allowed frequency."""
    freqs = sorted(ap.frequencies)
    channels = [frequency_to_channel(f) for f in freqs if band_of(f) in (BAND_2G, BAND_5G)]
    return {"allowed_channels": [c for c in channels if c is not None],
            "allowed_frequencies_mhz": freqs}


def allowed_text(ap: AccessPoint) -> str:
    """``"1, 6, 11"`` or ``"36, 6 GHz channel 5"`` for a sentence."""
    labels = []
    for freq in sorted(ap.frequencies):
        label = channel_label(freq)
        labels.append(label.removeprefix("channel "))
    return ", ".join(labels) if labels else "none"


class UnexpectedChannel(Rule):
    """A registered BSSID off its allowed channels, or told to move off them."""

    id = "unexpected_channel"
    kinds = frozenset({BEACON, PROBE_RESP, ACTION})
    severity = "medium"
    DEFAULTS = {"switch_grace_s": 120, "radio_tolerance_mhz": 10, "max_tracked": 4096}

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        # BSSID -> (announced allowed target frequency, capture time in ns)
        self._switches: BoundedDict[bytes, tuple[int, int]] = BoundedDict(
            self.settings["max_tracked"])
        self._grace_ns = int(self.settings["switch_grace_s"] * 1e9)

    def on_frame(self, frame: Frame) -> Finding | None:
        bssid = frame.addr3
        ap = self.ctx.registry.ap_for_bssid(bssid)
        if ap is None:
            return None
        elements = frame.elements
        is_action = frame.kind == ACTION
        if elements is not None and (elements.csa is not None or elements.ecsa is not None):
            if is_action and frame.addr2 != bssid:
                return None  # a client's frame, not the AP's announcement
            return self._switch(frame, ap, bssid)
        if is_action:
            return None
        freq = operating_frequency(frame)
        if freq is None or freq in ap.frequencies:
            return None
        from_element = (elements is not None and elements.channel is not None
                        and element_channel_frequency(elements.channel, frame.freq_mhz) == freq)
        if not from_element and band_of(freq) == BAND_2G:
            tolerance = self.settings["radio_tolerance_mhz"]
            if any(abs(freq - f) <= tolerance for f in ap.frequencies):
                return None  # adjacent-channel leakage of a beacon without a DS element
        switch = self._switches.get(bssid)
        if switch is not None and switch[0] == freq and frame.ts_ns - switch[1] <= self._grace_ns:
            return None
        return self._off_channel(frame, ap, bssid, freq, from_element)

    def _switch(self, frame: Frame, ap: AccessPoint, bssid: bytes) -> Finding | None:
        elements = frame.elements
        if elements.ecsa is not None:
            mode, op_class, channel, count = elements.ecsa
            element = "ecsa"
        else:
            mode, channel, count = elements.csa
            op_class = None
            element = "csa"
        current = operating_frequency(frame)
        target = announced_frequency(channel, op_class, frame.freq_mhz or current)
        if target is None:
            return None
        if target in ap.frequencies:
            self._switches[bssid] = (target, frame.ts_ns)
            return None
        where = city_ap_phrase(ap, bssid, elements.ssid, current)
        message = (f"The {where} is being announced as moving to {channel_label(target)}, "
                   f"which it is not registered to use (allowed: {allowed_text(ap)}); someone "
                   f"may be forging channel-switch announcements to lure users onto another "
                   f"channel, a known attack.")
        evidence = {
            "ssid": printable_ssid(elements.ssid or ap.network.ssid),
            "bssid": mac_text(bssid),
            "element": element,
            "announced_channel": channel,
            "announced_frequency_mhz": target,
            "op_class": op_class,
            "mode": mode,
            "count": count,
            **allowed_evidence(ap),
            "observed_channel": frequency_to_channel(current) if current else None,
            "heard_frequency_mhz": frame.freq_mhz,
            "frame_kind": frame.kind,
            "transmitter": mac_text(frame.addr2),
        }
        return Finding(rule=self.id, severity="high", message=message,
                       ssid=elements.ssid or ap.network.ssid, bssid=bssid, freq_mhz=current,
                       evidence=evidence)

    def _off_channel(self, frame: Frame, ap: AccessPoint, bssid: bytes, freq: int,
                     from_element: bool) -> Finding:
        ssid = frame.elements.ssid if frame.elements is not None else None
        where = city_ap_phrase(ap, bssid, ssid, with_channel=False)
        message = (f"The {where} is operating on {channel_label(freq)}, which its registry "
                   f"entry does not allow (allowed: {allowed_text(ap)}); a copy of the access "
                   f"point may be running there to attract users, or the access point was "
                   f"reconfigured.")
        evidence = {
            "ssid": printable_ssid(ssid or ap.network.ssid),
            "bssid": mac_text(bssid),
            **allowed_evidence(ap),
            "observed_channel": frequency_to_channel(freq),
            "observed_frequency_mhz": freq,
            "heard_frequency_mhz": frame.freq_mhz,
            "channel_source": "element" if from_element else "radio",
            "frame_kind": frame.kind,
        }
        return Finding(rule=self.id, severity=self.severity, message=message,
                       ssid=ssid or ap.network.ssid, bssid=bssid, freq_mhz=freq,
                       evidence=evidence)
