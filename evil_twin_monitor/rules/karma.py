"""karma: one BSSID that poses as many unrelated networks (KARMA/MANA responders).

Theory of operation
-------------------
Attack: a phone remembers the networks it has joined ("0000docomo",
"Starbucks_Wi2", a home router, "Shinjuku_Free_Wi-Fi") and joins any of them
automatically when it hears one. A KARMA responder (hostapd-mana, the WiFi
Pineapple's PineAP, airbase-ng -P, wifiphisher's "known beacons") answers
every directed probe request with a probe response carrying exactly the SSID
the phone asked for, or beacons a list of popular names, all from one radio.
Phones walk onto it without anyone tapping anything; the attacker then reads
or redirects their traffic. No real access point answers for more than a
handful of names from one BSSID (one per BSSID is the standard; a
multi-BSSID radio uses a BSSID per SSID).

Signal: the SSID element of beacons and probe responses, per BSSID (addr3,
else addr2). The rule counts the distinct *unrelated* names one BSSID used
within ``window_s`` seconds; ``min_ssids`` of them make a finding. Probe
requests are not read: the responder gives itself away by the names it
answers with, whatever was asked, so there is no need to keep what clients
asked for (less personal data, less state).

"Unrelated" (decision): two SSIDs are related, and count once, when their
*keys* are equal. The key is the name decoded as UTF-8 (undecodable octets
as their hex escapes, so they stay distinct), NFKC-normalised, case-folded, with one trailing band suffix
removed ("_5G", "-5GHz", "_2.4", " 2.4GHz", "-6E", "5G" with no
separator; a bare digit needs a separator: "Cafe5" keeps its 5), and with
everything but letters and digits dropped. So "Cafe", "CAFE_5G", "cafe-2.4"
and "Cafe Wi-Fi"/"Cafe_WiFi" pairs are one name each. Hidden SSIDs (empty or
all zero octets) are no name at all and are skipped, so a hidden AP that
beacons without its name and answers directed probes with it uses one name.

Bounded state (the attacker decides how many BSSIDs and names we hear):

- ``max_tracked`` BSSIDs that used one name so far, one small entry each
  (name, key, last heard, last client hash), evicted oldest-inserted first.
  A beacon flood of single-name BSSIDs churns only this table.
- ``max_suspects`` BSSIDs that used two or more unrelated names within the
  window, each with at most ``ssids_per_bssid`` names (oldest-heard evicted;
  the evidence then says "at least") and at most 256 client hashes. Suspects
  are kept by recent use; names not heard for ``window_s`` are forgotten, and
  a suspect left with one name goes back to the first table.

Clients: the receivers of unicast probe responses are personal data. They are
kept only as process-salted hashes (Python's keyed ``hash``) in memory, to
count distinct clients answered; the evidence carries the count only.

Hot path: for an ordinary AP, one dict miss (suspects), one dict hit and one
bytes comparison (same name as last time), one store. Names are normalised
only when a BSSID changes name (cached per name, capped).

Severity: critical. A responder that answers for names phones remember makes
them join automatically; when it also answers for a registered SSID it
impersonates the city network too (``unknown_bssid`` raises its own alert
for a foreign BSSID).

Finding: ``bssid`` is the responder; ``ssid`` is None (decision), so the
engine keeps one alert per responder (its key is rule, facility, ssid,
bssid) instead of one per name it tried. The names, and the registered
SSIDs among them, are in the evidence. Findings repeat at most every 10 s
while the responder stays above the threshold, which keeps the alert open.

Evidence: ``ssid_count`` (unrelated names in the window) and
``ssid_count_is_minimum`` (the per-BSSID cap was hit), ``ssids`` (up to 16,
printable, least recently heard first), ``registered_ssids`` and
``answered_registered_ssid``, ``registered_bssid``, ``clients_answered``
(distinct receivers of its unicast probe responses, a count), ``beacons`` and
``probe_responses`` (frames since it used a second name), ``window_s``,
``min_ssids`` and the ``frame_kind`` that completed the evidence.

Thresholds: ``min_ssids`` (5) unrelated names within ``window_s`` (300 s).

Blind spots: a responder that answers only for the city's SSID (that is an
evil twin: ``unknown_bssid``); one that uses a fresh random BSSID for every
name it answers (each BSSID looks like an ordinary AP; ``beacon_flood`` may
see the churn); one that stays under ``min_ssids`` names per window (near an
empty street only a few phones probe by name, and modern phones rarely send
directed probes, so detection waits for phones that do); a sensor that is
hopping hears only the names answered on the channel it is on. False
alerts: an AP renamed five times within five minutes while being set up, or
unusual firmware that answers for several unrelated names from one BSSID.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from typing import Any, Mapping

from ..decoding.frame import BEACON, PROBE_RESP, Frame, mac_text
from ..decoding.text import printable_ssid
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import channel_label, city_ap_phrase, operating_frequency

NS = 1_000_000_000
_REPEAT_NS = 10 * NS       # a standing responder is re-reported this often (keeps the alert open)
_CLIENTS_CAP = 256         # client hashes kept per suspect (the count stops there)
_EVIDENCE_SSIDS = 16       # names listed in the evidence
_MESSAGE_SSIDS = 3         # names quoted in the message
_KEY_CACHE_CAP = 4096

# One trailing band suffix, on the case-folded NFKC text: "_5g", "-5ghz",
# " 2.4 ghz", "6e", "2g" (a "g"/"ghz"/"e" marks it as a band, so no separator
# is needed), or a separator and a bare band number ("_2.4", "-5").
_BAND_SUFFIX = re.compile(r"(?:[\s_.\-]*(?:2\.4|2|5|6)\s*(?:ghz|g|e)|[\s_.\-]+(?:2\.4|5|6))$")


def ssid_key(raw: bytes) -> str:
    """The relatedness key of an SSID: names with equal keys are one name here."""
    text = unicodedata.normalize("NFKC", raw.decode("utf-8", "backslashreplace")).casefold()
    stripped = _BAND_SUFFIX.sub("", text)
    if stripped:
        text = stripped
    key = "".join(ch for ch in text if ch.isalnum())
    # A name of punctuation only keeps its own identity rather than merging with others.
    return key if key else "\0" + raw.hex()


def _window_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    value = int(seconds) if float(seconds).is_integer() else seconds
    return f"{value} second{'s' if value != 1 else ''}"


class _Suspect:
    """A BSSID that used two or more unrelated names within the window."""

    __slots__ = ("names", "clients", "capped", "beacons", "probe_responses", "last_report_ns")

    def __init__(self) -> None:
        # key -> [last heard ns, raw SSID of the last frame], ordered by last heard
        self.names: OrderedDict[str, list] = OrderedDict()
        self.clients: set[int] = set()
        self.capped = False
        self.beacons = 0
        self.probe_responses = 0
        self.last_report_ns: int | None = None


class Karma(Rule):
    """One BSSID posing as many unrelated networks: a KARMA/MANA responder."""

    id = "karma"
    kinds = frozenset({BEACON, PROBE_RESP})
    severity = "critical"
    DEFAULTS = {
        "min_ssids": 5,          # unrelated names from one BSSID ...
        "window_s": 300,         # ... heard within this many seconds -> finding
        "ssids_per_bssid": 32,   # names remembered per suspect BSSID
        "max_tracked": 8192,     # BSSIDs followed with their one name
        "max_suspects": 256,     # BSSIDs followed with two or more names
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        s = self.settings
        for name in ("min_ssids", "ssids_per_bssid", "max_tracked", "max_suspects"):
            value = s[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"rule karma: {name} must be a positive whole number; "
                                 f"got {value!r}")
        if s["min_ssids"] < 2:
            raise ValueError(f"rule karma: min_ssids must be at least 2 (one name per access "
                             f"point is normal); got {s['min_ssids']!r}")
        if s["ssids_per_bssid"] < s["min_ssids"]:
            raise ValueError(f"rule karma: ssids_per_bssid ({s['ssids_per_bssid']}) must be at "
                             f"least min_ssids ({s['min_ssids']}), or the rule could never fire")
        window = s["window_s"]
        if (isinstance(window, bool) or not isinstance(window, (int, float))
                or not 0 < window < float("inf")):
            raise ValueError(f"rule karma: window_s must be a positive number of seconds; "
                             f"got {window!r}")
        self._min = s["min_ssids"]
        self._cap = s["ssids_per_bssid"]
        self._window_ns = int(window * NS)
        # bssid -> [raw SSID, key or None (not computed yet), last heard ns, client hash or None]
        self._single: BoundedDict[bytes, list] = BoundedDict(s["max_tracked"])
        self._suspects: BoundedDict[bytes, _Suspect] = BoundedDict(s["max_suspects"])
        self._keys: dict[bytes, str] = {}

    # -- hot path ---------------------------------------------------------------
    def on_frame(self, frame: Frame) -> Finding | None:
        elements = frame.elements
        if elements is None:
            return None
        raw = elements.ssid
        if not raw or (raw[0] == 0 and not raw.strip(b"\0")):   # hidden: no name
            return None
        bssid = frame.addr3 or frame.addr2
        if bssid is None:
            return None
        now = frame.ts_ns
        suspect = self._suspects.get(bssid)
        if suspect is not None:
            return self._update(suspect, bssid, raw, frame)
        entry = self._single.get(bssid)
        if entry is None:
            self._single[bssid] = [raw, None, now, self._client(frame)]
            return None
        if entry[0] == raw:                                   # the usual case: same name again
            entry[2] = now
            if frame.kind == PROBE_RESP:
                entry[3] = self._client(frame)
            return None
        key = self._key(raw)
        old_key = entry[1]
        if old_key is None:
            old_key = entry[1] = self._key(entry[0])
        if key == old_key or now - entry[2] > self._window_ns:
            entry[0], entry[1], entry[2] = raw, key, now        # related name, or a rename
            if frame.kind == PROBE_RESP:
                entry[3] = self._client(frame)
            return None
        # A second unrelated name within the window: follow this BSSID closely.
        del self._single[bssid]
        suspect = _Suspect()
        suspect.names[old_key] = [entry[2], entry[0]]
        if entry[3] is not None:
            suspect.clients.add(entry[3])
        self._suspects[bssid] = suspect
        return self._update(suspect, bssid, raw, frame, key)

    @staticmethod
    def _client(frame: Frame) -> int | None:
        """A keyed hash of the receiver of a unicast probe response (never the address)."""
        addr1 = frame.addr1
        if frame.kind != PROBE_RESP or addr1 is None or addr1[0] & 1:
            return None
        return hash(addr1)

    def _key(self, raw: bytes) -> str:
        keys = self._keys
        key = keys.get(raw)
        if key is None:
            if len(keys) >= _KEY_CACHE_CAP:
                keys.clear()
            key = keys[raw] = ssid_key(raw)
        return key

    def _update(self, suspect: _Suspect, bssid: bytes, raw: bytes, frame: Frame,
                key: str | None = None) -> Finding | None:
        now = frame.ts_ns
        if key is None:
            key = self._key(raw)
        self._suspects.touch(bssid)
        if frame.kind == PROBE_RESP:
            suspect.probe_responses += 1
            client = self._client(frame)
            if client is not None and len(suspect.clients) < _CLIENTS_CAP:
                suspect.clients.add(client)
        else:
            suspect.beacons += 1
        names = suspect.names
        item = names.get(key)
        if item is not None:
            if now > item[0]:
                item[0] = now
            item[1] = raw
            names.move_to_end(key)
        else:
            names[key] = [now, raw]
            if len(names) > self._cap:
                names.popitem(last=False)
                suspect.capped = True
        self._expire(suspect, now)
        if len(names) == 1:                                   # the other names went quiet
            del self._suspects[bssid]
            self._single[bssid] = [raw, key, now, self._client(frame)]
            return None
        if len(names) < self._min:
            return None
        last = suspect.last_report_ns
        if last is not None and 0 <= now - last < _REPEAT_NS:
            return None
        suspect.last_report_ns = now
        return self._finding(frame, bssid, suspect)

    def _expire(self, suspect: _Suspect, now: int) -> None:
        """Forget names not heard within the window. Names evicted by the cap
        were older still, so once one name expires the count is exact again."""
        names = suspect.names
        horizon = now - self._window_ns
        while names:
            oldest = next(iter(names.values()))
            if oldest[0] >= horizon:
                return
            names.popitem(last=False)
            suspect.capped = False

    # -- the finding ----------------------------------------------------------------
    def _finding(self, frame: Frame, bssid: bytes, suspect: _Suspect) -> Finding:
        registry = self.ctx.registry
        raws = [item[1] for item in suspect.names.values()]
        shown = [printable_ssid(raw) for raw in raws]
        registered = [printable_ssid(raw) for raw in raws if registry.networks_for_ssid(raw)]
        count = len(raws)
        count_text = f"at least {count}" if suspect.capped else str(count)
        freq = operating_frequency(frame)
        ap = registry.ap_for_bssid(bssid)
        if ap is not None:
            who = (f"A device using the address of the "
                   f"{city_ap_phrase(ap, bssid, ap.network.ssid, with_channel=False)}")
        else:
            who = f"A device at {mac_text(bssid)}"
        others = [name for name in shown if name not in registered]
        examples = ", ".join(f'"{name}"' for name in others[:_MESSAGE_SSIDS])
        if len(others) > _MESSAGE_SSIDS:
            examples += ", ..."
        if examples:
            examples = f" ({examples})"
        including = ""
        if registered:
            listed = " and ".join(f'"{name}"' for name in registered[:2])
            including = f", including the city network{'s' if len(registered) > 1 else ''} {listed}"
        message = (f"{who} on {channel_label(freq)} posed as {count_text} different Wi-Fi "
                   f"networks within {_window_text(self.settings['window_s'])}{examples}"
                   f"{including}; such a device pretends to be any network a phone remembers "
                   f"(a KARMA attack), so phones join it automatically and their traffic can "
                   f"be intercepted.")
        evidence = {
            "ssid_count": count,
            "ssid_count_is_minimum": suspect.capped,
            "ssids": shown[:_EVIDENCE_SSIDS],
            "registered_ssids": registered,
            "answered_registered_ssid": bool(registered),
            "registered_bssid": ap is not None,
            "clients_answered": len(suspect.clients),
            "probe_responses": suspect.probe_responses,
            "beacons": suspect.beacons,
            "window_s": self.settings["window_s"],
            "min_ssids": self._min,
            "frame_kind": frame.kind,
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=None,
                       bssid=bssid, freq_mhz=freq, evidence=evidence)
