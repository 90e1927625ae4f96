"""karma: one BSSID posing as many unrelated networks, and the access points that merely look odd."""

from __future__ import annotations

import io
import random

import pytest

from evil_twin_monitor.decoding.frame import BEACON, BROADCAST, PROBE_RESP, Elements, Frame
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.karma import Karma, ssid_key
from evil_twin_monitor.sinks.stream import TextSink

S = 1_000_000_000
MANA = bytes.fromhex("02a0c0ffee01")      # locally administered, as hostapd-mana setups use
CITY = bytes.fromhex("001a2b3c4d50")
FREE = b"Shinjuku_Free_Wi-Fi"
REMEMBERED = [b"aterm-7c4e2a-g", b"0000docomo", b"Starbucks_Wi2", b"eduroam", b"Buffalo-G-3A90",
              b"MyHome", b"au_Wi-Fi2"]


def client(n: int) -> bytes:
    return bytes([0x02, 0x11, 0x22, 0x33, 0x44, n])


def frame(ssid: bytes | None, *, t: float = 0.0, bssid: bytes = MANA, kind: str = PROBE_RESP,
          to: bytes | None = None, freq: int = 2437, channel: int | None = 6) -> Frame:
    el = Elements(raw=b"k" + (ssid or b""))
    el.ssid = ssid
    el.ds_channel = channel
    f = Frame()
    f.number = 1
    f.ts_ns = int(t * S)
    f.kind = kind
    f.addr1 = BROADCAST if kind == BEACON else (to or client(1))
    f.addr2 = f.addr3 = bssid
    f.freq_mhz = freq
    f.elements = el
    return f


def registry():
    return build_registry([{"id": "city-hall", "networks": [
        {"ssid": FREE, "security": {"wpa2-psk"},
         "access_points": [{"bssid": CITY, "frequencies": {2412, 2437, 2462},
                            "label": "3F lobby"}]}]}])


def rule(**settings) -> Karma:
    return Karma(RuleContext(registry(), facility="city-hall"), settings)


def feed(r: Karma, frames) -> list:
    out = []
    for f in frames:
        found = r.on_frame(f)
        if found is not None:
            out.append(found)
    return out


def answers(names, *, start: float = 0.0, step: float = 1.0, bssid: bytes = MANA,
            clients: int = 3) -> list[Frame]:
    """A responder answering each name asked for, to `clients` phones in turn."""
    return [frame(name, t=start + i * step, bssid=bssid, to=client(i % clients))
            for i, name in enumerate(names)]


# -- must fire --------------------------------------------------------------------

def test_responder_answering_remembered_names_fires_on_the_fifth_name():
    r = rule()
    assert feed(r, answers(REMEMBERED[:4])) == []
    out = r.on_frame(frame(REMEMBERED[4], t=4.0, to=client(7)))
    assert out.rule == "karma"
    assert out.severity == "critical"
    assert out.bssid == MANA
    assert out.ssid is None           # one alert per responder, whatever names it used
    assert out.freq_mhz == 2437
    assert out.message == (
        'A device at 02:a0:c0:ff:ee:01 on channel 6 posed as 5 different Wi-Fi networks within '
        '5 minutes ("aterm-7c4e2a-g", "0000docomo", "Starbucks_Wi2", ...); such a device '
        'pretends to be any network a phone remembers (a KARMA attack), so phones join it '
        'automatically and their traffic can be intercepted.')
    assert out.evidence == {
        "ssid_count": 5,
        "ssid_count_is_minimum": False,
        "ssids": ["aterm-7c4e2a-g", "0000docomo", "Starbucks_Wi2", "eduroam", "Buffalo-G-3A90"],
        "registered_ssids": [],
        "answered_registered_ssid": False,
        "registered_bssid": False,
        "clients_answered": 4,
        "probe_responses": 4,
        "beacons": 0,
        "window_s": 300,
        "min_ssids": 5,
        "frame_kind": "probe_resp",
    }


def test_answering_for_the_city_ssid_too_is_said_in_message_and_evidence():
    r = rule()
    out = feed(r, answers([b"0000docomo", FREE, b"eduroam", b"Starbucks_Wi2", b"MyHome"]))
    assert len(out) == 1
    assert ', including the city network "Shinjuku_Free_Wi-Fi";' in out[0].message
    assert out[0].evidence["registered_ssids"] == ["Shinjuku_Free_Wi-Fi"]
    assert out[0].evidence["answered_registered_ssid"] is True
    assert out[0].ssid is None


def test_responder_using_a_registered_bssid_fires_and_names_the_city_ap():
    r = rule()
    out = feed(r, answers(REMEMBERED[:5], bssid=CITY))
    assert len(out) == 1
    assert out[0].bssid == CITY
    assert out[0].message.startswith(
        'A device using the address of the city access point "3F lobby" (00:1a:2b:3c:4d:50, '
        '"Shinjuku_Free_Wi-Fi") on channel 6 posed as 5 different Wi-Fi networks')
    assert out[0].evidence["registered_bssid"] is True


def test_registered_bssid_that_first_beaconed_the_city_ssid_then_answers_others():
    # A clone of the lobby AP that beacons the city name and answers for anything else.
    r = rule()
    beacons = [frame(FREE, t=i * 0.1, bssid=CITY, kind=BEACON) for i in range(50)]
    assert feed(r, beacons) == []
    out = feed(r, answers(REMEMBERED[:4], start=5.0, bssid=CITY))
    assert len(out) == 1
    assert out[0].evidence["registered_ssids"] == ["Shinjuku_Free_Wi-Fi"]
    assert out[0].evidence["ssid_count"] == 5


def test_known_beacons_of_many_names_from_one_bssid_fire():
    # wifiphisher "known beacons": popular names beaconed in turn from one BSSID.
    r = rule()
    out = feed(r, [frame(name, t=i * 0.05, kind=BEACON) for i, name in enumerate(REMEMBERED)])
    assert len(out) == 1
    assert out[0].evidence["beacons"] == 5 - 1       # counted from the second name on
    assert out[0].evidence["clients_answered"] == 0
    assert out[0].evidence["frame_kind"] == "beacon"


def test_a_standing_responder_is_reported_again_every_ten_seconds_only():
    r = rule()
    assert len(feed(r, answers(REMEMBERED[:5], step=0.1))) == 1
    assert r.on_frame(frame(b"eduroam", t=5.0)) is None            # within 10 s of the finding
    again = r.on_frame(frame(b"eduroam", t=10.5))
    assert again is not None and again.bssid == MANA


def test_the_engine_raises_one_alert_per_responder_and_prints_it():
    out = io.StringIO()
    engine = Engine(registry(), facility="city-hall", sinks=[TextSink(out)],
                    rule_classes=[Karma])
    names = [f"Home-{i:03d}".encode() for i in range(40)]
    for i, f in enumerate(answers(names, step=0.5)):
        f.number = i + 1
        engine.feed(f)
    engine.finish()
    text = out.getvalue()
    assert text.count("karma") == 1
    first, second = text.splitlines()
    assert "CRITICAL" in first and "02:a0:c0:ff:ee:01" in first and "channel 6" in first
    assert second.strip().startswith("A device at 02:a0:c0:ff:ee:01 on channel 6 posed as 5 "
                                      "different Wi-Fi networks within 5 minutes")
    assert "(seen " in second   # later findings were repeats of the same alert


def test_client_addresses_never_appear_only_their_count():
    r = rule()
    frames = answers(REMEMBERED[:5], clients=2)
    (out,) = feed(r, frames)
    assert out.evidence["clients_answered"] == 2
    shown = repr(out.evidence) + out.message
    for n in range(2):
        assert client(n).hex(":") not in shown and client(n).hex() not in shown


def test_names_beyond_the_per_bssid_cap_make_an_at_least_count():
    r = rule(min_ssids=5, ssids_per_bssid=5)
    first, second = feed(r, answers(REMEMBERED, step=6.0))    # 7 names, room for 5
    assert first.evidence["ssid_count"] == 5
    assert first.evidence["ssid_count_is_minimum"] is False
    assert second.evidence["ssid_count"] == 5
    assert second.evidence["ssid_count_is_minimum"] is True
    assert second.evidence["ssids"] == ["Starbucks_Wi2", "eduroam", "Buffalo-G-3A90", "MyHome",
                                        "au_Wi-Fi2"]            # the two oldest made room
    assert "posed as at least 5 different Wi-Fi networks" in second.message


# -- must not fire ----------------------------------------------------------------------

def test_hidden_ssid_ap_answering_probes_with_its_real_name_is_one_name():
    r = rule(min_ssids=2)
    frames = []
    for i in range(100):
        frames.append(frame(b"", t=i * 0.1, kind=BEACON))                 # empty SSID
        frames.append(frame(b"\0" * 12, t=i * 0.1 + 0.01, kind=BEACON))   # zero-filled SSID
        frames.append(frame(None, t=i * 0.1 + 0.02, kind=BEACON))         # no SSID element
        frames.append(frame(b"Kuyakusho-Office", t=i * 0.1 + 0.05, to=client(i % 9)))
    assert feed(r, frames) == []


def test_ap_renamed_once_by_its_operator():
    r = rule(min_ssids=2, window_s=60)
    frames = [frame(b"Cafe_Minato", t=i * 0.1, kind=BEACON) for i in range(300)]
    frames += [frame(b"Minato_Guest", t=40 + i * 0.1, kind=BEACON) for i in range(300)]
    # Control: with min_ssids 2 the rename is two names; the default 5 never fires on it.
    assert feed(r, frames) != []
    r = rule()
    assert feed(r, frames) == []


def test_renames_further_apart_than_the_window_are_forgotten():
    r = rule()
    frames = [frame(f"Cafe-{chr(65 + k)}x".encode(), t=k * 400 + i, kind=BEACON)
              for k in range(8) for i in range(3)]
    assert feed(r, frames) == []


def test_names_heard_within_the_window_only_count():
    r = rule(window_s=60)
    # four names, then a pause longer than the window, then four more: never five at once
    frames = answers(REMEMBERED[:4]) + answers(REMEMBERED[3:7], start=100.0)
    assert feed(r, frames) == []
    # the fifth within the window does it
    assert len(feed(r, [frame(b"Starbucks_Wi2", t=110.0)])) == 1


def test_multi_bssid_radio_with_one_name_per_bssid():
    r = rule(min_ssids=2)
    frames = [frame(f"City-Net-{k}".encode(), t=i * 0.1 + k * 0.001, kind=BEACON,
                    bssid=bytes.fromhex("001a2b3c4e0" + str(k)))
              for i in range(100) for k in range(8)]
    assert feed(r, frames) == []


def test_band_suffixes_spacing_and_case_are_one_name():
    r = rule(min_ssids=2)
    variants = [b"Cafe Minato", b"Cafe_Minato_5G", b"CAFE-MINATO-5GHz", b"cafe_minato_2.4",
                b"Cafe Minato 2.4GHz", b"cafeminato", b"Cafe-Minato-6E", b"CafeMinato5G"]
    assert feed(r, [frame(v, t=i * 0.1, kind=BEACON) for i, v in enumerate(variants * 5)]) == []


@pytest.mark.parametrize("a, b", [
    (b"Cafe", b"CAFE_5G"), (b"Cafe", b"cafe-2.4"), (b"Cafe", b"Cafe 2.4GHz"),
    (b"Cafe", b"Cafe5G"), (b"Cafe_WiFi", b"Cafe Wi-Fi"),
    ("ＨＯＴＥＬ＿ＷｉＦｉ".encode(), b"hotel_wifi"),
])
def test_related_names(a, b):
    assert ssid_key(a) == ssid_key(b)


@pytest.mark.parametrize("a, b", [
    (b"Cafe", b"Cafe5"),                  # a bare number without separator is part of the name
    (b"0000docomo", b"0001softbank"),
    (b"aterm-1a2b3c-g", b"aterm-9f8e7d-g"),
    (b"___", b"---"),                     # punctuation-only names stay distinct
    (b"\xff\xfeab", b"\xfd\xfcab"),       # undecodable octets stay distinct
])
def test_unrelated_names(a, b):
    assert ssid_key(a) != ssid_key(b)


# -- settings -----------------------------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    ({"min_ssids": 1}, "min_ssids must be at least 2"),
    ({"min_ssids": 0}, "min_ssids must be a positive whole number"),
    ({"min_ssids": 2.5}, "min_ssids must be a positive whole number"),
    ({"min_ssids": True}, "min_ssids must be a positive whole number"),
    ({"window_s": 0}, "window_s must be a positive number"),
    ({"window_s": -5}, "window_s must be a positive number"),
    ({"window_s": "300"}, "window_s must be a positive number"),
    ({"window_s": float("inf")}, "window_s must be a positive number"),
    ({"window_s": float("nan")}, "window_s must be a positive number"),
    ({"max_tracked": 0}, "max_tracked must be a positive whole number"),
    ({"max_suspects": -1}, "max_suspects must be a positive whole number"),
    ({"ssids_per_bssid": 0}, "ssids_per_bssid must be a positive whole number"),
    ({"min_ssids": 8, "ssids_per_bssid": 6}, r"ssids_per_bssid \(6\) must be at least min_ssids"),
    ({"threshold": 5}, "unknown setting"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=f"rule karma: .*{message}"):
        rule(**settings)


def test_settings_change_the_threshold_and_window():
    assert len(feed(rule(min_ssids=3), answers(REMEMBERED[:3]))) == 1
    assert feed(rule(window_s=2.5), answers(REMEMBERED[:5], step=1.0)) == []


# -- bounded memory ----------------------------------------------------------------------

def _flood(r: Karma, count: int, seed: int, names_per_bssid: int = 1, t: float = 10.0) -> None:
    rng = random.Random(seed)
    f = frame(b"x", t=t, kind=BEACON)
    el = f.elements
    for i in range(count):
        f.addr2 = f.addr3 = rng.randbytes(6)
        for k in range(names_per_bssid):
            el.ssid = b"flood-%d-%d" % (i, k)
            assert r.on_frame(f) is None


def test_a_flood_of_random_bssids_stays_within_the_caps():
    r = rule(max_tracked=1000, max_suspects=50)
    _flood(r, 100_000, seed=1)
    assert len(r._single) == 1000 and len(r._suspects) == 0
    _flood(r, 20_000, seed=2, names_per_bssid=2)
    assert len(r._single) <= 1000 and len(r._suspects) == 50
    assert len(r._keys) <= 4096


def test_one_bssid_with_endless_names_keeps_at_most_its_cap():
    r = rule(ssids_per_bssid=16)
    f = frame(b"x", kind=BEACON)
    for i in range(20_000):
        f.ts_ns = i * 1_000_000
        f.elements.ssid = b"name-%d" % i
        r.on_frame(f)
    (suspect,) = r._suspects.values()
    assert len(suspect.names) == 16


def test_a_responder_is_still_caught_during_a_beacon_flood():
    r = rule(max_tracked=1000, max_suspects=50)
    assert feed(r, answers(REMEMBERED[:2], start=9.0)) == []
    _flood(r, 100_000, seed=3)                            # single-name BSSIDs churn the other table
    out = feed(r, answers(REMEMBERED[2:5], start=11.0))
    assert len(out) == 1 and out[0].bssid == MANA
