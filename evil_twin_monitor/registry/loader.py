"""Load and validate the registry YAML into `model.Registry`.

Theory of operation
-------------------
A registry is one file or a directory whose ``*.yaml``/``*.yml`` files are
read in sorted name order and merged (one facility per file is natural). Each
file is checked on its own first, collecting every problem instead of
stopping at the first; then the cross-file checks run: facility ids unique,
and no BSSID claimed twice (an exact BSSID inside another entry's prefix, or
two overlapping prefixes, count as claimed twice). Any problem anywhere means
`RegistryError` with all of them; a half-loaded registry is never returned,
because a missing AP entry would turn its legitimate beacons into alerts.

Decisions worth knowing:

- ``ssid`` is written in the printable form of `decoding.text.printable_ssid`:
  plain UTF-8 text, with ``\\xNN`` for an octet that is not UTF-8, ``\\uNNNN``
  for an invisible character and ``\\\\`` for a backslash. It must come to
  1-32 octets.
- ``pmf`` defaults to what the security types allow: ``disabled`` when none
  of them negotiates PMF (open, wep, wpa-psk, wpa-eap), ``required`` when all
  of them mandate it (owe, wpa3-sae, wpa3-eap, wpa3-eap-192), and
  ``optional`` otherwise (wpa2 alone, or a WPA2/WPA3 transition network).
  A value contradicting the standard is an error rather than a surprise
  alert later.
- ``channels`` are 2.4 GHz (1-14) or 5 GHz (32-177) numbers; 6 GHz must be
  written as ``frequencies`` because its channel numbers repeat the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..decoding.channels import channel_to_frequency, frequency_to_channel
from ..decoding.text import printable_ssid, ssid_from_printable
from .model import (
    DEFAULT_BEACON_INTERVAL, PMF_VALUES, SECURITY_VALUES,
    AccessPoint, Facility, Network, Registry,
)
from .yamlsource import Located, Problem, Reader, SourceError, by_line, load_yaml


class RegistryError(SourceError):
    """The registry could not be loaded; ``problems`` says every reason."""


FACILITY_ID = re.compile(r"^[a-z0-9-]+$")

# Security types that never carry an RSN element, so PMF cannot be negotiated.
NO_PMF = frozenset({"open", "wep", "wpa-psk", "wpa-eap"})
# Security types whose specification requires PMF (WPA3-only modes, OWE).
PMF_MANDATORY = frozenset({"owe", "wpa3-sae", "wpa3-eap", "wpa3-eap-192"})

TOP_KEYS = ("facilities",)
FACILITY_KEYS = ("id",)
FACILITY_OPTIONAL = ("name", "networks", "address", "notes")
NETWORK_KEYS = ("ssid", "security", "access_points")
NETWORK_OPTIONAL = ("pmf", "notes")
AP_KEYS = ("bssid",)
AP_OPTIONAL = ("label", "channels", "frequencies", "beacon_interval", "fingerprints",
               "model", "notes")

_HEX = r"[0-9a-fA-F]{2}"
_BSSID = re.compile(rf"^({_HEX})([:-]{_HEX}){{5}}(/(\d{{1,3}}))?$")

_VALID_CHANNELS = "1-14, 32-177 (use frequencies: for 6 GHz)"
_VALID_FREQUENCIES = ("2412-2472 and 2484 (2.4 GHz), 4910-5925 (5 GHz), "
                      "5935 and 5955-7115 (6 GHz), in 5 MHz steps")


def default_pmf(security: frozenset[str]) -> str:
    """The PMF setting a network with these security types has unless told otherwise."""
    if security <= NO_PMF:
        return "disabled"
    if security <= PMF_MANDATORY:
        return "required"
    return "optional"


def parse_bssid(text: str) -> tuple[bytes, int] | str:
    """``(octets, prefix_len)`` of a BSSID or prefix, or an error message."""
    match = _BSSID.match(text.strip())
    if not match:
        return (f"'{text}' is not a BSSID; write six hex octets like \"00:1a:2b:3c:4d:50\" "
                "or a prefix like \"00:1a:2b:3c:4e:00/44\"")
    address, _, length = text.strip().partition("/")
    octets = bytes.fromhex(re.sub(r"[:-]", "", address))
    if not length:
        return octets, 48
    prefix_len = int(length)
    if not 1 <= prefix_len <= 47:
        return (f"prefix length /{prefix_len} is out of range; valid: 1-47 "
                "(write an exact BSSID without a /length)")
    value = int.from_bytes(octets, "big")
    host_bits = (1 << (48 - prefix_len)) - 1
    if value & host_bits:
        base = (value & ~host_bits).to_bytes(6, "big").hex(":")
        return (f"'{text}' has bits set beyond the {prefix_len}-bit prefix; "
                f"the prefix is written \"{base}/{prefix_len}\"")
    return octets, prefix_len


@dataclass
class _ApDraft:
    bssid: bytes
    prefix_len: int
    frequencies: frozenset[int]
    beacon_interval: int
    fingerprints: tuple[str, ...]
    label: str
    where: str            # "file:line" of the bssid, for duplicate messages
    problem_at: tuple[str, int, str]  # (file, line, field path)


@dataclass
class _NetworkDraft:
    ssid: bytes
    security: frozenset[str]
    pmf: str
    aps: list[_ApDraft] = field(default_factory=list)


@dataclass
class _FacilityDraft:
    id: str
    name: str
    source: str
    line: int
    path: str
    networks: list[_NetworkDraft] = field(default_factory=list)


class _FileReader(Reader):
    """Schema of one registry file."""

    def read(self, root: Located | None) -> list[_FacilityDraft]:
        if root is None:
            self.problem(None, "", "the file is empty; a registry file starts with "
                                   "'facilities:' followed by a list of facilities")
            return []
        top = self.mapping(root, "", TOP_KEYS)
        if not top or "facilities" not in top:
            return []
        items = self.sequence(top["facilities"], "facilities", "[- id: city-hall ...]")
        if items is None:
            return []
        drafts = []
        for i, item in enumerate(items):
            draft = self._facility(item, f"facilities[{i}]")
            if draft is not None:
                drafts.append(draft)
        return drafts

    def _facility(self, node: Located, path: str) -> _FacilityDraft | None:
        entries = self.mapping(node, path, FACILITY_KEYS, FACILITY_OPTIONAL)
        if entries is None:
            return None
        facility_id = None
        if "id" in entries:
            facility_id = self.string(entries["id"], f"{path}.id")
            if facility_id is not None and not FACILITY_ID.match(facility_id):
                self.problem(entries["id"].line, f"{path}.id",
                             f"'{facility_id}' is not a valid facility id; use lowercase "
                             "letters, digits and '-' (like city-hall)")
                facility_id = None
        name = facility_id or ""
        if "name" in entries:
            name = self.string(entries["name"], f"{path}.name") or name
        for key in ("address", "notes"):
            if key in entries:
                self.string(entries[key], f"{path}.{key}", allow_empty=True)
        networks: list[_NetworkDraft] = []
        if "networks" in entries:
            items = self.sequence(entries["networks"], f"{path}.networks",
                                  "[- ssid: Shinjuku_Free_Wi-Fi ...]") or []
            for i, item in enumerate(items):
                network = self._network(item, f"{path}.networks[{i}]")
                if network is not None:
                    networks.append(network)
        if facility_id is None:
            return None
        id_line = entries["id"].line
        return _FacilityDraft(facility_id, name, self.file, id_line, f"{path}.id", networks)

    def _network(self, node: Located, path: str) -> _NetworkDraft | None:
        entries = self.mapping(node, path, NETWORK_KEYS, NETWORK_OPTIONAL)
        if entries is None:
            return None
        ssid = self._ssid(entries["ssid"], f"{path}.ssid") if "ssid" in entries else None
        security = self._security(entries["security"], f"{path}.security") \
            if "security" in entries else None
        pmf = None
        if "pmf" in entries:
            pmf = self.choice(entries["pmf"], f"{path}.pmf", PMF_VALUES, "PMF setting")
            if pmf is not None and security:
                self._check_pmf(security, pmf, entries["pmf"].line, f"{path}.pmf")
        if "notes" in entries:
            self.string(entries["notes"], f"{path}.notes", allow_empty=True)
        aps: list[_ApDraft] = []
        if "access_points" in entries:
            items = self.sequence(entries["access_points"], f"{path}.access_points",
                                  "[- bssid: \"00:1a:2b:3c:4d:50\" ...]")
            if items is not None and not items:
                self.problem(entries["access_points"].line, f"{path}.access_points",
                             "a network needs at least one access point")
            for i, item in enumerate(items or ()):
                ap = self._access_point(item, f"{path}.access_points[{i}]")
                if ap is not None:
                    aps.append(ap)
        if ssid is None or not security:
            return None
        if pmf is None and "pmf" not in entries:
            pmf = default_pmf(security)
        if pmf is None:
            return None
        return _NetworkDraft(ssid, security, pmf, aps)

    def _ssid(self, node: Located, path: str) -> bytes | None:
        text = self.string(node, path)
        if text is None:
            return None
        try:
            ssid = ssid_from_printable(text)
        except (ValueError, OverflowError):
            # '\ud800' (half of a UTF-16 pair: UnicodeEncodeError) or
            # '\U00110000', '\Uffffffff' (beyond Unicode): escapes of no character.
            self.problem(node.line, path, f"'{text}' holds an escape of no character (\\uD800-"
                                          "\\uDFFF is half of a UTF-16 pair, \\U beyond "
                                          "0010ffff is not Unicode); write the octets as \\xNN "
                                          "escapes instead")
            return None
        if len(ssid) > 32:
            self.problem(node.line, path, f"'{text}' is {len(ssid)} octets in UTF-8; "
                                          "an SSID holds at most 32")
            return None
        return ssid

    def _security(self, node: Located, path: str) -> frozenset[str] | None:
        items = self.sequence(node, path, "[wpa2-psk]")
        if items is None:
            return None
        if not items:
            self.problem(node.line, path, "list at least one security type; valid: "
                                          + ", ".join(SECURITY_VALUES))
            return None
        values = [self.choice(item, f"{path}[{i}]", SECURITY_VALUES, "security type")
                  for i, item in enumerate(items)]
        if any(v is None for v in values):
            return None
        return frozenset(v for v in values if v is not None)

    def _check_pmf(self, security: frozenset[str], pmf: str, line: int, path: str) -> None:
        listed = "[" + ", ".join(s for s in SECURITY_VALUES if s in security) + "]"
        if pmf != "disabled" and security <= NO_PMF:
            self.problem(line, path, f"pmf: {pmf} is impossible with security {listed}: PMF is "
                                     "negotiated in the RSN element, which open, WEP and WPA1 "
                                     "networks do not send; use pmf: disabled")
        elif pmf != "required" and security <= PMF_MANDATORY:
            self.problem(line, path, f"pmf: {pmf} contradicts security {listed}: WPA3 and OWE "
                                     "require protected management frames, so an AP in this "
                                     "mode always advertises PMF required; use pmf: required")
        elif pmf == "disabled" and security & PMF_MANDATORY:
            self.problem(line, path, f"pmf: disabled contradicts security {listed}: a WPA3 "
                                     "transition network must be PMF capable; use pmf: optional")

    def _access_point(self, node: Located, path: str) -> _ApDraft | None:
        entries = self.mapping(node, path, AP_KEYS, AP_OPTIONAL)
        if entries is None:
            return None
        parsed = None
        if "bssid" in entries:
            text = self.string(entries["bssid"], f"{path}.bssid")
            if text is not None:
                result = parse_bssid(text)
                if isinstance(result, str):
                    self.problem(entries["bssid"].line, f"{path}.bssid", result)
                else:
                    parsed = result
        ok = True
        frequencies: set[int] = set()
        if "channels" in entries:
            ok &= self._channels(entries["channels"], f"{path}.channels", frequencies)
        if "frequencies" in entries:
            ok &= self._frequencies(entries["frequencies"], f"{path}.frequencies", frequencies)
        if "channels" not in entries and "frequencies" not in entries:
            self.problem(node.line, path, "an access point needs channels or frequencies "
                                          "(or both), e.g. channels: [1, 6, 11]")
            ok = False
        elif ok and not frequencies:
            self.problem(node.line, path, "the channels and frequencies lists are empty; "
                                          "list at least one")
            ok = False
        beacon_interval = DEFAULT_BEACON_INTERVAL
        if "beacon_interval" in entries:
            value = self.integer(entries["beacon_interval"], f"{path}.beacon_interval", 1, 65535)
            ok &= value is not None
            beacon_interval = value or beacon_interval
        fingerprints: list[str] = []
        if "fingerprints" in entries:
            items = self.sequence(entries["fingerprints"], f"{path}.fingerprints", "[]")
            for i, item in enumerate(items or ()):
                text = self.string(item, f"{path}.fingerprints[{i}]")
                if text is not None:
                    fingerprints.append(text)
        label = ""
        if "label" in entries:
            label = self.string(entries["label"], f"{path}.label", allow_empty=True) or ""
        for key in ("model", "notes"):
            if key in entries:
                self.string(entries[key], f"{path}.{key}", allow_empty=True)
        if parsed is None or not ok:
            return None
        line = entries["bssid"].line
        return _ApDraft(parsed[0], parsed[1], frozenset(frequencies), beacon_interval,
                        tuple(fingerprints), label, f"{self.file}:{line}",
                        (self.file, line, f"{path}.bssid"))

    def _channels(self, node: Located, path: str, into: set[int]) -> bool:
        items = self.sequence(node, path, "[1, 6, 11]")
        if items is None:
            return False
        ok = True
        for i, item in enumerate(items):
            value = item.value
            freq = None
            if isinstance(value, int) and not isinstance(value, bool):
                freq = channel_to_frequency(value) if value > 0 else None
            if freq is None:
                shown = value if isinstance(value, int) and not isinstance(value, bool) \
                    else repr(item.text if item.text is not None else item.kind)
                self.problem(item.line, f"{path}[{i}]",
                             f"{shown} is not a channel in 2.4 or 5 GHz; valid: {_VALID_CHANNELS}")
                ok = False
                continue
            into.add(freq)
        return ok

    def _frequencies(self, node: Located, path: str, into: set[int]) -> bool:
        items = self.sequence(node, path, "[2412, 5180, 5955]")
        if items is None:
            return False
        ok = True
        for i, item in enumerate(items):
            value = item.value
            valid = isinstance(value, int) and not isinstance(value, bool) \
                and frequency_to_channel(value) is not None
            if not valid:
                shown = value if isinstance(value, int) and not isinstance(value, bool) \
                    else repr(item.text if item.text is not None else item.kind)
                self.problem(item.line, f"{path}[{i}]",
                             f"{shown} is not a Wi-Fi centre frequency in MHz; "
                             f"valid: {_VALID_FREQUENCIES}")
                ok = False
                continue
            into.add(value)
        return ok


def registry_files(path: Path) -> list[Path]:
    """The YAML files a registry path stands for, in merge order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir()
                      if p.suffix in (".yaml", ".yml") and p.is_file()
                      and not p.name.startswith("."))
    return [path]


def load_registry(path: str | Path) -> Registry:
    """Load a registry file or directory; raise `RegistryError` listing every problem."""
    path = Path(path)
    if not path.exists():
        raise RegistryError([Problem(str(path), None, "", "no such file or directory")])
    files = registry_files(path)
    if not files:
        raise RegistryError([Problem(str(path), None, "",
                                     "no *.yaml or *.yml files in this directory")])
    problems: list[Problem] = []
    drafts: list[_FacilityDraft] = []
    for file in files:
        root, file_problems = load_yaml(file, str(file))
        if file_problems and root is None:
            problems.extend(file_problems)
            continue
        reader = _FileReader(str(file))
        drafts.extend(reader.read(root))
        problems.extend(by_line(file_problems + reader.problems))
    problems.extend(_cross_file_problems(drafts))
    if not problems and not drafts:
        problems.append(Problem(str(path), None, "", "the registry lists no facilities"))
    if problems:
        raise RegistryError(problems)
    return Registry(tuple(_build(d) for d in drafts), tuple(str(f) for f in files))


def _cross_file_problems(drafts: list[_FacilityDraft]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, _FacilityDraft] = {}
    for draft in drafts:
        first = seen_ids.get(draft.id)
        if first is not None:
            problems.append(Problem(draft.source, draft.line, draft.path,
                                    f"facility '{draft.id}' is already defined at "
                                    f"{first.source}:{first.line}"))
        else:
            seen_ids[draft.id] = draft
    exact: dict[bytes, _ApDraft] = {}
    prefixes: list[_ApDraft] = []
    for draft in drafts:
        for network in draft.networks:
            for ap in network.aps:
                clash = _claimed(ap, exact, prefixes)
                if clash is not None:
                    file, line, path = ap.problem_at
                    problems.append(Problem(file, line, path, clash))
                elif ap.prefix_len == 48:
                    exact[ap.bssid] = ap
                else:
                    prefixes.append(ap)
    return problems


def _text(ap: _ApDraft) -> str:
    text = ap.bssid.hex(":")
    return text if ap.prefix_len == 48 else f"{text}/{ap.prefix_len}"


def _covers(outer: _ApDraft, inner: _ApDraft) -> bool:
    """Whether every address of ``inner`` lies inside ``outer``'s prefix."""
    if outer.prefix_len > inner.prefix_len:
        return False
    shift = 48 - outer.prefix_len
    return int.from_bytes(outer.bssid, "big") >> shift == int.from_bytes(inner.bssid, "big") >> shift


def _claimed(ap: _ApDraft, exact: dict[bytes, _ApDraft], prefixes: list[_ApDraft]) -> str | None:
    """Why ``ap`` clashes with an entry seen before, or None."""
    if ap.prefix_len == 48 and ap.bssid in exact:
        return f"{_text(ap)} is listed twice; it is already listed at {exact[ap.bssid].where}"
    for other in prefixes:
        if _covers(other, ap):
            return (f"{_text(ap)} lies inside the prefix {_text(other)} "
                    f"already listed at {other.where}")
        if _covers(ap, other):
            return (f"the prefix {_text(ap)} covers {_text(other)} "
                    f"already listed at {other.where}")
    if ap.prefix_len < 48:
        for other in exact.values():
            if _covers(ap, other):
                return (f"the prefix {_text(ap)} covers {_text(other)} "
                        f"already listed at {other.where}")
    return None


def _build(draft: _FacilityDraft) -> Facility:
    """Drafts -> immutable model objects (which point at their parents)."""
    networks: list[Network] = []
    facility = Facility(draft.id, draft.name, (), draft.source)
    for net in draft.networks:
        aps: list[AccessPoint] = []
        network = Network(net.ssid, net.security, net.pmf, (), facility)
        for ap in net.aps:
            aps.append(AccessPoint(ap.bssid, ap.prefix_len, ap.frequencies, ap.beacon_interval,
                                   ap.fingerprints, ap.label, network, facility))
        object.__setattr__(network, "access_points", tuple(aps))
        networks.append(network)
    object.__setattr__(facility, "networks", tuple(networks))
    return facility


def summarize_registry(registry: Registry) -> str:
    """A short summary for people: per facility its networks and channels, then totals."""
    lines: list[str] = []
    n_networks = n_aps = n_prefixes = 0
    for facility in registry.facilities:
        source = f"  ({facility.source})" if facility.source else ""
        lines.append(f"{facility.id}: {facility.name}{source}")
        for network in facility.networks:
            aps = network.access_points
            n_networks += 1
            n_aps += len(aps)
            n_prefixes += sum(1 for ap in aps if ap.prefix_len < 48)
            security = ", ".join(s for s in SECURITY_VALUES if s in network.security)
            count = f"{len(aps)} AP" + ("" if len(aps) == 1 else "s")
            freqs = frozenset().union(*(ap.frequencies for ap in aps))
            lines.append(f"  {printable_ssid(network.ssid)}  [{security}]  pmf {network.pmf}  "
                         f"{count}  {_channel_summary(freqs)}")
        if not facility.networks:
            lines.append("  (no networks)")
    lines.append(f"total: {_count(len(registry.facilities), 'facility', 'facilities')}, "
                 f"{_count(n_networks, 'network')}, {_count(len(registry.ssids), 'distinct SSID')}, "
                 f"{_count(n_aps, 'access point entry', 'access point entries')} "
                 f"({n_prefixes} of them BSSID prefixes)")
    return "\n".join(lines)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _channel_summary(freqs: frozenset[int]) -> str:
    """'2.4 GHz 1,6,11; 5 GHz 36,40; 6 GHz 5955 MHz': numbers per band, 6 GHz as MHz."""
    parts = []
    low = sorted(frequency_to_channel(f) or 0 for f in freqs if f < 2500)
    mid = sorted(frequency_to_channel(f) or 0 for f in freqs if 4900 <= f < 5925)
    high = sorted(f for f in freqs if f >= 5925)
    if low:
        parts.append("2.4 GHz ch " + ",".join(map(str, low)))
    if mid:
        parts.append("5 GHz ch " + ",".join(map(str, mid)))
    if high:
        parts.append("6 GHz " + ",".join(map(str, high)) + " MHz")
    return "; ".join(parts)
