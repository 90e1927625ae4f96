"""The hardware-free radio: frame builders, scenario player, TAP monitor interface.

Frame builders are checked against our decoder (and tshark), the player's
"heard only while tuned" logic with a fake interface and a fake clock, and
the whole thing as the end-to-end tests use it: the player process in a
network namespace, tune datagrams from outside, frames read back from the
interface with an AF_PACKET socket (the ``sniff`` command).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from evil_twin_monitor.decoding import Decoder
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry import SECURITY_VALUES, default_pmf, load_registry
from evil_twin_monitor.rules.fingerprint_mismatch import fingerprint_of
from evil_twin_monitor.simulation import ScenarioPlayer, Transmitter, traffic_mix
from evil_twin_monitor.simulation import frames as F
from netns import ROOT, JsonEvents, Netns, needs_root

LEGIT = "00:1a:2b:3c:4d:50"      # fixtures/registry.yaml: city-hall, channels 1/6/11, wpa2-psk
TWIN = "02:00:5e:00:00:01"
SSID = "Shinjuku_Free_Wi-Fi"
NS = 1_000_000_000


def decode(frame: bytes):
    return Decoder().decode(frame, 127, 0, 1)


# ---------------------------------------------------------------------------
# Frame builders
# ---------------------------------------------------------------------------

SECURITIES = [(w,) for w in SECURITY_VALUES] + [("wpa2-psk", "wpa3-sae"), ("wpa-psk", "wpa2-psk"),
                                                 ("wpa2-eap", "wpa3-eap")]


@pytest.mark.parametrize("freq", [2412, 5180, 5955])
@pytest.mark.parametrize("security", SECURITIES, ids="+".join)
def test_beacon_decodes_to_what_it_was_built_from(security, freq):
    frame = decode(F.beacon(LEGIT, SSID, freq, security=security, tsf=123456, seq=77,
                            signal_dbm=-61, interval_tu=200))
    assert (frame.kind, frame.bssid.hex(":"), frame.addr2.hex(":")) == ("beacon", LEGIT, LEGIT)
    assert frame.elements.ssid == SSID.encode()
    assert frame.freq_mhz == freq
    assert frame.elements.security == frozenset(security)
    assert frame.elements.pmf == default_pmf(frozenset(security))
    assert (frame.tsf, frame.seq, frame.signal_dbm, frame.beacon_interval) == (123456, 77, -61, 200)
    assert frame.elements.malformed is None


def test_radiotap_with_tsft_decodes_the_same():
    frame = decode(F.beacon(LEGIT, SSID, 2437, sensor_tsft=2**40 + 5))
    assert (frame.freq_mhz, frame.elements.channel, frame.elements.ssid) == (2437, 6, SSID.encode())


@pytest.mark.parametrize("freq,channel", [(2437, 6), (2484, 14), (5180, 36), (5745, 149)])
def test_announced_channel_follows_frequency_unless_told(freq, channel):
    assert decode(F.beacon(LEGIT, SSID, freq)).elements.channel == channel
    lying = decode(F.beacon(LEGIT, SSID, 2437, channel=11))
    assert (lying.freq_mhz, lying.elements.channel) == (2437, 11)


def test_explicit_pmf_reaches_the_rsn_element():
    assert decode(F.beacon(LEGIT, SSID, 2437, security="wpa2-psk", pmf="disabled")).elements.pmf \
        == "disabled"
    assert decode(F.beacon(LEGIT, SSID, 2437, security="wpa2-psk", pmf="required")).elements.pmf \
        == "required"


def test_other_frame_kinds_decode():
    client = "02:11:22:33:44:55"
    resp = decode(F.probe_response(LEGIT, SSID, 5180, client, security="wpa3-sae"))
    assert (resp.kind, resp.addr1.hex(":"), resp.bssid.hex(":")) == ("probe_resp", client, LEGIT)
    assert (resp.elements.ssid, resp.elements.security) == (SSID.encode(), {"wpa3-sae"})
    req = decode(F.probe_request(client, "", 2412, seq=9))
    assert (req.kind, req.addr2.hex(":"), req.elements.ssid, req.seq) == \
        ("probe_req", client, b"", 9)
    de = decode(F.deauth(LEGIT, client, LEGIT, 2437, reason=3))
    assert (de.kind, de.addr1.hex(":"), de.addr2.hex(":"), de.reason, de.freq_mhz) == \
        ("deauth", client, LEGIT, 3, 2437)
    decoder = Decoder()
    assert decoder.decode(F.data_frame(LEGIT, client, 2437, b"x" * 40), 127, 0, 1) is None
    assert decoder.decode(F.ack(client, 2437), 127, 0, 2) is None
    assert dict(decoder.frames) == {"data": 1, "control": 1}


@pytest.mark.parametrize("bad,message", [
    ({"security": "wpa4"}, "unknown security wpa4"),
    ({"security": "open+wpa2-psk"}, "cannot be combined"),
    ({"pmf": "sometimes"}, "unknown pmf"),
    ({"profile": "cisco"}, "unknown profile"),
])
def test_bad_parameters_are_one_line_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        F.beacon(LEGIT, SSID, 2437, **bad)


def test_bad_addresses_and_frequencies_are_errors():
    with pytest.raises(ValueError, match="not a MAC address"):
        F.mac("00:1a:2b:3c:4d")
    with pytest.raises(ValueError, match="not a Wi-Fi channel"):
        F.beacon(LEGIT, SSID, 2000)
    with pytest.raises(ValueError, match="at most 32"):
        F.beacon(LEGIT, "x" * 33, 2437)


def test_frames_parse_cleanly_in_tshark(tmp_path):
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    built = [F.beacon(LEGIT, SSID, 2437, security="wpa2-psk+wpa3-sae", sensor_tsft=77),
             F.beacon(TWIN, "新宿_Free", 5955, security="owe"),
             F.probe_response(LEGIT, SSID, 5180, "02:11:22:33:44:55", security="wpa3-eap-192"),
             F.deauth(LEGIT, "ff:ff:ff:ff:ff:ff", LEGIT, 2437, reason=7)]
    pcap = tmp_path / "built.pcap"
    with pcap.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127))
        for i, frame in enumerate(built):
            fh.write(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)) + frame)
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=|",
                          "-e", "wlan.bssid", "-e", "wlan.ssid", "-e", "wlan_radio.frequency",
                          "-e", "wlan.rsn.akms.type", "-e", "_ws.malformed"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [line.split("|") for line in out]
    assert [r[0] for r in rows] == [LEGIT, TWIN, LEGIT, LEGIT]
    ssids = [_tshark_ssid(r[1]) for r in rows[:3]]
    assert ssids == [SSID, "新宿_Free", SSID]
    assert [r[2] for r in rows] == ["2437", "5955", "5180", "2437"]
    assert [r[3] for r in rows[:3]] == ["2,8", "18", "12"]
    assert all(r[4] == "" for r in rows)


def _tshark_ssid(field: str) -> str:
    """tshark prints wlan.ssid as text or, in some versions, as hex."""
    try:
        return bytes.fromhex(field).decode("utf-8")
    except ValueError:
        return field


def test_hostapd_profile_has_another_fingerprint_but_a_transmitter_keeps_its_own():
    legit = Transmitter(LEGIT, SSID, 2437)
    same_bssid_twin = Transmitter(LEGIT, SSID, 2437, profile="hostapd")
    ours = {fingerprint_of(decode(legit.beacon(i * 102_400_000))) for i in range(5)}
    theirs = {fingerprint_of(decode(same_bssid_twin.beacon(0)))}
    assert len(ours) == 1
    assert ours != theirs


def test_traffic_mix_is_reproducible_and_decodes_cleanly():
    frames = traffic_mix("mixed", 2000, 5180, seed=3)
    assert frames == traffic_mix("mixed", 2000, 5180, seed=3)
    decoder = Decoder()
    for n, frame in enumerate(frames):
        decoder.decode(frame, 127, 0, n)
    kinds = decoder.frames
    assert not decoder.malformed
    assert set(kinds) == {"data", "control", "beacon", "probe_req", "probe_resp"}
    mgmt = kinds["beacon"] + kinds["probe_req"] + kinds["probe_resp"]
    assert 0.15 < mgmt / 2000 < 0.25
    flood = traffic_mix("beacon_flood", 500)
    assert len({decode(f).bssid for f in flood}) > 490
    with pytest.raises(ValueError, match="unknown mix"):
        traffic_mix("storm")


# ---------------------------------------------------------------------------
# Transmitter and player logic (no root: a fake interface and a fake clock)
# ---------------------------------------------------------------------------


def test_transmitter_beacons_advance_tsf_and_sequence():
    tx = Transmitter(LEGIT, SSID, 2437, beacon_interval_tu=100)
    first, second = decode(tx.beacon(1 * NS)), decode(tx.beacon(1 * NS + tx.interval_ns))
    assert (first.seq + 1, first.tsf + 102_400) == (second.seq, second.tsf)
    other = Transmitter(TWIN, SSID, 2437)
    assert decode(other.beacon(1 * NS)).tsf != first.tsf  # every radio has its own TSF


def test_transmitter_from_dict_names_the_problem():
    tx = Transmitter.from_dict({"bssid": LEGIT, "ssid": SSID, "channel": 149, "name": "a"})
    assert (tx.freq_mhz, tx.name) == (5745, "a")
    with pytest.raises(ValueError, match="unknown transmitter field colour"):
        Transmitter.from_dict({"bssid": LEGIT, "ssid": SSID, "channel": 1, "colour": "red"})
    with pytest.raises(ValueError, match="needs 'freq_mhz'"):
        Transmitter.from_dict({"bssid": LEGIT, "ssid": SSID})
    with pytest.raises(ValueError, match="twin: unknown security"):
        Transmitter.from_dict({"bssid": LEGIT, "ssid": SSID, "freq_mhz": 2437, "name": "twin",
                               "security": ["wpa9"]})


class FakeMonitor:
    name = "fake0"

    def __init__(self) -> None:
        self.exists = True
        self.frames: list[bytes] = []

    def write(self, frame: bytes) -> int:
        self.frames.append(frame)
        return len(frame)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000 * NS

    def __call__(self) -> int:
        return self.now


def _player(*transmitters: Transmitter) -> tuple[ScenarioPlayer, FakeMonitor, FakeClock]:
    monitor, clock = FakeMonitor(), FakeClock()
    player = ScenarioPlayer(monitor, None, transmitters, clock=clock)  # type: ignore[arg-type]
    return player, monitor, clock


def _play(player: ScenarioPlayer, clock: FakeClock, seconds: float) -> None:
    end = clock.now + int(seconds * NS)
    while (nxt := player.run_due(clock.now)) is not None and nxt <= end:
        clock.now = nxt
    clock.now = end


def _heard(monitor: FakeMonitor) -> list[tuple[str, int]]:
    out = []
    for raw in monitor.frames:
        frame = decode(raw)
        out.append((frame.bssid.hex(":"), frame.freq_mhz))
    monitor.frames.clear()
    return out


def test_nothing_is_heard_until_the_radio_is_tuned_then_only_that_channel():
    player, monitor, clock = _player(Transmitter(LEGIT, SSID, 2437), Transmitter(TWIN, SSID, 5745))
    _play(player, clock, 1.0)
    assert monitor.frames == []
    assert player.counters["not_heard"] == 20
    player.tune_from(b"5745 20")
    _play(player, clock, 1.0)
    heard = _heard(monitor)
    assert set(heard) == {(TWIN, 5745)} and 9 <= len(heard) <= 11
    player.tune_from(b"2437 40")
    _play(player, clock, 0.5)
    assert set(_heard(monitor)) == {(LEGIT, 2437)}
    assert player.tuned == (2437, 40)


def test_bad_datagrams_are_counted_and_keep_the_last_tuning():
    events: list[dict] = []
    player, monitor, clock = _player(Transmitter(LEGIT, SSID, 2437))
    player.on_event = events.append
    player.tune_from(b"2437 20")
    for bad in (b"", b"channel six", b"2437 20 30", b"-5 20"):
        player.tune_from(bad)
    assert player.tuned == (2437, 20)
    assert player.counters["bad_control"] == 4
    assert [e["event"] for e in events] == ["tuned"] + ["control_error"] * 4


def test_removed_transmitters_stop_and_missing_interface_is_counted():
    player, monitor, clock = _player(Transmitter(LEGIT, SSID, 2437), Transmitter(TWIN, SSID, 2437))
    player.tune_from(b"2437 20")
    assert player.remove(bssid=TWIN) == 1
    _play(player, clock, 0.5)
    assert {b for b, _ in _heard(monitor)} == {LEGIT}
    monitor.exists = False
    _play(player, clock, 0.5)
    assert monitor.frames == [] and player.counters["no_interface"] == 5


def test_a_late_player_skips_missed_beacons_instead_of_bursting():
    tx = Transmitter(LEGIT, SSID, 2437)
    player, monitor, clock = _player(tx)
    player.tune_from(b"2437 20")
    player.run_due(clock.now)
    clock.now += 3 * NS                 # stalled for 3 s (a flood ran)
    player.run_due(clock.now)
    frames = [decode(f) for f in monitor.frames]
    assert len(frames) == 2
    assert frames[1].seq - frames[0].seq == 29  # the AP went on beaconing meanwhile
    assert player.counters["late_skipped"] == 28


def test_deauth_burst_is_heard_only_on_its_channel():
    events: list[dict] = []
    player, monitor, clock = _player(Transmitter(LEGIT, SSID, 2437, beacon_interval_tu=60000))
    player.on_event = events.append
    player.tune_from(b"2437 20")
    player.run_due(clock.now)
    monitor.frames.clear()
    player.deauth_burst(player.transmitters[0], 10, 1.0, tag="b1")  # at 0.0, 0.1, ... 0.9 s
    _play(player, clock, 0.55)
    player.tune_from(b"2412 20")
    _play(player, clock, 1.0)
    kinds = [decode(f).kind for f in monitor.frames]
    assert kinds == ["deauth"] * 6
    assert events[-1] == {"event": "deauth_done", "bssid": LEGIT, "written": 6, "missed": 4,
                          "id": "b1"}


def test_control_socket_receives_tune_datagrams(tmp_path):
    path = str(tmp_path / "ctl.sock")
    player, monitor, clock = _player()
    player.control_socket_path = path
    with player:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as radio:
            radio.sendto(b"5180 20", path)
            radio.sendto(b"5200 80", path)
        player.poll(1.0)
        assert player.tuned == (5200, 80)
    assert not os.path.exists(path)


def test_engine_raises_nothing_about_a_simulated_registered_ap_and_catches_the_twin():
    """The legitimate transmitter matches its registry entry exactly, so
    end-to-end tests can treat every alert as caused by the twin."""
    registry = load_registry(ROOT / "fixtures" / "registry.yaml")
    alerts: list = []

    class Sink:
        def opened(self, alert):
            alerts.append(alert)

        def closed(self, alert):
            pass

    engine = Engine(registry, facility="city-hall", sensor="sim", sinks=[Sink()])
    legit = Transmitter(LEGIT, SSID, 2437, signal_dbm=-48)
    twin = Transmitter(TWIN, SSID, 5745, profile="hostapd", signal_dbm=-40)
    decoder = Decoder()
    t0 = 1_775_034_000 * NS
    for i in range(600):  # a minute of beacons
        now = t0 + i * legit.interval_ns
        engine.feed(decoder.decode(legit.beacon(now), 127, now, i + 1))
    assert [a for a in alerts if a.bssid == F.mac(LEGIT)] == []
    for i in range(20):
        now = t0 + (600 + i) * twin.interval_ns
        engine.feed(decoder.decode(twin.beacon(now), 127, now, 601 + i))
    assert any(a.bssid == F.mac(TWIN) for a in alerts)


def test_bad_scenario_file_is_one_line_and_status_2(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"transmitters": [{"bssid": LEGIT, "ssid": SSID}]}))
    run = subprocess.run([sys.executable, "-m", "evil_twin_monitor.simulation", "play",
                          "--control", str(tmp_path / "c.sock"), "--scenario", str(scenario)],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"simulation: scenario {scenario}: transmitters[0]: transmitter needs 'freq_mhz' "
        "(or 'channel')"]


# ---------------------------------------------------------------------------
# The player process in a network namespace (root)
# ---------------------------------------------------------------------------

class PlayerProcess:
    """The ``play`` command under ``ip netns exec``, driven over its pipes."""

    def __init__(self, netns: Netns, control: str, scenario: Path) -> None:
        self.netns = netns.name
        self.control = control
        self.proc = netns.popen(
            [sys.executable, "-m", "evil_twin_monitor.simulation",
             "play", "--interface", "mon0", "--control", control, "--scenario", str(scenario)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
            text=True, bufsize=1)
        self.events = JsonEvents(self.proc.stdout, "player",
                                 on_exit=lambda: self.proc.stderr.read())  # type: ignore[union-attr]
        self.ready = self.wait_for("ready")

    def wait_for(self, name: str, timeout: float = 15.0) -> dict:
        return self.events.next(name, timeout, unexpected="error")

    def send(self, **command) -> None:
        self.proc.stdin.write(json.dumps(command) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def tune(self, freq: int, width: int = 20) -> None:
        """What the daemon's simulated radio does, from outside the namespace."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(f"{freq} {width}".encode(), self.control)
        assert self.wait_for("tuned")["freq_mhz"] == freq

    def sniff(self, seconds: float) -> tuple[list[dict], dict]:
        """Frames read from mon0 by an AF_PACKET socket in the namespace."""
        run = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-m",
                              "evil_twin_monitor.simulation", "sniff", "--interface", "mon0",
                              "--seconds", str(seconds)],
                             capture_output=True, text=True, cwd=ROOT, timeout=seconds + 30)
        lines = [json.loads(line) for line in run.stdout.splitlines()]
        return [e for e in lines if e["event"] == "frame"], lines[-1]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def player(netns, tmp_path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"transmitters": [
        {"name": "legit", "bssid": LEGIT, "ssid": SSID, "channel": 6, "security": "wpa2-psk"},
        {"name": "twin", "bssid": TWIN, "ssid": SSID, "channel": 149, "security": "wpa2-psk",
         "profile": "hostapd"},
    ]}))
    proc = PlayerProcess(netns, str(tmp_path / "radio.sock"), scenario)
    try:
        yield proc
    finally:
        proc.close()


def _link(netns: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "show", "mon0"],
                          capture_output=True, text=True)


@needs_root
def test_interface_looks_like_a_monitor_interface(player):
    link = _link(player.netns)
    assert link.returncode == 0
    assert "link/ieee802.11/radiotap" in link.stdout and ",UP" in link.stdout


@needs_root
def test_only_the_tuned_transmitters_beacons_reach_the_interface(player):
    frames, done = player.sniff(0.6)
    assert frames == [] and done["event"] == "sniff_done"          # tuned nowhere yet

    player.tune(2437)
    frames, _ = player.sniff(1.0)
    assert len(frames) >= 5
    assert {(f["kind"], f["bssid"], f["ssid"], f["freq_mhz"], f["channel"]) for f in frames} == \
        {("beacon", LEGIT, SSID, 2437, 6)}
    assert {tuple(f["security"]) for f in frames} == {("wpa2-psk",)}

    player.tune(5745)
    frames, _ = player.sniff(1.0)
    assert len(frames) >= 5
    assert {(f["bssid"], f["freq_mhz"], f["channel"]) for f in frames} == {(TWIN, 5745, 149)}


@needs_root
def test_added_and_removed_transmitters_and_deauth_bursts(player):
    player.tune(2412)
    player.send(cmd="add", transmitter={"bssid": "02:00:5e:00:00:02", "ssid": "Other",
                                        "freq_mhz": 2412, "security": "open"})
    player.wait_for("added")
    player.send(cmd="deauth", bssid="02:00:5e:00:00:02", count=200, seconds=1.5, id=7)
    frames, _ = player.sniff(1.0)
    assert {f["kind"] for f in frames} == {"beacon", "deauth"}
    assert {f["bssid"] for f in frames} == {"02:00:5e:00:00:02"}
    done = player.wait_for("deauth_done")
    assert (done["written"], done["missed"], done["id"]) == (200, 0, 7)
    player.send(cmd="remove", bssid="02:00:5e:00:00:02")
    assert player.wait_for("removed")["count"] == 1
    frames, _ = player.sniff(0.5)
    assert frames == []


@needs_root
def test_interface_can_be_unplugged_and_plugged_back(player):
    player.tune(2437)
    sniffer = subprocess.Popen(["ip", "netns", "exec", player.netns, sys.executable, "-m",
                                "evil_twin_monitor.simulation", "sniff", "--interface", "mon0",
                                "--seconds", "20"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert json.loads(sniffer.stdout.readline())["event"] == "listening"  # type: ignore[union-attr]
    player.send(cmd="delete_interface")
    player.wait_for("interface_deleted")
    out, _ = sniffer.communicate(timeout=15)
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert "sniff_error" in events            # what the daemon's capture socket sees
    assert _link(player.netns).returncode != 0

    player.send(cmd="create_interface")
    player.wait_for("interface_created")
    link = _link(player.netns)
    assert "link/ieee802.11/radiotap" in link.stdout and ",UP" in link.stdout
    frames, _ = player.sniff(0.6)
    assert frames and {f["bssid"] for f in frames} == {LEGIT}

    player.send(cmd="down")
    player.wait_for("interface_down")
    assert ",UP" not in _link(player.netns).stdout
    player.send(cmd="up")
    player.wait_for("interface_up")


@needs_root
def test_flood_writes_at_the_asked_rate_whatever_the_tuning(player):
    sniffer = subprocess.Popen(["ip", "netns", "exec", player.netns, sys.executable, "-m",
                                "evil_twin_monitor.simulation", "sniff", "--interface", "mon0",
                                "--seconds", "3"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert json.loads(sniffer.stdout.readline())["event"] == "listening"  # type: ignore[union-attr]
    player.send(cmd="flood", rate=5000, seconds=1.0, mix="mixed", freq_mhz=5180)
    done = player.wait_for("flood_done")
    print(f"flood: {done['frames']} frames in {done['seconds']} s = {done['rate']} frames/s")
    out, _ = sniffer.communicate(timeout=30)
    summary = json.loads(out.splitlines()[-1])
    assert done["errors"] == 0
    assert 2500 <= done["frames"] <= 5100      # a loose sanity bound, not a timing assertion
    assert summary["frames"] >= done["frames"] * 0.9
    assert {"data", "control", "beacon"} <= set(summary["kinds"])


@needs_root
def test_sigterm_exits_cleanly_and_removes_the_interface(player):
    player.proc.send_signal(signal.SIGTERM)
    assert player.wait_for("stopped")["reason"] == "SIGTERM"
    assert player.proc.wait(10) == 0
    assert _link(player.netns).returncode != 0
    assert not os.path.exists(player.control)


@needs_root
def test_eof_on_stdin_quits(player):
    player.proc.stdin.close()  # type: ignore[union-attr]
    assert player.wait_for("stopped")["reason"] == "eof"
    assert player.proc.wait(10) == 0
