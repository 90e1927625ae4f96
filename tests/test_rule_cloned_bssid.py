"""cloned_bssid: two radios behind one registered BSSID, and one radio left alone.

The scenes here are built from `Frame` records directly (no pcap), by a small
model of radios and of a sensor: each radio has its own TSF offset and
crystal skew, its own sequence counter, TBTT phase and signal level; the
sensor stamps frames late by a one-sided delay (sometimes in batches) and may
run its own clock fast or slow. The pcap fixtures (tests/test_fixtures.py and
test_clone_detection_times below) cover the same ground end to end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from evil_twin_monitor.decoding.frame import BEACON, BROADCAST, PROBE_RESP, Elements, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.cloned_bssid import ClonedBssid, fit_skew

S = 1_000_000                      # µs
BI = 102_400                       # µs, 100 TU
EPOCH_NS = 1_775_034_000 * 10**9
CITY = bytes.fromhex("001a2b3c4d50")
OTHER_CITY = bytes.fromhex("001a2b3c4d70")
NEIGHBOURS = [bytes.fromhex(f"0090fe0000{i:02x}") for i in range(1, 4)]
SSID = b"Shinjuku_Free_Wi-Fi"

REGISTRY = build_registry([{
    "id": "city-hall", "name": "City hall",
    "networks": [{"ssid": SSID, "security": {"wpa2-psk"}, "pmf": "optional",
                  "access_points": [{"bssid": CITY, "label": "3F lobby",
                                     "frequencies": {2412, 2437, 2462}},
                                    {"bssid": OTHER_CITY, "frequencies": {2437}}]}],
}])
ELEMENTS = Elements(raw=b"\x00\x13" + SSID)
ELEMENTS.ssid = SSID
ELEMENTS.ds_channel = 1


@dataclass
class Radio:
    """One transmitter: its clock, counter, schedule and signal."""

    bssid: bytes
    tsf0: int                       # TSF at true time 0, µs
    skew_ppm: float
    seq: int = 0
    signal: int = -52
    phase: int = 0                  # µs into the beacon interval
    frozen_tsf: bool = False        # a tool writing a constant timestamp
    steps: list[tuple[int, int]] = field(default_factory=list)   # (from µs, dBm): power steps

    def level(self, t_us: int) -> int:
        return next((dbm for start, dbm in reversed(self.steps) if t_us >= start), self.signal)

    def tsf(self, t_us: int) -> int:
        return 0 if self.frozen_tsf else self.tsf0 + t_us + round(t_us * self.skew_ppm / 1e6)

    def beacons(self, start_s: float, end_s: float) -> list[tuple[int, "Radio"]]:
        first = int(start_s * S) + (self.phase - int(start_s * S)) % BI
        return [(t, self) for t in range(first, int(end_s * S), BI)]


@dataclass
class Sensor:
    """How frames arrive: delay, batching, the capture clock and its TSFT."""

    rng: random.Random = field(default_factory=lambda: random.Random(7))
    mactime: bool = True
    clock_ppm: list[tuple[int, float]] = field(default_factory=list)  # (from µs, ppm)
    batches: bool = False
    signal_noise: int = 3

    def capture_us(self, t_us: int) -> int:
        """The capture clock: true time run through piecewise drift."""
        drift, last, rate = 0.0, 0, 0.0
        for start, ppm in self.clock_ppm:
            if t_us <= start:
                break
            drift += (start - last) * rate
            last, rate = start, ppm / 1e6
        return t_us + round(drift + (t_us - last) * rate)

    def frames(self, schedule: list[tuple[int, Radio]], kind: str = BEACON) -> list[Frame]:
        """Frames in order of arrival; stamps never run backwards (one queue)."""
        out = []
        stamp = 0
        for number, (t, radio) in enumerate(sorted(schedule, key=lambda e: e[0]), 1):
            t += self.rng.randrange(50, 1500)                    # channel access
            delay = 15 + int(self.rng.expovariate(1 / 90))
            if self.batches and self.rng.random() < 0.05:
                delay += self.rng.randrange(50_000, 600_000)      # the queue stalls
            stamp = max(stamp, self.capture_us(t + delay))
            radio.seq = (radio.seq + 1) % 4096 if not radio.frozen_tsf else 0
            f = Frame()
            f.number = number
            f.kind = kind
            f.addr1 = BROADCAST
            f.addr2 = f.addr3 = radio.bssid
            f.seq = radio.seq
            f.tsf = radio.tsf(t)
            f.beacon_interval = 100
            f.ts_ns = EPOCH_NS + stamp * 1000
            f.mactime = 5_000_000 + t if self.mactime else None
            f.signal_dbm = radio.level(t) + self.rng.randint(-self.signal_noise, self.signal_noise)
            f.freq_mhz = 2412
            f.elements = ELEMENTS
            out.append(f)
        out.sort(key=lambda f: f.ts_ns)
        return out


def neighbours(end_s: float, rng: random.Random) -> list[tuple[int, Radio]]:
    """Three ordinary APs: the references that cancel the sensor's clock."""
    out = []
    for bssid in NEIGHBOURS:
        radio = Radio(bssid, rng.randrange(10**9, 10**12), rng.uniform(-30, 30),
                      phase=rng.randrange(BI), signal=-70)
        out += radio.beacons(0, end_s)
    return out


def run(frames: list[Frame], **settings) -> list[tuple[float, object]]:
    """Feed a rule; (seconds since the first frame, finding) for every finding."""
    rule = ClonedBssid(RuleContext(REGISTRY, facility="city-hall"), settings)
    out = []
    for f in frames:
        finding = rule.on_frame(f)
        if finding is not None:
            out.append(((f.ts_ns - frames[0].ts_ns) / 1e9, finding))
    return out


def first_alert_after(findings, start_s: float) -> float | None:
    return next((t - start_s for t, _ in findings if t >= start_s), None)


def real_ap(**kw) -> Radio:
    return Radio(CITY, tsf0=kw.pop("tsf0", 987_654_321_000), skew_ppm=kw.pop("skew_ppm", 8.5),
                 seq=kw.pop("seq", 1200), phase=kw.pop("phase", 31_000), **kw)


# -- attacks -------------------------------------------------------------------

def test_naive_clone_is_caught_within_ten_seconds_with_every_signal_explained():
    rng = random.Random(1)
    real = real_ap()
    clone = Radio(CITY, tsf0=4_200_000, skew_ppm=-14.0, seq=77, signal=-45, phase=70_000)
    frames = Sensor().frames(real.beacons(0, 40) + clone.beacons(10, 40) + neighbours(40, rng))
    findings = run(frames)
    assert findings and findings[0][0] >= 10
    assert first_alert_after(findings, 10) <= 10
    finding = findings[0][1]
    assert finding.rule == "cloned_bssid" and finding.severity == "critical"
    assert finding.bssid == CITY and finding.ssid == SSID
    evidence = finding.evidence
    assert "tsf_streams" in evidence["signals"] and evidence["score"] >= 2
    assert evidence["tsf_streams"]["lines"] == 2
    assert "3F lobby" in finding.message and "timestamp clocks" in finding.message


@pytest.mark.parametrize("mactime", [True, False], ids=["sensor-tsft", "capture-clock"])
def test_seamless_takeover_is_caught_by_clock_skew_within_a_minute(mactime):
    """The copy continues TSF value and sequence number exactly, at the same
    signal strength; only its crystal (25 ppm off) differs."""
    rng = random.Random(2)
    real = real_ap(skew_ppm=8.5)
    frames_before = real.beacons(0, 60)
    switch = 60 * S + (real.phase - 60 * S) % BI
    fake = Radio(CITY, tsf0=0, skew_ppm=-16.5, phase=real.phase)
    fake.tsf0 = real.tsf(switch) - switch - round(switch * fake.skew_ppm / 1e6)
    schedule = frames_before + neighbours(180, rng)
    sensor = Sensor(mactime=mactime)
    frames = sensor.frames(schedule)
    fake.seq = real.seq + len(frames_before)  # continues the counter
    after = sensor.frames(fake.beacons(60, 180))
    all_frames = sorted(frames + after, key=lambda f: f.ts_ns)
    findings = run(all_frames)
    assert findings, "the takeover went unnoticed"
    delay = first_alert_after(findings, 60)
    assert delay is not None and delay <= 60
    evidence = findings[0][1].evidence
    assert evidence["signals"] == ["clock_skew"]
    assert abs(evidence["clock_skew"]["change_ppm"] - (-25.0)) < 5


def test_takeover_with_a_fresh_clock_after_the_real_ap_stops():
    rng = random.Random(3)
    real = real_ap()
    fake = Radio(CITY, tsf0=1_500_000, skew_ppm=-12.0, seq=3, signal=-46, phase=50_000)
    frames = Sensor().frames(real.beacons(0, 60) + fake.beacons(60.1, 180) + neighbours(180, rng))
    findings = run(frames)
    assert first_alert_after(findings, 60) is not None
    assert first_alert_after(findings, 60) <= 60
    assert set(findings[0][1].evidence["signals"]) & {"tsf_jump", "clock_skew"}


def test_forgery_with_a_frozen_timestamp_is_a_second_clock():
    """Frames made with a packet library's defaults: TSF 0, sequence 0."""
    rng = random.Random(4)
    forger = Radio(CITY, tsf0=0, skew_ppm=0, frozen_tsf=True, phase=40_000, signal=-60)
    frames = Sensor().frames(real_ap().beacons(0, 20) + forger.beacons(5, 20) + neighbours(20, rng))
    findings = run(frames)
    assert first_alert_after(findings, 5) <= 5
    assert "tsf_streams" in findings[0][1].evidence["signals"]


def test_clone_answering_probes_only_is_caught_from_its_probe_responses():
    rng = random.Random(5)
    clone = Radio(CITY, tsf0=9_000_000, skew_ppm=20.0, seq=500, signal=-44, phase=10_000)
    sensor = Sensor()
    frames = sensor.frames(real_ap().beacons(0, 30) + neighbours(30, rng))
    frames += sensor.frames(clone.beacons(5, 30), kind=PROBE_RESP)
    frames.sort(key=lambda f: f.ts_ns)
    findings = run(frames)
    assert findings and "tsf_streams" in findings[0][1].evidence["signals"]


# -- one radio, left alone -------------------------------------------------------

def ordinary_day(sensor: Sensor, end_s: float = 180, **real) -> list[Frame]:
    rng = random.Random(11)
    return sensor.frames(real_ap(**real).beacons(0, end_s) + neighbours(end_s, rng))


@pytest.mark.parametrize("sensor", [
    Sensor(),
    Sensor(mactime=False),
    Sensor(mactime=False, batches=True),
    Sensor(batches=True),
    Sensor(mactime=False, clock_ppm=[(60 * S, 40.0), (120 * S, -25.0)]),
    Sensor(clock_ppm=[(30 * S, 500.0)]),
], ids=["tsft", "capture-clock", "batched-capture-clock", "batched-tsft",
        "drifting-capture-clock", "capture-clock-500ppm-with-tsft"])
def test_one_radio_raises_nothing_whatever_the_sensor_clock_does(sensor):
    assert run(ordinary_day(sensor)) == []


def test_drifting_sensor_without_references_is_one_noisy_signal_and_does_not_page():
    """With nothing to compare against, a skew change may be the sensor's own:
    it counts weight 1 only and does not alert alone."""
    sensor = Sensor(mactime=False, clock_ppm=[(60 * S, 40.0)])
    frames = sensor.frames(real_ap().beacons(0, 180))
    assert run(frames) == []


def test_ap_reboot_is_not_a_clone():
    """Silent 40 s, then TSF and sequence numbers from zero, same crystal."""
    rng = random.Random(12)
    before = real_ap(skew_ppm=8.5)
    after = Radio(CITY, tsf0=-80 * S + 2_000_000, skew_ppm=8.5, seq=0, phase=12_000)
    frames = Sensor().frames(before.beacons(0, 40) + after.beacons(80, 200) + neighbours(200, rng))
    assert run(frames) == []


def test_the_same_frame_heard_twice_is_one_frame():
    frames = ordinary_day(Sensor(), end_s=60)
    copies = []
    for f in frames:
        if f.addr2 == CITY:
            copy = Frame()
            for slot in Frame.__slots__:
                setattr(copy, slot, getattr(f, slot))
            copy.ts_ns += 150_000
            copy.freq_mhz = 2417                      # heard again on the adjacent channel
            copies.append(copy)
    assert run(sorted(frames + copies, key=lambda f: f.ts_ns)) == []


def test_adaptive_transmit_power_steps_are_not_signal_clusters():
    rng = random.Random(13)
    radio = real_ap(steps=[(i * 25 * S, dbm) for i, dbm in enumerate([-50, -58, -53, -50, -59, -52])])
    frames = Sensor().frames(radio.beacons(0, 150) + neighbours(150, rng))
    assert run(frames) == []


def test_one_noisy_signal_alone_does_not_page():
    """An AP whose readings jump between two antenna levels (signal clusters)
    with beacons delivered in batches: no second signal agrees."""
    rng = random.Random(14)
    sensor = Sensor(mactime=False, batches=True)
    radio = real_ap()
    frames = sensor.frames(radio.beacons(0, 90) + neighbours(90, rng))
    for i, f in enumerate(frames):
        if f.addr2 == CITY and i % 3 == 0:
            f.signal_dbm = -88                        # a second antenna's reading
    assert run(frames) == []


def test_unregistered_bssids_never_alert_and_references_stay_bounded():
    rng = random.Random(15)
    rule = ClonedBssid(RuleContext(REGISTRY), {"max_references": 4})
    stranger = bytes.fromhex("02aabbccdd01")
    a = Radio(stranger, 10**9, 5.0)
    b = Radio(stranger, 10**6, -20.0, phase=50_000)
    for f in Sensor().frames(a.beacons(0, 30) + b.beacons(0, 30) + neighbours(30, rng)):
        assert rule.on_frame(f) is None
    for i in range(100_000):
        f = Frame()
        f.kind = BEACON
        f.addr2 = f.addr3 = rng.randbytes(6)
        f.tsf, f.seq, f.ts_ns, f.beacon_interval = 0, 0, EPOCH_NS + 40 * 10**9 + i, 100
        rule.on_frame(f)
    assert sum(1 for t in rule._tracks.values() if not t.registered) <= 4
    assert len(rule._candidates) <= 256


def test_a_tsft_restart_of_the_sensor_radio_restarts_lines_quietly():
    frames = ordinary_day(Sensor(), end_s=120)
    for f in frames:
        if f.ts_ns - frames[0].ts_ns > 60 * 10**9:
            f.mactime -= 4_000_000_000                # the adapter was reset
    assert run(frames) == []


def test_capture_gap_does_not_make_the_recovered_ap_a_clone():
    """Deaf from 30 s to 50 s (radio lost), then the same AP again."""
    rng = random.Random(16)
    radio = real_ap()
    frames = Sensor().frames(radio.beacons(0, 30) + radio.beacons(50, 120) + neighbours(120, rng))
    frames = [f for f in frames if not 30 * S <= (f.ts_ns - EPOCH_NS) // 1000 < 50 * S]
    rule = ClonedBssid(RuleContext(REGISTRY, facility="city-hall"))
    findings = []
    gap_reported = False
    for f in frames:
        if not gap_reported and f.ts_ns >= EPOCH_NS + 50 * 10**9:
            rule.capture_gap(EPOCH_NS + 30 * 10**9, EPOCH_NS + 50 * 10**9)
            gap_reported = True
        findings.append(rule.on_frame(f))
    assert gap_reported and not any(findings)


def test_an_ap_registered_on_reload_is_watched_from_then_on():
    """Heard before anyone registered it (so it served as a clock reference),
    then registered by a reload: its clone must be caught."""
    rng = random.Random(17)
    newcomer = bytes.fromhex("001a2b3c4d99")
    real = Radio(newcomer, 10**11, 4.0, seq=10, phase=20_000)
    clone = Radio(newcomer, 3_000_000, -9.0, seq=900, phase=70_000, signal=-44)
    frames = Sensor().frames(real.beacons(0, 60) + clone.beacons(40, 60) + neighbours(60, rng))
    unregistered = build_registry([{"id": "city-hall", "networks": []}])
    ctx = RuleContext(unregistered, facility="city-hall")
    rule = ClonedBssid(ctx)
    findings = []
    for f in frames:
        if not findings and f.ts_ns >= EPOCH_NS + 30 * 10**9 and ctx.registry is unregistered:
            ctx.registry = build_registry([{
                "id": "city-hall", "networks": [{"ssid": SSID, "security": {"wpa2-psk"},
                "access_points": [{"bssid": newcomer, "frequencies": {2412}}]}]}])
            rule.registry_changed()
        result = rule.on_frame(f)
        if result is not None:
            findings.append(result)
    assert findings and findings[0].bssid == newcomer


def test_a_flood_inside_a_registered_prefix_cannot_evict_what_was_learned():
    prefix_registry = build_registry([{
        "id": "city-hall", "networks": [{"ssid": SSID, "security": {"wpa2-psk"},
        "access_points": [{"bssid": CITY, "frequencies": {2412}},
                          {"bssid": bytes.fromhex("001a2b000000"), "prefix_len": 24,
                           "frequencies": {2412}}]}]}])
    rule = ClonedBssid(RuleContext(prefix_registry), {"max_tracked": 8})
    for f in ordinary_day(Sensor(), end_s=60):
        rule.on_frame(f)
    learned = rule._tracks[CITY].baseline
    assert learned is not None
    rng = random.Random(18)
    for i in range(2000):                 # one-frame beacons from addresses in the prefix
        f = ordinary_day(Sensor(), end_s=0.2)[0]
        f.addr2 = f.addr3 = bytes.fromhex("001a2b") + rng.randbytes(3)
        f.ts_ns = EPOCH_NS + 61 * 10**9 + i * 500_000
        rule.on_frame(f)
    assert rule._tracks[CITY].baseline == learned
    assert sum(1 for b in rule._tracks if b != CITY) <= 8


def test_references_that_fell_silent_make_room_for_new_ones():
    """A short burst of 20+ beacons from 16 fake BSSIDs fills the reference
    slots; five minutes later they leave, real neighbours take over and a
    seamless takeover is still caught with full weight."""
    rule = ClonedBssid(RuleContext(REGISTRY, facility="city-hall"))
    fakes = [Radio(bytes([2, 0, 0, 0, 0, i]), 10**9, 0.0) for i in range(16)]
    burst = Sensor().frames([b for radio in fakes for b in radio.beacons(0, 3)])
    for f in burst:
        rule.on_frame(f)
    assert sum(1 for t in rule._tracks.values() if not t.registered) == 16
    rng = random.Random(19)
    offset = 400 * 10**9
    real = real_ap()
    switch = 460 * S + (real.phase - 460 * S) % BI
    fake = Radio(CITY, tsf0=0, skew_ppm=-16.5, phase=real.phase)
    fake.tsf0 = real.tsf(switch) - switch - round(switch * fake.skew_ppm / 1e6)
    sensor = Sensor()
    before = real.beacons(400, 460)
    frames = sensor.frames(before + neighbours(580, rng))
    fake.seq = real.seq + len(before)
    frames = sorted(frames + sensor.frames(fake.beacons(460, 580)), key=lambda f: f.ts_ns)
    frames = [f for f in frames if f.ts_ns >= EPOCH_NS + offset]
    found = [r for f in frames if (r := rule.on_frame(f)) is not None]
    assert found and found[0].evidence["clock_skew"].get("weight", 2) == 2


# -- settings and helpers -----------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("window_s", 0.0), ("bin_s", -1.0), ("min_score", 0), ("rate_factor", 1.0),
    ("skew_span_s", 3.0), ("max_references", 0), ("bin_s", 0.0000001),
    ("window_s", float("inf")), ("max_rx_delay_ms", float("nan"))])
def test_bad_settings_are_rejected_naming_the_setting(key, value):
    with pytest.raises(ValueError, match=key):
        ClonedBssid(RuleContext(REGISTRY), {key: value})


def test_min_score_three_needs_more_agreement():
    """The operator may ask for more agreement: the frozen-clock forgery has
    two clock lines and a sequence break, a seamless takeover only a skew."""
    rng = random.Random(4)
    forger = Radio(CITY, tsf0=0, skew_ppm=0, frozen_tsf=True, phase=40_000, signal=-60)
    frames = Sensor().frames(real_ap().beacons(0, 20) + forger.beacons(5, 20) + neighbours(20, rng))
    assert run(frames, min_score=3)
    assert not run(ordinary_day(Sensor(), end_s=60), min_score=1)


def test_skew_fit_ignores_bins_stamped_late():
    points = [(x * 2 * S, round(x * 2 * S * 12e-6)) for x in range(10)]
    points[3] = (points[3][0], points[3][1] - 300_000)      # a whole bin delivered late
    slope, error = fit_skew(points)
    assert slope * 1e6 == pytest.approx(12.0, abs=0.5)
