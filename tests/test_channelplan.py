"""Channel plan: which channels the radio visits, in what order, for how long,
and the timings check-config and the README quote."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evil_twin_monitor.channelplan import (
    DOMAINS, ChannelPlan, ChannelPlanError, ChannelSettings, Hop, build_plan,
    format_frequencies, parse_channel,
)
from evil_twin_monitor.decoding.channels import JP_6G, JP_ALL, channel_to_frequency
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.registry.model import build_registry

ROOT = Path(__file__).resolve().parent.parent
NO_6G = frozenset(f for f in range(2400, 5926))


def registry(*aps: list[int]):
    """One facility 'site' with one AP per argument (a list of channel numbers or MHz)."""
    return build_registry([{"id": "site", "networks": [{
        "ssid": b"Shinjuku_Free_Wi-Fi", "security": {"wpa2-psk"},
        "access_points": [
            {"bssid": bytes([0, 0x1a, 0x2b, 0, 0, i]),
             "frequencies": {c if c >= 2400 else channel_to_frequency(c) for c in channels}}
            for i, channels in enumerate(aps)]}]}])


def hops(plan: ChannelPlan, n: int) -> list[tuple[int, float, bool]]:
    return [(h.freq_mhz, h.dwell_s, h.home) for h in islice(plan.steps(), n)]


# --- the plan for the example registry (the README quotes these numbers) -------

def test_city_hall_defaults():
    plan = build_plan(load_registry(ROOT / "config" / "registry"), "city-hall", ChannelSettings())
    assert len(plan.home) == 22 and len(plan.others) == 35
    assert plan.home[:4] == (2412, 2437, 2462, 5180)
    assert (plan.cycle_s, plan.sweep_s, round(plan.home_share, 3)) == (11.5, 206.75, 0.957)
    assert plan.describe() == (
        "JP: home 2.4 GHz ch 1,6,11; 5 GHz ch 36-64,100-140 (22 channels, 0.5 s each); "
        "2 of 35 other channels per cycle (0.25 s each); cycle 11.5 s, full sweep 206.75 s, "
        "96% of the time on home channels")
    assert plan.notes() == ()
    narrow = build_plan(load_registry(ROOT / "config" / "registry"), "city-hall",
                        ChannelSettings(), NO_6G)
    assert (len(narrow.others), narrow.sweep_s) == (11, 68.75)
    assert narrow.notes() == ("the radio cannot tune 6 GHz 5955-6415 MHz; skipped",)


def test_three_home_channels():
    plan = build_plan(registry([1, 6, 11]), "site", ChannelSettings())
    assert (len(plan.others), plan.cycle_s, plan.sweep_s, plan.home_share) == (54, 2.0, 54.0, 0.75)
    assert build_plan(registry([1, 6, 11]), "site", ChannelSettings(), NO_6G).sweep_s == 30.0


# --- order and rotation ----------------------------------------------------------

def test_one_cycle_is_home_then_the_next_others_in_rotation():
    plan = build_plan(registry([1, 6, 11]), "site",
                      ChannelSettings(only=(), exclude=JP_ALL[13:]))  # 2.4 GHz only
    assert plan.others == (2417, 2422, 2427, 2432, 2442, 2447, 2452, 2457, 2467, 2472)
    assert hops(plan, 10) == [
        (2412, 0.5, True), (2437, 0.5, True), (2462, 0.5, True), (2417, 0.25, False),
        (2422, 0.25, False),
        (2412, 0.5, True), (2437, 0.5, True), (2462, 0.5, True), (2427, 0.25, False),
        (2432, 0.25, False)]
    # After the last other channel the rotation starts again from the first.
    cycle6 = hops(plan, 30)[25:30]
    assert [f for f, _, _ in cycle6] == [2412, 2437, 2462, 2417, 2422]
    assert next(plan.steps()) == Hop(freq_mhz=2412, width_mhz=20, dwell_s=0.5, home=True)
    assert all(h.width_mhz == 20 for h in islice(plan.steps(), 50))


def test_steps_is_deterministic():
    a = build_plan(registry([1, 36]), "site", ChannelSettings())
    b = build_plan(registry([36, 1]), "site", ChannelSettings())
    assert hops(a, 500) == hops(b, 500)


def test_uneven_rotation_sweep_time():
    # 3 others, 2 per cycle: cycle 1 visits o1 o2, cycle 2 visits o3 (then o1 again).
    plan = build_plan(registry([1]), "site",
                      ChannelSettings(exclude=tuple(f for f in JP_ALL if f not in (2412, 2417,
                                                                                   2422, 2427))))
    assert plan.others == (2417, 2422, 2427)
    assert plan.cycle_s == 1.0
    assert plan.sweep_s == 1.0 + 0.5 + 0.25
    assert [f for f, _, _ in hops(plan, 9)] == [2412, 2417, 2422, 2412, 2427, 2417, 2412, 2422,
                                                 2427]


# --- settings ---------------------------------------------------------------------

def test_only_is_a_fixed_list_without_sweep():
    plan = build_plan(registry([1]), "site", ChannelSettings(only=(5180, 2437), home_dwell_s=2))
    assert (plan.home, plan.others, plan.fixed) == ((2437, 5180), (), True)
    assert hops(plan, 3) == [(2437, 2.0, True), (5180, 2.0, True), (2437, 2.0, True)]
    assert (plan.cycle_s, plan.sweep_s, plan.home_share) == (4.0, 4.0, 1.0)
    assert plan.describe() == ("JP: fixed channels 2.4 GHz ch 6; 5 GHz ch 36 (2 channels, 2 s "
                               "each, no sweep); cycle 4 s, full sweep 4 s, 100% of the time on "
                               "home channels")


def test_exclude_removes_others_and_registered_channels():
    plan = build_plan(registry([1, 6, 11]), "site", ChannelSettings(exclude=(2462, 2467) + JP_6G))
    assert plan.home == (2412, 2437)
    assert 2467 not in plan.others and 2462 not in plan.others
    assert not set(JP_6G) & set(plan.others)
    assert plan.excluded_home == (2462,)
    assert plan.notes() == ("exclude: removes registered channel(s) 2.4 GHz ch 11; access "
                            "points there are not monitored",)


def test_registered_channel_outside_the_domain_stays_home():
    plan = build_plan(registry([1, 14, 149]), "site", ChannelSettings())
    assert plan.home == (2412, 2484, 5745)
    assert plan.outside_domain == (2484, 5745)
    assert plan.notes() == ("2.4 GHz ch 14; 5 GHz ch 149 are not in regulatory domain JP but "
                            "listed for a registered access point; listened to anyway",)
    assert len(plan.others) == len(DOMAINS["JP"].frequencies) - 1


def test_other_domains():
    assert [len(DOMAINS[d].frequencies) for d in ("JP", "US", "ETSI")] == [57, 95, 56]
    plan = build_plan(registry([1, 6, 11]), "site", ChannelSettings(regulatory_domain="US"))
    assert 2467 not in plan.others and 5825 in plan.others and 7115 in plan.others
    etsi = build_plan(registry([1]), "site", ChannelSettings(regulatory_domain="ETSI"))
    assert 5720 not in etsi.others and 5700 in etsi.others and 6415 in etsi.others
    with pytest.raises(ChannelPlanError, match="unknown regulatory domain 'XX'; valid: JP, US, ETSI"):
        build_plan(registry([1]), "site", ChannelSettings(regulatory_domain="XX"))


def test_supported_drops_what_the_radio_cannot_tune():
    plan = build_plan(registry([1, 5955]), "site", ChannelSettings(), NO_6G)
    assert plan.home == (2412,)
    assert all(f < 5925 for f in plan.others)
    assert plan.unsupported == JP_6G
    with pytest.raises(ChannelPlanError, match="the radio can tune none of the plan's channels"):
        build_plan(registry([1]), "site", ChannelSettings(), frozenset({7115}))


def test_facility_without_access_points_sweeps_everything():
    plan = build_plan(registry(), "site", ChannelSettings())
    assert plan.home == () and plan.others == DOMAINS["JP"].frequencies
    assert (plan.cycle_s, plan.sweep_s, plan.home_share) == (0.5, 14.25, 0.0)
    assert hops(plan, 3) == [(2412, 0.25, False), (2417, 0.25, False), (2422, 0.25, False)]
    assert plan.describe().startswith(
        "JP: no home channels (the facility has no registered access points); 2 of 57 other")
    assert plan.notes() == ("the facility has no registered access points, so every channel is "
                            "swept at the other-channel dwell",)


def test_others_per_cycle_zero_means_home_only():
    plan = build_plan(registry([1, 6]), "site", ChannelSettings(others_per_cycle=0))
    assert (plan.home, plan.others, plan.cycle_s, plan.sweep_s) == ((2412, 2437), (), 1.0, 1.0)
    assert plan.notes() == ("others_per_cycle is 0: the 55 other channels of JP are never "
                            "visited, so a twin there goes unseen",)
    with pytest.raises(ChannelPlanError, match="the facility has no registered access points "
                                               "and others_per_cycle is 0"):
        build_plan(registry(), "site", ChannelSettings(others_per_cycle=0))


def test_more_others_per_cycle_than_others():
    plan = build_plan(registry([1]), "site", ChannelSettings(others_per_cycle=100,
                                                             exclude=JP_ALL[2:]))
    assert plan.others == (2417,) and plan.per_cycle == 1
    assert [f for f, _, _ in hops(plan, 4)] == [2412, 2417, 2412, 2417]


@pytest.mark.parametrize("settings_, message", [
    (ChannelSettings(exclude=JP_ALL), "exclude: removes every channel of regulatory domain JP "
                                      "and every registered channel: nothing to listen on"),
    (ChannelSettings(only=(2412,), exclude=(2412,)), "exclude: removes every channel listed in "
                                                     "only:"),
    (ChannelSettings(exclude=(2412,), others_per_cycle=0), "exclude: removes every registered "
                                                           "channel and others_per_cycle is 0"),
])
def test_nothing_to_listen_on_is_an_error(settings_, message):
    with pytest.raises(ChannelPlanError, match=message):
        build_plan(registry([1]), "site", settings_)


def test_plan_cannot_be_built_empty_or_with_zero_dwell():
    with pytest.raises(ChannelPlanError, match="no channel to listen on"):
        ChannelPlan("JP", (), ())
    with pytest.raises(ChannelPlanError, match="home_dwell_s must be a positive number"):
        ChannelPlan("JP", (2412,), (), home_dwell_s=0)
    with pytest.raises(ChannelPlanError, match="visits none per cycle"):
        ChannelPlan("JP", (2412,), (2417,), others_per_cycle=0)


def test_unknown_facility():
    with pytest.raises(ChannelPlanError, match="no facility 'nowhere' in the registry"):
        build_plan(registry([1]), "nowhere", ChannelSettings())


# --- a frequency the radio refuses ------------------------------------------------

def test_without_drops_a_refused_frequency():
    plan = build_plan(registry([1, 6]), "site", ChannelSettings(exclude=JP_ALL[13:]))
    smaller = plan.without(2437).without(2417)
    assert smaller.home == (2412,) and 2417 not in smaller.others
    assert smaller.refused == (2417, 2437)
    assert smaller.notes()[-1] == "the radio refused 2.4 GHz ch 2,6; skipped"
    assert plan.without(5180) is plan  # not in the plan: nothing to do
    assert 2437 in plan.home  # plans are values: the original is unchanged


def test_without_the_last_frequency_is_an_error():
    plan = build_plan(registry([1]), "site", ChannelSettings(only=(2412, 2417)))
    with pytest.raises(ChannelPlanError, match="the radio refused every channel of the plan "
                                               r"\(last: 2.4 GHz ch 2\)"):
        plan.without(2412).without(2417)


# --- entries of only:/exclude: -------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (1, (2412,)), (14, (2484,)), (36, (5180,)), (149, (5745,)), (177, (5885,)),
    (2412, (2412,)), (5955, (5955,)), (5935, (5935,)), ("36", (5180,)),
    ("6GHz", JP_6G), ("2.4 GHz", tuple(2407 + 5 * c for c in range(1, 14))),
])
def test_parse_channel(value, expected):
    assert parse_channel(value) == expected


def test_parse_band_follows_the_domain():
    assert len(parse_channel("6ghz", "US")) == 59
    assert parse_channel("5GHz", "ETSI")[-1] == 5700


@pytest.mark.parametrize("value, message", [
    (15, "15 is not a 20 MHz channel in 2.4 or 5 GHz; valid: 1-14, 36-144 in steps of 4"),
    (38, "38 is not a 20 MHz channel"),
    (0, "0 is not a 20 MHz channel"),
    (5190, "5190 MHz (channel 38) is not the centre of a 20 MHz channel; valid: 2412-2472"),
    (9999, "9999 MHz is not the centre of a 20 MHz channel"),
    ("W52", "'W52' is neither a channel, a frequency in MHz nor a band; valid: a channel like "
            "36, a frequency like 5955, or 2.4GHz, 5GHz, 6GHz"),
    (1.5, "expected a channel number, a frequency in MHz or a band; got 1.5"),
    (True, "expected a channel number, a frequency in MHz or a band; got True"),
])
def test_parse_channel_names_what_is_wrong(value, message):
    with pytest.raises(ValueError) as info:
        parse_channel(value)
    assert str(info.value).startswith(message)


def test_format_frequencies():
    assert format_frequencies(JP_ALL) == "2.4 GHz ch 1-13; 5 GHz ch 36-64,100-144; 6 GHz 5955-6415 MHz"
    assert format_frequencies([5200, 2412, 2422, 5180]) == "2.4 GHz ch 1,3; 5 GHz ch 36,40"
    assert format_frequencies([]) == "none"


# --- invariants ------------------------------------------------------------------------

@st.composite
def plans(draw):
    home = draw(st.lists(st.sampled_from(JP_ALL), max_size=8, unique=True))
    exclude = draw(st.lists(st.sampled_from(JP_ALL), max_size=60, unique=True))
    config = ChannelSettings(
        home_dwell_s=draw(st.sampled_from([0.1, 0.5, 1.0, 2.5])),
        other_dwell_s=draw(st.sampled_from([0.05, 0.25, 0.3])),
        others_per_cycle=draw(st.integers(0, 7)),
        exclude=tuple(exclude))
    try:
        return build_plan(registry(home), "site", config)
    except ChannelPlanError:
        # Only ever because nothing is left to visit.
        left = (set(home) | (set(JP_ALL) if config.others_per_cycle else set())) - set(exclude)
        assert not left
        return None


@settings(max_examples=200, deadline=None)
@given(plans())
def test_every_channel_is_heard_within_a_sweep_and_home_every_cycle(plan):
    if plan is None:
        return
    channels = set(plan.home) | set(plan.others)
    assert plan.home == tuple(sorted(plan.home)) and not set(plan.home) & set(plan.others)
    per_cycle = len(plan.home) + plan.per_cycle
    n_cycles = 3 * -(-len(plan.others) // plan.per_cycle) if plan.others else 3
    stream = list(islice(plan.steps(), per_cycle * n_cycles))
    assert all(h.dwell_s > 0 for h in stream)
    # Home channels: each exactly once at the start of every cycle.
    for c in range(n_cycles):
        cycle = stream[c * per_cycle:(c + 1) * per_cycle]
        assert tuple(h.freq_mhz for h in cycle[:len(plan.home)]) == plan.home
        assert not any(h.home for h in cycle[len(plan.home):])
        assert sum(h.dwell_s for h in cycle) == pytest.approx(plan.cycle_s)
    # sweep_s: the moment the last channel's first full dwell ends, and the
    # longest gap between two visits of one channel.
    now, first_done, starts = 0.0, {}, {}
    gaps = []
    for hop in stream:
        if hop.freq_mhz in starts:
            gaps.append(now - starts[hop.freq_mhz])
        starts[hop.freq_mhz] = now
        now += hop.dwell_s
        first_done.setdefault(hop.freq_mhz, now)
    assert set(first_done) == channels
    assert max(first_done.values()) == pytest.approx(plan.sweep_s)
    assert max(gaps) <= plan.sweep_s + 1e-9
    assert 0 <= plan.home_share <= 1
