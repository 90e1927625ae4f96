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
    engine.feed(beacon(98.5, number=2))   # slightly older frame: a repeat, clock stays at 100
    assert engine.now_ns == T0 + 100 * NS and engine.clock_steps_back == 0
    engine.finish()
    assert rec.events[-1] == ("closed", b"\x02\x00\x00\x00\x00\x01", 1)


def test_a_clock_stepped_back_moves_the_engine_with_it_and_rules_hear_a_gap():
    """An NTP step back of 90 s: hold-downs keep running in the new time base
    (instead of stalling for 90 s) and every rule restarts its timing."""
    gaps = []

    class GapRule(Rule):
        id = "lookalike_ssid"
        kinds = frozenset({BEACON})

        def capture_gap(self, start_ns: int, end_ns: int) -> None:
            gaps.append((start_ns, end_ns))

    engine, rec = make_engine(hold_down_s=60)
    engine.rules.append(GapRule(engine.ctx))
    engine.feed(beacon(100, number=1))
    engine.feed(beacon(10, number=2))
    assert engine.now_ns == T0 + 10 * NS and engine.clock_steps_back == 1
    assert gaps == [(T0 + 10 * NS, T0 + 10 * NS)]
    engine.advance(T0 + 71 * NS)          # 61 s after the repeat, in the new time base
    assert rec.events[-1][0] == "closed"


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


# -- the fair cap: one rule cannot take every open-alert slot ----------------------------


class EveryDeauth(Rule):
    """Reports every deauth, keyed by its BSSID (stands for any other rule)."""

    id = "deauth_flood"
    kinds = frozenset({DEAUTH})
    severity = "high"

    def on_frame(self, frame):
        return Finding(rule=self.id, severity=self.severity, message="deauth",
                       ssid=b"Net", bssid=frame.addr3, freq_mhz=2437)


def test_a_flood_of_one_rule_leaves_every_other_rule_its_share_of_the_cap():
    recorder = Recorder()
    engine = Engine(REGISTRY, sinks=[recorder], max_open_alerts=48, hold_down_s=60,
                    rule_classes=[EveryBeacon, EveryDeauth, Ticker])
    # 3 rules: 12 slots held back, 4 per rule. The flood gets 48 - 4 - 4 = 40.
    for i in range(1000):
        engine.feed(beacon(i * 0.01, bssid=b"\x02\x00\x00\x00" + i.to_bytes(2, "big"),
                           number=i + 1))
    assert engine.alerts_by_rule == {"unknown_bssid": 40}
    assert engine.dropped_by_rule == {"unknown_bssid": 960}
    # A deauth flood found during the beacon flood still opens, up to its own share.
    for i in range(6):
        engine.feed(beacon(10 + i * 0.01, bssid=bytes([0, 0x1a, 0, 0, 0, i]), kind=DEAUTH))
    assert engine.alerts_by_rule == {"unknown_bssid": 40, "deauth_flood": 4}
    assert engine.dropped_by_rule == {"unknown_bssid": 960, "deauth_flood": 2}
    assert engine.dropped_findings == 962       # the total the metrics and the daemon read
    assert len(engine.open) == 44
    # The flood's alerts close after the hold-down: their slots come back to it.
    engine.feed(beacon(75, bssid=b"\x02\xff\x00\x00\x00\x01", number=2000))
    assert len(engine.open) == 1 and engine.alerts_by_rule["unknown_bssid"] == 41


def test_a_key_refused_for_room_but_reported_again_a_second_later_takes_a_one_shot_slot():
    """Persistence wins within a rule: a twin that keeps beaconing inside a flood of
    one-frame BSSIDs opens, in the slot of the oldest alert that never repeated."""
    recorder = Recorder()
    engine = Engine(REGISTRY, sinks=[recorder], max_open_alerts=48, hold_down_s=600,
                    rule_classes=[EveryBeacon, EveryDeauth, Ticker])
    flood = [b"\x02\x00\x00\x00" + i.to_bytes(2, "big") for i in range(200)]
    twin = b"\x02\x5e\x1f\xa0\x0c\x33"
    engine.feed(beacon(0.0, bssid=flood[0], number=1))
    engine.feed(beacon(0.5, bssid=flood[0], number=2))     # repeated: never a victim
    for i in range(1, 200):
        engine.feed(beacon(1 + i * 0.01, bssid=flood[i], number=2 + i))
    assert len(engine.open) == 40 and engine.dropped_by_rule == {"unknown_bssid": 160}
    engine.feed(beacon(3.0, bssid=twin, number=300))       # refused once ...
    engine.feed(beacon(3.5, bssid=twin, number=301))       # ... again, too soon
    assert engine.dropped_by_rule == {"unknown_bssid": 162}
    engine.feed(beacon(4.1, bssid=twin, number=302))       # a second later: it stays
    assert ("opened", twin, 0) in recorder.events
    # The victim is the oldest alert that never repeated (flood[1]), not flood[0].
    assert ("closed", flood[1], 0) in recorder.events
    assert ("closed", flood[0], 1) not in recorder.events
    assert len(engine.open) == 40 and engine.alerts_by_rule == {"unknown_bssid": 41}
    # A one-frame BSSID is still refused, and counted.
    engine.feed(beacon(5, bssid=b"\x02\xff\xff\x00\x00\x01", number=303))
    assert engine.dropped_findings == 163


def test_100k_random_bssids_advertising_a_registered_ssid_do_not_hide_a_twin_or_a_deauth_flood():
    """The real rules, decoder and default cap (10,000): an mdk4-style flood of the city's
    SSID from 100,000 random BSSIDs in a minute; from 30 s an open twin beaconing ten times
    a second, and an aireplay-ng deauth burst against the 3F lobby AP at 45 s."""
    from pathlib import Path

    from evil_twin_monitor.decoding import Decoder
    from evil_twin_monitor.registry import load_registry
    from evil_twin_monitor.simulation import frames as sim

    opened_at: dict[tuple, float] = {}

    class FirstOpened:
        def opened(self, alert):
            opened_at.setdefault((alert.rule, alert.bssid), (alert.time_ns - T0) / NS)

        def closed(self, alert):
            pass

    root = Path(__file__).resolve().parents[1]
    engine = Engine(load_registry(root / "fixtures" / "registry.yaml"), facility="city-hall",
                    sinks=[FirstOpened()])
    decoder = Decoder()
    lobby = bytes.fromhex("001a2b3c4d50")
    twin = bytes.fromhex("025e1fa00c33")
    client = bytes.fromhex("3a1122334455")
    template = sim.beacon(lobby, "Shinjuku_Free_Wi-Fi", 2437, signal_dbm=-60)
    head, tail = template[:26], template[38:]          # radiotap(16) + fc, duration, addr1
    rng = __import__("random").Random(5)
    number = 0

    def feed(data: bytes, t_s: float) -> None:
        nonlocal number
        number += 1
        frame = decoder.decode(data, 127, T0 + int(t_s * NS), number)
        assert frame is not None
        engine.feed(frame)

    for i in range(100_000):
        t = i * 60 / 100_000
        if i % 1000 == 0:                              # the real AP and, from 30 s, the twin
            feed(sim.beacon(lobby, "Shinjuku_Free_Wi-Fi", 2412, seq=i // 1000), t)
            if t >= 30:
                feed(sim.beacon(twin, "Shinjuku_Free_Wi-Fi", 2437, security="open",
                                profile="hostapd", seq=i // 1000), t)
        address = rng.randbytes(6)
        feed(head + address + address + tail, t)
        if i == 75_000:                               # aireplay-ng -0 1 -a lobby -c client
            for k in range(64):
                src, dst = (lobby, client) if k % 2 == 0 else (client, lobby)
                feed(sim.deauth(src, dst, lobby, 2412, seq=k), t + k * 0.002)
    share = 10_000 // (4 * len(engine.rules))
    opened = engine.alerts_by_rule
    assert opened.get("deauth_flood") == 1 and opened.get("beacon_flood") == 1
    assert 30 <= opened_at[("unknown_bssid", twin)] < 31.5
    assert 45 <= opened_at[("deauth_flood", lobby)] < 46
    unknown_open = sum(1 for a in engine.open_alerts if a.rule == "unknown_bssid")
    assert 7_000 < unknown_open <= 10_000 - (len(engine.rules) - 1) * share
    assert engine.dropped_by_rule["unknown_bssid"] > 80_000
    assert set(engine.dropped_by_rule) == {"unknown_bssid"}
    assert engine.dropped_findings == sum(engine.dropped_by_rule.values())
