"""Real captures through the whole engine: no false alerts, and a merged-in twin is caught.

Each capture in ``../shared/real-captures`` listed below has a registry in
``tests/data/real_registries/`` that lists the networks the capture contains,
derived with tshark, not with our decoder (see the README there). Given that
registry, a benign capture must raise no alert at all, and an attack capture
exactly its true positives, as a set of (rule, bssid).

Where the engine raises an alert that the capture does not justify, the exact
test is marked ``xfail(strict=True)`` with the frame evidence in the reason,
and a companion test checks that nothing *else* differs, so the suite
documents the problem until the rule or decoder is fixed (then the strict
xfail turns into a failure that asks for the mark to be removed).

The "done when" test of the issue: a real capture with its registry raises
nothing; the same capture with an evil twin merged in
(`fixtures.make_pcaps.merge_twin_into`) raises ``unknown_bssid`` for the twin
and nothing else, for a radiotap capture and a bare 802.11 one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from evil_twin_monitor.decoding import open_capture
from evil_twin_monitor.engine import Alert, Engine
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-captures"
REGISTRIES = Path(__file__).resolve().parent / "data" / "real_registries"

if not REAL.is_dir():
    pytest.skip(f"real captures not found at {REAL}", allow_module_level=True)


class Collect:
    """A sink that keeps every alert, complete (they arrive when closed)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def opened(self, alert: Alert) -> None:
        pass

    def closed(self, alert: Alert) -> None:
        self.alerts.append(alert)


def replay(capture: Path, registry: Path) -> list[Alert]:
    sink = Collect()
    engine = Engine(load_registry(registry), facility="real-capture", sinks=[sink])
    replay_files([str(capture)], engine)
    return sink.alerts


def pairs(alerts: list[Alert]) -> set[tuple[str, str]]:
    return {(a.rule, a.bssid.hex(":") if a.bssid else None) for a in alerts}


@dataclass(frozen=True)
class Case:
    capture: str
    expected: frozenset = frozenset()
    # Alerts the engine raises that the capture does not justify, and why.
    known_false: frozenset = frozenset()
    why: str = ""
    marks: tuple = field(default=())

    @property
    def registry(self) -> Path:
        return REGISTRIES / (Path(self.capture).stem + ".yaml")


STALE_RADIOTAP_CHANNEL = (
    "unexpected_channel trusts a stale radiotap channel over the AP's own DS/HT channel when "
    "that channel cannot exist in the radio's band: {evidence}. The radio cannot receive a "
    "5 GHz beacon on 2.4 GHz; the capture driver stamped the frame with the channel it had "
    "hopped to. Proposed fix in rules/common.operating_frequency: when "
    "element_channel_frequency(channel, frame.freq_mhz) is None (the element's channel is "
    "impossible in the heard band), use channel_to_frequency(channel) (the element alone) "
    "instead of falling back to the radio frequency.")

SAMPLE2_WHY = (
    STALE_RADIOTAP_CHANNEL.format(evidence=(
        "frames 1076-1079 are beacons of b8:11:4b:c7:d3:ec/ed/ee/ef with DS and HT primary "
        "channel 149, 6 Mbit/s, -44..-46 dBm like their frames 1068-1075 on 5745 MHz 5 ms "
        "earlier, but radiotap says 2412 MHz (flags 0x00c0)"))
    + " Also security_mismatch (critical 'downgrade' to WEP) on frame 731, a beacon of "
    "b8:11:4b:c7:d8:cc (KITRI_Mentee) whose element list breaks at element 63 (length 141; "
    "decoder: malformed element_overrun) before its RSN element: the missing RSN plus the "
    "Privacy bit read as WEP, while the AP's probe responses (frames 705, 713) carry RSN "
    "CCMP/PSK. Proposed fix in rules/security_mismatch (and unknown_bssid's 'weaker' test): "
    "give no verdict when elements.malformed is set and neither an RSN nor a WPA element was "
    "found, because the security elements may lie beyond the break.")

NCAE_WHY = STALE_RADIOTAP_CHANNEL.format(evidence=(
    "frames 12212-12312 are the only AP frames after a 5.7 s gap (122.59 s -> 128.26 s): 82 "
    "beacons every 100 ms and 7 probe responses of LS360 80:80:2c:86:69:c8 with DS and HT "
    "primary channel 48, OFDM-only rates, -74 dBm, while radiotap still says 2462 MHz; the "
    "channel-11 APs heard until then (K_ATG at -40 dBm, beaconing every 100 ms) fall silent, "
    "so the adapter was on channel 48"))

BENIGN = [
    Case("ehn1225__airodump__80211-sample3.pcap"),
    Case("ehn1225__airodump__80211-icmp.pcap"),
    Case("ehn1225__airodump__sample2.pcap", known_false=frozenset({
        ("security_mismatch", "b8:11:4b:c7:d8:cc"),
        ("unexpected_channel", "b8:11:4b:c7:d3:ec"),
        ("unexpected_channel", "b8:11:4b:c7:d3:ed"),
        ("unexpected_channel", "b8:11:4b:c7:d3:ee"),
        ("unexpected_channel", "b8:11:4b:c7:d3:ef"),
    }), why=SAMPLE2_WHY),
    Case("derv82__wifite2__handshake_not_exists.cap"),
    Case("aircrack-ng__aircrack-ng__wpa2-psk-linksys.cap"),
    Case("aircrack-ng__aircrack-ng__wpa3-psk.pcap"),
    Case("aircrack-ng__aircrack-ng__test1.pcap"),
    Case("persona-twotwo__Homework_airodump__airodump.pcap"),
    Case("chrissanders__packets__3e80211_wpaauth.pcapng"),
    Case("thiagosmith__pcaps__wpa-Induction.pcap"),
    Case("JPaulMora__Pyrit__wpa2psk-2WIRE972.dump.pcap"),
]

ATTACKS = [
    # 1144 broadcast deauths, reason 7, source and BSSID 70:5d:cc:37:d1:cf (frames 111-1684,
    # 3.6 s to 8.4 s): the alert opens at frame 219, the 20th within 5 s.
    Case("tpwns__deauth-attack__deauth.pcap",
         expected=frozenset({("deauth_flood", "70:5d:cc:37:d1:cf")})),
    # 2725 + 2713 deauths, reason 7, between K_ATG 20:e5:2a:07:12:3d and 74:97:79:64:ff:1d in
    # both directions (frames 3642-11018, 71 s to 113 s).
    Case("Fuuntz__ncae-tryouts-script__deauth.pcapng",
         expected=frozenset({("deauth_flood", "20:e5:2a:07:12:3d")}),
         known_false=frozenset({("unexpected_channel", "80:80:2c:86:69:c8")}), why=NCAE_WHY),
    # 428 forged beacons of Sunrise_2.4GHz_EC2FB0 50:6f:0c:ec:2f:b9 (frames 3, 4, ... 2082):
    # DS channel 7 where the real AP is on 1 (unexpected_channel), and a malformed RSN element
    # (group 00:0f:c2:ac, pairwise count 514 in 28 bytes) instead of the real AP's RSN + WPA1
    # PSK (security_mismatch). fingerprint_mismatch stays silent: the forgeries interleave
    # with the real beacons from frame 3 on (7 7 1 7 7 1 ... by DS channel), so five
    # consecutive identical beacons to learn from never occur (its documented blind spot).
    Case("marcosrubinstein__HEIGVD-SWI23-Labo1-MAC-Sec__ex_1_2.pcapng",
         expected=frozenset({("unexpected_channel", "50:6f:0c:ec:2f:b9"),
                             ("security_mismatch", "50:6f:0c:ec:2f:b9")})),
]

CASES = BENIGN + ATTACKS


def _param(case: Case, xfail_known: bool):
    marks = []
    if xfail_known and case.known_false:
        marks.append(pytest.mark.xfail(strict=True, reason=case.why))
    return pytest.param(case, id=Path(case.capture).stem, marks=marks)


@pytest.mark.parametrize("case", [_param(c, True) for c in CASES])
def test_exactly_the_true_alerts(case: Case) -> None:
    """Benign: no alert at all. Attack: exactly its true positives."""
    assert pairs(replay(REAL / case.capture, case.registry)) == set(case.expected)


@pytest.mark.parametrize("case", [_param(c, False) for c in CASES if c.known_false])
def test_nothing_else_differs_where_a_false_alert_is_known(case: Case) -> None:
    """While a documented false alert stands, every other alert is still exact."""
    found = pairs(replay(REAL / case.capture, case.registry))
    assert found - set(case.known_false) == set(case.expected)


def _moved_registry(registry: Path, into: Path) -> tuple[Path, set[str]]:
    """The registry with every BSSID replaced by one nobody transmits from."""
    data = yaml.safe_load(registry.read_text(encoding="utf-8"))
    original: set[str] = set()
    n = 0
    for facility in data["facilities"]:
        for network in facility["networks"]:
            for ap in network["access_points"]:
                original.add(ap["bssid"])
                n += 1
                ap["bssid"] = f"02:00:5e:00:{n >> 8:02x}:{n & 0xff:02x}"
    path = into / registry.name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path, original


@pytest.mark.parametrize("case", [pytest.param(c, id=Path(c.capture).stem) for c in CASES])
def test_registry_lists_what_the_capture_advertises(case: Case, tmp_path: Path) -> None:
    """Control for the tests above (a registry that matched nothing would pass them):
    with every registered BSSID moved away, each one is heard advertising its SSID."""
    moved, original = _moved_registry(case.registry, tmp_path)
    alerts = replay(REAL / case.capture, moved)
    assert {bssid for rule, bssid in pairs(alerts) if rule == "unknown_bssid"} == original


TWIN = "02:5e:1f:a0:0c:01"


@pytest.mark.parametrize("capture, ssid, channel, linktype", [
    pytest.param("ehn1225__airodump__80211-sample3.pcap", "Samsung_2.4G", 1, 127, id="radiotap"),
    pytest.param("aircrack-ng__aircrack-ng__wpa2-psk-linksys.cap", "linksys", 1, 105,
                 id="bare-802.11"),
])
def test_twin_merged_into_a_real_capture_is_the_only_alert(
        capture: str, ssid: str, channel: int, linktype: int, tmp_path: Path) -> None:
    from fixtures.make_pcaps import merge_twin_into

    real = REAL / capture
    registry = REGISTRIES / (Path(capture).stem + ".yaml")
    assert replay(real, registry) == []

    merged = tmp_path / "with-twin.pcap"
    added = merge_twin_into(real, merged, ssid=ssid, channel=channel, bssid=TWIN)
    with open_capture(str(merged)) as reader:
        assert {frame_linktype for _n, _ts, frame_linktype, _data in reader} == {linktype}

    alerts = replay(merged, registry)
    assert pairs(alerts) == {("unknown_bssid", TWIN)}
    (alert,) = alerts
    assert alert.ssid == ssid.encode()
    assert alert.channel == channel
    assert alert.severity == "critical"  # an open twin of a WPA2 network
    assert alert.repeats + 1 == added    # every twin beacon, and only those
