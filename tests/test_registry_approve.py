"""`registry approve`: what an alert found goes into the registry, the operator's
file keeps every comment and layout choice, and attacks are never approved."""

from __future__ import annotations

import difflib
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evil_twin_monitor.cli import main
from evil_twin_monitor.decoding.text import printable_ssid
from evil_twin_monitor.engine import Alert
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.registry import command as command_module
from evil_twin_monitor.registry.approve import (
    REFUSALS, ApproveError, NewAccessPoint, check_edit, edit_text,
)
from evil_twin_monitor.store.db import AlertStore, alert_row

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_REGISTRY = ROOT / "fixtures" / "registry.yaml"
UNKNOWN_AP_PCAP = ROOT / "fixtures" / "pcaps" / "evil_twin_unknown_bssid.pcap"
T0 = 1_775_034_000 * 10**9  # 2026-04-01T09:00:00Z
FREE = b"Shinjuku_Free_Wi-Fi"
WPA2 = {"security": ["wpa2-psk"], "pmf": "optional"}
FP_OLD = "beacon:v1:0fa93bc7ba3f697e"
FP_NEW = "beacon:v1:9a565bf1c670c627"

# An operator's file: comments everywhere, blank lines, keys in the operator's
# order, three quoting styles, a flow list without spaces, block lists.
COMMENTED = """\
# Shinjuku ward registry, maintained by hand. One facility per block.
facilities:

  - id: city-hall                 # used in alerts and metric labels
    name: '新宿区役所 本庁舎'
    networks:
      # The public network.
      - ssid: "Shinjuku_Free_Wi-Fi"
        pmf: optional             # key order as the operator likes it
        security: [wpa2-psk]
        access_points:
          - label: "3F lobby"
            bssid: '00:1a:2b:3c:4d:50'
            channels: [1,6,11]    # no spaces, on purpose
            beacon_interval: 100
            notes: "ceiling mount"

          - bssid: "00:1a:2b:3c:4d:60"
            channels:
              - 36
              - 44
            fingerprints:
              - "beacon:v1:0fa93bc7ba3f697e"   # from the survey
            # replaced 2026-03: same model
      # Staff network below.
      - ssid: Shinjuku_Staff
        security: [wpa2-eap]
        access_points:
          - bssid: "00:1a:2b:3c:4d:70"
            channels: [1]
"""


def make_alert(rule: str, bssid: str, *, freq: int | None = 2437, ssid: bytes | None = FREE,
               facility: str | None = "city-hall", evidence: dict | None = None,
               start_s: float = 0, end_s: float = 20) -> Alert:
    return Alert(rule=rule, severity="high", facility=facility, sensor="s1", ssid=ssid,
                 bssid=bytes.fromhex(bssid.replace(":", "")), frequency_mhz=freq,
                 message=f"test {rule}", evidence=dict(evidence or {}),
                 time_ns=T0 + int(start_s * 1e9), first_frame=1,
                 last_ns=T0 + int(end_s * 1e9), last_frame=2, repeats=1, closed=True)


def unknown(bssid: str = "02:5e:1f:a0:0c:01", *, observed: dict | None = None, **kw) -> Alert:
    evidence = {"observed": observed or WPA2, "weaker_security": False}
    return make_alert("unknown_bssid", bssid, evidence=evidence, **kw)


def off_channel(bssid: str, freq: int, **kw) -> Alert:
    return make_alert("unexpected_channel", bssid, freq=freq,
                      evidence={"observed_frequency_mhz": freq, "channel_source": "element"}, **kw)


def new_fingerprint(bssid: str, fingerprint: str = FP_NEW, **kw) -> Alert:
    return make_alert("fingerprint_mismatch", bssid, evidence={
        "frame_kind": "beacon", "expected_fingerprints": [FP_OLD], "expected_source": "learned",
        "observed_fingerprint": fingerprint}, **kw)


def store_with(path: Path, *alerts: Alert) -> Path:
    """A store holding ``alerts`` with ids 1, 2, ... in this order."""
    store = AlertStore.open_writer(path)
    try:
        for alert in alerts:
            store.upsert([alert_row(alert)])
    finally:
        store.close()
    return path


@pytest.fixture
def site(tmp_path):
    """A commented one-file registry and a store path next to it."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(COMMENTED, encoding="utf-8")
    return tmp_path


def approve(site: Path, *argv: str, capsys) -> tuple[int, str, str]:
    code = main(["registry", "approve", "--store", str(site / "alerts.sqlite3"),
                 "--registry", str(site / "registry.yaml"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# -- the three approvable rules -----------------------------------------------------------------

def test_a_new_access_point_goes_after_the_last_one_of_its_network(site, capsys):
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "1", "--label", "4F meeting room", capsys=capsys)
    assert (code, err) == (0, "")
    expected = replaced(COMMENTED, "            # replaced 2026-03: same model\n",
                        "            # replaced 2026-03: same model\n"
                        '          - bssid: "02:5e:1f:a0:0c:01"\n'
                        '            label: "4F meeting room"\n'
                        "            channels: [6]\n")
    assert (site / "registry.yaml").read_text(encoding="utf-8") == expected
    assert (site / "registry.yaml.bak").read_text(encoding="utf-8") == COMMENTED
    ap = load_registry(site / "registry.yaml").ap_for_bssid(bytes.fromhex("025e1fa00c01"))
    assert (ap.network.ssid, ap.facility.id, ap.label) == (FREE, "city-hall", "4F meeting room")
    lines = out.splitlines()
    assert lines[0].startswith("alert 1 (unknown_bssid) approved: added access point "
                               "02:5e:1f:a0:0c:01 (channel 6, label \"4F meeting room\")")
    assert lines[-1] == command_module.NEXT_STEP
    assert "systemctl reload evil-twin-monitor" in lines[-1]


@pytest.mark.parametrize("bssid, freq, old, new", [
    # a flow list: the operator's separator, sorted place, the comment kept
    ("00:1a:2b:3c:4d:50", 2422, "            channels: [1,6,11]    # no spaces, on purpose\n",
     "            channels: [1,3,6,11]    # no spaces, on purpose\n"),
    # a block list: a new line at its sorted place
    ("00:1a:2b:3c:4d:60", 5200, "              - 36\n", "              - 36\n              - 40\n"),
    # 6 GHz has no channel numbers of its own: a frequencies list after channels
    ("00:1a:2b:3c:4d:50", 5955, "            channels: [1,6,11]    # no spaces, on purpose\n",
     "            channels: [1,6,11]    # no spaces, on purpose\n"
     "            frequencies: [5955]\n"),
])
def test_a_new_channel_is_added_to_the_access_point(site, capsys, bssid, freq, old, new):
    store_with(site / "alerts.sqlite3", off_channel(bssid, freq))
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, err) == (0, "")
    assert (site / "registry.yaml").read_text(encoding="utf-8") == replaced(COMMENTED, old, new)
    ap = load_registry(site / "registry.yaml").ap_for_bssid(bytes.fromhex(bssid.replace(":", "")))
    assert freq in ap.frequencies


@pytest.mark.parametrize("bssid, old, new", [
    # no fingerprints yet: the key goes where the schema puts it (before notes)
    ("00:1a:2b:3c:4d:50", "            beacon_interval: 100\n",
     "            beacon_interval: 100\n"
     f'            fingerprints: ["{FP_NEW}"]\n'),
    # a block list: appended after the last item and its comment
    ("00:1a:2b:3c:4d:60", f'              - "{FP_OLD}"   # from the survey\n',
     f'              - "{FP_OLD}"   # from the survey\n'
     f'              - "{FP_NEW}"\n'),
])
def test_a_new_fingerprint_is_added_to_the_access_point(site, capsys, bssid, old, new):
    store_with(site / "alerts.sqlite3", new_fingerprint(bssid))
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, err) == (0, "")
    assert (site / "registry.yaml").read_text(encoding="utf-8") == replaced(COMMENTED, old, new)
    ap = load_registry(site / "registry.yaml").ap_for_bssid(bytes.fromhex(bssid.replace(":", "")))
    assert ap.fingerprints[-1] == FP_NEW
    pins = bssid.endswith("50")  # the first beacon fingerprint of the entry: learning stops
    assert ("no longer learns" in out) == pins


def test_crlf_line_ends_and_a_missing_final_newline_are_kept(site, capsys):
    text = COMMENTED.replace("\n", "\r\n").rstrip("\r\n")
    (site / "registry.yaml").write_bytes(text.encode())
    store_with(site / "alerts.sqlite3", unknown("02:5e:1f:a0:0c:09", ssid=b"Shinjuku_Staff",
                                                observed={"security": ["wpa2-eap"],
                                                          "pmf": "optional"}))
    assert approve(site, "1", capsys=capsys)[0] == 0
    expected = text + '\r\n          - bssid: "02:5e:1f:a0:0c:09"\r\n            channels: [6]'
    assert (site / "registry.yaml").read_bytes().decode() == expected


# -- directory registries, idempotence, dry run, --bssid ------------------------------------

def test_in_a_directory_registry_only_the_facility_file_changes(tmp_path, capsys):
    directory = tmp_path / "registry"
    directory.mkdir()
    library = ("# the library\nfacilities:\n  - id: central-library\n    networks:\n"
               "      - ssid: Shinjuku_Free_Wi-Fi\n        security: [wpa2-psk]\n"
               "        access_points:\n          - bssid: \"00:1a:2b:3c:5d:10\"\n"
               "            channels: [1, 6, 11]   # reading room\n\n# end\n")
    (directory / "city-hall.yaml").write_text(COMMENTED, encoding="utf-8")
    (directory / "library.yaml").write_text(library, encoding="utf-8")
    store_with(tmp_path / "alerts.sqlite3", unknown(facility="central-library", freq=2412))
    code = main(["registry", "approve", "1", "--store", str(tmp_path / "alerts.sqlite3"),
                 "--registry", str(directory)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert (directory / "city-hall.yaml").read_text(encoding="utf-8") == COMMENTED
    assert (directory / "library.yaml").read_text(encoding="utf-8") == replaced(
        library, "# reading room\n", '# reading room\n          - bssid: "02:5e:1f:a0:0c:01"\n'
                                     "            channels: [1]\n")
    assert sorted(p.name for p in directory.iterdir()) == [
        "city-hall.yaml", "library.yaml", "library.yaml.bak"]
    assert f"written to {directory / 'library.yaml'}" in out


def test_approving_the_same_alert_twice_changes_nothing_the_second_time(site, capsys):
    store_with(site / "alerts.sqlite3", unknown(), off_channel("00:1a:2b:3c:4d:50", 2422),
               new_fingerprint("00:1a:2b:3c:4d:60"))
    for alert_id in ("1", "2", "3"):
        assert approve(site, alert_id, capsys=capsys)[0] == 0
    approved = (site / "registry.yaml").read_bytes()
    backup = (site / "registry.yaml.bak").read_bytes()
    for alert_id, what in (("1", "already registered"), ("2", "channel 3 is already allowed"),
                           ("3", f"fingerprint {FP_NEW} is already registered")):
        code, out, err = approve(site, alert_id, capsys=capsys)
        assert (code, err) == (0, "")
        assert what in out and out.rstrip().endswith("nothing to change")
        assert out.count("\n") == 1
    assert (site / "registry.yaml").read_bytes() == approved
    assert (site / "registry.yaml.bak").read_bytes() == backup


def test_dry_run_prints_a_unified_diff_and_writes_nothing(site, capsys):
    store_with(site / "alerts.sqlite3", off_channel("00:1a:2b:3c:4d:50", 2422))
    code, out, err = approve(site, "1", "--dry-run", capsys=capsys)
    assert code == 0
    path = site / "registry.yaml"
    assert out.splitlines()[:2] == [f"--- {path}", f"+++ {path} (approved)"]
    assert [l for l in out.splitlines() if l[:1] in "+-" and l[:3] not in ("---", "+++")] == [
        "-            channels: [1,6,11]    # no spaces, on purpose",
        "+            channels: [1,3,6,11]    # no spaces, on purpose"]
    assert err.startswith("dry run: alert 1 would add channel 3") and err.endswith("nothing written\n")
    assert path.read_text(encoding="utf-8") == COMMENTED
    assert not (site / "registry.yaml.bak").exists()


def test_bssid_approves_the_newest_alert_about_it(site, capsys):
    store_with(site / "alerts.sqlite3",
               off_channel("00:1a:2b:3c:4d:50", 2422, start_s=0, end_s=10),
               off_channel("00:1a:2b:3c:4d:50", 2442, start_s=600, end_s=700),  # newest: ch 7
               off_channel("00:1a:2b:3c:4d:60", 5200, start_s=900, end_s=950))
    code, out, err = approve(site, "--bssid", "00:1A:2B:3C:4D:50", capsys=capsys)
    assert (code, err) == (0, "")
    assert out.startswith("alert 2 (unexpected_channel) approved: added channel 7 ")
    assert "channels: [1,6,7,11]" in (site / "registry.yaml").read_text(encoding="utf-8")
    code, out, err = approve(site, "--bssid", "02:00:00:00:00:99", capsys=capsys)
    assert code == 2 and err.count("\n") == 1
    assert "no stored alert about 02:00:00:00:00:99" in err


def test_the_config_names_store_registry_and_facility(tmp_path, capsys):
    (tmp_path / "registry.yaml").write_text(COMMENTED, encoding="utf-8")
    (tmp_path / "sensor.yaml").write_text(
        "sensor: {id: s1, facility: city-hall}\nregistry: registry.yaml\n"
        "store: {path: alerts.sqlite3}\n")
    store_with(tmp_path / "alerts.sqlite3", unknown(facility=None))  # a replay without --facility
    code = main(["registry", "approve", "1", "--config", str(tmp_path / "sensor.yaml")])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    ap = load_registry(tmp_path / "registry.yaml").ap_for_bssid(bytes.fromhex("025e1fa00c01"))
    assert ap.facility.id == "city-hall"


def test_an_alert_without_facility_needs_one_when_the_ssid_is_in_several(tmp_path, capsys):
    registry = tmp_path / "registry.yaml"
    registry.write_bytes(FIXTURE_REGISTRY.read_bytes())
    store_with(tmp_path / "alerts.sqlite3", unknown(facility=None))
    argv = ["registry", "approve", "1", "--store", str(tmp_path / "alerts.sqlite3"),
            "--registry", str(registry)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--facility ID (one of: central-library, city-hall)" in err
    assert main([*argv, "--facility", "central-library"]) == 0
    ap = load_registry(registry).ap_for_bssid(bytes.fromhex("025e1fa00c01"))
    assert ap.facility.id == "central-library"


# -- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", sorted(REFUSALS))
def test_alerts_of_other_rules_are_refused_with_the_reason(site, capsys, rule):
    store_with(site / "alerts.sqlite3", make_alert(rule, "00:1a:2b:3c:4d:50"))
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == (f"evil-twin-monitor: error: alert 1 is a {rule} alert, which cannot be "
                   f"approved: {REFUSALS[rule]}\n")
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED
    assert not (site / "registry.yaml.bak").exists()


@pytest.mark.parametrize("alert, reason", [
    (unknown(observed={"security": ["open"], "pmf": "disabled"}) , "offers weaker security"),
    (unknown(observed={"security": ["wpa3-sae"], "pmf": "required"}),
     "advertises WPA3-Personal (PMF required) but the city network \"Shinjuku_Free_Wi-Fi\" uses "
     "WPA2-Personal with PMF optional"),
    (unknown(observed={"security": ["wpa2-psk"], "pmf": "disabled"}), "(PMF disabled)"),
])
def test_a_new_access_point_that_looks_like_a_twin_is_refused(site, capsys, alert, reason):
    if "weaker" in reason:
        alert.evidence["weaker_security"] = True
    store_with(site / "alerts.sqlite3", alert)
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and reason in err
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED


def channel_switch(bssid: str, element: str, target: int, heard: int = 2412, **kw) -> Alert:
    """An unexpected_channel alert as the rule raises it for a CSA/ECSA to an
    unregistered channel: the alert's frequency is where the AP was heard."""
    channel = {2472: 13, 5200: 40}[target]
    return make_alert("unexpected_channel", bssid, freq=heard, evidence={
        "ssid": "Shinjuku_Free_Wi-Fi", "bssid": bssid, "element": element,
        "announced_channel": channel, "announced_frequency_mhz": target,
        "op_class": 81 if element == "ecsa" and target < 3000 else None, "mode": 1, "count": 3,
        "allowed_channels": [1, 6, 11], "allowed_frequencies_mhz": [2412, 2437, 2462],
        "observed_channel": 1, "heard_frequency_mhz": heard, "frame_kind": "beacon",
        "transmitter": bssid}, **kw)


@pytest.mark.parametrize("element, target, shown", [
    ("csa", 2472, "channel 13"), ("ecsa", 2472, "channel 13"), ("csa", 5200, "channel 40")])
def test_a_channel_announced_in_a_channel_switch_is_never_approved(site, capsys, element, target,
                                                                    shown):
    # No cloned_bssid next to it: the forged announcement alone must not register the channel.
    store_with(site / "alerts.sqlite3", channel_switch("00:1a:2b:3c:4d:50", element, target))
    for argv in (["1"], ["1", "--dry-run"], ["--bssid", "00:1a:2b:3c:4d:50"]):
        code, out, err = approve(site, *argv, capsys=capsys)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert err.startswith(f"evil-twin-monitor: error: alert 1 cannot be approved: it reports "
                              f"a channel-switch announcement to {shown}, and a forged channel "
                              "switch is an attack")
        assert "approve the ordinary unexpected_channel alert" in err
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED
    assert not (site / "registry.yaml.bak").exists()


def test_after_a_refused_switch_the_channel_the_ap_operates_on_is_approvable(site, capsys):
    """The way out the refusal names: the ordinary alert of the AP heard on the new channel."""
    store_with(site / "alerts.sqlite3", channel_switch("00:1a:2b:3c:4d:50", "csa", 2472),
               off_channel("00:1a:2b:3c:4d:50", 2472, start_s=900, end_s=960))
    assert approve(site, "1", capsys=capsys)[0] == 2
    code, out, err = approve(site, "2", capsys=capsys)
    assert (code, err) == (0, "")
    assert "channels: [1,6,11,13]" in (site / "registry.yaml").read_text(encoding="utf-8")


def test_an_attack_alert_about_the_same_bssid_at_the_same_time_blocks_approval(site, capsys):
    store_with(site / "alerts.sqlite3",
               new_fingerprint("00:1a:2b:3c:4d:50", start_s=11, end_s=30),
               make_alert("cloned_bssid", "00:1a:2b:3c:4d:50", start_s=12, end_s=30),
               new_fingerprint("00:1a:2b:3c:4d:60", start_s=11, end_s=30),
               make_alert("cloned_bssid", "00:1a:2b:3c:4d:60", start_s=-7200, end_s=-3600))
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert "alert 2 (cloned_bssid) about the same BSSID was raised at the same time" in err
    # a clone seen an hour earlier says nothing about this fingerprint
    assert approve(site, "3", capsys=capsys)[0] == 0


def test_a_prefix_entry_without_fingerprints_is_not_pinned_to_one_bssid(tmp_path, capsys):
    registry = tmp_path / "registry.yaml"
    registry.write_bytes(FIXTURE_REGISTRY.read_bytes())
    store_with(tmp_path / "alerts.sqlite3", new_fingerprint("00:1a:2b:3c:4e:05"))
    assert main(["registry", "approve", "1", "--store", str(tmp_path / "alerts.sqlite3"),
                 "--registry", str(registry)]) == 2
    err = capsys.readouterr().err
    assert "is a prefix entry for several BSSIDs" in err and err.count("\n") == 1
    assert registry.read_bytes() == FIXTURE_REGISTRY.read_bytes()


def test_a_list_shared_through_an_anchor_is_left_to_the_operator(tmp_path, capsys):
    registry = tmp_path / "registry.yaml"
    registry.write_text(replaced(COMMENTED, "channels: [1,6,11]    # no spaces, on purpose",
                                 "channels: &common [1,6,11]")
                        .replace("channels: [1]\n", "channels: *common\n"), encoding="utf-8")
    before = registry.read_bytes()
    store_with(tmp_path / "alerts.sqlite3", off_channel("00:1a:2b:3c:4d:50", 2422))
    assert main(["registry", "approve", "1", "--store", str(tmp_path / "alerts.sqlite3"),
                 "--registry", str(registry)]) == 2
    err = capsys.readouterr().err
    assert "shared with other entries through a YAML anchor; edit it by hand" in err
    assert registry.read_bytes() == before


# -- errors: exit 2, one line, nothing written --------------------------------------------------

def test_a_missing_store_or_unknown_alert_is_one_line(site, capsys):
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: {site / 'alerts.sqlite3'}: no alert store here (no such file)\n"
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "7", capsys=capsys)
    assert err == f"evil-twin-monitor: error: {site / 'alerts.sqlite3'}: no alert with id 7\n"
    for argv, message in ((["0"], "alert id '0': expected a positive whole number"),
                          ([], "needs ALERT_ID or --bssid BSSID"),
                          (["1", "--bssid", "00:1a:2b:3c:4d:50"], "needs ALERT_ID or --bssid"),
                          (["--bssid", "00:1a:2b"], "--bssid '00:1a:2b': not a BSSID"),
                          (["1", "--facility", "central-library"],
                           "--facility central-library: alert 1 was raised in facility city-hall")):
        code, out, err = approve(site, *argv, capsys=capsys)
        assert (code, out) == (2, "") and err.count("\n") == 1 and message in err, argv
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED


def test_a_write_protected_registry_file_is_not_touched(site, capsys):
    registry = site / "registry.yaml"
    registry.chmod(0o444)
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == (f"evil-twin-monitor: error: {registry}: the file is write-protected (mode "
                   "0444); make it writable (chmod u+w) to approve into it\n")
    assert registry.read_text(encoding="utf-8") == COMMENTED
    assert sorted(p.name for p in site.iterdir() if "registry" in p.name) == ["registry.yaml"]


def test_a_directory_that_refuses_new_files_is_one_line_and_leaves_nothing(site, capsys,
                                                                          monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(command_module.tempfile, "mkstemp", refuse)
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: {site}: cannot write a file there: Permission denied\n"
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED


def test_an_edit_the_loader_would_reject_is_never_written(site, capsys, monkeypatch):
    monkeypatch.setattr(command_module, "edit_text",
                        lambda text, change, file: text.replace("channels: [1]", "chanels: [1]"))
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "1", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == ("evil-twin-monitor: error: the edited registry would not load, nothing "
                   f"written: {site / 'registry.yaml'}:29: facilities[0].networks[1]."
                   "access_points[0]: an access point needs channels or frequencies (or both), "
                   "e.g. channels: [1, 6, 11] (and 1 more)\n")
    assert (site / "registry.yaml").read_text(encoding="utf-8") == COMMENTED


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file another owner")
def test_mode_owner_and_group_are_kept_for_the_file_and_its_backup(site, capsys):
    registry = site / "registry.yaml"
    os.chown(registry, 0, 4242)
    registry.chmod(0o640)
    store_with(site / "alerts.sqlite3", unknown())
    assert approve(site, "1", capsys=capsys)[0] == 0
    for path in (registry, site / "registry.yaml.bak"):
        st = path.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 4242), path


# -- attacker-controlled SSIDs and operator labels ----------------------------------------------

HOSTILE_SSIDS = [
    b"Free\nWi-Fi\r\nfacilities: []",
    b'say "hi" \'there\' # not a comment',
    b"- [x]: {y} &a *b !t |>%@`",
    b"\xff\xfe\xc3(bad utf-8",
    b"\x00" * 32,
    b"\x1b[2J\x1b]0;owned\x07red",
    "新宿\u202efree\u2028line\ufeff".encode(),
    b"back\\slash\\x41",
    b"no",
    b"2026-13-45",
]


@pytest.mark.parametrize("ssid", HOSTILE_SSIDS, ids=range(len(HOSTILE_SSIDS)))
def test_hostile_ssids_stay_exact_and_the_yaml_stays_valid(tmp_path, capsys, ssid):
    # city-hall has the network; the library does not, so approving there writes the SSID.
    text = (f"facilities:\n  - id: city-hall\n    networks:\n"
            f"      - ssid: {json.dumps(printable_ssid(ssid))}   # hostile\n"
            f"        security: [wpa2-psk]\n        access_points:\n"
            f"          - bssid: \"00:1a:2b:3c:4d:50\"\n            channels: [1]\n\n"
            f"  - id: library\n    name: \"library\"   # no networks yet\n")
    registry = tmp_path / "registry.yaml"
    registry.write_text(text, encoding="utf-8")
    store_with(tmp_path / "alerts.sqlite3", unknown(ssid=ssid),
               unknown("02:5e:1f:a0:0c:02", ssid=ssid, facility="library"))
    for alert_id in ("1", "2"):
        code = main(["registry", "approve", alert_id, "--store", str(tmp_path / "alerts.sqlite3"),
                     "--registry", str(registry), "--label", "x\ny\x1b"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        assert not any(ch in out for ch in "\r\x1b\x00\x07\u2028\u2029\u202e\ufeff")
        assert out.count("\n") == 2 + (alert_id == "2")  # result, (new network note,) next step
    after = registry.read_text(encoding="utf-8")
    assert [l for l in difflib.ndiff(text.splitlines(), after.splitlines())
            if l.startswith("- ")] == []  # only additions
    loaded = load_registry(registry)
    for bssid, facility in (("025e1fa00c01", "city-hall"), ("025e1fa00c02", "library")):
        ap = loaded.ap_for_bssid(bytes.fromhex(bssid))
        assert (ap.network.ssid, ap.facility.id, ap.label) == (ssid, facility, "x\ny\x1b")
    assert [n.facility.id for n in loaded.networks_for_ssid(ssid)] == ["city-hall", "library"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ssid=st.binary(min_size=1, max_size=32), label=st.text(max_size=40))
def test_any_ssid_and_label_read_back_exactly(ssid, label):
    text = ("facilities:\n  - id: a\n    networks:\n"
            f"      - ssid: {json.dumps(printable_ssid(ssid))}\n        security: [open]\n"
            "        access_points:\n          - {bssid: \"00:1a:2b:3c:4d:50\", channels: [1]}\n"
            "  - id: b\n    networks: []\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.yaml"
        path.write_text(text, encoding="utf-8")
        before = load_registry(path)
        change = NewAccessPoint("b", ssid, bytes.fromhex("025e1fa00c01"), 2412, label, None,
                                ("open",), "disabled")
        path.write_text(edit_text(text, change, str(path)), encoding="utf-8")
        check_edit(before, load_registry(path), change)  # exactly this AP, this SSID, this label


def test_a_label_that_is_not_utf8_is_refused(site, capsys):
    store_with(site / "alerts.sqlite3", unknown())
    code, out, err = approve(site, "1", "--label", "caf\udce9", capsys=capsys)
    assert (code, out) == (2, "") and "--label: not valid UTF-8 text" in err


def test_flow_style_entries_get_flow_style_additions():
    text = ('facilities:\n- {id: a, networks: [{ssid: X, security: [open], access_points: '
            '[{bssid: "00:1a:2b:3c:4d:50", channels: [1]}]}]}\n')
    change = NewAccessPoint("a", b"X", bytes.fromhex("025e1fa00c01"), 2437, "l", 0, ("open",),
                            "disabled")
    assert edit_text(text, change) == (
        'facilities:\n- {id: a, networks: [{ssid: X, security: [open], access_points: '
        '[{bssid: "00:1a:2b:3c:4d:50", channels: [1]}, '
        '{bssid: "02:5e:1f:a0:0c:01", label: "l", channels: [6]}]}]}\n')


def test_a_network_that_moved_in_the_file_is_not_guessed():
    change = NewAccessPoint("city-hall", b"Other", bytes.fromhex("025e1fa00c01"), 2437, None, 0,
                            ("wpa2-psk",), "optional")
    with pytest.raises(ApproveError, match="is not \"Other\""):
        edit_text(COMMENTED, change)


# -- end to end ---------------------------------------------------------------------------------

def test_replay_approve_replay_the_approved_access_point_no_longer_alerts(tmp_path, capsys):
    registry = tmp_path / "registry.yaml"
    registry.write_bytes(FIXTURE_REGISTRY.read_bytes())

    def replay(store: str) -> list[dict]:
        assert main(["replay", str(UNKNOWN_AP_PCAP), "--registry", str(registry), "--facility",
                     "city-hall", "--format", "jsonl", "--quiet",
                     "--store", str(tmp_path / store)]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    first = replay("first.sqlite3")
    assert sorted((a["rule"], a["bssid"]) for a in first) == [
        ("unknown_bssid", "02:5e:1f:a0:0c:01"), ("unknown_bssid", "02:5e:1f:a0:0c:02")]
    assert main(["registry", "approve", "--bssid", "02:5e:1f:a0:0c:01", "--label", "4F",
                 "--store", str(tmp_path / "first.sqlite3"), "--registry", str(registry)]) == 0
    capsys.readouterr()
    # the open twin (critical: weaker security) is refused and stays an alert
    assert main(["registry", "approve", "--bssid", "02:5e:1f:a0:0c:02",
                 "--store", str(tmp_path / "first.sqlite3"), "--registry", str(registry)]) == 2
    capsys.readouterr()
    second = replay("second.sqlite3")
    assert [(a["rule"], a["bssid"]) for a in second] == [("unknown_bssid", "02:5e:1f:a0:0c:02")]
