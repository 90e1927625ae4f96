"""Approve what an alert found: turn the alert into one registry change, and
make that change in the registry's YAML text without touching anything else.

Theory of operation
-------------------
Three alerts can be false alarms that the registry should learn from, because
the city itself changed something:

  alert                 what was new                  change
  --------------------  ----------------------------  ---------------------------------------
  unknown_bssid         a newly installed city AP     a new access point entry (BSSID, the
                                                      channel it was heard on, a label) in the
                                                      network of that SSID in the facility
  unexpected_channel    an AP moved to a new channel  the channel added to the AP's entry
  fingerprint_mismatch  new firmware or settings      the observed fingerprint added to the
                                                      AP's ``fingerprints``

An ``unexpected_channel`` alert is approvable only for the channel the AP
was heard *operating* on; one raised by a channel-switch announcement
(CSA/ECSA, evidence ``announced_frequency_mhz``) is refused (`CSA_REFUSAL`):
the announcement is a frame anyone can forge, and registering its target
would register the attacker's channel. A real move shows up as an ordinary
alert once the AP operates on the new channel.

Every other rule is refused (`REFUSALS` says why, one line each): what they
report is an attack pattern, and there is no registry entry that would make
it legitimate; "approving" it would only silence the next attack. An
approval is also refused when the alert itself looks like an attack
(``unknown_bssid`` with weaker security than the network's, or security the
network does not allow), and when the store holds an attack alert about the
same BSSID at the same time (`check_conflicts`: a ``cloned_bssid`` next to a
``fingerprint_mismatch`` means the new fingerprint is the copy's).

`change_for_alert` decides (pure: alert + registry -> a change), `edit_text`
applies it to the text of one registry file, `check_edit` proves the result is
the old registry plus exactly that change.

Why text splicing instead of load-edit-dump: the file is the operator's.
Re-emitting it through a YAML library, even a round-trip one (ruamel.yaml),
rewrites lines the approval has nothing to do with: escapes in quoted SSIDs
(``\\x1b`` becomes ``\\e``), spacing inside flow lists, indentation of merged
mappings, CRLF line ends, a closing ``...``. So the file is *composed* with
PyYAML (node tree with exact character positions, no comments needed) and the
change is inserted as new text at one place, in the layout of its neighbours
(indentation, dash offset, list separator, line ends). Every other byte of the
file stays as it was. New scalars are written by PyYAML's emitter: SSIDs in
their printable form (`decoding.text.printable_ssid`) in single quotes like
the README shows, labels, BSSIDs and fingerprints in double quotes, so no
SSID or label, whatever its bytes, can break the YAML or read back as
anything else. Lists that are sorted stay sorted.

Nodes reached through YAML anchors/aliases or merge keys (``<<``) are shared
with other entries; editing them would change those too, so such an approval
is refused with a request to edit by hand.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Iterable, NamedTuple, Protocol, Union

import yaml
from yaml.events import (
    DocumentEndEvent, DocumentStartEvent, ScalarEvent, StreamEndEvent, StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..decoding.channels import BAND_6G, band_of, frequency_to_channel
from ..decoding.text import printable_ssid, ssid_from_printable
from ..rules.common import channel_label, security_phrase
from ..rules.security_mismatch import PMF_ORDER, RSN_SECURITY
from .loader import parse_bssid
from .model import SECURITY_VALUES, AccessPoint, Network, Registry

APPROVABLE = ("unknown_bssid", "unexpected_channel", "fingerprint_mismatch")

# Rule -> why approving its alert would hide an attack (one line each).
REFUSALS: dict[str, str] = {
    "security_mismatch": "a registered BSSID advertising other security than its entry is a twin "
                         "offering users a downgrade (or a factory-reset AP); fix the AP, or change "
                         "the network's security in the registry by hand if the city changed it",
    "cloned_bssid": "two transmitters share one registered BSSID, so one of them is a copy; no "
                    "registry entry can make a copy legitimate",
    "karma": "an AP that answers for many unrelated SSIDs is a KARMA/MANA attack tool; no city AP "
             "does this",
    "rogue_hardware": "the frames carry the signature of an attack device; registering it would "
                      "whitelist the attacker's hardware",
    "deauth_flood": "deauthentication bursts knock users off the network, often to push them onto "
                    "a twin; there is nothing to register",
    "beacon_flood": "a burst of fake BSSIDs hides a twin in the noise or jams scanning; there is "
                    "nothing to register",
    "lookalike_ssid": "a name made to be mistaken for the city's is how users are lured to a twin; "
                      "if the city really uses this name, register the network by hand "
                      "(or with the survey)",
    "ap_missing": "a registered AP fell silent (unplugged, or jammed so that a twin takes over); if "
                  "it was retired, remove its entry by hand",
}

# An unexpected_channel alert opened by a channel-switch announcement (CSA/ECSA)
# says where the AP was *told* to go, in a frame anyone can forge; only where
# the AP was heard operating is approvable ({} is the announced channel).
# While the alert is open, the AP's frames on the new channel only repeat it
# (the engine's key is rule, facility, SSID, BSSID): the ordinary alert comes
# once it has closed, so the line also names the way that always works.
CSA_REFUSAL = ("it reports a channel-switch announcement to {}, and a forged channel switch "
               "is an attack that lures users onto the attacker's channel; if the access point "
               "really moved (check on site), approve the ordinary unexpected_channel alert its "
               "frames on the new channel raise once this one has closed (a sensor restart "
               "closes it), or add the channel to its entry by hand")

# Alerts about the same BSSID that make an approval unsafe when their time
# overlaps the approved alert's (within CONFLICT_MARGIN_NS).
CONFLICTING_RULES = ("cloned_bssid", "security_mismatch", "rogue_hardware", "karma")
CONFLICT_MARGIN_NS = 60 * 1_000_000_000

# Canonical key order of an access point entry (README "Registry"); a new key
# goes after the last key present that comes before it here.
AP_KEY_ORDER = ("bssid", "label", "channels", "frequencies", "beacon_interval", "fingerprints",
                "model", "notes")

_FINGERPRINT = re.compile(r"^(beacon|probe_resp):v\d+:[0-9a-f]{16}$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class ApproveError(Exception):
    """The approval is refused or impossible; ``str()`` is one line."""


class AlreadyApproved(Exception):
    """The registry already holds what the alert found: nothing to change."""


class AlertLike(Protocol):
    """What an approval reads from a stored alert (`store.db.StoredAlert` has these)."""

    id: int
    rule: str
    facility: str | None
    ssid: str | None          # printable form
    ssid_hex: str | None      # the octets as received
    bssid: str | None
    frequency_mhz: int | None
    evidence: dict[str, Any]
    time_ns: int
    last_seen_ns: int


@dataclass(frozen=True)
class NewAccessPoint:
    """unknown_bssid: register ``bssid`` in a network with this SSID in ``facility``."""

    facility: str
    ssid: bytes
    bssid: bytes
    frequency_mhz: int
    label: str | None
    network_index: int | None   # among the facility's networks; None: create the network
    security: tuple[str, ...]   # of the network (the one to create, or the chosen one)
    pmf: str

    def describe(self) -> str:
        label = f', label "{printable_ssid(self.label.encode())}"' if self.label else ""
        new = "new network" if self.network_index is None else "network"
        return (f"access point {self.bssid.hex(':')} ({channel_label(self.frequency_mhz)}{label}) "
                f'in the {new} "{printable_ssid(self.ssid)}" of facility {self.facility}')


@dataclass(frozen=True)
class NewFrequency:
    """unexpected_channel: allow ``frequency_mhz`` for the entry ``bssid/prefix_len``."""

    facility: str
    bssid: bytes
    prefix_len: int
    frequency_mhz: int

    def describe(self) -> str:
        return f"{channel_label(self.frequency_mhz)} for access point {_entry_text(self)}"


@dataclass(frozen=True)
class NewFingerprint:
    """fingerprint_mismatch: accept ``fingerprint`` for the entry ``bssid/prefix_len``."""

    facility: str
    bssid: bytes
    prefix_len: int
    fingerprint: str
    pins: bool = False   # the entry had no registered fingerprint of this kind

    def describe(self) -> str:
        return f"fingerprint {self.fingerprint} for access point {_entry_text(self)}"


Change = Union[NewAccessPoint, NewFrequency, NewFingerprint]


def _entry_text(change: NewFrequency | NewFingerprint) -> str:
    text = change.bssid.hex(":")
    return text if change.prefix_len == 48 else f"{text}/{change.prefix_len}"


# -- deciding ---------------------------------------------------------------------------------

def change_for_alert(alert: AlertLike, registry: Registry, *, facility: str | None = None,
                     label: str | None = None) -> Change:
    """The registry change that approves ``alert``.

    ``facility`` says where a new AP is when the alert names no facility
    (a replay without ``--facility``); ``label`` names a new AP. Raises
    `ApproveError` (refused or impossible) or `AlreadyApproved`.
    """
    rule = alert.rule
    if rule not in APPROVABLE:
        why = REFUSALS.get(rule, f"approve handles {', '.join(APPROVABLE)} alerts only")
        raise ApproveError(f"alert {alert.id} is a {rule} alert, which cannot be approved: {why}")
    if label is not None and rule != "unknown_bssid":
        raise ApproveError(f"--label names a new access point; alert {alert.id} is a {rule} "
                           "alert about a registered one")
    bssid = _alert_bssid(alert)
    if rule == "unknown_bssid":
        return _new_access_point(alert, bssid, registry, facility, label)
    ap = registry.ap_for_bssid(bssid)
    if ap is None:
        raise ApproveError(f"{bssid.hex(':')} (alert {alert.id}) is no longer in the registry; "
                           "there is no entry to change")
    if rule == "unexpected_channel":
        return _new_frequency(alert, ap)
    return _new_fingerprint(alert, ap)


def _alert_bssid(alert: AlertLike) -> bytes:
    parsed = parse_bssid(alert.bssid or "")
    if isinstance(parsed, str) or parsed[1] != 48:
        raise ApproveError(f"alert {alert.id} names no BSSID")
    return parsed[0]


def _alert_ssid(alert: AlertLike) -> bytes:
    if alert.ssid_hex:
        try:
            return bytes.fromhex(alert.ssid_hex)
        except ValueError:
            pass
    if not alert.ssid:
        raise ApproveError(f"alert {alert.id} names no SSID")
    return ssid_from_printable(alert.ssid)


def _new_access_point(alert: AlertLike, bssid: bytes, registry: Registry, facility: str | None,
                      label: str | None) -> NewAccessPoint:
    known = registry.ap_for_bssid(bssid)
    if known is not None:
        entry = "" if known.prefix_len == 48 else f" (inside the prefix {known.bssid_text})"
        raise AlreadyApproved(
            f"{bssid.hex(':')} is already registered{entry} in "
            f'"{printable_ssid(known.network.ssid)}" of facility {known.facility.id} '
            f"({known.facility.source}); nothing to change")
    ssid = _alert_ssid(alert)
    shown = f'"{printable_ssid(ssid)}"'
    evidence = alert.evidence
    if evidence.get("weaker_security"):
        raise ApproveError(f"alert {alert.id} cannot be approved: {bssid.hex(':')} offers weaker "
                           f"security than the city network {shown}, exactly what a twin set up "
                           "to capture users' traffic does; if it really is the city's AP, fix "
                           "its security first")
    observed = evidence.get("observed") if isinstance(evidence.get("observed"), dict) else {}
    security = frozenset(s for s in observed.get("security") or () if s in SECURITY_VALUES)
    pmf = observed.get("pmf") if observed.get("pmf") in PMF_ORDER else "disabled"
    if not security:
        raise ApproveError(f"alert {alert.id} does not say which security {bssid.hex(':')} "
                           "advertised; register it by hand")
    freq = alert.frequency_mhz
    if not freq or frequency_to_channel(freq) is None:
        raise ApproveError(f"alert {alert.id} does not say which channel {bssid.hex(':')} uses; "
                           "register it by hand")
    everywhere = registry.networks_for_ssid(ssid)
    if not everywhere:
        raise ApproveError(f"{shown} is no longer a registered SSID; register the network by hand")
    where = _facility_for(alert, registry, facility, everywhere)
    if registry.facility(where) is None:
        raise ApproveError(f"facility {where} (alert {alert.id}) is not in the registry")
    fits = [n for n in everywhere if _allows(n, security, pmf)]
    if not fits:
        allowed = security_phrase(frozenset().union(*(n.security for n in everywhere)), "or")
        raise ApproveError(
            f"alert {alert.id} cannot be approved: {bssid.hex(':')} advertises "
            f"{security_phrase(security)} (PMF {pmf}) but the city network {shown} uses {allowed}"
            f"{'' if len({n.pmf for n in everywhere}) > 1 else ' with PMF ' + everywhere[0].pmf}; "
            "a twin that does not know the real settings looks like this, and a city AP "
            "registered like that would raise security_mismatch instead; fix the AP's "
            "settings first, or register it by hand")
    # The facility's own networks first, an exact security match before a superset.
    local = registry.facility(where).networks  # type: ignore[union-attr]
    here = [n for n in fits if n.facility.id == where]
    pick = min(here or fits, key=lambda n: n.security != security)
    index = next((i for i, n in enumerate(local) if n is pick), None)
    return NewAccessPoint(where, ssid, bssid, freq, label, index,
                          tuple(s for s in SECURITY_VALUES if s in pick.security), pick.pmf)


def _allows(network: Network, security: frozenset[str], pmf: str) -> bool:
    """Whether an AP advertising this would pass security_mismatch as part of ``network``."""
    if not security <= network.security:
        return False
    return not (network.security & RSN_SECURITY and security & RSN_SECURITY
                and PMF_ORDER[pmf] < PMF_ORDER[network.pmf])


def _facility_for(alert: AlertLike, registry: Registry, given: str | None,
                  networks: list[Network]) -> str:
    if alert.facility is not None:
        if given is not None and given != alert.facility:
            raise ApproveError(f"--facility {given}: alert {alert.id} was raised in facility "
                               f"{alert.facility}")
        return alert.facility
    if given is not None:
        return given
    candidates = sorted({n.facility.id for n in networks})
    if len(candidates) == 1:
        return candidates[0]
    raise ApproveError(f"alert {alert.id} names no facility (a replay without --facility); say "
                       f"where the AP is with --facility ID (one of: {', '.join(candidates)})")


def _new_frequency(alert: AlertLike, ap: AccessPoint) -> NewFrequency:
    evidence = alert.evidence
    if "announced_frequency_mhz" in evidence or evidence.get("element") in ("csa", "ecsa"):
        announced = evidence.get("announced_frequency_mhz")
        where = (channel_label(announced) if isinstance(announced, int)
                 and frequency_to_channel(announced) is not None else "another channel")
        raise ApproveError(f"alert {alert.id} cannot be approved: {CSA_REFUSAL.format(where)}")
    freq = evidence.get("observed_frequency_mhz")
    if not isinstance(freq, int):
        freq = alert.frequency_mhz
    if not freq or frequency_to_channel(freq) is None:
        raise ApproveError(f"alert {alert.id} does not say which channel to allow; "
                           "edit the registry by hand")
    if freq in ap.frequencies:
        raise AlreadyApproved(f"{channel_label(freq)} is already allowed for access point "
                              f"{ap.bssid_text} ({ap.facility.source}); nothing to change")
    return NewFrequency(ap.facility.id, ap.bssid, ap.prefix_len, freq)


def _new_fingerprint(alert: AlertLike, ap: AccessPoint) -> NewFingerprint:
    fingerprint = alert.evidence.get("observed_fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.match(fingerprint):
        raise ApproveError(f"alert {alert.id} holds no observed fingerprint in its evidence")
    if fingerprint in ap.fingerprints:
        raise AlreadyApproved(f"fingerprint {fingerprint} is already registered for access point "
                              f"{ap.bssid_text} ({ap.facility.source}); nothing to change")
    kind = fingerprint.rsplit(":", 2)[0]
    same_kind = [f for f in ap.fingerprints if f.startswith(f"{kind}:")]
    if not same_kind and ap.prefix_len < 48:
        raise ApproveError(
            f"access point {ap.bssid_text} is a prefix entry for several BSSIDs and lists no "
            f"{kind} fingerprint yet: registering this one would make every other BSSID of the "
            "radio mismatch; register all of them with the survey, or by hand")
    return NewFingerprint(ap.facility.id, ap.bssid, ap.prefix_len, fingerprint,
                          pins=not same_kind)


def check_conflicts(alert: AlertLike, others: Iterable[AlertLike]) -> None:
    """Refuse when an attack alert about the same BSSID overlaps ``alert`` in time."""
    start, end = alert.time_ns - CONFLICT_MARGIN_NS, alert.last_seen_ns + CONFLICT_MARGIN_NS
    for other in others:
        if other.id == alert.id or other.bssid != alert.bssid or other.rule not in CONFLICTING_RULES:
            continue
        if other.time_ns <= end and other.last_seen_ns >= start:
            raise ApproveError(
                f"alert {alert.id} cannot be approved: alert {other.id} ({other.rule}) about the "
                f"same BSSID was raised at the same time, so what alert {alert.id} saw is likely "
                f"the attacker's; investigate alert {other.id} first")


# -- checking ---------------------------------------------------------------------------------

def _facts(registry: Registry) -> tuple[dict, Counter, dict]:
    """Everything the rules read, in comparable form: facilities, networks, APs."""
    facilities = {f.id: f.name for f in registry.facilities}
    networks: Counter = Counter()
    aps: dict[tuple[bytes, int], tuple] = {}
    for facility in registry.facilities:
        for network in facility.networks:
            key = (facility.id, network.ssid, network.security, network.pmf)
            networks[key] += 1
            for ap in network.access_points:
                aps[(ap.bssid, ap.prefix_len)] = (key, ap.frequencies, ap.beacon_interval,
                                                  ap.fingerprints, ap.label)
    return facilities, networks, aps


def check_edit(before: Registry, after: Registry, change: Change) -> None:
    """Raise `ApproveError` unless ``after`` is ``before`` plus exactly ``change``."""
    facilities, networks, aps = _facts(before)
    if isinstance(change, NewAccessPoint):
        key = (change.facility, change.ssid, frozenset(change.security), change.pmf)
        if change.network_index is None:
            networks[key] += 1
        aps[(change.bssid, 48)] = (key, frozenset({change.frequency_mhz}), 100, (),
                                   change.label or "")
    else:
        entry = (change.bssid, change.prefix_len)
        if entry not in aps:
            raise ApproveError(f"access point {_entry_text(change)} is not in the registry")
        key, freqs, interval, fingerprints, label = aps[entry]
        if isinstance(change, NewFrequency):
            freqs = freqs | {change.frequency_mhz}
        else:
            fingerprints = fingerprints + (change.fingerprint,)
        aps[entry] = (key, freqs, interval, fingerprints, label)
    if _facts(after) != (facilities, networks, aps):
        raise ApproveError("the edited registry differs from the intended change (a bug in "
                           "`registry approve`; please report it); nothing written")


# -- editing the text -------------------------------------------------------------------------

class _Str(NamedTuple):
    """A string to write, with its YAML style: "plain" (known-safe words), "'" or '"'."""

    text: str
    style: str


def quoted(text: str, style: str = '"') -> str:
    """``text`` as one line of YAML that reads back exactly ``text``.

    PyYAML's emitter escapes what the style cannot hold: a single-quoted
    scalar that would need escapes or span lines becomes double-quoted.
    """
    def emit(chosen: str) -> str:
        events = [StreamStartEvent(), DocumentStartEvent(explicit=False),
                  ScalarEvent(None, None, (False, True), text, style=chosen),
                  DocumentEndEvent(explicit=False), StreamEndEvent()]
        return yaml.emit(events, allow_unicode=True, width=1 << 30).rstrip("\n")
    if not text:
        return '""'  # the emitter would open an explicit document for an empty scalar
    out = emit(style)
    if "\n" in out or "\r" in out:
        out = emit('"')
    return out


def _flow(value: Any) -> str:
    if isinstance(value, _Str):
        return value.text if value.style == "plain" else quoted(value.text, value.style)
    if isinstance(value, bool) or not isinstance(value, (int, list, dict)):
        raise TypeError(f"cannot write {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"


@dataclass(frozen=True)
class _Layout:
    nl: str          # line end of the file
    seq_offset: int  # columns from a key to the dash of its block sequence
    gap: int         # spaces between a dash and the item's first key


def _block_lines(mapping: dict[str, Any], key_col: int, layout: _Layout) -> list[str]:
    """A mapping in block style at ``key_col``; lists of mappings as block
    sequences, everything else in flow style."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(" " * key_col + f"{key}:")
            lines.extend(_item_lines(item, key_col + layout.seq_offset, layout)
                         for item in value)
        else:
            lines.append(" " * key_col + f"{key}: {_flow(value)}")
    return lines


def _item_lines(item: dict[str, Any], dash_col: int, layout: _Layout) -> str:
    lines = _block_lines(item, dash_col + 1 + layout.gap, layout)
    lines[0] = " " * dash_col + "-" + " " * layout.gap + lines[0].lstrip(" ")
    return layout.nl.join(lines)


class _Doc:
    """A registry file's text with its composed node tree."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise ApproveError(f"{file}: cannot read the YAML: {exc}".replace("\n", " ")) from exc
        if not isinstance(root, MappingNode):
            raise ApproveError(f"{file}: not a registry file (no 'facilities:' mapping)")
        self.root = root
        self.refs: Counter = Counter()
        self._count(root, set())
        first_break = re.search(r"\r?\n", text)
        nl = first_break.group(0) if first_break else "\n"
        offset, gap = 2, 1
        found_pair = self.pair(root, "facilities")
        if found_pair is not None and isinstance(found_pair[1], SequenceNode) \
                and not found_pair[1].flow_style and found_pair[1].value:
            key, facilities = found_pair
            found = self._dash(facilities.value[0])
            if found is not None:
                dash, same_line = found
                offset = self.column(dash) - key.start_mark.column
                if same_line:
                    gap = facilities.value[0].start_mark.column - self.column(dash) - 1
        self.layout = _Layout(nl, max(offset, 0), max(gap, 1))

    def _count(self, node: Node, seen: set[int]) -> None:
        self.refs[id(node)] += 1
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for item in node.value:
                self._count(item, seen)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                self._count(key, seen)
                self._count(value, seen)

    # -- reading ------------------------------------------------------------------------------
    @staticmethod
    def pair(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
        """The mapping's own ``key: value`` (never one pulled in by ``<<``)."""
        for k, v in mapping.value:
            if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG and k.value == key:
                return k, v
        return None

    def get(self, mapping: Node, key: str) -> Node | None:
        """A value, merged ones included (as the loader sees it)."""
        if not isinstance(mapping, MappingNode):
            return None
        found = self.pair(mapping, key)
        if found is not None:
            return found[1]
        for k, v in mapping.value:
            if k.tag == _MERGE_TAG:
                for source in (v.value if isinstance(v, SequenceNode) else [v]):
                    value = self.get(source, key)
                    if value is not None:
                        return value
        return None

    def scalar(self, mapping: Node, key: str) -> str | None:
        node = self.get(mapping, key)
        return node.value if isinstance(node, ScalarNode) else None

    def items(self, mapping: Node, key: str) -> list[Node]:
        node = self.get(mapping, key)
        return list(node.value) if isinstance(node, SequenceNode) else []

    def facility(self, facility_id: str) -> MappingNode:
        for node in self.items(self.root, "facilities"):
            if self.scalar(node, "id") == facility_id:
                return node  # type: ignore[return-value]
        raise ApproveError(f"{self.file}: facility {facility_id} not found in this file")

    def access_point(self, facility_id: str, bssid: bytes, prefix_len: int) -> MappingNode:
        for network in self.items(self.facility(facility_id), "networks"):
            for ap in self.items(network, "access_points"):
                text = self.scalar(ap, "bssid")
                if text is not None and parse_bssid(text) == (bssid, prefix_len):
                    return ap  # type: ignore[return-value]
        text = bssid.hex(":") + ("" if prefix_len == 48 else f"/{prefix_len}")
        raise ApproveError(f"{self.file}: access point {text} not found in this file")

    def editable(self, node: Node, what: str) -> None:
        """Refuse to edit a node that other entries share through an anchor."""
        if self.refs[id(node)] > 1:
            raise ApproveError(f"{self.file}:{node.start_mark.line + 1}: {what} is shared with "
                               "other entries through a YAML anchor; edit it by hand")

    # -- positions ------------------------------------------------------------------------------
    def column(self, index: int) -> int:
        return index - (self.text.rfind("\n", 0, index) + 1)

    def content_end(self, node: Node) -> int:
        """Index just after the last character of the node's own text."""
        if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
            end = node.end_mark.index
        else:
            pairs = node.value if isinstance(node, MappingNode) else [(n, n) for n in node.value]
            end = max((max(self.content_end(k), self.content_end(v)) for k, v in pairs),
                      default=node.start_mark.index)
        while end > node.start_mark.index and self.text[end - 1] in " \t\r\n":
            end -= 1  # block scalars end after their trailing line breaks
        return end

    def after_lines(self, end: int, min_indent: int) -> int:
        """Where a line after content ending at ``end`` goes: past the rest of
        that line (an end-of-line comment) and past the comment lines indented
        deeper than ``min_indent`` that follow it (they belong to the entry)."""
        text = self.text
        pos = text.find("\n", end)
        pos = len(text) if pos < 0 else pos + 1
        while pos < len(text):
            stop = text.find("\n", pos)
            line = text[pos:len(text) if stop < 0 else stop + 1]
            body = line.lstrip(" ")
            if not body.startswith("#") or len(line) - len(body) <= min_indent:
                break
            pos += len(line)
        return pos

    def _dash(self, item: Node) -> tuple[int, bool] | None:
        """Index of the ``-`` of a block sequence item, and whether the item starts on its line."""
        i = item.start_mark.index - 1
        same_line = True
        while i >= 0 and self.text[i] in " \t\r\n":
            same_line &= self.text[i] not in "\r\n"
            i -= 1
        return (i, same_line) if i >= 0 and self.text[i] == "-" else None

    # -- insertions -----------------------------------------------------------------------------
    def append_item(self, seq: SequenceNode, item: dict[str, Any]) -> tuple[int, str]:
        """Add a mapping as the last item of a sequence."""
        if seq.flow_style:
            last = seq.value[-1] if seq.value else None
            if last is None:
                return seq.start_mark.index + 1, _flow(item)
            return self.content_end(last), ", " + _flow(item)
        last = seq.value[-1]
        found = self._dash(last)
        if found is None:
            raise ApproveError(f"{self.file}:{last.start_mark.line + 1}: unusual list layout; "
                               "edit it by hand")
        dash, same_line = found
        dash_col = self.column(dash)
        layout = self.layout
        if same_line and isinstance(last, MappingNode):
            layout = replace(layout, gap=max(last.start_mark.column - dash_col - 1, 1))
        pos = self.after_lines(self.content_end(last), dash_col)
        return pos, _item_lines(item, dash_col, layout) + self.layout.nl

    def insert_scalar(self, seq: SequenceNode, value: int | _Str) -> tuple[int, str]:
        """Add a scalar to a list: at its sorted place when the list is sorted, else last."""
        items = seq.value
        index = len(items)
        if isinstance(value, int):
            numbers = [_int(n) for n in items]
            if all(n is not None for n in numbers) and numbers == sorted(numbers):  # type: ignore
                index = bisect.bisect(numbers, value)  # type: ignore[arg-type]
        text = _flow(value)
        if seq.flow_style:
            sep = ", "
            if len(items) >= 2:
                between = self.text[self.content_end(items[0]):items[1].start_mark.index]
                if re.fullmatch(r"[ ]*,[ ]*", between):
                    sep = between
            if not items:
                return seq.start_mark.index + 1, text
            if index == 0:
                return items[0].start_mark.index, text + sep
            return self.content_end(items[index - 1]), sep + text
        near = items[min(index, len(items) - 1)]
        found = self._dash(near)
        if found is None or not found[1]:
            raise ApproveError(f"{self.file}:{seq.start_mark.line + 1}: unusual list layout; "
                               "edit it by hand")
        dash = found[0]
        dash_col = self.column(dash)
        gap = max(near.start_mark.column - dash_col - 1, 1)
        line = " " * dash_col + "-" + " " * gap + text + self.layout.nl
        if index < len(items):
            return dash - dash_col, line
        return self.after_lines(self.content_end(items[-1]), dash_col), line

    def add_key(self, mapping: MappingNode, key: str, value: Any,
                after: tuple[str, ...]) -> tuple[int, str]:
        """Add ``key: value`` after the last of the keys ``after`` present, else last."""
        pairs = [(k, v) for k, v in mapping.value]
        if not pairs:
            if mapping.flow_style:
                return mapping.start_mark.index + 1, f"{key}: {_flow(value)}"
            raise ApproveError(f"{self.file}:{mapping.start_mark.line + 1}: empty entry; "
                               "edit it by hand")
        anchor = pairs[-1]
        for k, v in pairs:
            if isinstance(k, ScalarNode) and k.value in after:
                anchor = (k, v)
        end = self.content_end(anchor[1])
        if mapping.flow_style:
            return end, f", {key}: {_flow(value)}"
        key_col = pairs[0][0].start_mark.column
        lines = _block_lines({key: value}, key_col, self.layout)
        return self.after_lines(end, key_col), self.layout.nl.join(lines) + self.layout.nl

    def splice(self, pos: int, insert: str) -> str:
        text = self.text
        if pos >= len(text) and text and not text.endswith("\n"):
            # the file has no final line break: keep it that way
            insert = self.layout.nl + insert.rstrip("\r\n")
        return text[:pos] + insert + text[pos:]


def _int(node: Node) -> int | None:
    if isinstance(node, ScalarNode) and re.fullmatch(r"[0-9]+", node.value or ""):
        return int(node.value)
    return None


def _ap_item(change: NewAccessPoint) -> dict[str, Any]:
    item: dict[str, Any] = {"bssid": _Str(change.bssid.hex(":"), '"')}
    if change.label is not None:
        item["label"] = _Str(change.label, '"')
    if band_of(change.frequency_mhz) == BAND_6G:
        item["frequencies"] = [change.frequency_mhz]
    else:
        item["channels"] = [frequency_to_channel(change.frequency_mhz)]
    return item


def edit_text(text: str, change: Change, file: str = "registry") -> str:
    """The text of a registry file with ``change`` made, every other byte kept.

    Raises `ApproveError` when the place to edit cannot be found or is shared
    through an anchor (then the operator edits by hand)."""
    doc = _Doc(text, file)
    if isinstance(change, NewAccessPoint):
        return doc.splice(*_insert_access_point(doc, change))
    ap = doc.access_point(change.facility, change.bssid, change.prefix_len)
    doc.editable(ap, f"access point {_entry_text(change)}")
    if isinstance(change, NewFingerprint):
        key, value = "fingerprints", _Str(change.fingerprint, '"')
    else:
        freq = change.frequency_mhz
        channel = frequency_to_channel(freq)
        has_channels = doc.pair(ap, "channels") is not None
        if band_of(freq) != BAND_6G and (has_channels or doc.get(ap, "frequencies") is None):
            key, value = "channels", channel
        else:
            key, value = "frequencies", freq
    found = doc.pair(ap, key)
    if found is None:
        if doc.get(ap, key) is not None:
            raise ApproveError(f"{file}:{ap.start_mark.line + 1}: the {key} of access point "
                               f"{_entry_text(change)} come from a YAML merge key (<<); edit "
                               "them by hand")
        after = AP_KEY_ORDER[:AP_KEY_ORDER.index(key)]
        return doc.splice(*doc.add_key(ap, key, [value], after))
    seq = found[1]
    if not isinstance(seq, SequenceNode):
        raise ApproveError(f"{file}:{seq.start_mark.line + 1}: {key} is not a list")
    doc.editable(seq, f"the {key} list")
    return doc.splice(*doc.insert_scalar(seq, value))


def _insert_access_point(doc: _Doc, change: NewAccessPoint) -> tuple[int, str]:
    facility = doc.facility(change.facility)
    item = _ap_item(change)
    networks = doc.get(facility, "networks")
    if change.network_index is not None:
        items = doc.items(facility, "networks")
        if change.network_index >= len(items):
            raise ApproveError(f"{doc.file}: network {change.network_index + 1} of facility "
                               f"{change.facility} not found")
        network = items[change.network_index]
        ssid = doc.scalar(network, "ssid")
        if ssid is None or ssid_from_printable(ssid) != change.ssid:
            raise ApproveError(f"{doc.file}: network {change.network_index + 1} of facility "
                               f"{change.facility} is not \"{printable_ssid(change.ssid)}\"")
        aps = doc.get(network, "access_points")
        if not isinstance(aps, SequenceNode) or doc.pair(network, "access_points") is None:
            raise ApproveError(f"{doc.file}:{network.start_mark.line + 1}: the access points of "
                               f"\"{printable_ssid(change.ssid)}\" are not a plain list here; "
                               "edit it by hand")
        doc.editable(aps, "this list of access points")
        return doc.append_item(aps, item)
    network_item = {
        "ssid": _Str(printable_ssid(change.ssid), "'"),
        "security": [_Str(s, "plain") for s in change.security],
        "pmf": _Str(change.pmf, "plain"),
        "access_points": [item],
    }
    if networks is None:
        doc.editable(facility, f"facility {change.facility}")
        return doc.add_key(facility, "networks", [network_item], ())
    if not isinstance(networks, SequenceNode) or doc.pair(facility, "networks") is None:
        raise ApproveError(f"{doc.file}:{facility.start_mark.line + 1}: the networks of facility "
                           f"{change.facility} are not a plain list here; edit it by hand")
    doc.editable(networks, "this list of networks")
    return doc.append_item(networks, network_item)
