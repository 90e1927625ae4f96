"""What a survey heard: every network, with what a registry entry needs.

Theory of operation
-------------------
The collector is pure: it is fed decoded `Frame` objects (from capture files
or a live capture, the caller decides) and never reads a clock or a file, so
a survey of a capture file is a plain function call in tests.

Only frames that access points send about themselves are read: beacons and
probe responses. Probe requests and everything else come from client devices
(personal data) and tell nothing about the networks, so they are not even
captured (the live kernel filter passes these two subtypes only).

Two tables, because the registry and the rules think in two units:

- `Network`, one per (BSSID, SSID) pair: what people call "a network heard"
  and what the table lists. One radio can advertise several SSIDs on one
  BSSID (a hidden network whose beacons carry no SSID but whose probe
  responses do; a karma device), and each pair gets its own line.
- `Station`, one per BSSID: what a registry access-point entry describes and
  what the rules check per BSSID whatever SSID a frame carries: the channels
  it operates on, its beacon interval and its beacon fingerprints.

Channels are where the AP *says* it operates (DS Parameter Set or HT
Operation element, read in the band the frame was heard in, as the rules do
with `rules.common.operating_frequency`): on 2.4 GHz a beacon leaks into the
neighbouring channels, and the radio's own frequency would register those.

Fingerprints are the ``beacon:v1:<hash>`` values of the fingerprint rule
(`rules.fingerprint_mismatch.fingerprint_of`), learned the way the rule
learns them: a value is learned after ``learn_count`` consecutive beacons of
one BSSID carry it. A BSSID that showed more than one learned value is worth
a look (a firmware update during the survey, or a second transmitter using
the BSSID); the draft says so. Probe-response fingerprints are not recorded:
some APs tailor probe responses to the asking client, and a registered
fingerprint that misses one variant would raise alerts; the rule learns
those on its own.

Memory is bounded because the air is attacker-controlled (a beacon flood
brings thousands of BSSIDs a minute): at most ``max_networks`` pairs (and as
many stations), ``MAX_SSIDS_PER_BSSID`` SSIDs per BSSID, and a few distinct
values per counter. Frames of networks that no longer fit are counted
(``untracked_frames``), never silently lost.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from ..decoding.frame import BEACON, PROBE_RESP, Frame
from ..rules.common import operating_frequency, security_unreadable
from ..rules.fingerprint_mismatch import CAPABILITY_MASK, FingerprintMismatch, fingerprint_of

KINDS = frozenset({BEACON, PROBE_RESP})
DEFAULT_MAX_NETWORKS = 10_000
MAX_SSIDS_PER_BSSID = 64   # a karma device answers for any SSID asked
MAX_VARIANTS = 8           # distinct security settings / intervals / fingerprints per record
MAX_FREQUENCIES = 64       # an AP announces one channel; a liar may announce many
LEARN_COUNT = int(FingerprintMismatch.DEFAULTS["learn_count"])
_FP_CACHE_CAP = 4096

Security = tuple[frozenset[str], str]   # (registry security words, pmf)


def is_hidden(ssid: bytes | None) -> bool:
    """An SSID that names nothing: absent, empty, or only zero octets (hidden networks
    beacon either form). Such an SSID cannot be registered: every hidden network
    would match it."""
    return not ssid or not ssid.strip(b"\x00")


def _count(counter: Counter, key: object, cap: int = MAX_VARIANTS) -> bool:
    """Count ``key`` unless the counter already holds ``cap`` other keys."""
    if key in counter or len(counter) < cap:
        counter[key] += 1
        return True
    return False


def median(histogram: Counter) -> int | None:
    """The median of integer samples kept as value -> count (lower middle)."""
    total = sum(histogram.values())
    if not total:
        return None
    middle = (total - 1) // 2
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen > middle:
            return value
    return None  # pragma: no cover


class Network:
    """One (BSSID, SSID) pair as heard."""

    __slots__ = ("bssid", "ssid", "beacons", "probe_responses", "first_ns", "last_ns",
                 "frequencies", "security", "security_unknown", "signal", "intervals")

    def __init__(self, bssid: bytes, ssid: bytes, ts_ns: int) -> None:
        self.bssid = bssid
        self.ssid = ssid
        self.beacons = 0
        self.probe_responses = 0
        self.first_ns = ts_ns
        self.last_ns = ts_ns
        self.frequencies: set[int] = set()       # where it said it operates, MHz
        self.security: Counter[Security] = Counter()
        self.security_unknown = 0                # frames whose elements broke off before RSN/WPA
        self.signal: Counter[int] = Counter()    # dBm -> frames
        self.intervals: Counter[int] = Counter()  # TU -> frames

    @property
    def frames(self) -> int:
        return self.beacons + self.probe_responses

    @property
    def hidden(self) -> bool:
        return is_hidden(self.ssid)

    @property
    def main_security(self) -> Security | None:
        """The security setting most of its frames advertised (ties: the first heard)."""
        return self.security.most_common(1)[0][0] if self.security else None

    @property
    def signal_median(self) -> int | None:
        return median(self.signal)

    @property
    def signal_max(self) -> int | None:
        return max(self.signal) if self.signal else None

    @property
    def beacon_interval(self) -> int | None:
        return self.intervals.most_common(1)[0][0] if self.intervals else None


class Station:
    """One BSSID, whatever SSIDs it carried: what a registry AP entry describes."""

    __slots__ = ("bssid", "frequencies", "intervals", "beacons", "learned", "fingerprints",
                 "_run_fp", "_run", "ssids", "ssids_untracked")

    def __init__(self, bssid: bytes) -> None:
        self.bssid = bssid
        self.frequencies: set[int] = set()
        self.intervals: Counter[int] = Counter()
        self.beacons = 0
        self.learned: list[str] = []             # in the order they were learned
        self.fingerprints: Counter[str] = Counter()  # beacons per fingerprint (capped)
        self._run_fp: str | None = None
        self._run = 0
        self.ssids = 0                           # Network records of this BSSID
        self.ssids_untracked = 0                 # frames of SSIDs beyond MAX_SSIDS_PER_BSSID

    @property
    def beacon_interval(self) -> int | None:
        return self.intervals.most_common(1)[0][0] if self.intervals else None

    def _fingerprint(self, fp: str) -> None:
        _count(self.fingerprints, fp)
        if fp == self._run_fp:
            self._run += 1
        else:
            self._run_fp, self._run = fp, 1
        if self._run == LEARN_COUNT and fp not in self.learned and len(self.learned) < MAX_VARIANTS:
            self.learned.append(fp)


class SurveyCollector:
    """Feed it frames; read `networks()` and `station()` afterwards."""

    kinds = KINDS

    def __init__(self, max_networks: int = DEFAULT_MAX_NETWORKS) -> None:
        if max_networks < 1:
            raise ValueError("max_networks must be at least 1")
        self.max_networks = max_networks
        self._networks: dict[tuple[bytes, bytes], Network] = {}
        self._stations: dict[bytes, Station] = {}
        self._fp_cache: dict[tuple, str | None] = {}
        self.frames = 0               # beacons and probe responses fed
        self.untracked_frames = 0     # of networks beyond the caps
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def feed(self, frame: Frame) -> None:
        """Take one decoded frame; frames other than beacons and probe responses are ignored."""
        kind = frame.kind
        elements = frame.elements
        bssid = frame.addr3
        if (kind != BEACON and kind != PROBE_RESP) or elements is None or bssid is None:
            return
        ts = frame.ts_ns
        self.frames += 1
        if self.first_ns is None or ts < self.first_ns:
            self.first_ns = ts
        if self.last_ns is None or ts > self.last_ns:
            self.last_ns = ts
        ssid = elements.ssid or b""
        network = self._networks.get((bssid, ssid))
        if network is None:
            network = self._new_network(bssid, ssid, ts)
            if network is None:
                self.untracked_frames += 1
                return
        station = self._stations[bssid]
        if kind == BEACON:
            network.beacons += 1
            station.beacons += 1
            fp = self._fingerprint(frame)
            if fp is not None:
                station._fingerprint(fp)
        else:
            network.probe_responses += 1
        if ts < network.first_ns:
            network.first_ns = ts
        if ts > network.last_ns:
            network.last_ns = ts
        freq = operating_frequency(frame)
        if freq is not None:
            if len(network.frequencies) < MAX_FREQUENCIES:
                network.frequencies.add(freq)
            if len(station.frequencies) < MAX_FREQUENCIES:
                station.frequencies.add(freq)
        if security_unreadable(elements):
            network.security_unknown += 1
        else:
            _count(network.security, (elements.security, elements.pmf))
        if frame.signal_dbm is not None:
            network.signal[frame.signal_dbm] += 1   # at most 256 keys: an octet in radiotap
        if frame.beacon_interval is not None:
            _count(network.intervals, frame.beacon_interval)
            _count(station.intervals, frame.beacon_interval)

    def feed_all(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            self.feed(frame)

    def _new_network(self, bssid: bytes, ssid: bytes, ts: int) -> Network | None:
        if len(self._networks) >= self.max_networks:
            return None
        station = self._stations.get(bssid)
        if station is None:
            station = self._stations[bssid] = Station(bssid)
        elif station.ssids >= MAX_SSIDS_PER_BSSID:
            station.ssids_untracked += 1
            return None
        station.ssids += 1
        network = self._networks[(bssid, ssid)] = Network(bssid, ssid, ts)
        return network

    def _fingerprint(self, frame: Frame) -> str | None:
        """`fingerprint_of`, remembered for identical beacon bodies (the TIM changes
        every beacon, so this saves work mainly for APs without one and for floods
        of copies; the cache is emptied when full)."""
        key = (frame.kind, frame.beacon_interval,
               None if frame.capability is None else frame.capability & CAPABILITY_MASK,
               frame.elements.raw)  # type: ignore[union-attr]
        cache = self._fp_cache
        try:
            return cache[key]
        except KeyError:
            pass
        fp = fingerprint_of(frame)
        if len(cache) >= _FP_CACHE_CAP:
            cache.clear()
        cache[key] = fp
        return fp

    # -- results ------------------------------------------------------------------------
    def networks(self) -> list[Network]:
        """Every pair heard, sorted by SSID octets, then BSSID."""
        return sorted(self._networks.values(), key=lambda n: (n.ssid, n.bssid))

    def station(self, bssid: bytes) -> Station | None:
        return self._stations.get(bssid)

    @property
    def untracked_ssids(self) -> int:
        """Frames dropped because one BSSID carried too many SSIDs (part of
        ``untracked_frames``)."""
        return sum(s.ssids_untracked for s in self._stations.values())
