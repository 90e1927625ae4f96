"""deauth_flood: bursts of deauthentication/disassociation at a city AP.

Theory of operation
-------------------
Attack: a forged "you are disconnected" storm. Without management frame
protection anyone can send deauthentication or disassociation frames in the
name of an AP or of its clients; the clients drop off the real network and,
reconnecting, may land on an evil twin that is waiting with the same name. It
also captures WPA handshakes for password cracking, and is a plain
denial of service.

Signal: deauth and disassoc frames whose BSSID (addr3), receiver (addr1) or
transmitter (addr2) is a registered AP, counted per registered BSSID in a
sliding window. Frames with the Protected bit are skipped: a PMF-protected
deauth cannot be forged, so it came from the AP or a client that holds keys.

Threshold: ``threshold`` frames within ``window_s`` seconds -> a finding,
repeated at most once per window while the storm lasts (the engine turns
repeats into one alert). The window keeps at most ``threshold * 4``
frames per BSSID (so counts in the evidence stop there: "at least"), and at
most ``max_tracked`` BSSIDs are followed.

Evidence: frames in the window, reason-code histogram, broadcast frames,
direction (from the AP / to the AP), frame kinds and the number of distinct
client devices targeted. Client addresses are personal data: they are kept
only as process-salted hashes in memory, counted, and never reported.

Blind spots: an attacker who stays under the threshold (a slow trickle of
deauths at one client every few seconds still works against that client);
frames heard on other channels are missed while a hopping sensor is away.
False alerts: an AP that restarts and individually disconnects more than
``threshold`` clients at once looks like a burst.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping

from ..decoding.frame import BROADCAST, DEAUTH, DISASSOC, Frame
from ..registry.model import AccessPoint
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import city_ap_phrase

_FROM_AP, _TO_AP, _OTHER = 0, 1, 2


class _Window:
    """Recent frames against one registered BSSID."""

    __slots__ = ("entries", "last_report_ns")

    def __init__(self, cap: int) -> None:
        # (ts_ns, kind, reason, broadcast, direction, client hash or None)
        self.entries: deque[tuple[int, str, int | None, bool, int, int | None]] = deque(maxlen=cap)
        self.last_report_ns: int | None = None


def _seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class DeauthFlood(Rule):
    """A storm of disconnect frames against a registered AP or its clients."""

    id = "deauth_flood"
    kinds = frozenset({DEAUTH, DISASSOC})
    severity = "high"
    DEFAULTS = {
        "threshold": 20,      # frames ...
        "window_s": 5,        # ... within this many seconds -> finding
        "max_tracked": 4096,  # registered BSSIDs followed at once
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        self._threshold = int(self.settings["threshold"])
        self._window_ns = int(self.settings["window_s"] * 1_000_000_000)
        if self._threshold < 1 or self._window_ns <= 0:
            raise ValueError("rule deauth_flood: threshold and window_s must be positive")
        self._windows: BoundedDict[bytes, _Window] = BoundedDict(int(self.settings["max_tracked"]))

    def _registered(self, frame: Frame) -> tuple[bytes, AccessPoint] | None:
        lookup = self.ctx.registry.ap_for_bssid
        for addr in (frame.addr3, frame.addr1, frame.addr2):
            if addr is not None and addr != BROADCAST:
                ap = lookup(addr)
                if ap is not None:
                    return addr, ap
        return None

    def on_frame(self, frame: Frame) -> Finding | None:
        if frame.protected:
            return None
        found = self._registered(frame)
        if found is None:
            return None
        bssid, ap = found
        addr1, addr2 = frame.addr1, frame.addr2
        broadcast = addr1 == BROADCAST
        if addr2 == bssid:
            direction = _FROM_AP
            client = None if broadcast else hash(addr1)
        elif addr1 == bssid:
            direction = _TO_AP
            client = hash(addr2) if addr2 is not None else None
        else:
            direction, client = _OTHER, None
        window = self._windows.get(bssid)
        if window is None:
            window = _Window(self._threshold * 4)
            self._windows[bssid] = window
        now = frame.ts_ns
        entries = window.entries
        entries.append((now, frame.kind, frame.reason, broadcast, direction, client))
        oldest = now - self._window_ns
        while entries[0][0] < oldest:
            entries.popleft()
        if len(entries) < self._threshold:
            return None
        if window.last_report_ns is not None and now - window.last_report_ns < self._window_ns:
            return None
        window.last_report_ns = now
        return self._finding(frame, bssid, ap, entries)

    def _finding(self, frame: Frame, bssid: bytes, ap: AccessPoint, entries: deque) -> Finding:
        reasons: dict[int | None, int] = {}
        kinds: dict[str, int] = {}
        clients: set[int] = set()
        broadcast = from_ap = to_ap = 0
        for _ts, kind, reason, is_broadcast, direction, client in entries:
            reasons[reason] = reasons.get(reason, 0) + 1
            kinds[kind] = kinds.get(kind, 0) + 1
            broadcast += is_broadcast
            from_ap += direction == _FROM_AP
            to_ap += direction == _TO_AP
            if client is not None:
                clients.add(client)
        count = len(entries)
        window_text = _seconds_text(self.settings["window_s"])
        ssid = ap.network.ssid
        message = (f"Someone is sending a flood of disconnect messages ({count} in {window_text} s) "
                   f"to users of the {city_ap_phrase(ap, bssid, ssid, frame.freq_mhz)}; this "
                   f"knocks people off the real network, often to push them onto a fake one.")
        evidence = {
            "frames_in_window": count,
            "window_s": self.settings["window_s"],
            "threshold": self._threshold,
            "reason_codes": {("unknown" if r is None else str(r)): n
                             for r, n in sorted(reasons.items(), key=lambda i: (i[0] is None, i[0] or 0))},
            "frame_kinds": dict(sorted(kinds.items())),
            "broadcast_frames": broadcast,
            "from_ap": from_ap,
            "to_ap": to_ap,
            "clients_targeted": len(clients),
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=ssid,
                       bssid=bssid, freq_mhz=frame.freq_mhz, evidence=evidence)
