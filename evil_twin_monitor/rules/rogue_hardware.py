"""rogue_hardware: frames built by a known attack device or tool.

Theory of operation
-------------------
Attack: off-the-shelf rogue-AP hardware and attack software (the Hak5 WiFi
Pineapple, the ESP8266 Deauther and ESP32 Marauder firmwares, mdk3/mdk4,
airbase-ng, wifiphisher, a Pwnagotchi, hand-made scapy scripts). Such a device
is not necessarily impersonating the city yet, but nobody runs one near a
public hotspot for a good reason.

Signal: the table `SIGNATURES` below, the one place where signatures live.
Each record says what it matches, what the match means to a person (`claim`)
and the public fact it rests on (`why`). Two families:

- *what the device says it is*: an address prefix, a factory SSID or WPS
  name, a private element id;
- *how the tool builds its frames*: values no real access point sends. Real
  APs let the radio hardware fill in the beacon timestamp (TSF, a microsecond
  clock that always advances) and the sequence number, and their software
  always writes the SSID, Supported Rates and TIM elements. Tools that build
  beacons byte by byte leave template values there (a fixed timestamp, zero)
  or leave elements out.

Matchers (``field``; ``pattern`` syntax):

- ``oui`` ``'aa:bb:cc'``: the first three octets of the BSSID (addr3) of any
  management frame, or of the transmitter (addr2) of frames an AP sends
  (beacons, probe responses, frames whose transmitter is the BSSID). A
  client's own address is never matched nor reported: it is a person's
  device (the all-zero address is "no address", never matched);
- ``ssid`` regular expression: the whole SSID (octets) of beacons and probe
  responses;
- ``wps`` substring: case-insensitive, in the WPS manufacturer, model or
  device name of beacons and probe responses;
- ``vendor_oui`` ``'aa:bb:cc'``: a vendor-specific element with that OUI in
  beacons and probe responses;
- ``element_id`` ``'222'``: an element with that id in beacons and probe
  responses;
- ``channel`` ``'0,234-255'``: the DS Parameter Set or HT Operation channel
  of beacons and probe responses is one of these numbers;
- ``fixed`` ``'tsf=0,seq=0'``: beacons whose fixed fields all have these
  values (names: ``tsf``, ``seq``, ``beacon_interval``; decimal or 0x hex).
  Beacons only: some real devices answer probes with timestamp 0;
- ``missing`` ``'5|6'``: beacons that carry none of these element ids
  (beacons whose element list is malformed are not judged);
- ``frozen`` ``'tsf'`` or ``'seq'`` (built in only): one transmitter's
  beacons repeat the same timestamp, or the same sequence number,
  ``frozen_beacons`` times in a row. A duplicate (same timestamp and sequence
  number within 10 ms: one frame received twice) does not count.

SSID, WPS and element signatures are read from AP frames only: a client's
probe request carries the names of networks it *looks for* and the owner's
device name, which say nothing about the sender being an attack tool.

Settings: ``disabled`` switches signatures off by id. ``extra_ouis`` adds
address prefixes (``"aa:bb:cc"``). ``extra_signatures`` adds signatures of
the pattern kinds: a list of ``{id, field, pattern, why}`` mappings (and an
optional ``claim``, the phrase the alert uses), ``field`` one of ``oui``,
``ssid``, ``wps``, ``vendor_oui``, ``element_id``, ``channel``, ``fixed``,
``missing``. For example, in sensor.yaml::

    rules:
      rogue_hardware:
        disabled: [frozen-sequence]
        extra_signatures:
          - id: lab-beacon-spammer
            field: fixed
            pattern: "tsf=0x1234,beacon_interval=100"
            why: "Our red team's beacon spammer writes this timestamp."

Everything is checked when the rule is built: a bad value is a ValueError
that names the setting and the entry. ``frozen_beacons`` (default 4) is how
many beacons in a row make a standing clock; ``flood_devices`` and
``flood_window_s`` bound the alerts (below); ``max_tracked`` caps every table.

Hot path: the rule is not memoizable (the frozen signatures must see every
beacon, and the engine's memo would skip the repeats), so it keeps its own
bounded caches: one dict lookup per address (verdict cached per address), one
per element region (verdict cached per raw element bytes, separately for
beacons and probe responses), three set-membership tests for the fixed fields
and one small list per beaconing transmitter, updated in place. A clean frame
allocates nothing; the details of a match are gathered only for frames that
match (`_report`). Measured in bench/: about 0.7 us per management frame in
the rule plus about 0.5 us of engine dispatch for a non-memoizable rule.

Severity: critical. Thresholds: one frame is proof enough, except for the
``frozen`` signatures (``frozen_beacons`` beacons). When several signatures
match, the first in table order is reported and the others are listed in the
evidence (``also_matched``).

Alerts: one per device. The alert keeps the SSID the device advertised when it
was first reported, so a tool that rotates SSIDs from one address raises one
alert, not one per SSID. Flood tools change their address with every frame
(mdk4, Marauder's random beacon spam): at most ``flood_devices`` devices per
signature are reported one by one within ``flood_window_s``; after that one
summary alert (no BSSID, no SSID) stands for the rest, so a flood cannot use
up the engine's open-alert budget and hide other alerts.

Blind spots: every signature is a default the attacker can change (the
Pineapple's MAC address, a firmware's template). Tools that drive a normal
access point daemon (hostapd-mana, wifiphisher's rogue AP, the Pineapple
itself) send beacons that are built like a real AP's: only their names and
addresses give them away, and the karma rule catches what they do. Radios that
rewrite the timestamp or sequence number of injected frames hide those
signatures. OUI 00:13:37 is also registered by IEEE to a small
consumer-electronics maker, and 00:00:00 to Xerox; ordinary devices using them
would be false alerts (none is known to be common); so would an AP whose
firmware leaves the beacon sequence number constant (none is known: disable
``frozen-sequence`` if one turns up). A capture cut short by a small snapshot
length exactly at an element boundary can look like a beacon without TIM (the
live sensor captures whole frames). A tool that sends the same frame faster
than every 10 ms is counted once per 10 ms (the rest could be duplicates), so
a frozen clock then takes a little longer to show. The flood summary alert is
one per sensor: floods matching different signatures share it.
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
_HAND_MADE = ("sends beacons that no real access point sends ({what}): they are built by an "
              "attack tool")


@dataclass(frozen=True)
class Signature:
    """One attack-device signature: what it matches, and why it is here."""

    id: str
    field: str        # one of FIELDS
    pattern: str      # the matcher's pattern, in the syntax of the module docstring
    claim: str        # the message's verb phrase: what the match means to a person
    description: str  # what the signature is, for the evidence
    why: str          # public knowledge behind it


SIGNATURES: tuple[Signature, ...] = (
    # -- what the device says it is ------------------------------------------
    Signature(
        "hak5-pineapple-oui", "oui", "00:13:37", _PINEAPPLE,
        "Address prefix 00:13:37, used by the Hak5 WiFi Pineapple",
        "WiFi Pineapple units ship with MAC addresses in 00:13:37 (widely "
        "reported; the design notes name it). IEEE lists the prefix for a "
        "small maker whose products are rarely seen, so false alerts are rare."),
    Signature(
        "wifiphisher-oui", "oui", "00:00:00",
        "uses the address prefix 00:00:00 that wifiphisher, a tool for stealing Wi-Fi "
        "passwords with a fake access point, gives its devices",
        "Address prefix 00:00:00, wifiphisher's default for its rogue access point",
        "wifiphisher randomises the MAC address of its rogue AP and of its "
        "monitor interface unless told not to, keeping the first three octets "
        "00:00:00 (wifiphisher/common/constants.py DEFAULT_OUI, used by "
        "generate_random_address in common/interfaces.py). The prefix belongs to "
        "an old Ethernet block; the all-zero address itself is never matched."),
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
    Signature(
        "pwnagotchi-element", "element_id", "222",
        "identifies itself like a Pwnagotchi, a gadget that collects Wi-Fi password "
        "handshakes for cracking",
        "Element 222, which carries a Pwnagotchi's advertisement",
        "A Pwnagotchi announces itself to its peers in beacons from "
        "de:ad:be:ef:de:ad whose payload travels in elements 222 to 226 "
        "(evilsocket/pwngrid wifi/defines.go and wifi/pack.go). In 802.11 these "
        "ids belong to sub-1 GHz (802.11ah) elements, which a 2.4/5/6 GHz "
        "beacon never carries."),
    Signature(
        "esp-beacon-spam-timestamp", "fixed", "tsf=0x0f8ff75183",
        "sends beacons built by ESP8266 Deauther or ESP32 Marauder firmware, tools made "
        "for spamming fake Wi-Fi networks and knocking people off real ones",
        "Beacon timestamp 0x0f8ff75183, fixed in the ESP Deauther/Marauder beacon template",
        "The beacon templates of spacehuhn esp8266_deauther (Attack.h, "
        "attack_beacon.h) and justcallmekoko ESP32Marauder (WiFiScan.h) carry "
        "this fixed timestamp, which the firmware never updates; a real "
        "AP's clock passes that value for one microsecond about 18.6 hours "
        "after it starts."),
    # -- values no real access point sends -----------------------------------
    Signature(
        "scapy-default-beacon", "fixed", "tsf=0,seq=0",
        _HAND_MADE.format(what="timestamp and sequence number both zero"),
        "Beacon with timestamp 0 and sequence number 0, the packet builders' defaults",
        "scapy's Dot11Beacon starts the timestamp at 0 and Dot11 the sequence "
        "control at 0 (scapy/layers/dot11.py); gopacket's beacon layers do "
        "the same (used by evilsocket/pwngrid), and wifiphisher's Known Beacons "
        "(extensions/knownbeacons.py) sends such frames. A real AP's radio "
        "writes its running clock into every beacon. Seen in a public capture "
        "(HEIGVD-SWI23 lab, ex_1_2.pcapng): 428 forged beacons, all with "
        "timestamp 0 and sequence 0."),
    Signature(
        "beacon-interval-zero", "fixed", "beacon_interval=0",
        _HAND_MADE.format(what="a beacon interval of 0"),
        "Beacon interval 0 time units",
        "802.11 defines the beacon period as 1 to 65535 time units (noted in "
        "hostapd's config_file.c, which refuses anything below 15): no AP can "
        "beacon every 0 units, only a hand-built frame says so."),
    Signature(
        "channel-impossible", "channel", "0,234-255",
        "announces a channel number that exists in no Wi-Fi band, which only hand-made "
        "frames do",
        "DS Parameter Set or HT Operation channel 0 or 234-255",
        "Channel numbers run 1-14 at 2.4 GHz, up to 196 at 4.9/5 GHz and up "
        "to 233 at 6 GHz; 0 and 234-255 exist nowhere. mdk3/mdk4's beacon "
        "flood writes any 8-bit value its -c option is given into the DS "
        "element (aircrack-ng/mdk4 attacks/beacon_flood.c and packet.c)."),
    Signature(
        "beacon-without-ssid", "missing", "0",
        _HAND_MADE.format(what="no SSID element"),
        "Beacon without an SSID element",
        "Every AP's beacon carries an SSID element; a hidden network sends it "
        "empty or zero-filled. A Pwnagotchi's beacons carry only its own "
        "elements 222-226 (evilsocket/pwngrid wifi/pack.go)."),
    Signature(
        "beacon-without-rates", "missing", "1",
        _HAND_MADE.format(what="no Supported Rates element"),
        "Beacon without a Supported Rates element",
        "An AP must announce its basic rates for clients to join. Hand-made "
        "scapy beacons often leave the element out (public examples: "
        "T-Spoon/evil-ap-tracker fake_beacon.py sends SSID and RSN only), and so "
        "does pwngrid; the forged beacons in the HEIGVD-SWI23 lab capture have "
        "no rates at all."),
    Signature(
        "beacon-without-tim", "missing", "5|6",
        _HAND_MADE.format(what="no TIM element"),
        "Beacon with neither a TIM nor an IBSS Parameter Set element",
        "Every AP (and mesh) beacon carries a TIM, which sleeping clients "
        "depend on; ad-hoc beacons carry an IBSS Parameter Set instead. The "
        "beacon builders of mdk4 (packet.c create_beacon), airbase-ng "
        "(airbase-ng.c beacon_thread), esp8266_deauther (attack_beacon.h) and "
        "ESP32Marauder (WiFiScan.cpp) and wifiphisher's Known Beacons write SSID, "
        "rates and channel but no TIM."),
    # -- behaviour no real radio shows (per transmitter) --------------------
    Signature(
        "frozen-timestamp", "frozen", "tsf",
        "sends beacons whose clock (timestamp) stands still, which a real access point's "
        "radio never does: they are replayed or hand-made by an attack tool",
        "Consecutive beacons with the same timestamp",
        "A beacon's timestamp is the AP's microsecond clock when the beacon "
        "leaves the radio, so it grows by the beacon interval from one beacon "
        "to the next. Tools that send a prepared frame over and over repeat "
        "theirs: the ESP Deauther/Marauder template value, zero from scapy, "
        "and the fixed bytes of wertarbyte/blighthouse (lighthouse.c)."),
    Signature(
        "frozen-sequence", "frozen", "seq",
        "sends beacons whose sequence number never changes, which a real access point "
        "never does: they are replayed or hand-made by an attack tool",
        "Consecutive beacons with the same sequence number",
        "An AP numbers every frame it sends. ESP32Marauder sends its beacons "
        "with the ESP-IDF option that leaves the template's sequence number "
        "unchanged (esp_wifi_80211_tx en_sys_seq=false, per Espressif's API "
        "documentation); scapy-made beacons keep 0 unless the driver rewrites it."),
)

FIELDS = ("oui", "ssid", "wps", "vendor_oui", "element_id", "channel", "fixed", "missing",
          "frozen")
EXTRA_FIELDS = FIELDS[:-1]            # 'frozen' has no pattern worth adding
SIGNATURE_IDS = frozenset(sig.id for sig in SIGNATURES)
_ALL_MGMT = frozenset({ASSOC_REQ, ASSOC_RESP, REASSOC_REQ, REASSOC_RESP, PROBE_REQ,
                       PROBE_RESP, BEACON, DISASSOC, AUTH, DEAUTH, ACTION})
_ZERO = bytes(6)
_OUI_TEXT = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}", re.IGNORECASE)
_ID_TEXT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_WPS_FIELDS = ("manufacturer", "model_name", "model_number", "device_name")
_FIXED_LIMITS = {"tsf": 2 ** 64, "seq": 4096, "beacon_interval": 65536}
_EXTRA_KEYS = ("id", "field", "pattern", "why", "claim")
_DUPLICATE_NS = 10_000_000            # same frame received twice: within 10 ms


def _sent_by_ap(frame: Frame) -> bool:
    """Frames an access point (or a device posing as one) sends: its address may
    be shown. A client's own address (probe requests, association and
    authentication requests) is personal data and is never matched or reported."""
    return frame.kind == BEACON or frame.kind == PROBE_RESP or frame.addr2 == frame.addr3
_MISS = object()

# A hit: (priority, signature, matched field, shown value). Priority is the
# signature's place in the active table, so the first hit is the one reported.
_Hit = tuple[int, Signature, str, str]


def parse_oui(text: Any, setting: str = "extra_ouis value") -> bytes:
    """'00:13:37' (or '00-13-37') -> 3 bytes; ValueError naming the value."""
    if not isinstance(text, str) or not _OUI_TEXT.fullmatch(text):
        raise ValueError(f"rule rogue_hardware: {setting} {text!r} is not an address "
                         f"prefix like 'aa:bb:cc'")
    return bytes.fromhex(text.replace("-", "").replace(":", ""))


def _number(text: str, low: int, limit: int) -> int:
    """A decimal or 0x-hex integer in [low, limit); ValueError (bare) otherwise."""
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not low <= value < limit:
        raise ValueError(f"{value} is outside {low}..{limit - 1}")
    return value


def _numbers(pattern: str, low: int, limit: int, sep: str) -> frozenset[int]:
    """'0,234-255' -> the set of numbers; '5|6' with sep='|'."""
    out: set[int] = set()
    for part in pattern.split(sep):
        first, dash, last = part.strip().partition("-")
        lo = _number(first, low, limit)
        hi = _number(last, low, limit) if dash else lo
        if hi < lo:
            raise ValueError(f"range {part.strip()!r} runs backwards")
        out.update(range(lo, hi + 1))
    return frozenset(out)


def _fixed(pattern: str) -> tuple[tuple[str, int], ...]:
    """'tsf=0,seq=0' -> (('tsf', 0), ('seq', 0))."""
    conditions = []
    for part in pattern.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq or name not in _FIXED_LIMITS:
            raise ValueError(f"{part.strip()!r} is not name=value with a name in "
                             f"{', '.join(_FIXED_LIMITS)}")
        conditions.append((name, _number(value, 0, _FIXED_LIMITS[name])))
    if len({name for name, _ in conditions}) != len(conditions):
        raise ValueError("a field is named twice")
    return tuple(conditions)


def compile_pattern(field: str, pattern: Any) -> Any:
    """The matcher for one signature; a bare ValueError says what is wrong."""
    if field in ("element_id", "channel", "missing") and isinstance(pattern, int) \
            and not isinstance(pattern, bool):
        pattern = str(pattern)              # YAML reads `pattern: 222` as a number
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("pattern must be a non-empty string")
    if field in ("oui", "vendor_oui"):
        if not _OUI_TEXT.fullmatch(pattern):
            raise ValueError(f"{pattern!r} is not an address prefix like 'aa:bb:cc'")
        return bytes.fromhex(pattern.replace("-", "").replace(":", ""))
    if field == "ssid":
        try:
            return re.compile(pattern.encode("utf-8"))
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
    if field == "wps":
        return pattern.casefold()
    if field == "element_id":
        return _number(pattern, 0, 256)
    if field == "channel":
        return _numbers(pattern, 0, 256, ",")
    if field == "missing":
        return _numbers(pattern, 0, 256, "|")
    if field == "fixed":
        return _fixed(pattern)
    if field == "frozen":
        if pattern not in ("tsf", "seq"):
            raise ValueError("pattern must be 'tsf' or 'seq'")
        return pattern
    raise ValueError(f"unknown field {field!r}; valid: {', '.join(EXTRA_FIELDS)}")


def extra_signature(index: int, entry: Any) -> Signature:
    """One ``extra_signatures`` entry -> a `Signature`; ValueError naming the entry."""
    where = f"rule rogue_hardware: extra_signatures[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a mapping with {', '.join(_EXTRA_KEYS[:4])}; "
                         f"got {entry!r}")
    sig_id = entry.get("id")
    if isinstance(sig_id, str):
        where += f" ({sig_id})"
    unknown = sorted(str(key) for key in entry if key not in _EXTRA_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(_EXTRA_KEYS)}")
    missing = [key for key in _EXTRA_KEYS[:4] if key not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(sig_id, str) or not _ID_TEXT.fullmatch(sig_id):
        raise ValueError(f"{where}: id {sig_id!r} must be lowercase letters, digits and '-'")
    if sig_id in SIGNATURE_IDS:
        raise ValueError(f"{where}: id {sig_id!r} is a built-in signature (use another id)")
    field = entry["field"]
    if field not in EXTRA_FIELDS:
        raise ValueError(f"{where}: field {field!r} is not one of {', '.join(EXTRA_FIELDS)}")
    try:
        compile_pattern(field, entry["pattern"])
    except ValueError as exc:
        raise ValueError(f"{where}: pattern: {exc}") from None
    why, claim = entry["why"], entry.get("claim")
    if not isinstance(why, str) or not why.strip():
        raise ValueError(f"{where}: why must say, in words, why the pattern means an attack tool")
    if claim is not None and (not isinstance(claim, str) or not claim.strip()):
        raise ValueError(f"{where}: claim must be a non-empty phrase")
    pattern = str(entry["pattern"])
    return Signature(
        sig_id, field, pattern,
        claim.strip() if claim else (f"matches the attack-tool signature '{sig_id}' that "
                                     f"this sensor's configuration lists"),
        f"{field} {pattern} (sensor configuration, extra_signatures)", why.strip())


def _positive(settings: Mapping[str, Any], key: str, minimum: int) -> int:
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"rule rogue_hardware: {key} must be a number of at least {minimum}; "
                         f"got {value!r}")
    return int(value)


class RogueHardware(Rule):
    """Frames from a device that identifies itself as, or is built like, an attack tool."""

    id = "rogue_hardware"
    kinds = _ALL_MGMT
    memoizable = False      # the frozen signatures keep per-transmitter state
    severity = "critical"
    DEFAULTS = {
        "extra_ouis": [],         # more attack-device address prefixes, 'aa:bb:cc'
        "extra_signatures": [],   # [{id, field, pattern, why, claim?}], see the docstring
        "disabled": [],           # signature ids to switch off
        "frozen_beacons": 4,      # beacons in a row with one timestamp / sequence number
        "flood_devices": 5,       # devices per signature alerted one by one per window ...
        "flood_window_s": 300,    # ... then one summary alert for the rest
        "max_tracked": 4096,      # cached verdicts, transmitters followed, devices reported
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        s = self.settings
        for key in ("extra_ouis", "extra_signatures", "disabled"):
            if not isinstance(s[key], (list, tuple)):
                raise ValueError(f"rule rogue_hardware: {key} must be a list; got {s[key]!r}")
        extras = [extra_signature(i, entry) for i, entry in enumerate(s["extra_signatures"])]
        seen: set[str] = set()
        for sig in extras:
            if sig.id in seen:
                raise ValueError(f"rule rogue_hardware: extra_signatures: id {sig.id!r} is "
                                 f"given twice")
            seen.add(sig.id)
        for text in s["extra_ouis"]:
            oui = parse_oui(text).hex(":")
            extras.append(Signature(
                f"extra-oui:{oui}", "oui", oui,
                f"uses an address prefix ({oui}) that this sensor's configuration lists "
                f"as an attack device",
                f"Address prefix {oui} from the sensor configuration (extra_ouis)",
                "Listed by the operator."))
        known = SIGNATURE_IDS | seen
        disabled = set(s["disabled"])
        unknown = disabled - known
        if unknown:
            raise ValueError(f"rule rogue_hardware: unknown signature id(s) in disabled: "
                             f"{sorted(map(str, unknown))}; valid: {sorted(known)}")
        self.frozen_beacons = _positive(s, "frozen_beacons", 2)
        self.flood_devices = _positive(s, "flood_devices", 1)
        self._flood_window_ns = _positive(s, "flood_window_s", 1) * 1_000_000_000
        cap = _positive(s, "max_tracked", 1)
        self.active = tuple(sig for sig in SIGNATURES + tuple(extras) if sig.id not in disabled)
        self._compile(self.active)

        self._by_addr: BoundedDict[bytes, _Hit | None] = BoundedDict(cap)
        # Element verdicts (every hit, in order), per raw element bytes.
        self._by_raw_beacon: BoundedDict[bytes, tuple[_Hit, ...]] = BoundedDict(cap)
        self._by_raw_probe: BoundedDict[bytes, tuple[_Hit, ...]] = BoundedDict(cap)
        # Per beaconing transmitter: [tsf, seq, ts_ns, tsf run, seq run].
        self._clock: BoundedDict[bytes, list[int]] = BoundedDict(cap)
        # Bound lookups for the hot path.
        self._addr_get = self._by_addr.get
        self._beacon_get = self._by_raw_beacon.get
        self._probe_get = self._by_raw_probe.get
        self._clock_get = self._clock.get
        self._tsf_keys = frozenset(self._fixed_tsf)
        self._seq_keys = frozenset(self._fixed_seq)
        self._interval_keys = frozenset(self._fixed_interval)
        # Devices reported one by one -> the SSID of their first alert.
        self._reported: BoundedDict[bytes, bytes | None] = BoundedDict(cap)
        # Per signature id: [window start ns, devices reported in the window].
        self._flood: dict[str, list[int]] = {}

    def _compile(self, active: tuple[Signature, ...]) -> None:
        """Sort the active signatures into one lookup structure per matcher."""
        self._ouis: dict[bytes, _Hit] = {}
        self._ssids: list[tuple[int, Signature, Any]] = []
        self._wps: list[tuple[int, Signature, str]] = []
        self._vendor: list[tuple[int, Signature, bytes]] = []
        self._element_ids: list[tuple[int, Signature, int]] = []
        self._channels: list[tuple[int, Signature, frozenset[int]]] = []
        self._missing: list[tuple[int, Signature, frozenset[int]]] = []
        # Fixed-field signatures, indexed by their first condition's field and value.
        self._fixed: dict[str, dict[int, list[tuple[int, Signature, tuple]]]] = {
            name: {} for name in _FIXED_LIMITS}
        self._frozen: dict[str, tuple[int, Signature]] = {}
        for rank, sig in enumerate(active):
            matcher = compile_pattern(sig.field, sig.pattern)
            if sig.field == "oui":
                self._ouis.setdefault(matcher, (rank, sig, "", sig.pattern))
            elif sig.field == "ssid":
                self._ssids.append((rank, sig, matcher))
            elif sig.field == "wps":
                self._wps.append((rank, sig, matcher))
            elif sig.field == "vendor_oui":
                self._vendor.append((rank, sig, matcher))
            elif sig.field == "element_id":
                self._element_ids.append((rank, sig, matcher))
            elif sig.field == "channel":
                self._channels.append((rank, sig, matcher))
            elif sig.field == "missing":
                self._missing.append((rank, sig, matcher))
            elif sig.field == "fixed":
                name, value = matcher[0]
                self._fixed[name].setdefault(value, []).append((rank, sig, matcher))
            else:
                self._frozen.setdefault(matcher, (rank, sig))
        self._fixed_tsf = self._fixed["tsf"]
        self._fixed_seq = self._fixed["seq"]
        self._fixed_interval = self._fixed["beacon_interval"]

    # -- verdicts ---------------------------------------------------------------
    def _addr_hit(self, addr: bytes) -> _Hit | None:
        """The address signature of one address, cached."""
        hit = self._by_addr.get(addr, _MISS)
        if hit is _MISS:
            hit = self._ouis.get(addr[:3]) if addr != BROADCAST and addr != _ZERO else None
            self._by_addr[addr] = hit
        return hit  # type: ignore[return-value]

    def _element_hits(self, frame: Frame, beacon: bool) -> tuple[_Hit, ...]:
        """Every element hit of an AP frame, cached per raw element bytes."""
        el = frame.elements
        cache = self._by_raw_beacon if beacon else self._by_raw_probe
        hits = cache.get(el.raw)  # type: ignore[union-attr]
        if hits is None:
            hits = self._judge_elements(el, beacon)
            cache[el.raw] = hits  # type: ignore[union-attr]
        return hits

    def _judge_elements(self, el: Any, beacon: bool) -> tuple[_Hit, ...]:
        """What the element list says: names, elements, channels, absences."""
        hits: list[_Hit] = []
        ssid = el.ssid
        if ssid:
            for rank, sig, regex in self._ssids:
                if regex.fullmatch(ssid):
                    hits.append((rank, sig, "ssid", printable_ssid(ssid)))
                    break
        wps = el.wps
        if wps and self._wps:
            for key in _WPS_FIELDS:
                value = wps.get(key)
                if not value:
                    continue
                folded = value.casefold()
                hit = next((h for h in self._wps if h[2] in folded), None)
                if hit is not None:
                    hits.append((hit[0], hit[1], f"wps.{key}", value))
                    break
        for rank, sig, oui in self._vendor:
            if oui in el.vendor_ouis:
                hits.append((rank, sig, "vendor_oui", oui.hex(":")))
        ids = el.ids
        for rank, sig, eid in self._element_ids:
            if eid in ids:
                hits.append((rank, sig, "element_id", str(eid)))
        for channel, name in ((el.ds_channel, "ds_channel"), (el.ht_primary, "ht_channel")):
            if channel is not None:
                for rank, sig, numbers in self._channels:
                    if channel in numbers:
                        hits.append((rank, sig, name, str(channel)))
                        break
        if beacon and el.malformed is None:
            present = set(ids)
            for rank, sig, absent in self._missing:
                if present.isdisjoint(absent):
                    hits.append((rank, sig, "missing_elements",
                                 "|".join(str(i) for i in sorted(absent))))
        hits.sort(key=lambda hit: hit[0])
        return tuple(hits)

    def _fixed_hits(self, frame: Frame) -> list[_Hit]:
        """The fixed-field signatures whose every condition holds for this beacon."""
        hits: list[_Hit] = []
        for table, value in ((self._fixed_tsf, frame.tsf), (self._fixed_seq, frame.seq),
                             (self._fixed_interval, frame.beacon_interval)):
            candidates = table.get(value) if table else None  # type: ignore[arg-type]
            if candidates:
                for rank, sig, conditions in candidates:
                    if all(getattr(frame, name) == want for name, want in conditions):
                        hits.append((rank, sig, "fixed", sig.pattern))
        return hits

    def _clock_step(self, state: list[int], tsf: int, seq: int, ts: int) -> list[_Hit] | None:
        """One beacon that repeats its transmitter's timestamp or sequence number:
        skip a duplicate (one frame received twice), else lengthen the runs."""
        if tsf == state[0] and seq == state[1] and -_DUPLICATE_NS < ts - state[2] < _DUPLICATE_NS:
            return None
        tsf_run = state[3] + 1 if tsf == state[0] else 1
        seq_run = state[4] + 1 if seq == state[1] else 1
        state[0], state[1], state[2], state[3], state[4] = tsf, seq, ts, tsf_run, seq_run
        if tsf_run < self.frozen_beacons and seq_run < self.frozen_beacons:
            return None
        return self._clock_hits(tsf, seq, tsf_run, seq_run)

    def _clock_hits(self, tsf: int, seq: int, tsf_run: int, seq_run: int) -> list[_Hit]:
        """The frozen signatures whose run is long enough."""
        hits: list[_Hit] = []
        for name, run, value in (("tsf", tsf_run, tsf), ("seq", seq_run, seq)):
            entry = self._frozen.get(name)
            if entry is not None and run >= self.frozen_beacons:
                hits.append((entry[0], entry[1], f"frozen_{name}", f"{value} x {run}"))
        return hits

    # -- hot path ---------------------------------------------------------------
    def on_frame(self, frame: Frame) -> Finding | None:
        """A few cached lookups decide that a frame is clean; `_report` gathers the
        details only for the rare frame that is not."""
        suspicious = False
        device = frame.addr2
        if device is not None and _sent_by_ap(frame):
            hit = self._addr_get(device, _MISS)
            if hit is _MISS:
                hit = self._addr_hit(device)
            if hit is not None:
                suspicious = True
        bssid = frame.addr3
        if bssid is not None and bssid != device:
            hit = self._addr_get(bssid, _MISS)
            if hit is _MISS:
                hit = self._addr_hit(bssid)
            if hit is not None:
                suspicious = True
        clock: list[_Hit] | None = None
        kind = frame.kind
        if kind == BEACON:
            el = frame.elements
            if el is not None:
                hits = self._beacon_get(el.raw)
                if hits is None:
                    hits = self._element_hits(frame, True)
                if hits:
                    suspicious = True
            if (frame.tsf in self._tsf_keys or frame.seq in self._seq_keys
                    or frame.beacon_interval in self._interval_keys):
                suspicious = True
            tsf, seq = frame.tsf, frame.seq
            if self._frozen and device is not None and tsf is not None and seq is not None:
                # Per transmitter: [tsf, seq, ts_ns, tsf run, seq run].
                state = self._clock_get(device)
                if state is None:
                    self._clock[device] = [tsf, seq, frame.ts_ns, 1, 1]
                elif tsf != state[0] and seq != state[1]:     # a real radio: both moved on
                    state[0] = tsf
                    state[1] = seq
                    state[2] = frame.ts_ns
                    state[3] = state[4] = 1
                else:
                    clock = self._clock_step(state, tsf, seq, frame.ts_ns)
                    if clock:
                        suspicious = True
        elif kind == PROBE_RESP:
            el = frame.elements
            if el is not None:
                hits = self._probe_get(el.raw)
                if hits is None:
                    hits = self._element_hits(frame, False)
                if hits:
                    suspicious = True
        if not suspicious:
            return None
        return self._report(frame, clock)

    def _report(self, frame: Frame, clock: list[_Hit] | None) -> Finding | None:
        """Every hit of a suspicious frame, in table order, as one finding."""
        hits: list[_Hit] = []
        device, bssid = frame.addr2, frame.addr3
        if device is not None and _sent_by_ap(frame):
            hit = self._addr_hit(device)
            if hit is not None:
                hits.append((hit[0], hit[1], "transmitter_oui", hit[3]))
        if not hits and bssid is not None and bssid != device:
            hit = self._addr_hit(bssid)
            if hit is not None:
                hits.append((hit[0], hit[1], "bssid_oui", hit[3]))
        if not _sent_by_ap(frame):
            device = bssid                     # never a client's own address (privacy)
        if frame.elements is not None and (frame.kind == BEACON or frame.kind == PROBE_RESP):
            hits.extend(self._element_hits(frame, frame.kind == BEACON))
        if frame.kind == BEACON:
            hits.extend(self._fixed_hits(frame))
        if clock:
            hits.extend(clock)
        if not hits:
            return None
        hits.sort(key=lambda h: h[0])
        return self._finding(frame, device or bssid, hits)

    # -- findings ---------------------------------------------------------------
    def _finding(self, frame: Frame, device: bytes | None, hits: list[_Hit]) -> Finding:
        _, sig, field, value = hits[0]
        # Only an AP frame's SSID is the device's own; a probe request names what it looks for.
        frame_ssid = (frame.elements.ssid if frame.elements is not None
                      and (frame.kind == BEACON or frame.kind == PROBE_RESP) else None)
        freq = frame.freq_mhz if sig.field == "channel" else operating_frequency(frame)
        if device is None:
            ssid = frame_ssid or None
        else:
            known = self._reported.get(device, _MISS)
            if known is _MISS:
                if self._flooding(sig, frame.ts_ns):
                    return self._flood_finding(frame, sig, freq)
                ssid = frame_ssid or None
                self._reported[device] = ssid
            else:
                ssid = known  # type: ignore[assignment]
        where = f"A device at {mac_text(device)}" if device is not None else "A device"
        if ssid:
            where += f' advertising "{printable_ssid(ssid)}"'
        evidence: dict[str, Any] = {
            "signature": sig.id,
            "description": sig.description,
            "matched_field": field,
            "matched_value": value,
            "frame_kind": frame.kind,
        }
        also = [h[1].id for h in hits[1:] if h[1].id != sig.id]
        if also:
            evidence["also_matched"] = list(dict.fromkeys(also))
        return Finding(rule=self.id, severity=self.severity,
                       message=f"{where} on {channel_label(freq)} {sig.claim}.",
                       ssid=ssid, bssid=device, freq_mhz=freq, evidence=evidence)

    def _flooding(self, sig: Signature, ts_ns: int) -> bool:
        """Count a newly reported device for ``sig``; True once the window is full."""
        window = self._flood.get(sig.id)
        if window is None or ts_ns - window[0] >= self._flood_window_ns:
            self._flood[sig.id] = [ts_ns, 1]
            return False
        if window[1] >= self.flood_devices:
            return True
        window[1] += 1
        return False

    def _flood_finding(self, frame: Frame, sig: Signature, freq: int | None) -> Finding:
        minutes = self._flood_window_ns / 60e9
        span = f"{minutes:g} minutes" if minutes != 1 else "1 minute"
        message = (f"More than {self.flood_devices} different devices sent frames matching the "
                   f"attack-tool signature '{sig.id}' within {span} ({channel_label(freq)} "
                   f"first): a flood from a tool that changes its address with every frame. "
                   f"Further devices are counted in this alert instead of one alert each.")
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=None,
                       bssid=None, freq_mhz=freq, evidence={
                           "signature": sig.id,
                           "description": sig.description,
                           "devices_reported_individually": self.flood_devices,
                           "window_s": self._flood_window_ns // 1_000_000_000,
                           "frame_kind": frame.kind,
                       })
