"""The newcomer's one-command demo (scripts/live-demo.sh) works end to end.

The script is what the README promises someone without a Wi-Fi adapter:
a namespace, the simulated monitor interface, the city's two APs, the real
daemon, a twin on channel 13 and its alert, a clean stop. This test runs the
script itself (with short timings and without re-running setup.sh, which the
test environment has already done) and checks what a newcomer would look
for: the twin's alert in the output, the city's own APs silent, status 0, and
nothing left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from netns import ROOT, needs_root

pytestmark = needs_root

SCRIPT = ROOT / "scripts" / "live-demo.sh"
TWIN = "02:5e:1c:9a:33:7b"


def _demo_namespaces() -> set[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    return {name for name in names if name.startswith("etm-demo-")}


def test_the_live_demo_catches_the_twin_and_exits_zero():
    before = _demo_namespaces()
    env = {**os.environ, "ETM_DEMO_SKIP_SETUP": "1", "ETM_DEMO_TWIN_AFTER_S": "1",
           "ETM_DEMO_TOTAL_S": "0", "ETM_DEMO_ALERT_TIMEOUT_S": "30"}
    done = subprocess.run([str(SCRIPT)], cwd="/", env=env, capture_output=True, text=True,
                          timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    alerts = [line for line in output.splitlines() if re.search(r"\balert\s+.*bssid=", line)]
    assert alerts, output
    assert all(f"bssid={TWIN}" in line for line in alerts), alerts  # the city's APs raise nothing
    assert "rule=unknown_bssid" in alerts[0] and "channel=13" in alerts[0]
    assert "==> Caught" in output
    assert "sensor_stopped" in output
    assert _demo_namespaces() <= before                              # the namespace is gone


def test_the_live_demo_refuses_to_run_without_root_with_a_clear_message():
    # A copy the unprivileged user can read, wherever the checkout lives (/root in CI).
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        script = Path(tmp) / "live-demo.sh"
        shutil.copy(SCRIPT, script)
        os.chmod(script, 0o755)
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               str(script)], cwd=tmp, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "needs root" in done.stderr and "sudo scripts/live-demo.sh" in done.stderr
