"""The registry of the city's legitimate access points, as the rules see it.

The loader (``registry.loader``) validates YAML and builds these immutable
objects; the rules only ever ask three questions, so the registry answers them
with precomputed indexes:

- which registered AP is this BSSID? (`Registry.ap_for_bssid`, exact dict
  lookup first, then the few prefix entries of multi-BSSID radios)
- is this SSID one of ours, and which networks use it? (`Registry.networks_for_ssid`)
- which APs belong to this facility? (`Registry.facility`)
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECURITY_VALUES = (
    "open", "owe", "wep", "wpa-psk", "wpa-eap", "wpa2-psk", "wpa2-eap",
    "wpa3-sae", "wpa3-eap", "wpa3-eap-192",
)
PMF_VALUES = ("disabled", "optional", "required")
DEFAULT_BEACON_INTERVAL = 100
_LOOKUP_CACHE_CAP = 8192


@dataclass(frozen=True, eq=False)
class AccessPoint:
    bssid: bytes                 # 6 bytes; for a prefix entry, the prefix padded with zeros
    prefix_len: int              # 48 for an exact BSSID, fewer bits for a multi-BSSID radio
    frequencies: frozenset[int]  # allowed centre frequencies in MHz
    beacon_interval: int
    fingerprints: tuple[str, ...]
    label: str
    network: "Network" = field(repr=False)
    facility: "Facility" = field(repr=False)

    @property
    def bssid_text(self) -> str:
        text = self.bssid.hex(":")
        return text if self.prefix_len == 48 else f"{text}/{self.prefix_len}"

    def matches(self, bssid: bytes) -> bool:
        if self.prefix_len == 48:
            return bssid == self.bssid
        value = int.from_bytes(bssid, "big") >> (48 - self.prefix_len)
        return value == int.from_bytes(self.bssid, "big") >> (48 - self.prefix_len)


@dataclass(frozen=True, eq=False)
class Network:
    ssid: bytes                  # the SSID octets as transmitted (UTF-8 of the YAML string)
    security: frozenset[str]     # allowed set, values from SECURITY_VALUES
    pmf: str                     # one of PMF_VALUES
    access_points: tuple[AccessPoint, ...] = field(repr=False)
    facility: "Facility" = field(repr=False)

    @property
    def ssid_text(self) -> str:
        return self.ssid.decode("utf-8", "replace")


@dataclass(frozen=True, eq=False)
class Facility:
    id: str
    name: str
    networks: tuple[Network, ...] = field(repr=False)
    source: str = ""             # file the facility came from, for messages


class Registry:
    """All facilities, with lookup indexes built once."""

    __slots__ = ("facilities", "_by_bssid", "_prefixes", "_by_ssid", "_by_facility", "sources",
                 "_lookups")

    def __init__(self, facilities: tuple[Facility, ...], sources: tuple[str, ...] = ()) -> None:
        self.facilities = facilities
        self.sources = sources
        self._by_bssid: dict[bytes, AccessPoint] = {}
        self._prefixes: list[AccessPoint] = []
        self._by_ssid: dict[bytes, list[Network]] = {}
        self._by_facility = {f.id: f for f in facilities}
        # Answers of ap_for_bssid, including "not ours": several rules ask
        # about the same BSSID for every frame. Cleared when full, because
        # an attacker chooses how many BSSIDs we see.
        self._lookups: dict[bytes, AccessPoint | None] = {}
        for facility in facilities:
            for network in facility.networks:
                self._by_ssid.setdefault(network.ssid, []).append(network)
                for ap in network.access_points:
                    if ap.prefix_len == 48:
                        self._by_bssid[ap.bssid] = ap
                    else:
                        self._prefixes.append(ap)
        # Longest prefix first, so the most specific entry wins.
        self._prefixes.sort(key=lambda ap: -ap.prefix_len)

    def ap_for_bssid(self, bssid: bytes | None) -> AccessPoint | None:
        """The registered AP entry covering this BSSID, or None."""
        if bssid is None:
            return None
        lookups = self._lookups
        try:
            return lookups[bssid]
        except KeyError:
            pass
        ap = self._by_bssid.get(bssid)
        if ap is None:
            ap = next((c for c in self._prefixes if c.matches(bssid)), None)
        if len(lookups) >= _LOOKUP_CACHE_CAP:
            lookups.clear()
        lookups[bssid] = ap
        return ap

    def networks_for_ssid(self, ssid: bytes | None) -> list[Network]:
        """Registered networks (in any facility) that use exactly this SSID."""
        if not ssid:
            return []
        return self._by_ssid.get(ssid, [])

    @property
    def ssids(self) -> frozenset[bytes]:
        return frozenset(self._by_ssid)

    def facility(self, facility_id: str) -> Facility | None:
        return self._by_facility.get(facility_id)

    def access_points(self, facility_id: str | None = None) -> list[AccessPoint]:
        """Every AP entry, or those of one facility."""
        facilities = self.facilities if facility_id is None else (
            (self._by_facility[facility_id],) if facility_id in self._by_facility else ())
        return [ap for f in facilities for n in f.networks for ap in n.access_points]


def build_registry(facilities: list[dict], sources: tuple[str, ...] = ()) -> Registry:
    """Build a Registry from already-validated plain data.

    The loader validates YAML and then calls this; tests use it directly::

        build_registry([{"id": "city-hall", "name": "...", "networks": [
            {"ssid": b"Shinjuku_Free_Wi-Fi", "security": {"wpa2-psk"}, "pmf": "optional",
             "access_points": [{"bssid": bytes.fromhex("001a2b3c4d50"), "prefix_len": 48,
                                "frequencies": {2412, 2437}, "label": "3F lobby"}]}]}])

    AP keys ``prefix_len`` (48), ``beacon_interval`` (100), ``fingerprints``
    (()) and ``label`` ("") are optional.
    """
    built: list[Facility] = []
    for fdata in facilities:
        facility = Facility(id=fdata["id"], name=fdata.get("name", fdata["id"]), networks=(),
                            source=fdata.get("source", ""))
        networks: list[Network] = []
        for ndata in fdata.get("networks", ()):
            network = Network(ssid=ndata["ssid"], security=frozenset(ndata["security"]),
                              pmf=ndata.get("pmf", "optional"), access_points=(), facility=facility)
            aps = tuple(
                AccessPoint(bssid=a["bssid"], prefix_len=a.get("prefix_len", 48),
                            frequencies=frozenset(a["frequencies"]),
                            beacon_interval=a.get("beacon_interval", DEFAULT_BEACON_INTERVAL),
                            fingerprints=tuple(a.get("fingerprints", ())), label=a.get("label", ""),
                            network=network, facility=facility)
                for a in ndata.get("access_points", ()))
            object.__setattr__(network, "access_points", aps)
            networks.append(network)
        object.__setattr__(facility, "networks", tuple(networks))
        built.append(facility)
    return Registry(tuple(built), sources)
