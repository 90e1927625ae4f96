"""Radio control with nl80211: the decisions (which interface, which fallback,
what to put back, which error) against a fake kernel, since this machine has
no Wi-Fi hardware; pyroute2 message building and parsing against
kernel-format bytes; and what the real kernel can show without an adapter."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from evil_twin_monitor.radio import (
    InterfaceConflict,
    InterfaceDown,
    InterfaceMissing,
    MissingCapability,
    NoMonitorSupport,
    NotWireless,
    RadioError,
    RadioInfo,
    RadioSettings,
    TuneFailed,
    interface_name_problem,
    make_radio,
)
from evil_twin_monitor.radio.base import Link
from evil_twin_monitor.radio.nl80211 import (
    NL80211_CHAN_WIDTH_20,
    NL80211_CHAN_WIDTH_20_NOHT,
    NoNl80211,
    Nl80211Radio,
    Phy,
    PyrouteBackend,
    WirelessInterface,
)
from evil_twin_monitor.radio.simulated import SimulatedRadio
from netns import needs_root

STATION, MONITOR = 2, 6
ETHER, RADIOTAP = 1, 803


class FakeKernel:
    """Links, wireless interfaces and phys, changed by the Backend calls the
    way the kernel would; ``errors`` makes chosen calls fail with an errno."""

    def __init__(self) -> None:
        self.links: dict[int, dict] = {}
        self.wifs: dict[int, dict] = {}
        self.phys = {0: Phy(0, "phy0", frozenset({"station", "ap", "monitor"}), frozenset({2412, 2437, 2484, 5180}))}
        self.errors: dict[tuple, int | Exception] = {}
        self.calls: list[tuple] = []
        self.no_nl80211 = False
        self.next_index = 10
        self.closed = 0

    def add(self, name: str, *, up: bool = True, link_type: int = 1, phy: int | None = 0, iftype: int = STATION) -> int:
        index = self.next_index
        self.next_index += 1
        self.links[index] = {"name": name, "up": up, "type": link_type}
        if phy is not None:
            self.wifs[index] = {"phy": phy, "iftype": iftype}
        return index

    def state(self) -> dict:
        return {self.links[i]["name"]: (i, dict(self.links[i]), dict(self.wifs.get(i, {}))) for i in self.links}

    def _call(self, method: str, *args) -> None:
        self.calls.append((method, *args))
        err = self.errors.get((method, *args[:1])) or self.errors.get((method,))
        if isinstance(err, Exception):
            raise err
        if err:
            raise OSError(err, os.strerror(err))

    def _need(self, index: int) -> dict:
        if index not in self.links:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        return self.links[index]

    # Backend
    def link(self, name):
        self._call("link", name)
        for i, link in self.links.items():
            if link["name"] == name:
                return Link(i, name, link["up"], link["type"])
        return None

    def link_by_index(self, index):
        self._call("link_by_index", index)
        link = self.links.get(index)
        return Link(index, link["name"], link["up"], link["type"]) if link else None

    def set_link_up(self, index, up):
        self._call("set_link_up", index, up)
        self._need(index)["up"] = up

    def wireless_interfaces(self):
        self._call("wireless_interfaces")
        if self.no_nl80211:
            raise NoNl80211()
        return [WirelessInterface(i, self.links[i]["name"], w["phy"], w["iftype"]) for i, w in self.wifs.items()]

    def phy(self, index):
        self._call("phy", index)
        return self.phys[index]

    def driver(self, name):
        return "mt76x2u"

    def add_monitor(self, name, phy_index):
        self._call("add_monitor", name, phy_index)
        return self.add(name, up=False, link_type=RADIOTAP, phy=phy_index, iftype=MONITOR)

    def del_interface(self, ifindex):
        self._call("del_interface", ifindex)
        self._need(ifindex)
        del self.links[ifindex]
        self.wifs.pop(ifindex, None)

    def set_iftype(self, ifindex, iftype):
        self._call("set_iftype", ifindex, iftype)
        if self._need(ifindex)["up"]:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        self.wifs[ifindex]["iftype"] = iftype
        self.links[ifindex]["type"] = RADIOTAP if iftype == MONITOR else ETHER

    def set_frequency(self, ifindex, freq, width):
        self._call("set_frequency", ifindex, freq, width)
        self._need(ifindex)

    def close(self):
        self.closed += 1


@pytest.fixture
def kernel():
    return FakeKernel()


def radio(kernel, interface="wlan1", monitor="etm0"):
    return Nl80211Radio(RadioSettings("nl80211", interface, monitor_interface=monitor), backend_factory=lambda: kernel)


# -- open: the three ways to a monitor interface, and closing puts everything back ---------


def test_creates_a_monitor_interface_takes_the_adapter_down_and_close_restores_it(kernel):
    wlan = kernel.add("wlan1", up=True)
    before = kernel.state()
    r = radio(kernel)
    info = r.open()
    assert info == RadioInfo("etm0", "phy0", "mt76x2u", frozenset({2412, 2437, 2484, 5180}))
    assert r.mode == "created"
    state = kernel.state()
    assert state["etm0"][1] == {"name": "etm0", "up": True, "type": RADIOTAP}
    assert state["etm0"][2] == {"phy": 0, "iftype": MONITOR}
    assert state["wlan1"][1]["up"] is False
    assert ("add_monitor", "etm0", 0) in kernel.calls
    r.close()
    assert kernel.state() == before
    assert kernel.links[wlan]["up"] is True
    assert r.restore_problems == []
    assert kernel.closed == 1


def test_an_adapter_that_was_down_stays_down(kernel):
    kernel.add("wlan1", up=False)
    before = kernel.state()
    r = radio(kernel)
    r.open()
    assert not any(c[0] == "set_link_up" and c[2] is False for c in kernel.calls)
    r.close()
    assert kernel.state() == before


def test_an_interface_already_in_monitor_mode_is_used_as_it_is(kernel):
    kernel.add("mon0", up=False, link_type=RADIOTAP, iftype=MONITOR)
    before = kernel.state()
    r = radio(kernel, interface="mon0")
    assert r.open().capture_interface == "mon0"
    assert r.mode == "existing"
    assert kernel.state()["mon0"][1]["up"] is True
    assert not any(c[0] in ("add_monitor", "set_iftype") for c in kernel.calls)
    r.close()
    assert kernel.state() == before


@pytest.mark.parametrize("refusal", [errno.EOPNOTSUPP, errno.EBUSY, errno.EINVAL])
def test_driver_refusing_a_new_interface_falls_back_to_switching_the_type(kernel, refusal):
    wlan = kernel.add("wlan1", up=True)
    kernel.errors[("add_monitor",)] = refusal
    before = kernel.state()
    r = radio(kernel)
    assert r.open().capture_interface == "wlan1"
    assert r.mode == "switched"
    assert kernel.wifs[wlan]["iftype"] == MONITOR
    assert kernel.links[wlan]["up"] is True
    r.close()
    assert kernel.state() == before   # station mode again, and up


def test_driver_refusing_to_start_the_new_interface_also_falls_back(kernel):
    wlan = kernel.add("wlan1", up=True)
    kernel.errors[("set_link_up", 11)] = errno.EBUSY   # 11 will be etm0
    before = kernel.state()
    r = radio(kernel)
    assert r.open().capture_interface == "wlan1"
    assert "etm0" not in kernel.state()
    assert kernel.wifs[wlan]["iftype"] == MONITOR
    r.close()
    assert kernel.state() == before


def test_monitor_interface_set_to_the_adapter_itself_switches_its_type(kernel):
    kernel.add("wlan1", up=False)
    r = radio(kernel, monitor="wlan1")
    assert r.open().capture_interface == "wlan1"
    assert r.mode == "switched"
    assert not any(c[0] == "add_monitor" for c in kernel.calls)


def test_a_leftover_monitor_interface_from_a_killed_run_is_adopted_and_removed(kernel):
    kernel.add("wlan1", up=False)
    kernel.add("etm0", up=False, link_type=RADIOTAP, iftype=MONITOR)
    r = radio(kernel)
    assert r.open().capture_interface == "etm0"
    assert r.mode == "adopted"
    assert not any(c[0] == "add_monitor" for c in kernel.calls)
    r.close()
    assert "etm0" not in kernel.state()


def test_monitor_interface_name_taken_by_something_else_is_a_permanent_error(kernel):
    kernel.add("wlan1")
    kernel.add("etm0", phy=None)   # an ethernet interface of that name
    before = kernel.state()
    with pytest.raises(InterfaceConflict, match=r"^etm0: .*not a monitor interface on phy0.*radio.monitor_interface"):
        radio(kernel).open()
    assert kernel.state() == before


def test_reopening_restores_first(kernel):
    kernel.add("wlan1", up=True)
    r = radio(kernel)
    r.open()
    first = kernel.state()["etm0"][0]
    r.open()
    assert kernel.state()["etm0"][0] != first   # the first one was deleted, a new one made
    assert ("del_interface", first) in kernel.calls
    r.close()
    assert set(kernel.state()) == {"wlan1"}


# -- open: clear errors, and nothing left changed -------------------------------------------


def test_missing_interface_says_what_to_check(kernel):
    with pytest.raises(InterfaceMissing) as caught:
        radio(kernel).open()
    assert str(caught.value) == (
        "wlan1: no such network interface (is the adapter plugged in? `ip link` lists the interfaces)")
    assert caught.value.permanent is False
    assert kernel.closed == 1


def test_an_ethernet_interface_is_not_wireless(kernel):
    kernel.add("eth0", phy=None)
    with pytest.raises(NotWireless) as caught:
        radio(kernel, interface="eth0").open()
    assert str(caught.value) == (
        "eth0: not a wireless interface (link type ether); "
        "set radio.interface to the Wi-Fi adapter (`iw dev` lists them)")
    assert caught.value.permanent is True


def test_a_radiotap_tap_suggests_the_simulated_driver(kernel):
    kernel.add("mon0", link_type=RADIOTAP, phy=None)
    with pytest.raises(NotWireless, match="radio.driver: simulated"):
        radio(kernel, interface="mon0").open()


def test_a_kernel_without_nl80211_is_named(kernel):
    kernel.add("wlan1")
    kernel.no_nl80211 = True
    with pytest.raises(NotWireless, match=r"^wlan1: .*this kernel has no nl80211/cfg80211"):
        radio(kernel).open()


def test_a_driver_without_monitor_mode_lists_what_it_supports(kernel):
    kernel.add("wlan1")
    kernel.phys[0] = Phy(0, "phy0", frozenset({"station", "ap"}), frozenset({2412}))
    before = kernel.state()
    with pytest.raises(NoMonitorSupport) as caught:
        radio(kernel).open()
    assert str(caught.value) == (
        "wlan1 (phy0, driver mt76x2u): the driver does not support monitor mode (it supports ap, station); "
        "use an adapter whose `iw phy phy0 info` lists monitor under 'Supported interface modes'")
    assert kernel.state() == before
    assert not any(c[0] in ("add_monitor", "set_iftype", "set_link_up") for c in kernel.calls)


def test_driver_refusing_both_ways_names_both_reasons_and_changes_nothing(kernel):
    kernel.add("wlan1", up=True)
    kernel.errors[("add_monitor",)] = errno.EOPNOTSUPP
    kernel.errors[("set_iftype",)] = errno.EOPNOTSUPP
    before = kernel.state()
    with pytest.raises(NoMonitorSupport) as caught:
        radio(kernel).open()
    message = str(caught.value)
    assert message.startswith("wlan1 (phy0, driver mt76x2u): the driver refused monitor mode (creating etm0 failed: ")
    assert "switching wlan1 to monitor failed: " in message
    assert "nmcli device set wlan1 managed no" in message
    assert "\n" not in message
    assert kernel.state() == before   # wlan1 is up again, in station mode


@pytest.mark.parametrize("code", [errno.EPERM, errno.EACCES])
@pytest.mark.parametrize("failing", [("add_monitor",), ("set_link_up",), ("set_iftype",)])
def test_permission_denied_names_cap_net_admin_and_rolls_back(kernel, code, failing):
    kernel.add("wlan1", up=True)
    if failing == ("set_iftype",):
        kernel.errors[("add_monitor",)] = errno.EOPNOTSUPP
    kernel.errors[failing] = code
    before = kernel.state()
    with pytest.raises(MissingCapability, match="permission denied; the sensor needs CAP_NET_ADMIN") as caught:
        radio(kernel).open()
    assert caught.value.permanent is True
    assert kernel.state() == before


def test_adapter_unplugged_during_setup_is_transient(kernel):
    kernel.add("wlan1", up=True)
    kernel.errors[("add_monitor",)] = errno.ENODEV
    with pytest.raises(InterfaceMissing, match=r"^wlan1: the interface disappeared while creating monitor"):
        radio(kernel).open()


def test_rfkill_says_how_to_unblock(kernel):
    kernel.add("wlan1", up=False)
    kernel.errors[("set_link_up", 11)] = errno.ERFKILL
    with pytest.raises(RadioError, match=r"blocked by rfkill.*rfkill unblock wifi") as caught:
        radio(kernel).open()
    assert caught.value.permanent is False
    assert "etm0" not in kernel.state()


@pytest.mark.parametrize("name, problem", [
    ("wlan-with-a-long-name", "at most 15 bytes"),
    ("", "cannot be empty"),
    ("wlan 1", "whitespace"),
])
def test_impossible_interface_names_are_refused_before_asking_the_kernel(kernel, name, problem):
    with pytest.raises(RadioError, match=problem) as caught:
        radio(kernel, interface=name).open()
    assert caught.value.permanent is True
    assert kernel.calls == []


def test_interface_name_problem_accepts_ordinary_names():
    assert interface_name_problem("wlx00c0ca123456") is None
    assert interface_name_problem("wlx00c0ca1234567") is not None


# -- tune -----------------------------------------------------------------------------------


@pytest.fixture
def opened(kernel):
    kernel.add("wlan1", up=True)
    r = radio(kernel)
    r.open()
    kernel.calls.clear()
    return r


def test_tune_sets_a_20_mhz_ht_channel_on_the_monitor_interface(kernel, opened):
    opened.tune(2437)
    assert kernel.calls == [("set_frequency", 11, 2437, NL80211_CHAN_WIDTH_20)]
    assert opened.frequency == 2437


def test_where_ht20_is_refused_non_ht_is_used_and_remembered(kernel, opened):
    kernel.errors[("set_frequency",)] = errno.EINVAL
    with pytest.raises(TuneFailed, match=r"^phy0 refused 2484 MHz \(Invalid argument\)"):
        opened.tune(2484)
    assert [c[3] for c in kernel.calls] == [NL80211_CHAN_WIDTH_20, NL80211_CHAN_WIDTH_20_NOHT]
    del kernel.errors[("set_frequency",)]
    kernel.calls.clear()

    def refuse_ht(ifindex, freq, width):
        kernel.calls.append(("set_frequency", ifindex, freq, width))
        if width == NL80211_CHAN_WIDTH_20:
            raise OSError(errno.EINVAL, "Invalid argument")

    kernel.set_frequency = refuse_ht
    opened.tune(2484)
    opened.tune(2484)
    assert [c[3] for c in kernel.calls] == [NL80211_CHAN_WIDTH_20, NL80211_CHAN_WIDTH_20_NOHT,
                                            NL80211_CHAN_WIDTH_20_NOHT]
    assert opened.frequency == 2484


def test_a_frequency_the_phy_does_not_offer_is_refused_without_asking(kernel, opened):
    with pytest.raises(TuneFailed) as caught:
        opened.tune(5260)
    assert str(caught.value) == (
        "phy0 cannot tune to 5260 MHz: not an enabled channel of this adapter in the current "
        "regulatory domain (`iw phy phy0 channels` lists them)")
    assert caught.value.permanent is False
    assert kernel.calls == []


def test_only_20_mhz_channels_are_tuned(kernel, opened):
    with pytest.raises(TuneFailed, match="40 MHz channels are not supported"):
        opened.tune(5180, 40)


@pytest.mark.parametrize("code, error, text", [
    (errno.EBUSY, RadioError, "phy0 refused 2412 MHz: device busy"),
    (errno.EIO, TuneFailed, "phy0 refused 2412 MHz (Input/output error); the channel plan skips it"),
    (errno.ENODEV, InterfaceMissing, "etm0: the monitor interface disappeared"),
    (errno.ENETDOWN, InterfaceDown, "etm0: the interface is down"),
    (errno.EPERM, MissingCapability, "tuning etm0 to 2412 MHz: permission denied; the sensor needs CAP_NET_ADMIN"),
])
def test_tune_errors_are_mapped(kernel, opened, code, error, text):
    kernel.errors[("set_frequency",)] = code
    with pytest.raises(error) as caught:
        opened.tune(2412)
    assert str(caught.value).startswith(text)
    assert type(caught.value) is error and caught.value.permanent is (error is MissingCapability)
    assert opened.frequency is None


def test_tune_before_open_is_a_programming_error(kernel):
    with pytest.raises(RuntimeError):
        radio(kernel).tune(2412)


# -- close never raises ---------------------------------------------------------------------


def test_close_carries_on_past_failures_and_reports_them(kernel, opened):
    kernel.errors[("del_interface",)] = errno.EBUSY
    kernel.close = lambda: (_ for _ in ()).throw(RuntimeError("socket trouble"))
    opened.close()
    assert opened.restore_problems == ["delete etm0: Device or resource busy"]
    assert kernel.state()["wlan1"][1]["up"] is True   # the next step still ran
    opened.close()   # idempotent


def test_close_after_the_adapter_vanished_is_quiet(kernel, opened):
    kernel.links.clear()
    kernel.wifs.clear()
    opened.close()
    assert opened.restore_problems == []


def test_close_survives_unexpected_exceptions(kernel, opened):
    kernel.errors[("del_interface",)] = ValueError("bug")
    opened.close()
    assert opened.restore_problems == ["delete etm0: bug"]


def test_after_an_unplug_the_radio_reopens_on_the_new_interface(kernel, opened):
    kernel.links.clear()
    kernel.wifs.clear()
    with pytest.raises(InterfaceMissing):
        opened.tune(2412)
    opened.close()
    with pytest.raises(InterfaceMissing):
        opened.open()
    kernel.add("wlan1", up=True)   # plugged back in: new index
    info = opened.open()
    assert info.capture_interface == "etm0"
    opened.tune(2412)
    assert kernel.calls[-1][1] == kernel.state()["etm0"][0]


# -- the error contract and the factory -----------------------------------------------------


def test_permanent_flags_follow_what_waiting_can_fix():
    assert [cls("x").permanent for cls in (InterfaceMissing, InterfaceDown, TuneFailed)] == [False] * 3
    assert [cls("x").permanent for cls in (NotWireless, NoMonitorSupport, MissingCapability, InterfaceConflict)] \
        == [True] * 4
    assert RadioError("x", permanent=True).permanent is True
    assert InterfaceMissing("x", permanent=True).permanent is True
    assert InterfaceMissing("y").permanent is False


def test_make_radio_picks_the_driver():
    assert isinstance(make_radio(RadioSettings("nl80211", "wlan1")), Nl80211Radio)
    assert isinstance(make_radio(RadioSettings("simulated", "mon0")), SimulatedRadio)
    with pytest.raises(ValueError, match="unknown radio driver 'madwifi' \\(valid: nl80211, simulated\\)"):
        make_radio(RadioSettings("madwifi", "wlan1"))


def test_settings_defaults():
    s = RadioSettings("nl80211", "wlan1")
    assert (s.monitor_interface, s.control_socket, s.retry_initial_s, s.retry_max_s) == ("etm0", None, 1.0, 30.0)


# -- PyrouteBackend: messages as the kernel writes and reads them ---------------------------


def nla(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("<HH", size, kind) + payload + b"\0" * (-size % 4)


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def nl80211_message(cmd: int, attrs: bytes):
    from pyroute2.netlink.nl80211 import nl80211cmd

    body = struct.pack("BBH", cmd, 1, 0) + attrs
    msg = nl80211cmd(struct.pack("<IHHII", 16 + len(body), 30, 2, 1, 0) + body)
    msg.decode()
    return msg


def channel(freq: int, disabled: bool = False) -> bytes:
    return nla(0, nla(1, u32(freq)) + (nla(2, b"") if disabled else b""))


class FakeIW:
    prid = 30

    def __init__(self, replies=(), error: int | None = None):
        self.replies = replies
        self.error = error
        self.requests = []

    def nlm_request(self, msg, msg_type, msg_flags):
        msg.encode()
        self.requests.append((msg, msg_type, msg_flags))
        if self.error:
            from pyroute2.netlink.exceptions import NetlinkError

            raise NetlinkError(self.error)
        return tuple(self.replies)

    def get_interfaces_dump(self):
        return iter(self.replies)


def test_a_split_wiphy_dump_is_merged_into_one_phy():
    # The kernel's layout: bands are nested attributes whose type is the band
    # index (0 = 2.4 GHz), channels nested likewise; a split dump spreads them out.
    first = nl80211_message(3, nla(1, u32(1)) + nla(2, b"phy1\0") + nla(32, nla(2, b"") + nla(6, b"")))
    second = nl80211_message(3, nla(1, u32(1)) + nla(22, nla(0, nla(1, channel(2412) + channel(2484, True)))))
    third = nl80211_message(3, nla(1, u32(1)) + nla(22, nla(1, nla(1, channel(5180) + channel(5500)))))
    backend = PyrouteBackend()
    backend._iw = FakeIW([first, second, third])
    phy = backend.phy(1)
    assert phy == Phy(1, "phy1", frozenset({"station", "monitor"}), frozenset({2412, 5180, 5500}))
    request, msg_type, flags = backend._iw.requests[0]
    from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST

    assert flags == NLM_F_REQUEST | NLM_F_DUMP and msg_type == 30
    assert request["cmd"] == 1   # NL80211_CMD_GET_WIPHY
    assert nla(174, b"") in request.data   # NL80211_ATTR_SPLIT_WIPHY_DUMP, a flag
    assert nla(1, u32(1)) in request.data  # filtered to this wiphy


def test_set_frequency_sends_set_wiphy_with_freq_width_and_centre():
    backend = PyrouteBackend()
    backend._iw = FakeIW()
    backend.set_frequency(7, 5180, NL80211_CHAN_WIDTH_20)
    request, _, flags = backend._iw.requests[0]
    assert request["cmd"] == 2   # NL80211_CMD_SET_WIPHY
    for attr in (nla(3, u32(7)), nla(38, u32(5180)), nla(159, u32(NL80211_CHAN_WIDTH_20)), nla(160, u32(5180))):
        assert attr in request.data


def test_kernel_errors_become_oserrors_and_then_radio_errors():
    backend = PyrouteBackend()
    backend._iw = FakeIW(error=errno.EPERM)
    with pytest.raises(OSError) as caught:
        backend.set_frequency(7, 2412, NL80211_CHAN_WIDTH_20)
    assert caught.value.errno == errno.EPERM


def test_wireless_interfaces_skip_devices_without_a_netdev():
    wlan = nl80211_message(7, nla(3, u32(4)) + nla(4, b"wlan1\0") + nla(1, u32(0)) + nla(5, u32(STATION)))
    p2p = nl80211_message(7, nla(1, u32(0)) + nla(5, u32(10)))
    backend = PyrouteBackend()
    backend._iw = FakeIW([wlan, p2p])
    assert backend.wireless_interfaces() == [WirelessInterface(4, "wlan1", 0, STATION)]


# -- the real kernel, without an adapter ----------------------------------------------------


def test_real_kernel_missing_interface():
    r = make_radio(RadioSettings("nl80211", "etm-absent0"))
    with pytest.raises(InterfaceMissing, match=r"^etm-absent0: no such network interface"):
        r.open()
    r.close()


def test_real_kernel_loopback_is_not_wireless():
    r = make_radio(RadioSettings("nl80211", "lo"))
    with pytest.raises(NotWireless) as caught:
        r.open()
    message = str(caught.value)
    assert message.startswith("lo: not a wireless interface (link type loopback)")
    assert "\n" not in message
    r.close()


@needs_root
def test_real_kernel_veth_is_not_wireless_and_is_left_alone(netns):
    result = netns.python("""
import json, subprocess
from evil_twin_monitor.radio import RadioSettings, RadioError, make_radio
subprocess.run(["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"], check=True)
subprocess.run(["ip", "link", "set", "veth0", "up"], check=True)
before = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
r = make_radio(RadioSettings("nl80211", "veth0"))
try:
    r.open(); out = {"error": None}
except RadioError as exc:
    out = {"error": type(exc).__name__, "message": str(exc), "permanent": exc.permanent}
r.close()
out["unchanged"] = before == subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
print(json.dumps(out))
""")
    assert result["error"] == "NotWireless"
    assert result["message"].startswith("veth0: not a wireless interface (link type ether)")
    assert result["permanent"] is True
    assert result["unchanged"] is True


def test_close_takes_the_monitor_interface_down_before_the_adapter_comes_back_up(kernel, opened):
    # Drivers that run one interface at a time refuse wlan1 up while etm0 is up.
    kernel.calls.clear()
    opened.close()
    assert kernel.calls == [("set_link_up", 11, False), ("set_link_up", 10, True),
                            ("del_interface", 11)]
    assert opened.restore_problems == []
