"""The simulated radio on real kernel interfaces: a TAP with the radiotap link
type in a network namespace of the test's own, tuned by datagrams that a
listener outside the namespace receives (AF_UNIX paths cross namespaces)."""

from __future__ import annotations

import socket

import pytest

from evil_twin_monitor.radio import InterfaceMissing, NotWireless, RadioSettings
from evil_twin_monitor.radio.simulated import SimulatedRadio
from netns import needs_root

PRELUDE = """
import fcntl, json, os, struct, subprocess
from evil_twin_monitor.radio import RadioError, RadioSettings
from evil_twin_monitor.radio.simulated import SimulatedRadio

def tap(name, link_type=803, up=True):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", name.encode(), 0x0002 | 0x1000))  # TUNSETIFF: TAP, NO_PI
    fcntl.ioctl(fd, 0x400454cd, link_type)                                              # TUNSETLINK
    if up:
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return fd

def attempt(fn, *args):
    try:
        fn(*args)
        return "ok"
    except RadioError as exc:
        return [type(exc).__name__, str(exc), exc.permanent]
"""


@pytest.fixture
def listener(tmp_path):
    path = tmp_path / "radio.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield path, sock
    sock.close()


@needs_root
def test_tune_sends_one_datagram_per_hop_across_the_namespace(netns, listener):
    path, sock = listener
    result = netns.python(PRELUDE + f"""
fd = tap("mon0")
r = SimulatedRadio(RadioSettings("simulated", "mon0", control_socket={str(path)!r}))
info = r.open()
r.tune(2412)
r.tune(5180, 20)
print(json.dumps({{"info": [info.capture_interface, info.phy, info.driver, info.frequencies],
                  "frequency": r.frequency, "sent": r.sent, "undelivered": r.undelivered}}))
""")
    assert [sock.recv(64), sock.recv(64)] == [b"2412 20", b"5180 20"]
    assert result == {"info": ["mon0", None, "simulated", None], "frequency": 5180, "sent": 2, "undelivered": 0}


@needs_root
def test_nobody_listening_is_counted_not_raised(netns, tmp_path):
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(stale))
    s.close()   # the file stays, nobody reads: ECONNREFUSED
    result = netns.python(PRELUDE + f"""
fd = tap("mon0")
out = {{}}
for label, path in [("absent", {str(tmp_path / "absent.sock")!r}), ("stale", {str(stale)!r}), ("none", None)]:
    r = SimulatedRadio(RadioSettings("simulated", "mon0", control_socket=path))
    r.open()
    out[label] = [attempt(r.tune, 2437), r.frequency, r.sent, r.undelivered]
    r.close()
print(json.dumps(out))
""")
    assert result == {"absent": ["ok", 2437, 0, 1], "stale": ["ok", 2437, 0, 1], "none": ["ok", 2437, 0, 0]}


@needs_root
def test_ethernet_and_down_interfaces_are_refused_with_what_to_do(netns):
    result = netns.python(PRELUDE + """
subprocess.run(["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"], check=True)
subprocess.run(["ip", "link", "set", "veth0", "up"], check=True)
fd = tap("mon0", up=False)
out = {name: attempt(SimulatedRadio(RadioSettings("simulated", name)).open) for name in ("veth0", "mon0", "mon9")}
print(json.dumps(out))
""")
    assert result["veth0"][0] == "NotWireless"
    assert result["veth0"][1].startswith("veth0: not a monitor interface (link type ether); the simulated radio needs")
    assert result["veth0"][2] is True
    assert result["mon0"] == ["InterfaceDown", "mon0: the interface is down; bring it up with `ip link set mon0 up`",
                              False]
    assert result["mon9"][:1] == ["InterfaceMissing"] and result["mon9"][1].startswith("mon9: no such network interface")


@needs_root
def test_interface_going_down_or_away_mid_run_is_reported_and_recovered_by_reopening(netns, listener):
    path, sock = listener
    result = netns.python(PRELUDE + f"""
fd = tap("mon0")
r = SimulatedRadio(RadioSettings("simulated", "mon0", control_socket={str(path)!r}))
r.open()
out = {{"first": attempt(r.tune, 2412)}}
subprocess.run(["ip", "link", "set", "mon0", "down"], check=True)
out["down"] = attempt(r.tune, 2417)
subprocess.run(["ip", "link", "set", "mon0", "up"], check=True)
out["up_again"] = attempt(r.tune, 2422)
os.close(fd)                      # the TAP vanishes (like an unplugged adapter)
out["gone"] = attempt(r.tune, 2427)
fd = tap("mon0")                  # back, with a new index
out["recreated"] = attempt(r.tune, 2432)
r.close()
out["reopen"] = attempt(r.open)
out["after_reopen"] = attempt(r.tune, 2437)
out["frequency"] = r.frequency
print(json.dumps(out))
""")
    assert result["first"] == "ok"
    assert result["down"][:1] == ["InterfaceDown"]
    assert result["up_again"] == "ok"
    assert result["gone"][0] == "InterfaceMissing" and result["gone"][1].startswith("mon0: the interface disappeared")
    assert result["gone"][2] is False
    assert result["recreated"][0] == "InterfaceMissing"
    assert result["reopen"] == "ok" and result["after_reopen"] == "ok"
    assert result["frequency"] == 2437
    assert [sock.recv(64) for _ in range(3)] == [b"2412 20", b"2422 20", b"2437 20"]


def test_missing_interface_in_this_namespace():
    r = SimulatedRadio(RadioSettings("simulated", "etm-absent0"))
    with pytest.raises(InterfaceMissing) as caught:
        r.open()
    assert str(caught.value) == (
        "etm-absent0: no such network interface (has the simulation created it yet? `ip link` lists the interfaces)")


def test_loopback_is_not_a_monitor_interface():
    with pytest.raises(NotWireless, match=r"^lo: not a monitor interface \(link type loopback\)"):
        SimulatedRadio(RadioSettings("simulated", "lo")).open()


def test_tune_before_open_and_close_twice():
    r = SimulatedRadio(RadioSettings("simulated", "lo"))
    with pytest.raises(RuntimeError):
        r.tune(2412)
    r.close()
    r.close()
