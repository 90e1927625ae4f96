"""The engine's alert lifecycle: open, repeat (hold-down), close, caps, ticks."""

from __future__ import annotations

from dataclasses import dataclass, field

from evil_twin_monitor.decoding.frame import BEACON, DEAUTH, Frame
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules import Finding, Rule

NS = 1_000_000_000
T0 = 1_775_034_000 * NS  # 2026-04-01T09:00:00Z
REGISTRY = build_registry([])


class EveryBeacon(Rule):
    """Reports every beacon, keyed by its BSSID."""

    id = "unknown_bssid"
    kinds = frozenset({BEACON})
    severity = "high"

    def on_frame(self, frame):
        return Finding(rule=self.id, severity=self.severity, message="seen",
                       ssid=b"Net", bssid=frame.addr3, freq_mhz=2437, evidence={"n": 1})


class Ticker(Rule):
    id = "ap_missing"
    tick_interval_s = 10

    def __init__(self, ctx, settings=None):
        super().__init__(ctx, settings)
        self.ticks: list[int] = []

    def on_tick(self, now_ns):
        self.ticks.append(now_ns)
        return ()


@dataclass
class Recorder:
    events: list = field(default_factory=list)

    def opened(self, alert):
        self.events.append(("opened", alert.bssid, alert.repeats))

    def closed(self, alert):
        self.events.append(("closed", alert.bssid, alert.repeats))


def beacon(t_s: float, bssid: bytes = b"\x02\x00\x00\x00\x00\x01", number: int = 1, kind=BEACON) -> Frame:
    frame = Frame()
    frame.kind = kind
    frame.ts_ns = T0 + int(t_s * NS)
    frame.number = number
    frame.addr3 = frame.addr2 = bssid
    return frame


def make_engine(**kwargs):
    recorder = Recorder()
    engine = Engine(REGISTRY, sinks=[recorder], rule_classes=[EveryBeacon, Ticker], **kwargs)
    return engine, recorder


def test_repeats_within_hold_down_are_counted_not_announced():
    engine, rec = make_engine(hold_down_s=60)
    for i in range(5):
        engine.feed(beacon(i * 10, number=i + 1))
    engine.finish()
    assert rec.events == [("opened", b"\x02\x00\x00\x00\x00\x01", 0),
                          ("closed", b"\x02\x00\x00\x00\x00\x01", 4)]


def test_alert_closes_after_quiet_hold_down_and_reopens():
    engine, rec = make_engine(hold_down_s=60)
    engine.feed(beacon(0, number=1))
    engine.feed(beacon(30, number=2))
    # No finding for this key for 60 s; another BSSID's beacon advances time.
    engine.feed(beacon(91, bssid=b"\x02\x00\x00\x00\x00\x02", number=3))
    engine.feed(beacon(95, number=4))
    engine.finish()
    a, b = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    # Time reaches 91 s before the new frame is judged: a closes first.
    assert rec.events == [("opened", a, 0), ("closed", a, 1), ("opened", b, 0),
                          ("opened", a, 0), ("closed", b, 0), ("closed", a, 0)]


def test_alert_fields_follow_the_contract():
    engine, _ = make_engine()
    engine.ctx.facility = "city-hall"
    engine.ctx.sensor = "ch-01"
    engine.feed(beacon(0.5, number=7))
    engine.feed(beacon(1.5, number=9))
    (alert,) = engine.open_alerts
    assert alert.to_dict() == {
        "time": "2026-04-01T09:00:00.500000Z",
        "rule": "unknown_bssid",
        "severity": "high",
        "facility": "city-hall",
        "sensor": "ch-01",
        "ssid": "Net",
        "bssid": "02:00:00:00:00:01",
        "channel": 6,
        "frequency_mhz": 2437,
        "message": "seen",
        "evidence": {"n": 1, "frame": 7, "repeats": 1,
                     "last_seen": "2026-04-01T09:00:01.500000Z", "last_frame": 9},
    }


def test_open_alerts_are_capped_and_the_overflow_counted():
    engine, rec = make_engine(max_open_alerts=3)
    for i in range(10):
        engine.feed(beacon(i * 0.01, bssid=bytes([2, 0, 0, 0, 0, i]), number=i + 1))
    assert len(engine.open) == 3
    assert engine.dropped_findings == 7
    assert engine.alerts_by_rule == {"unknown_bssid": 3}


def test_rule_severity_and_enabled_come_from_configuration():
    @dataclass
    class Conf:
        enabled: bool = True
        severity: str | None = None
        settings: dict = field(default_factory=dict)

    engine, rec = make_engine(rules={"unknown_bssid": Conf(severity="low")})
    engine.feed(beacon(0))
    assert [a.severity for a in engine.open_alerts] == ["low"]

    engine, rec = make_engine(rules={"unknown_bssid": Conf(enabled=False)})
    engine.feed(beacon(0))
    assert rec.events == []


def test_ticks_follow_capture_time_not_the_wall_clock():
    engine, _ = make_engine()
    ticker = next(r for r in engine.rules if isinstance(r, Ticker))
    for t in (0, 5, 10, 25, 26, 40):
        engine.feed(beacon(t, kind=DEAUTH))
    assert [(t - T0) // NS for t in ticker.ticks] == [10, 25, 40]


def test_time_never_runs_backwards_for_out_of_order_frames():
    engine, rec = make_engine(hold_down_s=60)
    engine.feed(beacon(100, number=1))
    engine.feed(beacon(50, number=2))   # older frame: a repeat, clock stays at 100
    assert engine.now_ns == T0 + 100 * NS
    engine.finish()
    assert rec.events[-1] == ("closed", b"\x02\x00\x00\x00\x00\x01", 1)


def test_same_input_gives_same_alerts():
    def run():
        engine, rec = make_engine(hold_down_s=20)
        for i in range(200):
            engine.feed(beacon(i * 0.7, bssid=bytes([2, 0, 0, 0, 0, i % 7]), number=i + 1))
        engine.finish()
        return rec.events
    assert run() == run()


class CountingMemoRule(Rule):
    """Stateless: the engine may remember its verdicts."""

    id = "lookalike_ssid"
    kinds = frozenset({BEACON})
    memoizable = True
    calls = 0

    def on_frame(self, frame):
        CountingMemoRule.calls += 1
        return Finding(rule=self.id, severity="medium", message="looks alike",
                       ssid=b"Net", bssid=frame.addr3, freq_mhz=frame.freq_mhz)


def test_memoizable_rules_judge_each_distinct_beacon_once_and_repeats_still_count():
    CountingMemoRule.calls = 0
    recorder = Recorder()
    engine = Engine(REGISTRY, sinks=[recorder], rule_classes=[CountingMemoRule])
    elements_a, elements_b = object(), object()
    for i in range(10):
        frame = beacon(i * 0.1, number=i + 1)
        frame.elements = elements_a if i < 8 else elements_b
        frame.freq_mhz = 2437
        frame.signal_dbm = -40 - i
        engine.feed(frame)
    assert CountingMemoRule.calls == 2
    (alert,) = engine.open_alerts
    assert alert.repeats == 9
    # The signal comes from the frame that opened the alert.
    assert alert.to_dict()["evidence"]["signal_dbm"] == -40
    engine.set_registry(REGISTRY)  # a reload forgets the memo
    engine.feed(beacon(2, number=11))
    assert CountingMemoRule.calls == 3


@dataclass(frozen=True)
class _Conf:
    enabled: bool = True
    severity: str | None = None
    settings: dict = field(default_factory=dict)


def _tickers(engine: Engine) -> list:
    return [r for r in engine.rules if r.id == "ap_missing"]


def test_reload_keeps_learned_state_of_rules_whose_configuration_is_unchanged():
    engine, rec = make_engine()
    ticker = _tickers(engine)[0]
    engine.feed(beacon(0))
    restarted = engine.reconfigure(facility=None, sensor=None, rules={}, hold_down_s=300,
                                   max_open_alerts=10_000)
    assert restarted == []
    assert _tickers(engine)[0] is ticker
    engine.feed(beacon(1))  # same key, still open: a repeat, not a new alert
    assert rec.events == [("opened", b"\x02\x00\x00\x00\x00\x01", 0)]


def test_reload_restarts_a_rule_whose_configuration_changed_and_applies_severity():
    engine, rec = make_engine()
    ticker = _tickers(engine)[0]
    restarted = engine.reconfigure(
        facility=None, sensor=None, hold_down_s=300, max_open_alerts=10_000,
        rules={"ap_missing": _Conf(severity="high"), "unknown_bssid": _Conf(severity="low")})
    assert sorted(restarted) == ["ap_missing", "unknown_bssid"]
    assert _tickers(engine)[0] is not ticker
    engine.feed(beacon(0))
    assert [a.severity for a in engine.open_alerts] == ["low"]


def test_reload_can_disable_a_rule_and_a_new_facility_restarts_every_rule():
    engine, rec = make_engine()
    engine.reconfigure(facility=None, sensor=None, hold_down_s=300, max_open_alerts=10_000,
                       rules={"unknown_bssid": _Conf(enabled=False)})
    engine.feed(beacon(0))
    assert rec.events == []
    assert "beacon" not in engine.kinds
    ticker = _tickers(engine)[0]
    restarted = engine.reconfigure(facility="library", sensor="s1", rules={}, hold_down_s=300,
                                   max_open_alerts=10_000)
    assert sorted(restarted) == ["ap_missing", "unknown_bssid"]
    assert _tickers(engine)[0] is not ticker
    engine.feed(beacon(1))
    assert [a.facility for a in engine.open_alerts] == ["library"]
