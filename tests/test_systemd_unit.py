"""The systemd service as systemd and a security reviewer read it, and its installer.

The unit is checked by systemd's own tools, not by re-implementing them:
``systemd-analyze verify`` parses it as PID 1 would (a typo'd directive is
only a warning there, so any message naming our file counts as a failure),
and ``systemd-analyze security --offline=true`` scores its sandbox. Two
tests feed deliberately broken copies to show that both checks bite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evil_twin_monitor.daemon.sensor import EXIT_CONFIG

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "evil-twin-monitor.service"
SYSUSERS = ROOT / "systemd" / "sysusers.d" / "evil-twin-monitor.conf"
INSTALL = ROOT / "scripts" / "install-service.sh"
MAX_EXPOSURE = 2.0  # the README promises this

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="optional: systemd-analyze is not installed (Debian package: systemd)")


def settings(text: str, section: str = "Service") -> dict[str, list[str]]:
    """Assignments of one section, in order (systemd accumulates repeated keys)."""
    found: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def verifiable_copy(directory: Path, text: str) -> Path:
    """The unit with ExecStart's program replaced by one that exists on this machine.

    verify refuses a unit whose program is missing, and /opt/evil-twin-monitor
    exists only on an installed sensor; the arguments and every other line
    stay as they are, so the copy still shows any typo in the real unit.
    """
    console_script = Path(sys.executable).with_name("evil-twin-monitor")
    program = console_script if console_script.exists() else Path(sys.executable)
    copy = directory / UNIT.name  # the name matters: systemd derives the unit name from it
    copy.write_text(re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={program}", text, count=1))
    return copy


def verify_problems(path: Path) -> list[str]:
    """What ``systemd-analyze verify`` says about our file; [] when it is clean.

    Messages about other units (a broken unit elsewhere on the host) are not ours.
    """
    result = subprocess.run([ANALYZE, "verify", "--man=no", "--recursive-errors=no", str(path)],
                            capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if path.name in line]
    if result.returncode != 0:
        problems.append(f"exit status {result.returncode}: {result.stderr.strip()}")
    return problems


def security(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", *extra, str(path)],
                          capture_output=True, text=True, timeout=60)


def exposure(result: subprocess.CompletedProcess[str]) -> float:
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, f"no exposure level in:\n{result.stdout}\n{result.stderr}"
    return float(match.group(1))


# --- systemd-analyze verify --------------------------------------------------------

@needs_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path):
    assert verify_problems(verifiable_copy(tmp_path, UNIT.read_text())) == []


@needs_analyze
@pytest.mark.parametrize("good, bad", [
    ("ProtectSystem=strict", "ProtectSytem=strict"),                      # misspelt directive
    ("RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies=AF_UNIKS"),  # invalid value
    ("[Service]", "[Servise]"),                                           # misspelt section
])
def test_verify_reports_a_broken_copy_of_the_unit(tmp_path, good, bad):
    text = UNIT.read_text()
    assert good in text
    problems = verify_problems(verifiable_copy(tmp_path, text.replace(good, bad, 1)))
    assert problems, f"verify accepted a unit with {bad!r}"


# --- systemd-analyze security --------------------------------------------------------

@needs_analyze
def test_exposure_score_is_at_most_2():
    result = security(UNIT, f"--threshold={round(MAX_EXPOSURE * 10)}")
    score = exposure(result)
    assert score <= MAX_EXPOSURE and result.returncode == 0, (
        f"exposure {score} (limit {MAX_EXPOSURE}):\n{result.stdout}")


@needs_analyze
def test_exposure_check_fails_a_unit_without_its_sandbox(tmp_path):
    kept = ("Description", "Type", "ExecStart", "User", "Group")
    text = "\n".join(line for line in UNIT.read_text().splitlines()
                     if line.startswith("[") or line.split("=", 1)[0] in kept)
    bare = tmp_path / UNIT.name
    bare.write_text(text + "\n")
    result = security(bare, f"--threshold={round(MAX_EXPOSURE * 10)}")
    assert exposure(result) > MAX_EXPOSURE and result.returncode != 0


@needs_analyze
def test_only_net_raw_and_net_admin_remain_as_systemd_reads_the_unit():
    """systemd's own assessment: every capability group is dropped except these two."""
    result = security(UNIT, "--json=short")
    assert result.returncode == 0, result.stderr
    kept = {item["name"] for item in json.loads(result.stdout)
            if item["name"].startswith("CapabilityBoundingSet=") and not item["set"]}
    assert kept == {"CapabilityBoundingSet=~CAP_NET_ADMIN",
                    "CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)"}


# --- what the daemon relies on ---------------------------------------------------------

def test_capability_sets_are_exactly_net_raw_and_net_admin():
    service = settings(UNIT.read_text())
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        values = service.get(key, [])
        assert len(values) == 1, f"{key} must be one assignment, found {values}"
        assert sorted(values[0].split()) == ["CAP_NET_ADMIN", "CAP_NET_RAW"], key


def test_unit_matches_the_daemon_contract():
    service = settings(UNIT.read_text())
    one = {key: values[-1] for key, values in service.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert one["WatchdogSec"] and one["Restart"] == "on-failure"
    # A configuration error exits with EXIT_CONFIG; systemd must not restart it.
    assert one["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert one["ExecStart"].split()[1:] == ["run", "--config", "/etc/evil-twin-monitor/sensor.yaml"]
    assert one["ExecReload"] == "kill -HUP $MAINPID"
    # AF_PACKET capture, AF_NETLINK nl80211/rtnetlink, AF_UNIX journal and
    # sd_notify, AF_INET(6) metrics; nothing else.
    assert sorted(one["RestrictAddressFamilies"].split()) == [
        "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"]
    # Both would cut the daemon off the host's Wi-Fi adapter.
    assert "PrivateNetwork" not in service and "PrivateUsers" not in service
    assert one["StateDirectory"] == "evil-twin-monitor" and "LogsDirectory" not in one


def test_unit_runs_as_the_user_sysusers_creates():
    service = settings(UNIT.read_text())
    entries = [line.split() for line in SYSUSERS.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith("#")]
    assert [(e[0], e[1]) for e in entries] == [("u", "evil-twin-monitor")]
    assert service["User"] == service["Group"] == ["evil-twin-monitor"]


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None,
                    reason="optional: systemd-sysusers is not installed (Debian package: systemd)")
def test_sysusers_file_parses():
    result = subprocess.run(["systemd-sysusers", "--dry-run", str(SYSUSERS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and str(SYSUSERS) not in result.stderr, result.stderr


# --- scripts/install-service.sh ------------------------------------------------------------

def _dry_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INSTALL), "--dry-run"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LC_ALL": "C"})


def test_install_dry_run_shows_each_step_and_changes_nothing():
    watched = [Path("/etc/systemd/system/evil-twin-monitor.service"),
               Path("/etc/sysusers.d/evil-twin-monitor.conf"),
               Path("/etc/evil-twin-monitor"), Path("/opt/evil-twin-monitor")]
    before = {path: path.exists() and path.stat().st_mtime_ns for path in watched}
    result = _dry_run()
    assert result.returncode == 0, result.stderr
    commands = [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]
    text = "\n".join(commands)
    assert "systemd-sysusers /etc/sysusers.d/evil-twin-monitor.conf" in text
    assert f"install -m 0644 {UNIT} /etc/systemd/system/evil-twin-monitor.service" in text
    # The venv the installer fills is the one the unit's ExecStart runs from.
    exec_start = settings(UNIT.read_text())["ExecStart"][-1].split()[0]
    venv = str(Path(exec_start).parent.parent)
    assert f"{venv}/bin/python -m pip install --quiet --upgrade {ROOT}" in text
    # It installs; it never starts, enables or restarts anything.
    assert not [c for c in commands if re.match(r"systemctl (start|enable|restart|reload)", c)]
    assert "NOT start" in result.stdout
    assert {path: path.exists() and path.stat().st_mtime_ns for path in watched} == before


def test_install_rejects_an_unknown_option():
    result = subprocess.run([str(INSTALL), "--dryrun"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown argument '--dryrun'" in result.stderr
