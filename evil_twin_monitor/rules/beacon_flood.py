"""beacon_flood: far more never-heard-before access points than this site's normal churn.

Theory of operation
-------------------
Attack: a beacon flood. mdk3/mdk4 in ``b`` mode, an ESP8266 or ESP32 running
"beacon spam" firmware (spacehuhn, Marauder, the Flipper's Wi-Fi board) send
beacons from thousands of made-up BSSIDs with made-up names, often a new BSSID
for every frame. Phones' network lists fill with junk (some clients slow
down or crash), the real city network drowns in it, and an evil twin
started at the same moment hides among thousands of strangers. It also
stresses every sensor that keeps per-BSSID state, which is why everything
below is capped.

Signal: the BSSID (addr3, else addr2) of beacons and probe responses. A BSSID
is *new* when this rule has not heard it before, or not for ``forget_s``. The
rule counts new BSSIDs in a sliding window of ``window_s`` (12 buckets) and
fires when the count, as a rate per minute, exceeds
``max(min_new_per_min, factor x normal)``, where *normal* is the site's
learned churn of new BSSIDs per minute (phones' hotspots coming and going,
a bus's Wi-Fi passing by).

Learning the normal: an exponentially weighted average of the per-minute
rate of each closed bucket, with time constant ``learn_s``, bias-corrected
(so it is usable after minutes, not hours) but never trusted more than ten
minutes of evidence allow: one busy bucket right after start-up does not
raise the threshold. Buckets are not learned while a
flood is on, and each bucket's contribution is clamped to ``min_new_per_min``
(decision): so the threshold never rises above ``factor x min_new_per_min``
and a patient attacker who ramps up slowly cannot teach the rule to ignore a
flood above that.

Warm-up per frequency (decision): a sensor that starts, or that hops to a
channel for the first time, hears that channel's neighbours for the first
time: hundreds of "new" BSSIDs that are no attack. New BSSIDs heard on a
frequency count only once the sensor has listened there for ``warm_up_s``
seconds (distinct seconds in which it heard a beacon or probe response on
that frequency; learnt BSSIDs are remembered meanwhile). A hopping sensor's
channels thus warm one by one, at their own pace, with no global timer to
guess. A flood on an empty channel warms that channel itself: it is
counted ``warm_up_s`` seconds of listening after it starts. After a capture
gap every frequency warms up again: BSSIDs that went stale while the sensor
was deaf are not a flood.

Two tables keep what was heard, both capped at ``max_tracked``
(`BoundedDict`):

- *candidates*: BSSIDs heard once so far (first-heard time), oldest evicted;
- *known*: BSSIDs heard again at least a second after their first frame,
  i.e. real transmitters (last-heard time, refreshed at most every 10 s,
  least recently heard evicted). Nothing is promoted here while a flood is
  on.

So a flood churns only the candidates table, even one that cycles a pool of
BSSIDs that each beacon repeatedly, and the neighbourhood in *known*
survives it: neighbours do not look new when the flood ends. Should known
neighbours be lost all the same (a table smaller than the neighbourhood, a
pool flood on a channel still warming up), each of them is counted once
when heard again and learnt, so the alert's tail is bounded by how long the
neighbourhood takes to be heard again. The flood is over when the window's
count falls back under the threshold, and nothing heard during a flood
enters the learned normal.

Hot path: for a known BSSID, one dict lookup for the frequency, one for the
BSSID and two comparisons. A new BSSID costs a table insert and a few
counter updates; the evidence is built at most once per bucket.

Finding: one per facility (``bssid`` and ``ssid`` None: the engine keys the
alert on rule and facility), repeated at most once per bucket while the
window stays above the threshold; ``freq_mhz`` is where most new BSSIDs were
heard. Evidence: new BSSIDs in the window, current, normal and threshold
rates per minute, the share of locally administered (random) addresses,
distinct SSIDs (counted up to 256 per bucket), at most five sample SSIDs
(printable), the busiest frequencies and the total since the flood was
detected. No addresses: a flood is thousands of them, and a hotspot's BSSID
can be a person's phone.

Severity: high, as for ``deauth_flood`` (decision): a flood is deliberate
and disrupts the service for everyone around, and often covers an evil twin,
but by itself it captures no one's traffic; the twin, when the flood carries
one, raises its own (critical) alert from ``unknown_bssid`` or
``lookalike_ssid``.

Thresholds (defaults): more than 100 new BSSIDs a minute and more than
5 x the learned normal (so at most 500 a minute), over a 60 s window; a
frequency counts after 20 s of listening on it; normal learnt with a
one-hour time constant; a BSSID silent for an hour is new again; 16,384
known and 16,384 candidate BSSIDs remembered.

Blind spots: a "list" flood of a few dozen fixed fake APs (the ESP8266
Deauther's default beacon list) adds only that many new BSSIDs once and
looks like a new neighbourhood (names that imitate the city's are still
caught by ``lookalike_ssid``/``unknown_bssid``); a flood slower than the
threshold; a flood on a channel a hopping sensor visits only briefly (it
hears a fraction of the frames, e.g. a sixth on six channels); a flood that
starts within ``warm_up_s`` of the sensor starting (or of a capture gap) is
counted from the end of that warm-up; a place whose real churn
exceeds 500 new BSSIDs a minute would alert (raise ``min_new_per_min``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Mapping

from ..decoding.frame import BEACON, PROBE_RESP, Frame
from ..decoding.text import printable_ssid
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import channel_label

NS = 1_000_000_000
BUCKETS = 12                # the window is this many buckets
PROMOTE_NS = NS             # heard again this long after its first frame: a real transmitter
TOUCH_NS = 10 * NS          # refresh a known BSSID's last-heard time at most this often
SSIDS_PER_BUCKET = 256      # distinct SSIDs remembered per bucket (evidence only)
SAMPLE_SSIDS = 5
MAX_FREQUENCIES = 256       # heard frequencies followed (radiotap values: a few dozen)
TRUST_NORMAL_AFTER_NS = 600 * NS  # the learned normal counts in full after this much learning


class _Bucket:
    """New BSSIDs counted in one twelfth of the window."""

    __slots__ = ("count", "random", "ssids", "freqs")

    def __init__(self) -> None:
        self.count = 0
        self.random = 0                          # locally administered addresses
        self.ssids: dict[bytes, None] = {}       # insertion-ordered (deterministic evidence)
        self.freqs: dict[int | None, int] = {}


_EMPTY = _Bucket()  # shared stand-in for buckets in which nothing was counted (never mutated)


def _setting(name: str, value: Any, minimum: float, maximum: float | None = None,
             integer: bool = True) -> float:
    """A numeric setting checked against its range; ValueError naming it."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ValueError(f"rule beacon_flood: {name} must be {kind}; got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise ValueError(f"rule beacon_flood: {name} must be at least {minimum:g}{upper}; "
                         f"got {value!r}")
    return value


def _count_text(value: float) -> str:
    return f"{round(value):,}"


class BeaconFlood(Rule):
    """A burst of never-heard-before BSSIDs far above the site's normal churn."""

    id = "beacon_flood"
    kinds = frozenset({BEACON, PROBE_RESP})
    severity = "high"
    DEFAULTS = {
        "min_new_per_min": 100,   # never fire below this many new BSSIDs a minute ...
        "factor": 5.0,            # ... nor below this many times the learned normal
        "window_s": 60,           # the current rate: new BSSIDs within this many seconds
        "warm_up_s": 20,          # a frequency counts after this many seconds of listening
        "learn_s": 3600,          # time constant of the learned normal churn
        "forget_s": 3600,         # a BSSID silent this long is new again
        "max_tracked": 16384,     # known BSSIDs remembered, and as many heard-once candidates
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        s = self.settings
        self._floor = _setting("min_new_per_min", s["min_new_per_min"], 1)
        self._factor = _setting("factor", s["factor"], 1, integer=False)
        window_s = _setting("window_s", s["window_s"], 10, 3600)
        self._warm_up = _setting("warm_up_s", s["warm_up_s"], 0)
        learn_s = _setting("learn_s", s["learn_s"], window_s)
        self._forget_ns = int(_setting("forget_s", s["forget_s"], 60) * NS)
        cap = int(_setting("max_tracked", s["max_tracked"], 256))
        self._window_s = window_s
        self._bucket_ns = int(window_s * NS) // BUCKETS
        self._per_min = 60 / window_s                    # window count -> per minute
        self._bucket_per_min = 60 * NS / self._bucket_ns  # bucket count -> per minute
        self._alpha = min(1.0, self._bucket_ns / (learn_s * NS))
        self._min_weight = 1.0 - (1.0 - self._alpha) ** math.ceil(
            TRUST_NORMAL_AFTER_NS / self._bucket_ns)
        self._known: BoundedDict[bytes, int] = BoundedDict(cap)
        self._candidates: BoundedDict[bytes, int] = BoundedDict(cap)
        # frequency -> [seconds heard, last second heard]
        self._listen: dict[int | None, list[int]] = {}
        self._ring: deque[_Bucket] = deque()             # closed buckets, oldest first
        self._current = _Bucket()
        self._bucket_end: int | None = None
        self._window = 0                                 # new BSSIDs in ring + current
        self._avg = 0.0                                  # EWMA of per-minute rates ...
        self._weight = 0.0                               # ... and its bias correction
        self._threshold = self._floor / self._per_min    # in window counts
        self._flooding = False
        self._episode = 0                                # new BSSIDs since the flood was detected
        self._reported_bucket: int | None = None

    # -- hot path -----------------------------------------------------------
    def on_frame(self, frame: Frame) -> Finding | None:
        ts = frame.ts_ns
        freq = frame.freq_mhz
        listen = self._listen.get(freq)
        if listen is None:
            listen = self._new_frequency(freq)
        second = ts // NS
        if listen[1] != second:
            listen[1] = second
            listen[0] += 1
        bssid = frame.addr3 or frame.addr2
        if bssid is None:
            return None
        known = self._known
        last = known.get(bssid)
        if last is not None:
            age = ts - last
            if age < TOUCH_NS:
                return None
            known[bssid] = ts                       # refresh: young end of the LRU
            if age < self._forget_ns:
                return None                         # else back after a long silence: new
        else:
            candidates = self._candidates
            first = candidates.get(bssid)
            if first is not None:
                age = ts - first
                if age < self._forget_ns:
                    if age >= PROMOTE_NS and not self._flooding:
                        del candidates[bssid]
                        known[bssid] = ts
                    return None
            candidates[bssid] = ts
        if listen[0] < self._warm_up:
            return None                             # this frequency is still learning
        return self._count(frame, bssid, freq, ts)

    def _new_frequency(self, freq: int | None) -> list[int]:
        entry = [0, -1]
        if len(self._listen) < MAX_FREQUENCIES:
            self._listen[freq] = entry
        return entry  # beyond the cap: a throw-away entry that never warms

    def _count(self, frame: Frame, bssid: bytes, freq: int | None, ts: int) -> Finding | None:
        end = self._bucket_end
        if end is None:
            end = self._bucket_end = ts - ts % self._bucket_ns + self._bucket_ns
        if ts >= end:
            self._roll(ts)
        bucket = self._current
        bucket.count += 1
        if bssid[0] & 0x02:
            bucket.random += 1
        elements = frame.elements
        ssid = elements.ssid if elements is not None else None
        if ssid and len(bucket.ssids) < SSIDS_PER_BUCKET:
            bucket.ssids[ssid] = None
        freqs = bucket.freqs
        freqs[freq] = freqs.get(freq, 0) + 1
        self._window += 1
        if self._flooding:
            self._episode += 1
        if self._window <= self._threshold:
            return None
        if not self._flooding:
            self._flooding = True
            self._episode = self._window
        if self._reported_bucket == self._bucket_end:
            return None
        self._reported_bucket = self._bucket_end
        return self._finding()

    # -- time -----------------------------------------------------------------
    def _roll(self, ts: int) -> None:
        """Close the current bucket (and any empty ones since), learn, re-judge the flood."""
        assert self._bucket_end is not None
        closed = 1 + (ts - self._bucket_end) // self._bucket_ns
        self._learn(self._current.count, 1)
        self._push(self._current)
        if closed > 1:
            self._learn(0, closed - 1)
            for _ in range(min(closed - 1, BUCKETS)):
                self._push(_EMPTY)
        self._current = _Bucket()
        self._bucket_end += closed * self._bucket_ns
        normal = self.normal_per_min
        self._threshold = max(self._floor, self._factor * normal) / self._per_min
        if self._flooding and self._window <= self._threshold:
            self._flooding = False                  # the flood is over
            self._episode = 0

    def _push(self, bucket: _Bucket) -> None:
        ring = self._ring
        if len(ring) == BUCKETS - 1:
            self._window -= ring.popleft().count
        ring.append(bucket)

    def _learn(self, count: int, buckets: int) -> None:
        """Feed ``buckets`` closed buckets of ``count`` new BSSIDs each to the normal."""
        if self._flooding:
            return  # nothing heard during a flood is normal
        rate = min(count * self._bucket_per_min, self._floor)
        decay = (1.0 - self._alpha) ** buckets
        self._avg = rate + (self._avg - rate) * decay
        self._weight = 1.0 - (1.0 - self._weight) * decay

    def capture_gap(self, start_ns: int, end_ns: int) -> None:
        """A deaf sensor learns nothing: the window restarts and every frequency
        warms up again (BSSIDs gone stale meanwhile are not a flood)."""
        for entry in self._listen.values():
            entry[0] = 0
        self._ring.clear()
        self._current = _Bucket()
        self._window = 0
        self._bucket_end = None
        self._flooding = False
        self._episode = 0

    # -- read-outs ------------------------------------------------------------------
    @property
    def normal_per_min(self) -> float:
        """The learned normal churn, new BSSIDs per minute (0 until something was learnt)."""
        return self._avg / max(self._weight, self._min_weight)

    def table_sizes(self) -> dict[str, int]:
        """Sizes of the bounded tables (benchmarks and statistics)."""
        return {"known": len(self._known), "candidates": len(self._candidates),
                "known_evicted": self._known.evicted,
                "candidates_evicted": self._candidates.evicted,
                "frequencies": len(self._listen),
                "window_ssids": sum(len(b.ssids) for b in (*self._ring, self._current))}

    def _finding(self) -> Finding:
        buckets = [self._current, *reversed(self._ring)]   # newest first
        total = self._window
        random = sum(b.random for b in buckets)
        freqs: dict[int | None, int] = {}
        ssids: dict[bytes, None] = {}
        capped = False
        for bucket in buckets:
            for freq, n in bucket.freqs.items():
                freqs[freq] = freqs.get(freq, 0) + n
            capped = capped or len(bucket.ssids) >= SSIDS_PER_BUCKET
            ssids.update(bucket.ssids)
        ranked = sorted(freqs.items(), key=lambda item: (item[0] is None, -item[1], item[0] or 0))
        freq = ranked[0][0] if ranked else None
        normal = self.normal_per_min
        rate = total * self._per_min
        threshold = self._threshold * self._per_min
        samples = []
        for ssid in ssids:
            samples.append(printable_ssid(ssid))
            if len(samples) == SAMPLE_SSIDS:
                break
        window_text = ("the last minute" if self._window_s == 60
                       else f"the last {self._window_s:g} s")
        usual = (f"about {_count_text(normal)} a minute is normal here" if normal >= 0.5
                 else "almost none is normal here")
        message = (f"{_count_text(total)} access points never heard here before appeared in "
                   f"{window_text}, mostly on {channel_label(freq)} ({_count_text(rate)} a "
                   f"minute where {usual}); someone is probably flooding the air with fake "
                   f"networks, which buries the city's network in phones' Wi-Fi lists and can "
                   f"hide an evil twin among them.")
        evidence = {
            "new_bssids_in_window": total,
            "window_s": self._window_s,
            "new_per_min": round(rate, 1),
            "normal_per_min": round(normal, 1),
            "threshold_per_min": round(threshold, 1),
            "random_address_share": round(random / total, 2) if total else 0.0,
            "distinct_ssids": len(ssids),
            "distinct_ssids_complete": not capped,
            "sample_ssids": samples,
            "frequencies_mhz": {("unknown" if f is None else str(f)): n for f, n in ranked[:3]},
            "flood_new_bssids": self._episode,
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=None,
                       bssid=None, freq_mhz=freq, evidence=evidence)
