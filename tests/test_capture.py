"""Live capture: the kernel filter passes exactly the frames the rules read,
and a vanished interface is reported as lost, not as a crash."""

from __future__ import annotations

import pytest

from evil_twin_monitor.capture import filter_expression
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry.model import build_registry
from netns import needs_root


def test_filter_is_the_management_type_when_every_subtype_is_read():
    assert filter_expression(Engine(build_registry([])).kinds) == "type mgt"


def test_filter_lists_the_subtypes_of_the_enabled_rules_only():
    assert filter_expression({"beacon", "probe_resp"}) == "wlan[0] == 0x50 or wlan[0] == 0x80"
    assert filter_expression({"deauth", "disassoc", "not-a-kind"}) == "wlan[0] == 0xa0 or wlan[0] == 0xc0"


def test_no_management_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="nothing to capture"):
        filter_expression({"data"})


PRELUDE = """
import json, time
from evil_twin_monitor.capture import LiveCapture, CaptureLost, CaptureError
from evil_twin_monitor.simulation.tap import SimulatedMonitor
RT = bytes([0, 0, 8, 0, 0, 0, 0, 0])
def frame(fc0, body=b""):
    return RT + bytes([fc0, 0, 0, 0]) + b"\\xff" * 6 + b"\\x02" * 12 + b"\\x00\\x00" + body
FIXED = b"\\x00" * 8 + b"\\x64\\x00\\x01\\x00" + b"\\x00\\x03abc"
"""


@needs_root
def test_kernel_filter_passes_only_wanted_subtypes_with_receive_times(netns):
    result = netns.python(PRELUDE + """
mon = SimulatedMonitor("mon0"); mon.create()
cap = LiveCapture("mon0", {"beacon", "deauth"}, 4 << 20)
before = time.time_ns()
for fc0, body in [(0x08, b""), (0x80, FIXED), (0x50, FIXED), (0xc0, b"\\x07\\x00"), (0x40, b""), (0x80, FIXED)]:
    mon.write(frame(fc0, body))
time.sleep(0.2)
got = cap.read(100)
print(json.dumps({"fc": [d[8] for _, d in got], "ts_ok": all(before <= t <= time.time_ns() for t, _ in got),
                  "stats": cap.kernel_stats(), "linktype": cap.linktype, "buffer": cap.buffer_bytes}))
""")
    assert result["fc"] == [0x80, 0xC0, 0x80]
    assert result["ts_ok"]
    assert result["stats"] == [3, 0]
    assert result["linktype"] == 127
    assert result["buffer"] == 4 << 20


@needs_root
def test_deleted_interface_is_reported_lost_and_a_missing_one_too(netns):
    result = netns.python(PRELUDE + """
mon = SimulatedMonitor("mon0"); mon.create()
cap = LiveCapture("mon0", {"beacon"}, 1 << 20)
mon.delete()
out = {}
try:
    cap.read(10); out["after_delete"] = "nothing raised"
except CaptureLost as exc:
    out["after_delete"] = str(exc)
try:
    LiveCapture("mon0", {"beacon"}, 1 << 20); out["open_missing"] = "opened"
except CaptureLost as exc:
    out["open_missing"] = str(exc)
print(json.dumps(out))
""")
    assert result["after_delete"] == "mon0: Network is down"
    assert result["open_missing"].startswith("mon0: ")


@needs_root
def test_an_ethernet_interface_is_not_a_monitor_interface(netns):
    netns.exec(["ip", "link", "add", "eth9", "type", "veth", "peer", "name", "eth8"], check=True)
    netns.exec(["ip", "link", "set", "eth9", "up"], check=True)
    result = netns.python(PRELUDE + """
try:
    LiveCapture("eth9", {"beacon"}, 1 << 20); print(json.dumps("opened"))
except CaptureError as exc:
    print(json.dumps([str(exc), exc.permanent]))
""")
    assert result == ["eth9: link type ether, not a monitor interface; a monitor interface shows "
                      "link/ieee802.11/radiotap in `ip link`", True]
