"""ap_missing: silence of a normally heard city AP, once per silence."""

from __future__ import annotations

import pytest

from evil_twin_monitor.decoding.frame import BEACON, PROBE_RESP, Elements, Frame
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.ap_missing import ApMissing, duration_text
from evil_twin_monitor.timestamps import rfc3339
from evil_twin_monitor.rules.base import RuleContext

SSID = b"Shinjuku_Free_Wi-Fi"
LOBBY = bytes.fromhex("001a2b3c4d50")
HALL = bytes.fromhex("001a2b3c4e03")       # inside the unlabelled /44 prefix entry
STRANGER = bytes.fromhex("0a0b0c0d0e0f")
SEC = 1_000_000_000
T0 = 1_714_554_000 * SEC                    # 2024-05-01T09:00:00Z


def registry(with_hall: bool = True):
    aps = [{"bssid": LOBBY, "frequencies": {2437}, "label": "3F lobby"}]
    if with_hall:
        aps.append({"bssid": bytes.fromhex("001a2b3c4e00"), "prefix_len": 44,
                    "frequencies": {5180}})
    return build_registry([{"id": "city-hall", "name": "City hall", "networks": [
        {"ssid": SSID, "security": {"wpa2-psk"}, "access_points": aps}]}])


def rule(**settings) -> ApMissing:
    return ApMissing(RuleContext(registry()), settings)


def beacon(ts_ns: int, bssid: bytes = LOBBY, channel: int = 6, freq: int = 2437,
           signal: int | None = -61, kind: str = BEACON) -> Frame:
    f = Frame()
    f.ts_ns = ts_ns
    f.kind = kind
    f.addr2 = f.addr3 = bssid
    f.freq_mhz = freq
    f.signal_dbm = signal
    el = Elements(raw=b"\x03\x01" + bytes([channel]))
    el.ds_channel = channel
    f.elements = el
    return f


def hear(r: ApMissing, count: int, start_ns: int = T0, **kw) -> int:
    """``count`` beacons 100 ms apart; returns the time of the last one."""
    for i in range(count):
        r.on_frame(beacon(start_ns + i * SEC // 10, **kw))
    return start_ns + (count - 1) * SEC // 10


def ticks(r: ApMissing, start_ns: int, end_ns: int) -> list:
    """Tick every 10 s of capture time, like the engine."""
    out = []
    t = start_ns
    while t <= end_ns:
        out.extend(r.on_tick(t))
        t += 10 * SEC
    return out


def test_silent_ap_is_reported_once_with_label_and_evidence():
    r = rule()
    last = hear(r, 20, signal=-58)                    # last heard at T0 + 1.9 s
    out = ticks(r, T0, T0 + 3600 * SEC)
    assert len(out) == 1
    finding = out[0]
    assert finding.rule == "ap_missing"
    assert finding.severity == "medium"
    assert finding.bssid == LOBBY
    assert finding.ssid == SSID
    assert finding.freq_mhz == 2437
    assert finding.message == (
        'The city access point "3F lobby" (00:1a:2b:3c:4d:50, "Shinjuku_Free_Wi-Fi") has not been '
        "heard for 10 minutes; it may be switched off or broken, or jammed by someone who wants "
        "users to join a fake one.")
    assert finding.evidence == {
        "last_heard": "2024-05-01T09:00:01.900000Z",
        "silent_s": 608,
        "allowance_s": 600,
        "frames_heard": 20,
        "last_channel": 6,
        "last_frequency_mhz": 2437,
        "last_signal_dbm": -58,
    }
    assert last == T0 + 1_900_000_000


def test_not_reported_before_the_allowance():
    r = rule()
    last = hear(r, 50)
    assert ticks(r, last, last + 600 * SEC) == []     # exactly 600 s is still allowed
    assert len(list(r.on_tick(last + 601 * SEC))) == 1


def test_rarely_heard_ap_never_goes_missing():
    r = rule()
    hear(r, 19)                                       # below min_frames
    assert ticks(r, T0, T0 + 86400 * SEC) == []


def test_hearing_the_ap_again_rearms_it():
    r = rule()
    hear(r, 20)
    assert len(ticks(r, T0, T0 + 700 * SEC)) == 1
    back = T0 + 1000 * SEC
    r.on_frame(beacon(back))                          # one beacon: it is back
    assert list(r.on_tick(back + 10 * SEC)) == []
    out = ticks(r, back + 20 * SEC, back + 2000 * SEC)
    assert len(out) == 1
    assert out[0].evidence["frames_heard"] == 21


def test_prefix_entry_without_label_and_probe_responses_count():
    r = rule()
    for i in range(20):
        r.on_frame(beacon(T0 + i * SEC, bssid=HALL, channel=36, freq=5180, kind=PROBE_RESP))
    out = list(r.on_tick(T0 + 4 * 3600 * SEC))
    assert len(out) == 1
    assert out[0].bssid == HALL
    assert out[0].message.startswith(
        'The city access point 00:1a:2b:3c:4e:03 ("Shinjuku_Free_Wi-Fi") has not been heard '
        "for 3 hours;")
    assert out[0].evidence["last_channel"] == 36


def test_unregistered_bssids_are_not_followed():
    r = rule()
    hear(r, 100, bssid=STRANGER)
    assert list(r.ap_status()) == []
    assert list(r.on_tick(T0 + 86400 * SEC)) == []


def test_ap_removed_from_the_registry_is_forgotten():
    r = rule()
    hear(r, 30, bssid=HALL)
    r.ctx.registry = registry(with_hall=False)
    r.registry_changed()
    assert list(r.on_tick(T0 + 86400 * SEC)) == []
    assert list(r.ap_status()) == []


def test_ap_status_view():
    r = rule()
    hear(r, 3, signal=-70)
    r.on_frame(beacon(T0 + 5 * SEC, bssid=HALL, channel=36, freq=5180, signal=None))
    assert list(r.ap_status()) == [
        (LOBBY, T0 + 200_000_000, -70, 2437, 3),
        (HALL, T0 + 5 * SEC, None, 5180, 1),
    ]


def test_settings_min_frames_and_silence():
    r = rule(min_frames=1, silence_s=30)
    r.on_frame(beacon(T0))
    assert list(r.on_tick(T0 + 30 * SEC)) == []
    out = list(r.on_tick(T0 + 40 * SEC))
    assert "has not been heard for 40 seconds;" in out[0].message


def test_tracked_bssids_are_bounded():
    r = rule(max_tracked=4)
    for i in range(16):
        r.on_frame(beacon(T0, bssid=bytes.fromhex("001a2b3c4e") + bytes([i])))
    assert len(list(r.ap_status())) == 4


@pytest.mark.parametrize("seconds, text", [
    (45, "45 seconds"), (119, "119 seconds"), (720, "12 minutes"), (7199, "119 minutes"),
    (7200, "2 hours"), (200000, "2 days"),
])
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


def test_rfc3339():
    assert rfc3339(T0 + 123_456_789) == "2024-05-01T09:00:00.123456Z"


def test_a_deaf_sensor_does_not_count_as_silence_of_the_aps():
    r = rule(silence_s=600)
    last = hear(r, 20)
    # Heard for 2 s, then 5 minutes of listening, then the radio was lost for an hour.
    gap_start = last + 300 * SEC
    gap_end = gap_start + 3600 * SEC
    r.capture_gap(gap_start, gap_end)
    assert ticks(r, gap_end, gap_end + 290 * SEC) == []       # 590 s of real silence so far
    assert len(ticks(r, gap_end + 310 * SEC, gap_end + 310 * SEC)) == 1  # 610 s: missing
