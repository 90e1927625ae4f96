"""cloned_bssid: two transmitters share one registered BSSID.

Theory of operation
-------------------
Attack: a twin that copies everything a beacon says (SSID, BSSID, channel,
security, the element bytes) and, for a public network, knows the password
too. No comparison of *contents* can tell it from the real AP. What gives it
away is the radio behind the frames: its clock, its sequence counter, its
beacon schedule and where its signal comes from.

Signals, each judged per registered BSSID from beacons and probe responses
that the BSSID sends itself (transmitter = BSSID), after dropping exact
duplicates (the same frame heard twice has the same TSF and sequence number):

- **Timestamp lines** (``tsf_streams``, weight 2). Every beacon carries the
  radio's microsecond clock (TSF). Frames are sorted into *lines*: a frame
  belongs to a line when its TSF is where that line's clock should be by now,
  give or take ``max_rx_delay_ms`` (a busy adapter delivers frames in
  batches, stamped up to a second late; the line's anchor may itself have
  been late) and 600 ppm of clock rate error (802.11's 100 ppm plus a badly
  kept sensor clock). One radio makes one line; the clock of an independent
  radio is almost never within a second of another's. Two lines that each carry ``min_line_frames`` frames and take
  turns at least ``min_switches`` times within ``window_s`` are two radios.
- **TSF jump** (``tsf_jump``, weight 1). A new line takes over within two
  seconds of the old one's last frame and the old one stays silent. An AP
  that reboots is silent for tens of seconds first, so a reboot (TSF back
  near zero, sequence numbers back near zero, a single line after) is not a
  jump; whether the rebooted radio is the same radio is left to the clock
  skew below.
- **Clock skew** (``clock_skew``, weight 2). After Jana and Kasera: the
  offset TSF - receive time of one radio drifts linearly at its crystal's
  error (a few to tens of ppm). The receive time is the sensor radio's own
  TSF (radiotap TSFT), stamped in hardware as the frame arrives, when the
  driver records it: then the offset is exact to microseconds. Otherwise it
  is the kernel's capture time, which is late by tens of microseconds to
  (on a busy USB adapter) hundreds of milliseconds; delays only ever make a
  frame late, so the per-bin maximum of the offset (bins of ``bin_s``)
  follows the clock, and a robust line (Theil-Sen) through ``skew_span_s``
  of bins gives the current skew and its uncertainty. Once a line has ``baseline_span_s`` of data its skew becomes
  the BSSID's *baseline*: the radio's crystal. A later skew (the same line's
  recent bins, or a new line after a silence) that differs from the baseline
  by ``skew_threshold_ppm`` (and by four times its uncertainty) in
  ``skew_confirm`` consecutive bins is another radio, even when the copy
  continued the TSF value seamlessly. The
  sensor's own clock moves every skew at once (NTP slewing, temperature), so
  the median change of the other established transmitters is subtracted
  first; with fewer than two of them the change cannot be told from the
  sensor's and counts weight 1 only. Baselines follow slow changes
  (temperature) while they agree. A restart of the sensor radio's TSFT
  (seen as a step between it and the capture time) restarts every line.
- **Sequence counters** (``seq_streams``, weight 1). The 12-bit sequence
  number of a radio's beacons only moves forward, by about as many frames as
  it sent meanwhile. Beacons that fit two counters taking turns are two
  radios. Only beacons: some firmware numbers beacons and probe responses
  from different counters.
- **Sequence break** (``seq_break``, weight 1). A beacon within two seconds
  of the previous one whose number does not follow it, at the moment the
  TSF line or the signal level changes.
- **Beacon rate** (``beacon_rate``, weight 1). One radio sends a beacon per
  interval, so ten seconds hold at most 10 s / interval of its beacons (a
  sensor that hops hears fewer). ``rate_factor`` times that many is a second
  schedule. Counted over ten seconds rather than between neighbours,
  because an adapter that stamps frames in batches makes single gaps
  meaningless.
- **Signal clusters** (``signal_clusters``, weight 1). The last 40 signal
  levels split into two groups at least ``signal_split_db`` apart, each with
  a quarter of the frames, and the frames alternate between them. Adaptive
  transmit power steps now and then; it does not alternate.

Combination: each signal, once seen, counts for ``window_s``. The rule
reports when the weights of the signals present add up to ``min_score``
(default 2): the physical proofs (two clock lines, a confirmed skew change)
suffice alone, the noisy ones (signal strength, beacon rate, sequence
numbers, a jump) need a second signal to agree. The evidence names every
signal that agreed, with its figures.

Who is followed: every exactly registered BSSID (the registry bounds them);
BSSIDs inside a registered prefix (up to ``max_tracked``) and, as clock
references to cancel the sensor's clock, up to ``max_references`` other
beaconing BSSIDs, both admitted only after 20 beacons, so a flood's
one-frame BSSIDs never take a place and never evict what was learned; a
followed BSSID silent for five minutes leaves. A registry reload re-sorts
them (a reference that became registered is watched from then on).

Hot path: two dict lookups for a beacon or probe response of a BSSID not
followed; for a followed one the common case (one clock line, frame on it)
is inlined: a few comparisons and additions. The skew fits and the cluster
split run once per ``bin_s`` per BSSID. Measured on bench/'s capture (100
registered APs among 296): about 3 us per management frame.

Severity: critical. A clone is the most convincing twin there is.

Blind spots: a clone that copies the TSF and sequence number seamlessly and
runs on a crystal within ``skew_threshold_ppm`` of the real AP's, from the
same direction, after the real AP went silent, is one radio to this rule.
Receive timestamps from the kernel carry tens of microseconds of jitter;
with a sensor that hears a BSSID only a few times a minute (long hops
elsewhere) the skew needs correspondingly longer. A capture gap (radio lost)
restarts the lines; baselines stay.
"""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import Any, Mapping

from ..decoding.frame import BEACON, PROBE_RESP, Frame
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import city_ap_phrase, operating_frequency

NS_PER_US = 1000
NS = 1_000_000_000
TU_NS = 1_024_000
RATE_WINDOW_NS = 10 * NS
SENSOR_CLOCK_STEP_US = 5_000_000  # capture time - sensor TSFT moving this much: TSFT restarted
REORDER_SLACK = 64                 # sequence numbers this far back are reordering, not a counter
DUPLICATE_NS = 50_000_000        # the same (sequence, TSF) this soon again is one frame heard twice
SWITCH_GAP_NS = 2 * NS           # a "jump" or "break" is judged between frames this close
REFERENCE_ADMISSION = 20         # beacons before a BSSID may serve as a clock reference
REFERENCE_SILENCE_NS = 300 * NS  # an admitted BSSID silent this long gives up its place
KIND_CACHE = 8192                # registry verdicts remembered (cleared when full)
EXACT, PREFIX, OTHER = range(3)  # registered exactly, inside a registered prefix, not registered
SIGNAL_SAMPLES = 40
MAX_LINES = 3
MAX_COUNTERS = 3

# signal id -> (weight, how a person says it)
SIGNALS: dict[str, tuple[int, str]] = {
    "tsf_streams": (2, "two independent timestamp clocks take turns"),
    "clock_skew": (2, "its clock now runs at a different rate"),
    "tsf_jump": (1, "its timestamp jumped to another clock"),
    "seq_streams": (1, "two sequence counters take turns"),
    "seq_break": (1, "its sequence numbers broke off at that moment"),
    "beacon_rate": (1, "beacons arrive faster than its beacon interval allows"),
    "signal_clusters": (1, "its frames come at two distinct signal strengths"),
}


def fit_skew(points: list[tuple[int, int]]) -> tuple[float, float] | None:
    """(slope, standard error) of clock offset over receive time, both µs.

    Theil-Sen (the median of the pairwise slopes), because a bin in which
    every frame was stamped late (a busy USB adapter delivers beacons in
    batches, hundreds of milliseconds late) lies far below the clock line and
    would drag a least-squares fit. The error comes from the spread of the
    points around the line (median absolute deviation), as for a regression.
    """
    n = len(points)
    if n < 3:
        return None
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points)
              for x2, y2 in points[i + 1:] if x2 != x1]
    if not slopes:
        return None
    slope = median(slopes)
    residuals = [y - slope * x for x, y in points]
    centre = median(residuals)
    spread = 1.4826 * median(abs(r - centre) for r in residuals)
    span = points[-1][0] - points[0][0]
    error = spread * (12 / n) ** 0.5 / span if span > 0 else float("inf")
    return slope, error


class _Line:
    """One TSF clock as heard through a BSSID: one radio, as far as we know.

    The anchor is the frame least delayed on its way into the capture (the
    highest TSF - receive time offset seen lately): the clock's position is
    predicted from it, so a late frame's residual is simply minus its delay.
    """

    __slots__ = ("mac", "first_rx", "last_ns", "first_tsf", "last_tsf", "anchor_rx",
                 "anchor_offset", "frames", "skew", "bins", "bin_id", "bin_x", "bin_y", "number")

    def __init__(self, mac: bool, rx_us: int, tsf: int, ts: int, number: int) -> None:
        self.mac = mac                       # receive clock: the sensor's TSFT, or capture time
        self.first_rx = rx_us
        self.last_ns = ts                    # capture time of the last frame, for windows
        self.first_tsf = tsf
        self.last_tsf = tsf
        self.anchor_rx = rx_us
        self.anchor_offset = tsf - rx_us
        self.frames = 0
        self.skew = 0.0                      # fractional (ppm / 1e6), for prediction
        self.bins: deque[tuple[int, int]] = deque(maxlen=90)   # (rx_us, tsf - rx_us) per bin
        self.bin_id = -1
        self.bin_x = 0
        self.bin_y = 0
        self.number = number                 # order of appearance, for evidence


class _Track:
    """Everything the rule knows about one BSSID."""

    __slots__ = ("registered", "lines", "current", "line_counter", "switches", "recent",
                 "baseline", "deviations", "deviation", "counters",
                 "counter_last", "seq_switches", "last_beacon_rx", "last_beacon_seq",
                 "beacon_times", "interval_ns", "levels", "level", "signals", "last_ns",
                 "pending_jump")

    def __init__(self, registered: bool) -> None:
        self.registered = registered
        self.lines: list[_Line] = []
        self.current: _Line | None = None
        self.line_counter = 0
        self.switches: deque[int] = deque(maxlen=32)        # rx ns of line changes
        self.recent: dict[tuple, int] = {}                  # (seq, tsf) -> ns, the last 8 frames
        self.baseline: float | None = None                  # ppm
        self.deviations = 0                                 # consecutive bins off the baseline
        self.deviation: tuple[int, float] | None = None     # (ns, raw skew - baseline) for references
        self.counters: list[list[int]] = []                 # [last_seq, last ns, hits]
        self.counter_last: list[int] | None = None
        self.seq_switches: deque[int] = deque(maxlen=32)
        self.last_beacon_rx = 0
        self.last_beacon_seq: int | None = None
        self.beacon_times: deque[int] = deque(maxlen=1024)  # rx ns of the last 10 s of beacons
        self.interval_ns = 0                                # advertised beacon interval
        self.levels: deque[int] = deque(maxlen=SIGNAL_SAMPLES)
        self.level: float | None = None                     # running signal level, dBm
        self.signals: dict[str, tuple[int, dict]] = {}     # id -> (valid until ns, evidence)
        self.last_ns = 0
        self.pending_jump: tuple[_Line, _Line, int] | None = None  # (old, new, switch ns)


class ClonedBssid(Rule):
    """Two radios behind one registered BSSID."""

    id = "cloned_bssid"
    kinds = frozenset({BEACON, PROBE_RESP})
    severity = "critical"
    DEFAULTS = {
        "min_score": 2,              # weights that must agree (see SIGNALS)
        "window_s": 30.0,            # how long a seen signal counts
        "max_rx_delay_ms": 1000.0,   # a frame may be stamped this late and stay on its line
        "min_line_frames": 5,        # frames on each of two lines (or counters)
        "min_switches": 4,           # turns between them within window_s
        "bin_s": 2.0,                # clock-offset bin for the skew estimate
        "skew_span_s": 20.0,         # recent data the current skew is fitted over
        "baseline_span_s": 30.0,     # data a line needs before its skew is the baseline
        "skew_threshold_ppm": 10.0,  # a skew change this large is another crystal
        "skew_confirm": 3,           # consecutive bins the change must hold
        "rate_factor": 1.4,          # beacons per 10 s above this many intervals' worth
        "signal_split_db": 6.0,      # distance of two signal clusters
        "max_references": 16,        # other BSSIDs followed to cancel the sensor's clock
        "max_tracked": 1024,         # BSSIDs inside registered prefixes followed
    }

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        s = self.settings
        for key in ("window_s", "max_rx_delay_ms", "bin_s", "skew_span_s", "baseline_span_s",
                    "skew_threshold_ppm", "signal_split_db", "rate_factor"):
            if not 0 < float(s[key]) < 1e6:
                raise ValueError(f"rule cloned_bssid: {key} must be a number greater than 0 "
                                 f"(and finite); got {s[key]!r}")
        if float(s["bin_s"]) < 0.1:
            raise ValueError(f"rule cloned_bssid: bin_s must be at least 0.1; got {s['bin_s']!r}")
        for key in ("min_score", "min_line_frames", "min_switches", "skew_confirm",
                    "max_references", "max_tracked"):
            if int(s[key]) < 1:
                raise ValueError(f"rule cloned_bssid: {key} must be at least 1; got {s[key]!r}")
        if not float(s["rate_factor"]) > 1:
            raise ValueError(f"rule cloned_bssid: rate_factor must be greater than 1; "
                             f"got {s['rate_factor']!r}")
        if float(s["skew_span_s"]) < 3 * float(s["bin_s"]):
            raise ValueError("rule cloned_bssid: skew_span_s must cover at least three bins "
                             "(3 x bin_s)")
        self._min_score = int(s["min_score"])
        self._window_ns = int(float(s["window_s"]) * NS)
        self._late_us = float(s["max_rx_delay_ms"]) * 1000
        self._min_frames = int(s["min_line_frames"])
        self._min_switches = int(s["min_switches"])
        self._bin_us = int(float(s["bin_s"]) * 1_000_000)
        self._span_us = int(float(s["skew_span_s"]) * 1_000_000)
        self._baseline_us = int(float(s["baseline_span_s"]) * 1_000_000)
        self._threshold = float(s["skew_threshold_ppm"])
        self._confirm = int(s["skew_confirm"])
        self._rate_factor = float(s["rate_factor"])
        self._split_db = float(s["signal_split_db"])
        self._limits = {OTHER: int(s["max_references"]), PREFIX: int(s["max_tracked"])}
        # Followed BSSIDs: every exactly registered one (the registry bounds them),
        # members of registered prefixes and references, each admitted only after
        # REFERENCE_ADMISSION beacons (a flood's one-frame BSSIDs never get in) and
        # up to its limit; none is ever evicted for a newcomer, silent ones leave.
        self._tracks: dict[bytes, _Track] = {}
        self._counts = {OTHER: 0, PREFIX: 0}
        self._kinds: dict[bytes, int] = {}   # BSSID -> EXACT | PREFIX | OTHER (cache, cleared)
        self._candidates: BoundedDict[bytes, int] = BoundedDict(256)
        self._mac_offset = 0                 # capture time - sensor TSFT, µs
        self._drift = 0.0                    # the sensor clock's rate change, ppm
        self._swept = 0                      # capture time of the last sweep for silent tracks

    # -- which BSSIDs are followed ------------------------------------------
    def _kind_of(self, bssid: bytes) -> int:
        kind = self._kinds.get(bssid)
        if kind is None:
            ap = self.ctx.registry.ap_for_bssid(bssid)
            kind = OTHER if ap is None else (EXACT if ap.prefix_len == 48 else PREFIX)
            if len(self._kinds) >= KIND_CACHE:
                self._kinds.clear()
            self._kinds[bssid] = kind
        return kind

    def registry_changed(self) -> None:
        """Registered BSSIDs are watched for clones, the rest serve as references."""
        self._kinds.clear()
        self._counts = {OTHER: 0, PREFIX: 0}
        for bssid, track in list(self._tracks.items()):
            kind = self._kind_of(bssid)
            track.registered = kind != OTHER
            if kind != EXACT:
                if self._counts[kind] >= self._limits[kind]:
                    del self._tracks[bssid]
                else:
                    self._counts[kind] += 1

    def _track_for(self, bssid: bytes, beacon: bool) -> _Track | None:
        track = self._tracks.get(bssid)
        if track is not None:
            return track
        kind = self._kind_of(bssid)
        if kind == EXACT:
            track = self._tracks[bssid] = _Track(registered=True)
            return track
        if not beacon or self._counts[kind] >= self._limits[kind]:
            return None
        seen = self._candidates.get(bssid, 0) + 1
        if seen < REFERENCE_ADMISSION:
            self._candidates[bssid] = seen
            return None
        del self._candidates[bssid]
        self._counts[kind] += 1
        track = self._tracks[bssid] = _Track(registered=kind == PREFIX)
        return track

    def _drop_silent(self, now: int) -> None:
        """Admitted BSSIDs silent for five minutes give up their place."""
        self._swept = now
        for bssid, track in list(self._tracks.items()):
            if now - track.last_ns > REFERENCE_SILENCE_NS:
                kind = self._kind_of(bssid)
                if kind != EXACT:
                    del self._tracks[bssid]
                    self._counts[kind] = max(0, self._counts[kind] - 1)

    def capture_gap(self, start_ns: int, end_ns: int) -> None:
        """Deaf for a while, or the capture clock stepped: TSF lines cannot be
        continued across it. Baselines (each crystal's rate) stay."""
        for track in self._tracks.values():
            track.last_ns = 0
            track.recent.clear()
            track.beacon_times.clear()
            track.lines.clear()
            track.current = None
            track.pending_jump = None
            track.counters.clear()
            track.counter_last = None
            track.last_beacon_rx = 0
            track.last_beacon_seq = None

    # -- hot path -------------------------------------------------------------
    def on_frame(self, frame: Frame) -> Finding | None:
        bssid = frame.addr3
        tsf = frame.tsf
        if bssid is None or tsf is None or frame.addr2 != bssid:
            return None
        beacon = frame.kind == BEACON
        track = self._tracks.get(bssid)
        if track is None:
            if self._kinds.get(bssid) == OTHER and self._counts[OTHER] >= self._limits[OTHER]:
                return None                   # the common case: a neighbour, references full
            track = self._track_for(bssid, beacon)
            if track is None:
                return None
        seq = frame.seq
        ts = frame.ts_ns
        if ts < track.last_ns - NS:
            return None                       # capture time ran backwards: cannot judge
        recent = track.recent
        ident = (seq, tsf)
        seen = recent.get(ident)
        if seen is not None and ts - seen <= DUPLICATE_NS:
            return None                       # the same frame heard twice
        recent[ident] = ts
        if len(recent) > 8:
            del recent[next(iter(recent))]
        track.last_ns = ts
        mactime = frame.mactime
        mac = mactime is not None
        if mac:
            if abs(ts // NS_PER_US - mactime - self._mac_offset) > SENSOR_CLOCK_STEP_US:
                self._sensor_clock_stepped(ts, mactime)
            rx_us = mactime
        else:
            rx_us = ts // NS_PER_US
        offset = tsf - rx_us
        line = track.current
        if line is not None and len(track.lines) == 1 and line.mac == mac \
                and tsf != line.first_tsf:
            # The common case, inlined: one radio, and this frame is on its clock.
            residual = offset - line.anchor_offset - line.skew * (rx_us - line.anchor_rx)
            if -self._late_us <= residual <= self._late_us:
                if residual > 0:
                    line.anchor_rx, line.anchor_offset = rx_us, offset
                line.last_ns, line.last_tsf = ts, tsf
                line.frames += 1
            else:
                line = self._assign_line(track, tsf, mac, rx_us, ts, frame.number)
        else:
            line = self._assign_line(track, tsf, mac, rx_us, ts, frame.number)
        if track.registered:
            signal = frame.signal_dbm
            level_step = False
            if signal is not None:
                track.levels.append(signal)
                level = track.level
                level_step = level is not None and abs(signal - level) >= self._split_db
                track.level = signal if level is None else level + 0.25 * (signal - level)
            if beacon and seq is not None:
                self._beacon_timing(track, frame, seq, ts, level_step)
        if line.bin_id != rx_us // self._bin_us:
            self._close_bin(bssid, track, line, rx_us, ts)
        if offset > line.bin_y or line.bin_x == 0:
            line.bin_x, line.bin_y = rx_us, offset
        if track.signals and track.registered:
            return self._verdict(bssid, track, frame, ts)
        return None

    def _sensor_clock_stepped(self, ts: int, mactime: int) -> None:
        """The sensor radio's TSFT restarted (adapter reset, a 32-bit counter
        wrapped): no line can be continued across that. Baselines stay."""
        if self._mac_offset:
            self.capture_gap(ts, ts)
        self._mac_offset = ts // NS_PER_US - mactime

    def _assign_line(self, track: _Track, tsf: int, mac: bool, rx_us: int, ts: int,
                     number: int) -> _Line:
        best: _Line | None = None
        best_residual = 0.0
        offset = tsf - rx_us
        for line in track.lines:
            if line.mac != mac:
                continue
            if tsf == line.last_tsf == line.first_tsf:
                residual = 0.0                 # a frozen clock (a tool writing a constant)
            else:
                elapsed = rx_us - line.anchor_rx
                slack = 600e-6 * abs(elapsed)
                residual = offset - line.anchor_offset - line.skew * elapsed   # minus the delay
                if abs(residual) > self._late_us + slack:
                    continue
            if best is None or abs(residual) < abs(best_residual):
                best, best_residual = line, residual
        if best is not None and best_residual > 0:
            best.anchor_rx, best.anchor_offset = rx_us, offset   # less delayed than the anchor
        previous = track.current
        if best is None:
            if len(track.lines) >= MAX_LINES:
                track.lines.remove(min(track.lines, key=lambda l: l.last_ns))
            track.line_counter += 1
            best = _Line(mac, rx_us, tsf, ts, track.line_counter)
            track.lines.append(best)
            if previous is not None and ts - previous.last_ns <= SWITCH_GAP_NS:
                track.pending_jump = (previous, best, ts)
        best.last_ns, best.last_tsf = ts, tsf
        best.frames += 1
        if previous is not None and previous is not best:
            track.switches.append(ts)
        track.current = best
        return best

    def _beacon_timing(self, track: _Track, frame: Frame, seq: int, ts: int,
                       level_step: bool) -> None:
        """Beacon rate, sequence counters and breaks: judged between close beacons."""
        gap = ts - track.last_beacon_rx
        if frame.beacon_interval:
            track.interval_ns = frame.beacon_interval * TU_NS
            times = track.beacon_times
            times.append(ts)
            while ts - times[0] > RATE_WINDOW_NS:
                times.popleft()
        close = gap <= SWITCH_GAP_NS
        previous_seq = track.last_beacon_seq
        if close and previous_seq is not None:
            forward = (seq - previous_seq) & 0xFFF
            if forward >= 4096 - REORDER_SLACK:
                return                        # a frame or two out of order (merged captures)
            if not 0 < forward <= min(2047, 64 + gap // 250_000):
                changed = "tsf" if track.switches and track.switches[-1] == ts else (
                    "signal" if level_step else None)
                if changed is not None:
                    self._raise(track, "seq_break", ts, {
                        "previous": previous_seq, "next": seq, "with": changed})
        track.last_beacon_rx, track.last_beacon_seq = ts, seq
        # Counters: the one this beacon plausibly continues, or a new one.
        best: list[int] | None = None
        best_forward = 4096
        for counter in track.counters:
            elapsed = ts - counter[1]
            if elapsed <= SWITCH_GAP_NS:
                forward = (seq - counter[0]) & 0xFFF
                # a busy AP sends up to a few thousand frames a second (64 + 4 per ms)
                if 0 < forward < best_forward and forward <= 64 + elapsed // 250_000:
                    best, best_forward = counter, forward
        if best is None:
            track.counters = [c for c in track.counters if ts - c[1] <= SWITCH_GAP_NS]
            if len(track.counters) >= MAX_COUNTERS:
                track.counters.remove(min(track.counters, key=lambda c: c[1]))
            best = [seq, ts, 0]
            track.counters.append(best)
        best[0], best[1] = seq, ts
        best[2] += 1
        if track.counter_last is not None and track.counter_last is not best:
            track.seq_switches.append(ts)
        track.counter_last = best

    # -- once per bin ---------------------------------------------------------
    def _close_bin(self, bssid: bytes, track: _Track, line: _Line, rx_us: int, ts: int) -> None:
        if line.bin_id >= 0:
            line.bins.append((line.bin_x, line.bin_y))
            self._judge_skew(bssid, track, line, ts)
            if track.registered:
                self._judge_streams(track, ts)
        line.bin_id = rx_us // self._bin_us
        line.bin_x = 0
        line.bin_y = 0
        if ts - self._swept > REFERENCE_SILENCE_NS // 10:
            self._drop_silent(ts)

    def _judge_skew(self, bssid: bytes, track: _Track, line: _Line, ts: int) -> None:
        bins = line.bins
        last_x = bins[-1][0]
        if last_x - line.first_rx < self._span_us:
            return
        recent = [b for b in bins if last_x - b[0] <= self._span_us]
        if len(recent) < 5:
            return
        fit = fit_skew(recent)
        if fit is None:
            return
        line.skew = fit[0]
        skew_ppm, error_ppm = fit[0] * 1e6, fit[1] * 1e6
        drift, references = self._sensor_drift(bssid, ts)
        if track.baseline is None:
            if last_x - line.first_rx >= self._baseline_us:
                whole = fit_skew(list(bins))
                if whole is not None and whole[1] * 1e6 < self._threshold / 4:
                    track.baseline = whole[0] * 1e6 - drift
            return
        # The baseline is the crystal's own rate: what the sensor's clock adds
        # (drift) is measured on the other transmitters, never learned into it.
        change = skew_ppm - drift - track.baseline
        track.deviation = (ts, skew_ppm - track.baseline)
        if abs(change) < max(self._threshold, 4 * error_ppm):
            track.deviations = 0
            if abs(change) < self._threshold / 2:
                # The same crystal (after a reboot, on a new line too): follow
                # its temperature, slowly.
                track.baseline += 0.05 * change
            return
        track.deviations += 1
        if track.deviations >= self._confirm and track.registered:
            self._raise(track, "clock_skew", ts, {
                "baseline_ppm": round(track.baseline, 1),
                "observed_ppm": round(skew_ppm, 1),
                "sensor_drift_ppm": round(drift, 1),
                "change_ppm": round(change, 1),
                "uncertainty_ppm": round(error_ppm, 1),
                "references": references,
            }, weight=2 if references >= 2 else 1)

    def _sensor_drift(self, bssid: bytes, now: int) -> tuple[float, int]:
        """How fast the sensor's clock runs now against the one the baselines
        were learned with: the median skew change of the other established
        transmitters heard lately (the last estimate when fewer than two)."""
        fresh = 3 * self._bin_us * NS_PER_US // 2
        values = [t.deviation[1] for b, t in self._tracks.items()
                  if b != bssid and t.deviation is not None and now - t.deviation[0] <= fresh]
        if len(values) >= 2:
            self._drift = median(values)
        return self._drift, len(values)

    def _judge_streams(self, track: _Track, ts: int) -> None:
        window = self._window_ns
        lines = [l for l in track.lines if ts - l.last_ns <= window]
        switches = sum(1 for t in track.switches if ts - t <= window)
        busy = [l for l in lines if l.frames >= self._min_frames]
        if len(busy) >= 2 and switches >= self._min_switches:
            busy.sort(key=lambda l: l.number)
            self._raise(track, "tsf_streams", ts, {
                "lines": len(busy), "frames": [l.frames for l in busy],
                "tsf_s": [round(l.last_tsf / 1e6, 1) for l in busy], "switches": switches})
        jump = track.pending_jump
        if jump is not None:
            old, new, when = jump
            if old.last_ns > when:                    # the old clock came back: interleaving
                track.pending_jump = None
            elif new.frames >= self._min_frames:
                track.pending_jump = None
                self._raise(track, "tsf_jump", ts, {
                    "from_tsf_s": round(old.last_tsf / 1e6, 1),
                    "to_tsf_s": round(new.first_tsf / 1e6, 1)})
        counters = [c for c in track.counters if c[2] >= self._min_frames]
        seq_switches = sum(1 for t in track.seq_switches if ts - t <= window)
        if len(counters) >= 2 and seq_switches >= self._min_switches:
            self._raise(track, "seq_streams", ts, {"counters": len(counters),
                                                  "switches": seq_switches})
        if track.interval_ns:
            beacons = len(track.beacon_times)          # those of the last 10 s
            allowed = RATE_WINDOW_NS // track.interval_ns
            if beacons >= 20 and beacons >= self._rate_factor * allowed:
                self._raise(track, "beacon_rate", ts, {
                    "beacons_in_10_s": beacons, "interval_allows": allowed})
        clusters = self._clusters(track.levels)
        if clusters is not None:
            self._raise(track, "signal_clusters", ts, clusters)

    def _clusters(self, levels: deque[int]) -> dict | None:
        """Two alternating signal groups at least signal_split_db apart, or None."""
        if len(levels) < SIGNAL_SAMPLES // 2:
            return None
        ordered = sorted(levels)
        n = len(ordered)
        best: tuple[float, int] | None = None
        low_sum = 0
        total = sum(ordered)
        for i in range(1, n):
            low_sum += ordered[i - 1]
            if i < n // 4 or n - i < n // 4:
                continue
            gap = (total - low_sum) / (n - i) - low_sum / i
            if best is None or gap > best[0]:
                best = (gap, i)
        if best is None or best[0] < self._split_db:
            return None
        cut = ordered[best[1]]
        labels = [level >= cut for level in levels]
        turns = sum(1 for a, b in zip(labels, labels[1:]) if a != b)
        if turns < 0.25 * (n - 1):
            return None
        low = ordered[:best[1]]
        high = ordered[best[1]:]
        return {"levels_dbm": [round(sum(low) / len(low)), round(sum(high) / len(high))],
                "frames": [len(low), len(high)], "alternations": turns}

    # -- verdict ----------------------------------------------------------------
    def _raise(self, track: _Track, signal: str, ts: int, evidence: dict,
               weight: int | None = None) -> None:
        if weight is not None and weight != SIGNALS[signal][0]:
            evidence = {**evidence, "weight": weight}
        track.signals[signal] = (ts + self._window_ns, evidence)

    def _verdict(self, bssid: bytes, track: _Track, frame: Frame, ts: int) -> Finding | None:
        signals = track.signals
        if not signals:
            return None
        score = 0
        agreed = []
        for name, (until, evidence) in list(signals.items()):
            if until < ts:
                del signals[name]
                continue
            score += evidence.get("weight", SIGNALS[name][0])
            agreed.append(name)
        if score < self._min_score:
            return None
        agreed.sort(key=lambda name: (-SIGNALS[name][0], name))
        ap = self.ctx.registry.ap_for_bssid(bssid)
        ssid = frame.elements.ssid if frame.elements is not None else None
        freq = operating_frequency(frame)
        if ap is None:
            return None
        reasons = "; ".join(SIGNALS[name][1] for name in agreed)
        message = (f"Two transmitters are using the BSSID of the "
                   f"{city_ap_phrase(ap, bssid, ssid, freq)}: {reasons}.")
        evidence: dict[str, Any] = {"signals": agreed, "score": score, "min_score": self._min_score}
        for name in agreed:
            evidence[name] = signals[name][1]
        return Finding(rule=self.id, severity=self.severity, message=message,
                       ssid=ssid or ap.network.ssid, bssid=bssid, freq_mhz=freq,
                       evidence=evidence)
