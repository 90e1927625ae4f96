"""rogue_hardware: known attack-device signatures, and ordinary devices left alone.

Two kinds of test frames: hand-set `Frame` records for the identity signatures
(addresses, names), and real bytes through the decoder for the construction
signatures, built by `fixtures.make_pcaps` the way each tool builds its
beacons (mdk4, airbase-ng, ESP8266 Deauther, wifiphisher, a Pwnagotchi,
blighthouse, scapy scripts) and the way access points build theirs.
"""

from __future__ import annotations

import pytest
from scapy.layers.dot11 import Dot11, Dot11Beacon

from evil_twin_monitor.decoding.decoder import Decoder
from evil_twin_monitor.decoding.frame import (BEACON, BROADCAST, DEAUTH, PROBE_REQ, PROBE_RESP,
                                              Elements, Frame)
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry
from evil_twin_monitor.rules.base import RuleContext
from evil_twin_monitor.rules.rogue_hardware import EXTRA_FIELDS, FIELDS, SIGNATURES, RogueHardware
from fixtures.make_pcaps import (ESP_TEMPLATE_TSF, HOME_ROUTER, HOSTAPD, PWNAGOTCHI_TA,
                                 airbase_beacon, beacon, blighthouse_beacon, elt,
                                 esp_deauther_beacon, mdk4_beacon, probe_response,
                                 pwnagotchi_beacon, scapy_beacon, tool_beacon,
                                 wifiphisher_known_beacon, wps_element)

PINEAPPLE = bytes.fromhex("001337a1b2c3")
ESPRESSIF = bytes.fromhex("240ac4112233")   # an ESP32: ordinary IoT, not an attack tool
CITY = bytes.fromhex("001a2b3c4d50")
AP_IDS = (0, 1, 3, 5, 7, 42, 50, 48, 45, 61)   # what a real AP's beacon carries
MS = 1_000_000
T0 = 1_775_034_000 * 10**9


def elements(raw: bytes, ssid: bytes | None = None, wps: dict | None = None,
             channel: int | None = 6, ids: tuple[int, ...] = AP_IDS) -> Elements:
    el = Elements(raw=raw)
    el.ssid = ssid
    el.wps = wps
    el.ds_channel = channel
    el.ids = ids
    return el


def frame(kind: str = BEACON, addr2: bytes | None = CITY, addr3: bytes | None = None,
          el: Elements | None = None, freq: int | None = 2437) -> Frame:
    f = Frame()
    f.number = 7
    f.kind = kind
    f.addr2 = addr2
    f.addr3 = addr2 if addr3 is None else addr3
    f.freq_mhz = freq
    f.elements = el
    return f


def rule(**settings) -> RogueHardware:
    return RogueHardware(RuleContext(build_registry([])), settings)


_DECODER = Decoder()


def decoded(pkt, ts_ns: int = T0, number: int = 1) -> Frame:
    """Wire bytes of a fixture packet through the real decoder."""
    out = _DECODER.decode(bytes(pkt), 127, ts_ns, number)
    assert out is not None
    return out


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ap_beacons(make, count: int = 30, start_tsf: int = 5_000_000_000, seq: int = 4000,
               step_ns: int = 102_400_000):
    """``count`` beacons of one real AP: the clock and the sequence number advance."""
    return [decoded(make(tsf=start_tsf + k * 102_400 + 37 * k, seq=(seq + k) % 4096),
                    T0 + k * step_ns, k + 1) for k in range(count)]


# -- identity signatures ---------------------------------------------------------------

def test_pineapple_oui_on_the_transmitter():
    out = rule().on_frame(frame(addr2=PINEAPPLE, el=elements(b"a", ssid=b"Free Airport WiFi")))
    assert out.rule == "rogue_hardware"
    assert out.severity == "critical"
    assert out.bssid == PINEAPPLE
    assert out.ssid == b"Free Airport WiFi"
    assert out.freq_mhz == 2437
    assert out.message == (
        'A device at 00:13:37:a1:b2:c3 advertising "Free Airport WiFi" on channel 6 identifies '
        "itself like a WiFi Pineapple, a tool made for attacking Wi-Fi users.")
    assert out.evidence == {
        "signature": "hak5-pineapple-oui",
        "description": "Address prefix 00:13:37, used by the Hak5 WiFi Pineapple",
        "matched_field": "transmitter_oui",
        "matched_value": "00:13:37",
        "frame_kind": "beacon",
    }


def test_pineapple_oui_in_frames_without_elements():
    # A Pineapple's deauths as an AP, and frames sent to it: no SSID to show.
    r = rule()
    out = r.on_frame(frame(kind=DEAUTH, addr2=PINEAPPLE, addr3=PINEAPPLE, freq=2412))
    assert out.message == ("A device at 00:13:37:a1:b2:c3 on channel 1 identifies itself like "
                           "a WiFi Pineapple, a tool made for attacking Wi-Fi users.")
    out = r.on_frame(frame(kind=DEAUTH, addr2=CITY, addr3=PINEAPPLE, freq=None))
    assert out.bssid == PINEAPPLE
    assert out.evidence["matched_field"] == "bssid_oui"
    assert "on an unknown channel" in out.message


def test_a_clients_own_address_is_never_matched_or_reported():
    """Probe requests, authentication and association requests carry the
    sender's own address: a person's device. Prefix signatures (00:00:00, an
    operator's extra prefix) could match ordinary phones, so client-sent frames
    are judged by their BSSID only."""
    el = elements(b"probe", ssid=b"HomeNet", ids=(0, 1))
    r = rule(extra_ouis=["02:ab:cd"])
    phone = bytes.fromhex("02abcd000001")
    assert r.on_frame(frame(kind=PROBE_REQ, addr2=PINEAPPLE, addr3=BROADCAST, el=el)) is None
    assert r.on_frame(frame(kind=DEAUTH, addr2=phone, addr3=CITY)) is None
    out = r.on_frame(frame(kind=DEAUTH, addr2=phone, addr3=PINEAPPLE))
    assert out.bssid == PINEAPPLE and phone.hex(":") not in out.message + str(out.evidence)


@pytest.mark.parametrize("wps, field", [
    ({"manufacturer": "Hak5", "model_name": "WiFi Pineapple"}, "wps.manufacturer"),
    ({"manufacturer": "Unknown", "device_name": "PINEAPPLE nano"}, "wps.device_name"),
    ({"model_name": "wifi pineapple mk7"}, "wps.model_name"),
])
def test_wps_names_of_pineapples(wps, field):
    out = rule().on_frame(frame(addr2=ESPRESSIF, el=elements(b"wps" + field.encode(), wps=wps)))
    assert out.evidence["matched_field"] == field
    assert out.evidence["matched_value"] == wps[field[len("wps."):]]
    assert out.bssid == ESPRESSIF


@pytest.mark.parametrize("ssid, signature", [
    (b"Pineapple_1A2B", "pineapple-setup-ssid"),
    (b"pwned", "esp8266-deauther-ssid"),
    (b"hostapd-wpe", "hostapd-wpe-ssid"),
])
def test_factory_ssids_of_attack_tools(ssid, signature):
    out = rule().on_frame(frame(kind=PROBE_RESP, addr2=ESPRESSIF, el=elements(ssid, ssid=ssid)))
    assert out.evidence["signature"] == signature
    assert out.evidence["matched_field"] == "ssid"
    assert out.evidence["matched_value"] == ssid.decode()


def test_deauther_message_names_its_purpose():
    out = rule().on_frame(frame(addr2=ESPRESSIF, el=elements(b"pwned", ssid=b"pwned")))
    assert out.message == (
        'A device at 24:0a:c4:11:22:33 advertising "pwned" on channel 6 identifies itself like '
        "an ESP8266 Deauther, a tool made for knocking people off Wi-Fi networks.")


@pytest.mark.parametrize("ssid, wps", [
    (b"Pineapple_Cafe", None),              # words are not the MAC's hex digits
    (b"Pineapple_Shop", None),
    (b"pwned2", None),                      # whole-SSID matches only
    (b"My Pineapple_1A2B", None),
    (b"Shinjuku_Free_Wi-Fi", {"manufacturer": "Buffalo Inc.", "model_name": "WXR-5950AX12"}),
    (b"ESP_112233", {"manufacturer": "Espressif", "device_name": "ESP32"}),
])
def test_ordinary_access_points_are_left_alone(ssid, wps):
    assert rule().on_frame(frame(addr2=ESPRESSIF, el=elements(ssid + b"!", ssid=ssid, wps=wps))) is None


def test_client_probe_requests_do_not_match_names():
    # A phone looking for "pwned", or named "Pineapple", is not an attack tool.
    el = elements(b"probe", ssid=b"pwned", wps={"device_name": "Pineapple"})
    assert rule().on_frame(frame(kind=PROBE_REQ, addr2=ESPRESSIF, addr3=BROADCAST, el=el)) is None


def test_the_all_zero_address_is_no_wifiphisher():
    # A real AP with an unprogrammed address (seen in a public capture) is not 00:00:00:xx.
    zero = bytes(6)
    assert rule().on_frame(frame(addr2=zero, el=elements(b"z", ssid=b""))) is None


# -- how tools build their beacons -------------------------------------------------------

TOOL_FRAMES = {
    "wifiphisher": lambda: wifiphisher_known_beacon("00:00:00:5a:1e:77", "attwifi", 6),
    "scapy-with-tim": lambda: scapy_beacon("02:5c:a9:00:00:01", "Free_Airport_WiFi", 11,
                                           elt(1, b"\x82\x84\x8b\x96") + elt(3, b"\x0b")
                                           + elt(5, b"\x00\x01\x00\x00")),
    "scapy-ssid-rsn-only": lambda: scapy_beacon("02:22:22:22:22:22", "yoloSSID", 6, elt(
        48, bytes.fromhex("0100000fac020200000fac04000fac020100000fac020000"))),
    "mdk4": lambda: mdk4_beacon("02:3d:4c:00:00:0a", "Tokyo Metro Free", 11, ds_channel=4,
                                tsf=102_400 * 7, seq=7),
    "mdk4-c255": lambda: mdk4_beacon("02:3d:4c:00:00:ff", "Free Station", 11, ds_channel=255,
                                     tsf=102_400 * 9, seq=9),
    "mdk4-c0": lambda: mdk4_beacon("02:3d:4c:00:00:fe", "Free Station", 11, ds_channel=0,
                                   tsf=102_400 * 9, seq=9),
    "esp8266-deauther": lambda: esp_deauther_beacon("02:d7:a1:e0:00:10", "Free Internet", 6,
                                                    seq=812, wpa2=True),
    "airbase-ng": lambda: airbase_beacon("00:c0:ca:3f:12:7e", "Shinjuku_Free_Wi-Fi", 6,
                                         tsf=1_775_034_020_000_240, seq=1),
    "pwnagotchi": lambda: pwnagotchi_beacon("b8:27:eb:7d:1c:05", b'{"name":"pwnagotchi"}', 1),
    "interval-zero": lambda: beacon("02:00:00:00:00:0b", "Office", 6, tsf=77_000_000, seq=5,
                                    interval_tu=0),
    "no-ssid-element": lambda: tool_beacon(
        "02:00:00:00:00:0c", 6, elt(1, b"\x82\x84\x8b\x96") + elt(3, b"\x06")
        + elt(5, b"\x00\x01\x00\x00"), tsf=9_000_000, seq=12, interval_tu=100, cap=0x0401),
}


@pytest.mark.parametrize("tool, signature, also", [
    ("wifiphisher", "wifiphisher-oui", ["scapy-default-beacon", "beacon-without-tim"]),
    ("scapy-with-tim", "scapy-default-beacon", []),
    ("scapy-ssid-rsn-only", "scapy-default-beacon", ["beacon-without-rates",
                                                     "beacon-without-tim"]),
    ("mdk4", "beacon-without-tim", []),
    ("mdk4-c255", "channel-impossible", ["beacon-without-tim"]),
    ("mdk4-c0", "channel-impossible", ["beacon-without-tim"]),
    ("esp8266-deauther", "esp-beacon-spam-timestamp", ["beacon-without-tim"]),
    ("airbase-ng", "beacon-without-tim", []),
    ("pwnagotchi", "pwnagotchi-element", ["scapy-default-beacon", "beacon-without-ssid",
                                          "beacon-without-rates", "beacon-without-tim"]),
    ("interval-zero", "beacon-interval-zero", []),
    ("no-ssid-element", "beacon-without-ssid", []),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_tools_beacon_matches_its_signature(tool, signature, also):
    out = rule().on_frame(decoded(TOOL_FRAMES[tool]()))
    assert out is not None, tool
    assert out.evidence["signature"] == signature
    assert out.evidence.get("also_matched", []) == also
    assert out.severity == "critical"


def test_esp_deauther_alert_in_words():
    out = rule().on_frame(decoded(esp_deauther_beacon("02:d7:a1:e0:00:10", "Free Internet", 6,
                                                      seq=812)))
    assert out.bssid == mac("02:d7:a1:e0:00:10")
    assert out.ssid == b"Free Internet"
    assert out.message == (
        'A device at 02:d7:a1:e0:00:10 advertising "Free Internet" on channel 6 sends beacons '
        "built by ESP8266 Deauther or ESP32 Marauder firmware, tools made for spamming fake "
        "Wi-Fi networks and knocking people off real ones.")
    assert out.evidence["matched_field"] == "fixed"
    assert out.evidence["matched_value"] == "tsf=0x0f8ff75183"
    assert ESP_TEMPLATE_TSF == 0x0F8FF75183


def test_pwnagotchi_alert_names_its_signature_address_and_no_ssid():
    out = rule().on_frame(decoded(pwnagotchi_beacon("b8:27:eb:7d:1c:05", b"{}", 1)))
    assert out.bssid == mac(PWNAGOTCHI_TA)
    assert out.ssid is None
    assert out.message == (
        "A device at de:ad:be:ef:de:ad on channel 1 identifies itself like a Pwnagotchi, a "
        "gadget that collects Wi-Fi password handshakes for cracking.")


def test_an_impossible_channel_is_reported_where_the_frame_was_heard():
    out = rule().on_frame(decoded(TOOL_FRAMES["mdk4-c255"]()))
    assert out.freq_mhz == 2462
    assert out.evidence["matched_field"] == "ds_channel"
    assert out.evidence["matched_value"] == "255"
    assert "announces a channel number that exists in no Wi-Fi band" in out.message


def test_missing_elements_are_not_judged_in_a_broken_element_list():
    # The element list runs past the end (a cut frame): what is absent is unknown.
    pkt = tool_beacon("02:00:00:00:00:0d", 6, elt(0, b"Cut") + b"\x01\x08\x82\x84",
                      tsf=9_000_000, seq=12, interval_tu=100, cap=0x0401)
    f = decoded(pkt)
    assert f.elements.malformed == "element_overrun"
    assert rule().on_frame(f) is None


# -- real access points stay silent -------------------------------------------------------

REAL_APS = {
    "city-2.4": lambda **kw: beacon("00:1a:2b:3c:4d:50", "Shinjuku_Free_Wi-Fi", 1, **kw),
    "city-5ghz-no-ds": lambda **kw: beacon("00:1a:2b:3c:4d:60", "Shinjuku_Free_Wi-Fi", 36, **kw),
    "hostapd": lambda **kw: beacon("02:11:22:33:44:55", "Cafe_Guest", 11, profile=HOSTAPD,
                                   security=("open",), pmf="disabled", **kw),
    "home-router-5ghz": lambda **kw: beacon("c0:25:a2:1a:2b:3c", "aterm-1a2b3c-a", 44,
                                            profile=HOME_ROUTER, **kw),
    "hidden-ssid": lambda **kw: beacon("00:1a:2b:3c:4e:01", b"", 36, **kw),
    "zero-filled-ssid": lambda **kw: beacon("10:6f:3f:7f:10:a8", bytes(9), 6, **kw),
    "tsf-near-zero-after-boot": lambda tsf, **kw: beacon("00:1a:2b:3c:4d:70", "Shinjuku_Secure",
                                                         6, tsf=tsf - 4_999_999_000, **kw),
    # An ad-hoc (IBSS) beacon: IBSS Parameter Set instead of TIM.
    "ibss": lambda **kw: tool_beacon("02:42:42:42:42:42", 6, elt(0, b"adhoc") + elt(
        1, b"\x82\x84\x8b\x96") + elt(3, b"\x06") + elt(6, b"\x00\x00"), interval_tu=100,
                                     cap=0x0002, **kw),
    # An 802.11s mesh beacon: neither ESS nor IBSS, a TIM and a Mesh ID.
    "mesh": lambda **kw: tool_beacon("18:31:bf:57:da:1c", 6, elt(0, b"") + elt(
        1, b"\x82\x84\x8b\x96") + elt(3, b"\x06") + elt(5, b"\x00\x01\x00\x00")
        + elt(114, b"meshnet"), interval_tu=100, cap=0x0000, **kw),
}


@pytest.mark.parametrize("name", REAL_APS)
def test_real_access_point_beacons_are_left_alone(name):
    r = rule()
    for f in ap_beacons(REAL_APS[name], count=40):
        assert r.on_frame(f) is None, name


def test_an_ap_that_just_rebooted_is_left_alone():
    # Sequence numbers restart near 0 and the clock is small, but both advance.
    r = rule()
    for f in ap_beacons(REAL_APS["city-2.4"], count=10, start_tsf=20_000, seq=0):
        assert r.on_frame(f) is None


def test_probe_responses_with_timestamp_zero_are_left_alone():
    # Seen in public captures from real devices (and from mac80211_hwsim): a probe
    # response with timestamp 0, even sequence 0. Only beacons are judged on that.
    r = rule()
    for k in range(6):
        f = decoded(probe_response("90:a4:de:c0:46:0a", "omus", 6, "02:00:00:00:00:01",
                                   tsf=0, seq=0 if k == 0 else 1788 + k), T0 + k * MS)
        assert r.on_frame(f) is None


@pytest.mark.parametrize("copies", [2, 3])
def test_duplicated_beacons_are_not_a_frozen_clock(copies):
    # The same frame received two or three times, 20-300 µs apart (two adapters).
    r = rule()
    make = REAL_APS["city-2.4"]
    for k in range(30):
        pkt = make(tsf=8_000_000 + k * 102_400, seq=(100 + k) % 4096)
        for c in range(copies):
            assert r.on_frame(decoded(pkt, T0 + k * 102_400_000 + c * 150_000)) is None


# -- timestamp and sequence behaviour (per transmitter) -------------------------------------

def test_a_frozen_clock_is_caught_on_the_fourth_beacon():
    r = rule()
    outs = [r.on_frame(decoded(blighthouse_beacon("00:16:3e:1c:4a:3f", 1), T0 + k * 20 * MS))
            for k in range(6)]
    assert outs[:3] == [None, None, None]
    out = outs[3]
    assert out.evidence["signature"] == "frozen-timestamp"
    assert out.evidence["matched_field"] == "frozen_tsf"
    assert out.evidence["matched_value"] == "102195584 x 4"
    assert out.evidence["also_matched"] == ["frozen-sequence"]
    assert out.message == (
        'A device at 00:16:3e:1c:4a:3f advertising "meinnetz" on channel 1 sends beacons whose '
        "clock (timestamp) stands still, which a real access point's radio never does: they "
        "are replayed or hand-made by an attack tool.")
    assert outs[4] is not None and outs[5] is not None


def test_frames_a_millisecond_apart_count_once_per_duplicate_window():
    # blighthouse sends every millisecond: frames within 10 ms of the last counted one
    # may be duplicates and are skipped, yet the run still builds up.
    r = rule()
    outs = [r.on_frame(decoded(blighthouse_beacon("00:16:3e:1c:4a:3f", 1), T0 + k * MS))
            for k in range(60)]
    first = next(i for i, out in enumerate(outs) if out is not None)
    assert 29 <= first <= 35


def test_a_frozen_sequence_number_alone():
    # A tool that updates the timestamp but leaves the template's sequence number.
    r = rule()
    outs = []
    for k in range(5):
        pkt = tool_beacon("02:aa:00:00:00:01", 6, elt(0, b"Spam") + elt(1, b"\x82\x84\x8b\x96")
                          + elt(3, b"\x06") + elt(5, b"\x00\x01\x00\x00"),
                          tsf=10_000_000 + k * 102_400, seq=0x6cc, interval_tu=100, cap=0x0401)
        outs.append(r.on_frame(decoded(pkt, T0 + k * 102 * MS)))
    assert outs[:3] == [None, None, None]
    assert outs[3].evidence["signature"] == "frozen-sequence"
    assert outs[3].evidence["matched_value"] == "1740 x 4"


def test_an_advancing_clock_breaks_the_run():
    r = rule()
    tsfs = [500, 500, 500, 102_900, 102_900, 102_900, 205_300]
    for k, tsf in enumerate(tsfs):
        pkt = blighthouse_beacon("00:16:3e:1c:4a:3f", 1)
        pkt[Dot11Beacon].timestamp = tsf
        pkt[Dot11].SC = ((k * 7) % 4096) << 4
        assert r.on_frame(decoded(pkt, T0 + k * 102 * MS)) is None


def test_frozen_beacons_setting():
    r = rule(frozen_beacons=2)
    assert r.on_frame(decoded(blighthouse_beacon("00:16:3e:1c:4a:3f", 1), T0)) is None
    out = r.on_frame(decoded(blighthouse_beacon("00:16:3e:1c:4a:3f", 1), T0 + 20 * MS))
    assert out.evidence["signature"] == "frozen-timestamp"


# -- one alert per device, and floods ---------------------------------------------------------

def test_a_device_keeps_the_ssid_of_its_first_alert():
    # wifiphisher's Known Beacons rotate SSIDs from one address: one alert, not one per SSID.
    r = rule()
    outs = [r.on_frame(decoded(wifiphisher_known_beacon("00:00:00:5a:1e:77", name, 6),
                               T0 + k * MS))
            for k, name in enumerate(("attwifi", "xfinitywifi", "Free Public WiFi"))]
    assert {(out.bssid, out.ssid) for out in outs} == {(mac("00:00:00:5a:1e:77"), b"attwifi")}


def test_a_flood_of_addresses_becomes_one_summary_alert():
    r = rule(flood_devices=5, flood_window_s=60)
    outs = [r.on_frame(decoded(mdk4_beacon(f"02:3d:4c:00:{k >> 8:02x}:{k & 255:02x}", f"n{k}",
                                           11, ds_channel=6, tsf=102_400 * (k + 1), seq=k + 1),
                               T0 + k * 20 * MS))
            for k in range(30)]
    assert len({out.bssid for out in outs[:5]}) == 5
    summary = outs[5:]
    assert {(out.bssid, out.ssid) for out in summary} == {(None, None)}
    assert summary[0].message == (
        "More than 5 different devices sent frames matching the attack-tool signature "
        "'beacon-without-tim' within 1 minute (channel 6 first): a flood from a tool that "
        "changes its address with every frame. Further devices are counted in this alert "
        "instead of one alert each.")
    # A device already reported keeps its own alert during the flood.
    again = r.on_frame(decoded(mdk4_beacon("02:3d:4c:00:00:00", "n0", 11, ds_channel=6,
                                           tsf=1, seq=1), T0 + 700 * MS))
    assert again.bssid == mac("02:3d:4c:00:00:00")
    # The next window starts afresh.
    later = r.on_frame(decoded(mdk4_beacon("02:3d:4c:01:00:00", "late", 11, ds_channel=6,
                                           tsf=1, seq=1), T0 + 61_000 * MS))
    assert later.bssid == mac("02:3d:4c:01:00:00")


def test_a_flood_cannot_fill_the_engines_open_alerts():
    engine = Engine(build_registry([]), rule_classes=(RogueHardware,), max_open_alerts=100)
    for k in range(2000):
        engine.feed(decoded(mdk4_beacon(f"02:3d:{k >> 16:02x}:{(k >> 8) & 255:02x}:"
                                        f"{k & 255:02x}:00", "x", 11, ds_channel=6,
                                        tsf=102_400 * (k + 1), seq=(k + 1) % 4096),
                            T0 + k * MS, k + 1))
    assert len(engine.open) == RogueHardware.DEFAULTS["flood_devices"] + 1
    assert engine.dropped_findings == 0


# -- operator control ------------------------------------------------------------------------

def test_disabled_signature_is_not_reported():
    r = rule(disabled=["hak5-pineapple-oui"])
    assert r.on_frame(frame(addr2=PINEAPPLE)) is None


def test_disabling_a_construction_signature():
    f = decoded(TOOL_FRAMES["airbase-ng"]())
    assert rule(disabled=["beacon-without-tim"]).on_frame(f) is None
    r = rule(disabled=["frozen-timestamp", "frozen-sequence"])
    outs = [r.on_frame(decoded(blighthouse_beacon("00:16:3e:1c:4a:3f", 1), T0 + k * 20 * MS))
            for k in range(8)]
    assert outs == [None] * 8
    assert r._clock == {}                      # no per-transmitter state kept for nothing


def test_extra_oui_from_the_configuration():
    r = rule(extra_ouis=["02-AB-CD"])
    device = bytes.fromhex("02abcd000001")
    out = r.on_frame(frame(kind=DEAUTH, addr2=device, addr3=device))
    assert out.evidence["signature"] == "extra-oui:02:ab:cd"
    assert out.message == (
        "A device at 02:ab:cd:00:00:01 on channel 6 uses an address prefix (02:ab:cd) that this "
        "sensor's configuration lists as an attack device.")


@pytest.mark.parametrize("bad", ["00:13", "00:13:3g", "001337", 1337, "00:13-37"])
def test_invalid_extra_oui_is_rejected_naming_the_value(bad):
    with pytest.raises(ValueError, match="extra_ouis value " + repr(bad).replace("(", r"\(")):
        rule(extra_ouis=[bad])


def test_unknown_disabled_id_is_rejected():
    with pytest.raises(ValueError, match="pinapple-oui"):
        rule(disabled=["pinapple-oui"])


WHY = "Seen on our red team's kit."


@pytest.mark.parametrize("field, pattern, pkt", [
    ("oui", "02:3d:4c", TOOL_FRAMES["mdk4"]),
    ("ssid", r"Tokyo Metro .*", TOOL_FRAMES["mdk4"]),
    ("wps", "evilcorp", lambda: beacon("02:00:00:00:00:21", "Lobby", 6, tsf=9_000_000, seq=3,
                                       wps=wps_element("AP", "EvilCorp Router", "EvilCorp"))),
    ("vendor_oui", "00:50:f2", lambda: beacon("02:00:00:00:00:22", "Lobby", 6, tsf=9_000_000,
                                              seq=3)),
    ("element_id", 114, lambda: REAL_APS["mesh"](tsf=5, seq=5)),
    ("channel", "14", lambda: mdk4_beacon("02:3d:4c:00:00:0e", "x", 11, ds_channel=14, tsf=5,
                                          seq=5)),
    ("fixed", "tsf=0x1234,beacon_interval=100",
     lambda: beacon("02:00:00:00:00:23", "Lobby", 6, tsf=0x1234, seq=3)),
    ("missing", "7", lambda: beacon("02:00:00:00:00:24", "Lobby", 6, tsf=9_000_000, seq=3,
                                    profile=HOSTAPD)),
])
def test_operator_signature_of_each_field(field, pattern, pkt):
    entry = {"id": "site-sig", "field": field, "pattern": pattern, "why": WHY}
    assert field in EXTRA_FIELDS
    # Built-in signatures that would also match are switched off to see the operator's.
    r = rule(extra_signatures=[entry], disabled=["beacon-without-tim", "channel-impossible"])
    out = r.on_frame(decoded(pkt()))
    assert out is not None
    assert out.evidence["signature"] == "site-sig"
    assert out.evidence["description"] == f"{field} {pattern} (sensor configuration, " \
                                          f"extra_signatures)"
    assert out.message.endswith("matches the attack-tool signature 'site-sig' that this "
                                "sensor's configuration lists.")


def test_operator_signature_with_its_own_claim_and_disabled_by_id():
    entry = {"id": "red-team-spammer", "field": "fixed", "pattern": "tsf=0x1234",
             "why": WHY, "claim": "is our red team's beacon spammer (exercise in progress)"}
    pkt = beacon("02:00:00:00:00:23", "Lobby", 6, tsf=0x1234, seq=3)
    out = rule(extra_signatures=[entry]).on_frame(decoded(pkt))
    assert out.message == ('A device at 02:00:00:00:00:23 advertising "Lobby" on channel 6 is '
                           "our red team's beacon spammer (exercise in progress).")
    assert rule(extra_signatures=[entry], disabled=["red-team-spammer"]).on_frame(
        decoded(pkt)) is None


def test_operator_signatures_do_not_touch_ordinary_frames():
    entry = {"id": "site-sig", "field": "ssid", "pattern": "Tokyo Metro .*", "why": WHY}
    r = rule(extra_signatures=[entry])
    for f in ap_beacons(REAL_APS["city-2.4"], count=10):
        assert r.on_frame(f) is None


@pytest.mark.parametrize("entry, message", [
    ("lab", r"extra_signatures\[0\]: expected a mapping with id, field, pattern, why"),
    ({"id": "x", "field": "oui", "pattern": "02:00:00"},
     r"extra_signatures\[0\] \(x\): missing why"),
    ({"id": "x", "field": "oui", "patern": "02:00:00", "why": WHY},
     r"extra_signatures\[0\] \(x\): unknown key\(s\) \['patern'\]"),
    ({"id": "x", "field": "tsf", "pattern": "0", "why": WHY},
     r"\(x\): field 'tsf' is not one of oui, ssid, wps, vendor_oui, element_id, channel, "
     r"fixed, missing"),
    ({"id": "x", "field": "frozen", "pattern": "tsf", "why": WHY}, r"field 'frozen' is not one"),
    ({"id": "Bad Id", "field": "oui", "pattern": "02:00:00", "why": WHY},
     r"id 'Bad Id' must be lowercase letters, digits and '-'"),
    ({"id": "beacon-without-tim", "field": "missing", "pattern": "5", "why": WHY},
     r"id 'beacon-without-tim' is a built-in signature"),
    ({"id": "x", "field": "oui", "pattern": "02:00", "why": WHY},
     r"\(x\): pattern: '02:00' is not an address prefix like 'aa:bb:cc'"),
    ({"id": "x", "field": "ssid", "pattern": "Free(", "why": WHY},
     r"pattern: 'Free\(' is not a regular expression"),
    ({"id": "x", "field": "element_id", "pattern": "300", "why": WHY},
     r"pattern: 300 is outside 0..255"),
    ({"id": "x", "field": "channel", "pattern": "14-1", "why": WHY},
     r"pattern: range '14-1' runs backwards"),
    ({"id": "x", "field": "fixed", "pattern": "tsf", "why": WHY},
     r"pattern: 'tsf' is not name=value with a name in tsf, seq, beacon_interval"),
    ({"id": "x", "field": "fixed", "pattern": "seq=4096", "why": WHY},
     r"pattern: 4096 is outside 0..4095"),
    ({"id": "x", "field": "fixed", "pattern": "tsf=1,tsf=2", "why": WHY},
     r"pattern: a field is named twice"),
    ({"id": "x", "field": "missing", "pattern": "TIM", "why": WHY}, r"\(x\): pattern: "),
    ({"id": "x", "field": "wps", "pattern": "", "why": WHY},
     r"pattern: pattern must be a non-empty string"),
    ({"id": "x", "field": "wps", "pattern": "evil", "why": "  "}, r"\(x\): why must say"),
])
def test_invalid_operator_signature_is_one_line_naming_the_entry(entry, message):
    with pytest.raises(ValueError, match=r"^rule rogue_hardware: " + r".*" + message) as info:
        rule(extra_signatures=[entry])
    assert "\n" not in str(info.value)


def test_an_operator_id_given_twice_is_rejected():
    entry = {"id": "twice", "field": "oui", "pattern": "02:00:00", "why": WHY}
    with pytest.raises(ValueError, match="id 'twice' is given twice"):
        rule(extra_signatures=[entry, dict(entry)])


@pytest.mark.parametrize("settings, message", [
    ({"frozen_beacons": 1}, "frozen_beacons must be a number of at least 2; got 1"),
    ({"flood_devices": 0}, "flood_devices must be a number of at least 1; got 0"),
    ({"flood_window_s": 0}, "flood_window_s must be a number of at least 1; got 0"),
    ({"max_tracked": 0}, "max_tracked must be a number of at least 1; got 0"),
    ({"extra_signatures": {"id": "x"}}, "extra_signatures must be a list"),
])
def test_invalid_numbers_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        rule(**settings)


# -- the table itself ---------------------------------------------------------------------------

def test_every_signature_says_why_it_is_there():
    assert len({s.id for s in SIGNATURES}) == len(SIGNATURES)
    for sig in SIGNATURES:
        assert sig.field in FIELDS
        assert sig.description and sig.why and sig.claim
    rule()  # every built-in pattern compiles


def test_verdict_caches_are_bounded():
    r = rule(max_tracked=4)
    for i in range(50):
        addr = bytes.fromhex("240ac4") + i.to_bytes(3, "big")
        f = frame(addr2=addr, el=elements(bytes([i]), ssid=b"x"))
        f.tsf, f.seq, f.ts_ns = 1_000_000 + i, i, T0 + i * MS
        assert r.on_frame(f) is None
    assert len(r._by_addr) == 4
    assert len(r._by_raw_beacon) == 4
    assert len(r._clock) == 4
    flood = rule(max_tracked=4, flood_devices=100)
    for k in range(50):
        flood.on_frame(decoded(mdk4_beacon(f"02:3d:4c:00:00:{k:02x}", "x", 11, ds_channel=6,
                                           tsf=k, seq=k), T0 + k * MS))
    assert len(flood._reported) == 4
