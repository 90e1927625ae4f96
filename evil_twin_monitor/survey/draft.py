"""A registry draft from what a survey heard: YAML for people to review, then merge.

Theory of operation
-------------------
The draft is one facility in the registry's schema (README "Registry"), so
``check-config --registry DRAFT`` and the daemon read it as it is. It is
written line by line, not by dumping a data structure, because a person must
review it and the comments carry what the review needs: how often and how
strongly each AP was heard, and everything odd (two security settings on one
BSSID, several fingerprints, an SSID that could not be registered).

Every SSID is attacker-controlled, and the draft must stay valid YAML and
give back the SSID's exact octets whatever they are. So:

- SSIDs are written in the registry's printable form
  (`decoding.text.printable_ssid`, which the loader reverses with
  `ssid_from_printable`): one line, control characters, invisible
  characters, backslashes and bytes that are not UTF-8 as escapes;
- every string value goes through `yaml_scalar`, which lets PyYAML's safe
  emitter choose the quoting (plain when plain is safe, else quoted with
  escapes), and checks that the result is one line that reads back to the
  same string (else it falls back to double quotes);
- comments only ever contain our own words, numbers, addresses and printable
  SSIDs; anything else (file names, operator text) goes through
  `comment_text` first, which escapes line breaks and controls.

Entries the registry cannot express are left out with a comment saying why:
hidden SSIDs (empty or all zero octets: every hidden network would match),
a BSSID heard with no channel, a security setting the loader would reject
(WPA3 without PMF required, which the standard forbids), and a second SSID on
a BSSID already listed (a BSSID may appear once in a registry).
BSSIDs of one multi-BSSID radio stay separate exact entries: a prefix entry
would also cover BSSIDs nobody heard.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

import yaml

from ..decoding.channels import BAND_6G, band_of, channel_to_frequency, frequency_to_channel
from ..decoding.text import printable_ssid
from ..registry.loader import FACILITY_ID, NO_PMF, PMF_MANDATORY
from ..registry.model import DEFAULT_BEACON_INTERVAL, SECURITY_VALUES
from .collect import LEARN_COUNT, Network, Security, Station, SurveyCollector, is_hidden

_WIDTH = 1_000_000          # never fold a scalar
_LIST_CAP = 50              # lines listing leftovers (hidden networks, ...) before "and N more"
_BREAKS = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def yaml_scalar(text: str) -> str:
    """``text`` as one YAML flow scalar that reads back as exactly ``text``."""
    dumped = yaml.safe_dump(text, allow_unicode=True, width=_WIDTH)
    if dumped.endswith("\n...\n"):
        dumped = dumped[:-5]
    dumped = dumped.rstrip("\n")
    if "\n" in dumped or "\r" in dumped or yaml.safe_load(dumped) != text:
        dumped = yaml.safe_dump(text, allow_unicode=False, width=_WIDTH,
                                default_style='"').rstrip("\n")
    return dumped


def comment_text(text: str) -> str:
    """Text safe inside a ``#`` comment: controls, line and paragraph breaks as escapes."""
    out = []
    for ch in text:
        if ch != " " and unicodedata.category(ch) in _BREAKS:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def utc_text(ts_ns: int | None) -> str:
    """``2026-04-01T09:00:00Z``; ``-`` when unknown."""
    if ts_ns is None:
        return "-"
    stamp = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def security_words(words: Iterable[str]) -> list[str]:
    """Registry words in the registry's own order."""
    given = set(words)
    return [w for w in SECURITY_VALUES if w in given]


def pmf_problem(security: frozenset[str], pmf: str) -> str | None:
    """Why the registry loader would reject this security/PMF pair, or None.

    Mirrors the loader's checks (same constants), because an AP can advertise
    what the standard forbids and the draft must still load."""
    if not security:
        return "no security setting could be read"
    if pmf != "disabled" and security <= NO_PMF:
        return f"it advertises PMF {pmf} with {'/'.join(security_words(security))}"
    if pmf != "required" and security <= PMF_MANDATORY:
        return (f"it advertises {'/'.join(security_words(security))} with PMF {pmf}, "
                "which the standard forbids (WPA3 and OWE require PMF)")
    if pmf == "disabled" and security & PMF_MANDATORY:
        return "it advertises a WPA3 transition mode without PMF, which the standard forbids"
    return None


def channel_fields(frequencies: Iterable[int]) -> tuple[list[int], list[int], list[int]]:
    """(channels, frequencies, unusable) for a registry AP entry: 2.4/5 GHz as
    channel numbers, 6 GHz (and anything a number cannot name) as MHz."""
    channels: list[int] = []
    freqs: list[int] = []
    unusable: list[int] = []
    for freq in sorted(set(frequencies)):
        channel = frequency_to_channel(freq)
        if channel is None:
            unusable.append(freq)
        elif band_of(freq) != BAND_6G and channel_to_frequency(channel) == freq:
            channels.append(channel)
        else:
            freqs.append(freq)
    return sorted(channels), freqs, unusable


def _flow(values: Sequence[object]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _signal_text(network: Network) -> str:
    if network.signal_median is None:
        return "signal unknown"
    return f"signal median {network.signal_median} dBm, max {network.signal_max} dBm"


def _heard_text(network: Network) -> str:
    parts = [f"{network.beacons} beacon{'s' * (network.beacons != 1)}"]
    if network.probe_responses:
        parts.append(f"{network.probe_responses} probe response"
                     f"{'s' * (network.probe_responses != 1)}")
    return (f"{', '.join(parts)}; {_signal_text(network)}; "
            f"{utc_text(network.first_ns)} to {utc_text(network.last_ns)}")


def _ssid_shown(ssid: bytes) -> str:
    if not ssid:
        return "(no SSID)"
    if is_hidden(ssid):
        return f"({len(ssid)} zero octets)"
    return f'"{printable_ssid(ssid)}"'


@dataclass
class _Entry:
    """One AP entry of the draft."""

    network: Network
    station: Station
    security: Security
    channels: list[int]
    frequencies: list[int]
    notes: list[str] = field(default_factory=list)


@dataclass
class Draft:
    """The rendered draft and what the command should tell the person running it."""

    text: str
    warnings: list[str]
    networks: int           # network entries written
    access_points: int      # AP entries written
    left_out: int           # pairs heard but not registrable (hidden, ...)


class _Renderer:
    def __init__(self, collector: SurveyCollector, facility_id: str,
                 facility_name: str | None, ssids: Sequence[bytes] | None) -> None:
        if not FACILITY_ID.match(facility_id):
            raise ValueError(f"'{facility_id}' is not a valid facility id; use lowercase "
                             "letters, digits and '-' (like city-hall)")
        self.collector = collector
        self.facility_id = facility_id
        self.facility_name = facility_name
        self.wanted = list(dict.fromkeys(ssids)) if ssids else None
        self.warnings: list[str] = []
        self.left_out: list[str] = []    # comment lines: heard, not registrable
        self.hidden: list[str] = []      # comment lines: hidden networks

    # -- choosing -----------------------------------------------------------------------
    def entries(self) -> list[_Entry]:
        networks = self.collector.networks()
        wanted = set(self.wanted) if self.wanted is not None else None
        for network in networks:
            if network.hidden:
                self.hidden.append(f"{network.bssid.hex(':')} {_ssid_shown(network.ssid)}: "
                                   f"{_heard_text(network)}")
        if self.wanted is not None:
            heard = {n.ssid for n in networks}
            for ssid in self.wanted:
                if is_hidden(ssid):
                    self.warnings.append(f"--ssid {_ssid_shown(ssid)}: a hidden SSID cannot be "
                                         "registered; it is left out")
                elif ssid not in heard:
                    self.warnings.append(f"--ssid \"{printable_ssid(ssid)}\": heard on no BSSID; "
                                         "the draft has no entry for it")
        candidates: list[_Entry] = []
        for network in networks:
            if network.hidden or (wanted is not None and network.ssid not in wanted):
                continue
            station = self.collector.station(network.bssid)
            assert station is not None
            entry = self._entry(network, station)
            if entry is not None:
                candidates.append(entry)
        # A BSSID may be listed once: under the SSID it was heard with most.
        best: dict[bytes, _Entry] = {}
        for entry in candidates:
            other = best.get(entry.network.bssid)
            if other is None or entry.network.frames > other.network.frames:
                best[entry.network.bssid] = entry
        entries = [e for e in candidates if best[e.network.bssid] is e]
        for entry in candidates:
            keeper = best[entry.network.bssid]
            if keeper is not entry:
                self._leave_out(entry.network, f"this BSSID is listed under "
                                               f"{_ssid_shown(keeper.network.ssid)}, heard more "
                                               "often; a BSSID can be registered once")
        for entry in entries:
            self._notes(entry, networks)
        return entries

    def _leave_out(self, network: Network, why: str) -> None:
        self.left_out.append(f"{network.bssid.hex(':')} {_ssid_shown(network.ssid)} "
                             f"({network.frames} frames): {why}")

    def _entry(self, network: Network, station: Station) -> _Entry | None:
        security = network.main_security
        if security is None:
            self._leave_out(network, "its security could not be read (every frame was cut "
                                     "short before the RSN/WPA elements)")
            return None
        problem = pmf_problem(*security)
        if problem is not None:
            self._leave_out(network, f"the registry cannot express what {problem}")
            return None
        channels, freqs, unusable = channel_fields(station.frequencies)
        if not channels and not freqs:
            what = (f"its channel ({', '.join(f'{f} MHz' for f in unusable)}) is in no Wi-Fi band"
                    if unusable else "no channel was known for it")
            self._leave_out(network, what)
            return None
        entry = _Entry(network, station, security, channels, freqs)
        if unusable:
            entry.notes.append(f"also announced {', '.join(f'{f} MHz' for f in unusable)}, "
                               "which is in no Wi-Fi band")
        return entry

    def _notes(self, entry: _Entry, networks: list[Network]) -> None:
        network, station = entry.network, entry.station
        notes = entry.notes
        for (words, pmf), count in network.security.most_common():
            if (words, pmf) != entry.security:
                notes.append(f"CHECK: {count} frames advertised {'/'.join(security_words(words))}"
                             f" with PMF {pmf} instead")
        if network.security_unknown:
            notes.append(f"{network.security_unknown} frames were cut short before their "
                         "security elements")
        others = [n for n in networks if n.bssid == network.bssid and n is not network]
        for other in others:
            if not other.ssid:
                what = "with no SSID (hidden)"
            elif other.hidden:
                what = f"with an SSID of {len(other.ssid)} zero octets (hidden)"
            else:
                what = f"with SSID {_ssid_shown(other.ssid)}"
            notes.append(f"this BSSID also sent {other.frames} frames {what}")
        if station.ssids_untracked:
            notes.append(f"CHECK: this BSSID sent {station.ssids_untracked} frames with yet other "
                         "SSIDs (too many to list: a karma device?)")
        if len(station.learned) > 1:
            notes.append("CHECK: several beacon fingerprints: a firmware change during the "
                         "survey, or another transmitter using this BSSID")
        elif not station.learned:
            notes.append(f"no fingerprint: fewer than {LEARN_COUNT} identical beacons in a row "
                         "were heard; the sensor learns it when it runs")

    # -- writing ------------------------------------------------------------------------
    def render(self, header: list[str]) -> Draft:
        entries = self.entries()
        groups: dict[tuple[bytes, tuple[str, ...], str], list[_Entry]] = {}
        for entry in entries:
            words, pmf = entry.security
            key = (entry.network.ssid, tuple(security_words(words)), pmf)
            groups.setdefault(key, []).append(entry)
        order = {w: i for i, w in enumerate(SECURITY_VALUES)}
        keys = sorted(groups, key=lambda k: (k[0], [order[w] for w in k[1]], k[2]))
        lines = [f"# {comment_text(line)}" if line else "#" for line in header]
        lines.append("facilities:")
        lines.append(f"  - id: {yaml_scalar(self.facility_id)}")
        if self.facility_name:
            lines.append(f"    name: {yaml_scalar(self.facility_name)}")
        if not keys:
            lines.append("    networks: []   # nothing to register: see the comments below")
        else:
            lines.append("    networks:")
        for key in keys:
            ssid, words, pmf = key
            lines.append(f"      - ssid: {yaml_scalar(printable_ssid(ssid))}")
            lines.append(f"        security: {_flow(words)}")
            lines.append(f"        pmf: {pmf}")
            lines.append("        access_points:")
            for entry in sorted(groups[key], key=lambda e: e.network.bssid):
                lines.extend(self._ap_lines(entry))
        for title, items in (("Heard but not registrable here", self.left_out),
                             ("Hidden networks (no SSID in their beacons; they cannot be "
                              "registered, because every hidden network would match)", self.hidden)):
            if items:
                lines.append(f"    # {title}:")
                for item in items[:_LIST_CAP]:
                    lines.append(f"    #   {comment_text(item)}")
                if len(items) > _LIST_CAP:
                    lines.append(f"    #   ... and {len(items) - _LIST_CAP} more")
        text = "\n".join(lines) + "\n"
        return Draft(text, self.warnings, len(keys), len(entries),
                     len(self.left_out) + len(self.hidden))

    def _ap_lines(self, entry: _Entry) -> list[str]:
        network, station = entry.network, entry.station
        out = [f"          - bssid: \"{network.bssid.hex(':')}\"   # {_heard_text(network)}"]
        for note in entry.notes:
            out.append(f"            # {comment_text(note)}")
        if entry.channels:
            out.append(f"            channels: {_flow(entry.channels)}")
        if entry.frequencies:
            out.append(f"            frequencies: {_flow(entry.frequencies)}")
        interval = station.beacon_interval
        if interval is not None and interval != DEFAULT_BEACON_INTERVAL:
            out.append(f"            beacon_interval: {interval}")
        if station.learned:
            out.append("            fingerprints: ["
                       + ", ".join(yaml_scalar(fp) for fp in station.learned) + "]")
        return out


def render_draft(collector: SurveyCollector, facility_id: str, *,
                 facility_name: str | None = None, ssids: Sequence[bytes] | None = None,
                 source: str = "", written_ns: int | None = None, generator: str = "",
                 incomplete: str | None = None) -> Draft:
    """The registry draft for ``facility_id`` from what ``collector`` heard.

    ``ssids`` restricts it to those SSIDs (octets); None lists every network
    heard. ``source`` (where the frames came from), ``written_ns`` (when) and
    ``generator`` (program and version) go into the header; ``incomplete``
    says why the survey ended early, if it did. Raises ValueError for a bad
    facility id."""
    renderer = _Renderer(collector, facility_id, facility_name, ssids)
    header = [
        f"Registry draft for facility {facility_id}, written by {generator or 'survey'}"
        + (f" at {utc_text(written_ns)}" if written_ns is not None else "") + ".",
        f"Source: {source or 'unknown'}.",
        f"Heard from {utc_text(collector.first_ns)} to {utc_text(collector.last_ns)} (UTC): "
        f"{collector.frames} beacons and probe responses, "
        f"{len(collector.networks())} BSSID/SSID pairs.",
    ]
    if incomplete:
        header.append(f"INCOMPLETE: {incomplete}.")
    if collector.untracked_frames:
        header.append(f"CHECK: {collector.untracked_frames} frames of further networks were not "
                      f"recorded (more than {collector.max_networks} networks, or too many SSIDs "
                      "on one BSSID: a beacon flood?).")
    if ssids:
        shown = ", ".join(_ssid_shown(s) for s in dict.fromkeys(ssids))
        header.append(f"Restricted to the SSIDs {shown}.")
    else:
        header.append("Every network heard is listed: DELETE every network that is not the "
                      "facility's own (neighbours, shops, phone hotspots).")
    header += [
        "",
        "REVIEW BEFORE MERGING. Anyone can transmit any SSID, and the survey recorded",
        "whatever was on the air, an evil twin included. Check every BSSID against the",
        "installer's list and give each AP a label (where it hangs). Then merge the",
        "networks into the registry (a facility id may be defined once) and run",
        "`evil-twin-monitor check-config --registry PATH`. Channels are those each AP",
        "announced during the survey; add the channels it may move to (DFS, band steering).",
        "Fingerprints are its beacons' hardware fingerprints; a firmware update changes them.",
        "",
    ]
    return renderer.render(header)
