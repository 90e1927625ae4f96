"""unexpected_channel: registered BSSIDs off their channels, and forged channel switches."""

from __future__ import annotations

from evil_twin_monitor.decoding.frame import ACTION, BEACON, PROBE_RESP, Elements, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.unexpected_channel import UnexpectedChannel

SSID = b"Shinjuku_Free_Wi-Fi"
LOBBY = bytes.fromhex("001a2b3c4d50")      # 2.4 GHz, channels 1, 6, 11
HALL = bytes.fromhex("001a2b3c4d60")       # 5 GHz, channels 36, 40
ROOF = bytes.fromhex("001a2b3c4d70")       # 6 GHz, 5975 MHz
KIOSK = bytes.fromhex("001a2b3c4d80")      # 2.4 GHz, channel 1 only
STRANGER = bytes.fromhex("0213374d5e6f")
CLIENT = bytes.fromhex("a4b1c2d3e4f5")
SECOND = 1_000_000_000


def registry(hall_frequencies=(5180, 5200)):
    return build_registry([{"id": "city-hall", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "pmf": "optional", "access_points": [
            {"bssid": LOBBY, "frequencies": {2412, 2437, 2462}, "label": "3F lobby"},
            {"bssid": HALL, "frequencies": set(hall_frequencies)},
            {"bssid": ROOF, "frequencies": {5975}},
            {"bssid": KIOSK, "frequencies": {2412}},
        ]}]}])


def frame(bssid: bytes = LOBBY, freq: int | None = 2437, ds: int | None = 6,
          ht: int | None = None, kind: str = BEACON, csa=None, ecsa=None,
          transmitter: bytes | None = None, ts_ns: int = 0, elements: bool = True) -> Frame:
    f = Frame()
    f.kind = kind
    f.ts_ns = ts_ns
    f.addr2 = transmitter or bssid
    f.addr3 = bssid
    f.freq_mhz = freq
    f.signal_dbm = -55
    if elements:
        e = Elements(raw=b"")
        e.ssid = SSID if kind != ACTION else None
        e.ds_channel = ds
        e.ht_primary = ht
        e.csa = csa
        e.ecsa = ecsa
        f.elements = e
    return f


def rule(**settings) -> UnexpectedChannel:
    return UnexpectedChannel(RuleContext(registry=registry()), settings or None)


def test_access_point_on_a_channel_it_does_not_use():
    finding = rule().on_frame(frame(freq=2472, ds=13))
    assert finding.rule == "unexpected_channel"
    assert finding.severity == "medium"
    assert finding.bssid == LOBBY
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2472
    assert finding.message == (
        'The city access point "3F lobby" (00:1a:2b:3c:4d:50, "Shinjuku_Free_Wi-Fi") is '
        "operating on channel 13, which its registry entry does not allow (allowed: 1, 6, 11); "
        "a copy of the access point may be running there to attract users, or the access "
        "point was reconfigured.")
    assert finding.evidence == {
        "ssid": "Shinjuku_Free_Wi-Fi",
        "bssid": "00:1a:2b:3c:4d:50",
        "allowed_channels": [1, 6, 11],
        "allowed_frequencies_mhz": [2412, 2437, 2462],
        "observed_channel": 13,
        "observed_frequency_mhz": 2472,
        "heard_frequency_mhz": 2472,
        "channel_source": "element",
        "frame_kind": "beacon",
    }


def test_allowed_channel_is_quiet():
    assert rule().on_frame(frame(freq=2462, ds=11)) is None


def test_adjacent_channel_leakage_on_24ghz_is_quiet():
    assert rule().on_frame(frame(freq=2432, ds=6)) is None   # heard on 5, DS says 6


def test_element_channel_wins_over_where_it_was_heard():
    finding = rule().on_frame(frame(freq=2437, ds=8))         # heard on 6, DS says 8
    assert finding.evidence["observed_channel"] == 8
    assert finding.evidence["heard_frequency_mhz"] == 2437


def test_ht_primary_channel_on_5ghz():
    finding = rule().on_frame(frame(bssid=HALL, freq=5220, ds=None, ht=44, kind=PROBE_RESP))
    assert finding.freq_mhz == 5220
    assert finding.evidence["allowed_channels"] == [36, 40]
    assert finding.evidence["channel_source"] == "element"
    assert "is operating on channel 44, which" in finding.message


def test_radio_frequency_is_used_without_a_channel_element():
    finding = rule().on_frame(frame(freq=5180, ds=None))      # 2.4 GHz AP heard on 5 GHz
    assert finding.evidence["channel_source"] == "radio"
    assert finding.evidence["observed_channel"] == 36


def test_radio_only_24ghz_tolerates_neighbouring_channels():
    r = rule()
    assert r.on_frame(frame(bssid=KIOSK, freq=2422, ds=None)) is None        # 3, beside 1
    assert r.on_frame(frame(bssid=KIOSK, freq=2462, ds=None)).severity == "medium"


def test_6ghz_channels_are_named_by_band():
    finding = rule().on_frame(frame(bssid=ROOF, freq=6015, ds=None))
    assert finding.evidence["allowed_channels"] == []
    assert finding.evidence["allowed_frequencies_mhz"] == [5975]
    assert ("is operating on 6 GHz channel 13, which its registry entry does not allow "
            "(allowed: 6 GHz channel 5);") in finding.message


def test_no_frequency_known_means_no_verdict():
    assert rule().on_frame(frame(freq=None, ds=None)) is None
    assert rule().on_frame(frame(freq=None, elements=False)) is None


def test_unregistered_bssid_is_not_judged():
    assert rule().on_frame(frame(bssid=STRANGER, freq=2472, ds=13)) is None


def test_switch_to_an_allowed_channel_is_quiet_on_the_old_and_the_new_channel():
    r = rule()
    assert r.on_frame(frame(freq=2437, ds=6, csa=(1, 11, 5))) is None
    assert r.on_frame(frame(freq=2462, ds=11, ts_ns=2 * SECOND)) is None


def test_announcing_frames_never_alert_even_off_channel():
    assert rule().on_frame(frame(freq=2472, ds=13, csa=(1, 11, 5))) is None


def test_forged_switch_to_a_channel_the_ap_does_not_use():
    finding = rule().on_frame(frame(freq=2437, ds=6, csa=(1, 13, 3)))
    assert finding.severity == "high"
    assert finding.bssid == LOBBY
    assert finding.freq_mhz == 2437
    assert finding.message == (
        'The city access point "3F lobby" (00:1a:2b:3c:4d:50, "Shinjuku_Free_Wi-Fi", '
        "channel 6) is being announced as moving to channel 13, which it is not registered to "
        "use (allowed: 1, 6, 11); someone may be forging channel-switch announcements to lure "
        "users onto another channel, a known attack.")
    assert finding.evidence == {
        "ssid": "Shinjuku_Free_Wi-Fi",
        "bssid": "00:1a:2b:3c:4d:50",
        "element": "csa",
        "announced_channel": 13,
        "announced_frequency_mhz": 2472,
        "op_class": None,
        "mode": 1,
        "count": 3,
        "allowed_channels": [1, 6, 11],
        "allowed_frequencies_mhz": [2412, 2437, 2462],
        "observed_channel": 6,
        "heard_frequency_mhz": 2437,
        "frame_kind": "beacon",
        "transmitter": "00:1a:2b:3c:4d:50",
    }


def test_extended_switch_reads_the_band_from_the_operating_class():
    r = rule()
    # Band steering from 2.4 GHz to an allowed 5 GHz channel.
    assert r.on_frame(frame(bssid=HALL, freq=2437, ds=6, ecsa=(0, 115, 40, 10))) is None
    finding = r.on_frame(frame(bssid=HALL, freq=5180, ds=36, ecsa=(1, 81, 1, 10)))
    assert finding.severity == "high"
    assert finding.evidence["element"] == "ecsa"
    assert finding.evidence["op_class"] == 81
    assert finding.evidence["announced_frequency_mhz"] == 2412


def test_action_frame_switch_from_the_ap_counts_but_not_from_a_client():
    r = rule()
    forged = frame(kind=ACTION, freq=2437, ds=None, csa=(1, 13, 2))
    assert r.on_frame(forged).evidence["frame_kind"] == "action"
    from_client = frame(kind=ACTION, freq=2437, ds=None, csa=(1, 13, 2), transmitter=CLIENT)
    assert r.on_frame(from_client) is None


def test_action_frame_without_a_switch_gives_no_verdict():
    assert rule().on_frame(frame(kind=ACTION, freq=5180, ds=None)) is None


def test_announced_switch_is_honoured_for_the_grace_period_across_a_reload():
    ctx = RuleContext(registry=registry())
    r = UnexpectedChannel(ctx, {"switch_grace_s": 60})
    assert r.on_frame(frame(bssid=HALL, freq=5180, ds=36, csa=(1, 40, 5))) is None
    ctx.registry = registry(hall_frequencies=(5180,))
    r.registry_changed()
    assert r.on_frame(frame(bssid=HALL, freq=5200, ds=40, ts_ns=59 * SECOND)) is None
    late = r.on_frame(frame(bssid=HALL, freq=5200, ds=40, ts_ns=61 * SECOND))
    assert late.evidence["observed_channel"] == 40
