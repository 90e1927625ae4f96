"""beacon_flood: a burst of never-heard-before BSSIDs, and the churn that must stay quiet."""

from __future__ import annotations

import json
import random

import pytest

from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Elements, Frame
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.beacon_flood import BeaconFlood
from evil_twin_monitor.store.db import alert_row

SEC = 1_000_000_000
T0 = 1_775_034_000 * SEC      # 2026-04-01T09:00:00Z
CH6 = 2437
REGISTRY = build_registry([])
_ELEMENTS: dict[bytes, Elements] = {}


def rule(**settings) -> BeaconFlood:
    return BeaconFlood(RuleContext(REGISTRY, facility="city-hall"), settings)


def frame(t_s: float, bssid: bytes, ssid: bytes = b"neighbour", freq: int | None = CH6,
          kind: str = BEACON) -> Frame:
    f = Frame()
    f.kind = kind
    f.ts_ns = T0 + int(t_s * SEC)
    f.addr2 = f.addr3 = bssid
    f.freq_mhz = freq
    elements = _ELEMENTS.get(ssid)
    if elements is None:
        elements = _ELEMENTS[ssid] = Elements(b"")
        elements.ssid = ssid
    f.elements = elements
    return f


def addresses(rng: random.Random, n: int, first: int = 0x00) -> list[bytes]:
    return [bytes((first,)) + rng.randbytes(5) for _ in range(n)]


def neighbourhood(rng: random.Random, bssids: list[bytes], start_s: float, end_s: float,
                  period_s: float = 1.0, freq: int = CH6) -> list[tuple[float, bytes, bytes, int]]:
    """Steady neighbours, each heard every ``period_s`` (a sensor hears a fraction of beacons)."""
    events = []
    for i, bssid in enumerate(bssids):
        t = start_s + rng.random() * period_s
        while t < end_s:
            events.append((t, bssid, f"neighbour-{i}".encode(), freq))
            t += period_s
    return events


def flood(rng: random.Random, start_s: float, end_s: float, per_s: float,
          freq: int = CH6) -> list[tuple[float, bytes, bytes, int]]:
    """mdk4 ``b`` mode: a new random BSSID and a random SSID for every beacon."""
    events = []
    t = start_s
    while t < end_s:
        ssid = rng.randbytes(rng.randrange(4, 16)).hex().encode()[:rng.randrange(6, 33)]
        events.append((t, rng.randbytes(6), ssid, freq))
        t += 1 / per_s
    return events


def run(r: BeaconFlood, events) -> list[tuple[float, object]]:
    """Feed events in time order; (time in s, finding) for every finding."""
    out = []
    for t, bssid, ssid, freq in sorted(events, key=lambda e: e[0]):
        finding = r.on_frame(frame(t, bssid, ssid, freq))
        if finding is not None:
            out.append((t, finding))
    return out


# -- a flood ---------------------------------------------------------------------


def test_an_mdk4_flood_is_reported_once_per_bucket_with_evidence_and_no_addresses():
    rng = random.Random(1)
    neighbours = addresses(rng, 30)
    r = rule()
    events = neighbourhood(rng, neighbours, 0, 180) + flood(rng, 120, 150, per_s=50)
    found = run(r, events)
    assert found, "a flood of 50 new BSSIDs a second must be reported"
    first_t, finding = found[0]
    assert 120 < first_t < 123                  # 101 new BSSIDs at 50/s: about 2 s
    assert finding.rule == "beacon_flood" and finding.severity == "high"
    assert finding.bssid is None and finding.ssid is None and finding.freq_mhz == CH6
    ev = finding.evidence
    assert ev["new_bssids_in_window"] == 101 and ev["window_s"] == 60
    assert ev["normal_per_min"] == 0.0 and ev["threshold_per_min"] == 100.0
    assert 0.3 < ev["random_address_share"] < 0.7   # random bytes: half have the LA bit
    assert ev["distinct_ssids"] == 101 and ev["distinct_ssids_complete"] is True
    assert 1 <= len(ev["sample_ssids"]) <= 5
    assert ev["frequencies_mhz"] == {"2437": 101}
    assert "channel 6" in finding.message and finding.message.endswith(".")
    assert "\n" not in finding.message
    text = json.dumps(ev)
    assert not any(b.hex(":") in text for b in neighbours)
    # Repeated at most once per 5 s bucket while it lasts: about 6 in 30 s (+ the tail).
    times = [t for t, _ in found]
    assert len({int(t // 5) for t in times}) == len(times) >= 6
    assert found[-1][1].evidence["flood_new_bssids"] > 1200   # 50/s from about 122 s to 145 s


def test_one_alert_per_facility_through_the_engine_and_every_sink_field_is_filled():
    rng = random.Random(2)
    engine = Engine(REGISTRY, facility="city-hall", sensor="s1", rule_classes=[BeaconFlood])
    events = neighbourhood(rng, addresses(rng, 10), 0, 90) + flood(rng, 60, 90, per_s=200)
    for t, bssid, ssid, freq in sorted(events, key=lambda e: e[0]):
        engine.feed(frame(t, bssid, ssid, freq))
    (alert,) = engine.open_alerts
    d = alert.to_dict()
    assert (d["rule"], d["facility"], d["ssid"], d["bssid"]) == ("beacon_flood", "city-hall",
                                                                 None, None)
    assert (d["channel"], d["frequency_mhz"]) == (6, CH6)
    assert alert.repeats >= 5
    json.dumps(d)
    row = alert_row(alert)
    assert row.bssid is None and row.ssid is None and row.channel == 6


def test_probe_responses_count_and_heard_frequency_is_where_the_flood_is():
    rng = random.Random(3)
    r = rule(warm_up_s=0)
    events = [(t, b, s, 5180) for t, b, s, _ in flood(rng, 0, 10, per_s=40)]
    found = []
    for t, bssid, ssid, freq in events:
        out = r.on_frame(frame(t, bssid, ssid, freq, kind=PROBE_RESP))
        if out is not None:
            found.append(out)
    assert found and found[0].freq_mhz == 5180 and "channel 36" in found[0].message


# -- what must stay quiet ---------------------------------------------------------------

HOME = (2412, 2437, 2462)
OTHERS = (2417, 2422, 2427, 2432, 2442, 2447, 2452, 2457, 2467, 2472,
          5180, 5200, 5220, 5240, 5260, 5280, 5300, 5320, 5500, 5520)


def hopping_start_up(rng: random.Random, minutes: float, count: int = 200):
    """A sensor hopping like the daemon's channel plan (home channels 0.5 s each, then
    two other channels 0.25 s each) starting next to ``count`` neighbours spread over
    all channels; weak ones are heard on only a fifth of the visits."""
    freqs = HOME + OTHERS
    neighbours = [(b, freqs[i % len(freqs)], 0.95 if i % 3 else 0.2)
                  for i, b in enumerate(addresses(rng, count))]
    by_freq: dict[int, list] = {}
    for n in neighbours:
        by_freq.setdefault(n[1], []).append(n)
    events = []
    t, k = 0.0, 0
    while t < minutes * 60:
        plan = [(f, 0.5) for f in HOME] + [(OTHERS[(k + j) % len(OTHERS)], 0.25) for j in (0, 1)]
        k += 2
        for freq, dwell in plan:
            for bssid, _, p in by_freq.get(freq, ()):
                if rng.random() < p:
                    events.append((t + rng.random() * dwell, bssid, b"home-ap", freq))
            t += dwell
    return events


def test_a_hopping_sensor_discovering_200_neighbours_at_start_up_does_not_alert():
    events = hopping_start_up(random.Random(4), minutes=15)
    assert run(rule(), events) == []
    # Control: the same start-up without the per-frequency warm-up is a "flood", so the
    # quiet result above is the warm-up's doing.
    assert run(rule(warm_up_s=0), events) != []


def hotspot_churn(rng: random.Random, start_s: float, end_s: float, per_min: float):
    """Phones' hotspots switched on at random (a Poisson process), each beaconing for
    two to six minutes, heard every 5 s; random (locally administered) addresses."""
    events = []
    t = start_s
    while True:
        t += rng.expovariate(per_min / 60)
        if t >= end_s:
            return events
        bssid = bytes((rng.randrange(256) & 0xFC | 0x02,)) + rng.randbytes(5)
        life = rng.uniform(120, 360)
        s = t
        while s < min(t + life, end_s):
            events.append((s, bssid, b"iPhone", CH6))
            s += 5


def test_a_steady_churn_of_hotspots_does_not_alert_and_becomes_the_learned_normal():
    rng = random.Random(5)
    r = rule()
    events = neighbourhood(rng, addresses(rng, 30), 0, 1800) + hotspot_churn(rng, 0, 1800, 60)
    assert run(r, events) == []
    assert 45 < r.normal_per_min < 75
    # A crowd's 150 hotspots within a minute is above the floor (100) but under
    # 5 x the learned 60 a minute: no alert ...
    crowd = [(1800 + i * 0.4, bytes((0x02,)) + rng.randbytes(5), b"crowd", CH6)
             for i in range(150)]
    assert run(r, crowd) == []
    # ... while a rule that has learnt nothing yet would call it a flood.
    fresh = rule()
    run(fresh, neighbourhood(rng, addresses(rng, 30), 1700, 1800))
    assert run(fresh, crowd) != []


def test_a_slow_ramp_cannot_teach_the_rule_to_ignore_a_flood():
    """Each bucket teaches the normal at most the floor (100 a minute), so the threshold
    stays <= 5 x 100 however patiently an attacker raises the churn (here from 60 to
    350 new BSSIDs a minute over three hours); a flood of 600 a minute is still seen."""
    rng = random.Random(6)
    r = rule()
    events = neighbourhood(rng, addresses(rng, 10), 0, 10_860, period_s=5)
    t = 30.0
    while t < 10_800:
        events.append((t, rng.randbytes(6), b"ramp", CH6))
        t += 60 / (60 + 290 * t / 10_800)
    assert run(r, events) == []
    assert r.normal_per_min <= 100
    assert run(r, flood(rng, 10_800, 10_860, per_s=10))


# -- after a flood ------------------------------------------------------------------------------


def test_the_alert_stops_after_the_flood_and_fires_again_on_a_later_flood():
    rng = random.Random(7)
    r = rule()
    events = (neighbourhood(rng, addresses(rng, 30), 0, 1500)
              + hotspot_churn(rng, 0, 1500, 5)
              + flood(rng, 300, 330, per_s=50) + flood(rng, 1200, 1230, per_s=50))
    found = run(r, events)
    first = [t for t, _ in found if t < 1000]
    second = [t for t, _ in found if t >= 1000]
    assert first and first[0] < 303 and first[-1] < 330 + 60 + 5
    assert second and second[0] < 1203


def test_100k_random_bssids_keep_every_table_capped_and_the_neighbours_known():
    rng = random.Random(8)
    r = rule()
    neighbours = addresses(rng, 40)
    events = (neighbourhood(rng, neighbours, 0, 600) + hotspot_churn(rng, 0, 600, 5)
              + flood(rng, 200, 260, per_s=100_000 / 60))
    normal_before = None
    sizes_during = None
    found = []
    for t, bssid, ssid, freq in sorted(events, key=lambda e: e[0]):
        if normal_before is None and t >= 200:
            normal_before = r.normal_per_min
        if sizes_during is None and t >= 259:
            sizes_during = r.table_sizes()
        out = r.on_frame(frame(t, bssid, ssid, freq))
        if out is not None:
            found.append(t)
    cap = BeaconFlood.DEFAULTS["max_tracked"]
    assert sizes_during["candidates"] == cap and sizes_during["known"] <= cap
    assert sizes_during["candidates_evicted"] > 80_000
    assert sizes_during["window_ssids"] <= 12 * 256
    assert len(r._listen) == 1 and len(r._ring) <= 11
    # Neighbours heard throughout were never evicted by one-frame BSSIDs ...
    assert all(b in r._known for b in neighbours)
    # ... so the alert ends with the flood (the window empties a minute later) ...
    assert found[0] < 201 and found[-1] < 260 + 60 + 5
    # ... and the learned normal did not learn the flood.
    assert abs(r.normal_per_min - normal_before) < 5


def test_a_pool_flood_of_repeating_bssids_does_not_push_out_the_neighbours():
    """An attacker cycling 2,000 BSSIDs, each beaconing twice, would fill a 512-entry
    table of known BSSIDs and push out 400 neighbours heard every 20 s (a hopping
    sensor's other channels); heard again they would look new and keep the alert
    going for as long as their rediscovery takes."""
    rng = random.Random(9)
    r = rule(max_tracked=512)
    neighbours = addresses(rng, 400)
    pool = [rng.randbytes(6) for _ in range(2000)]
    events = neighbourhood(rng, neighbours, 0, 1200, period_s=20) + hotspot_churn(rng, 0, 1200, 3)
    for i in range(100 * 60):    # 100 a second for a minute, cycling, each beaconing twice
        events.append((300 + i / 100, pool[i % len(pool)], b"pool", CH6))
        events.append((301.2 + i / 100, pool[i % len(pool)], b"pool", CH6))
    normal_before = known_at_the_end = None
    found = []
    for t, bssid, ssid, freq in sorted(events, key=lambda e: e[0]):
        if normal_before is None and t >= 300:
            normal_before = r.normal_per_min
        if known_at_the_end is None and t >= 361:
            known_at_the_end = all(b in r._known for b in neighbours)
        if r.on_frame(frame(t, bssid, ssid, freq)) is not None:
            found.append(t)
    assert known_at_the_end
    assert found and found[0] < 302
    assert found[-1] < 361.2 + 60 + 5                # over a minute after the flood, for good
    assert abs(r.normal_per_min - normal_before) < 5


def test_a_capture_gap_longer_than_forget_s_does_not_look_like_a_flood():
    rng = random.Random(10)
    r = rule()
    neighbours = addresses(rng, 300)
    run(r, neighbourhood(rng, neighbours, 0, 120))
    r.capture_gap(T0 + 120 * SEC, T0 + 7300 * SEC)   # two hours deaf: all of them stale
    assert run(r, neighbourhood(rng, neighbours, 7300, 7500)) == []


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize("settings, named", [
    ({"min_new_per_min": 0}, "min_new_per_min"),
    ({"factor": 0.5}, "factor"),
    ({"factor": float("nan")}, "factor"),
    ({"factor": "5"}, "factor"),
    ({"window_s": 5}, "window_s"),
    ({"window_s": 7200}, "window_s"),
    ({"warm_up_s": -1}, "warm_up_s"),
    ({"learn_s": 30}, "learn_s"),
    ({"forget_s": 10}, "forget_s"),
    ({"max_tracked": 100}, "max_tracked"),
    ({"max_tracked": True}, "max_tracked"),
    ({"max_tracked": 1000.5}, "max_tracked"),
])
def test_bad_settings_are_refused_naming_the_setting(settings, named):
    with pytest.raises(ValueError, match=f"beacon_flood: {named} must be"):
        rule(**settings)


def test_unknown_settings_are_refused_and_good_ones_apply():
    with pytest.raises(ValueError, match="unknown setting"):
        rule(threshold=5)
    r = rule(min_new_per_min=1000, factor=2, window_s=30)
    rng = random.Random(11)
    events = neighbourhood(rng, addresses(rng, 5), 0, 90) + flood(rng, 60, 90, per_s=15)
    assert run(r, events) == []              # 900 a minute: under the raised floor
    assert run(rule(window_s=30), flood(rng, 100, 120, per_s=15) + neighbourhood(
        rng, addresses(rng, 5), 60, 120)) != []
