"""No client MAC address from the fixtures leaves the process in clear.

Every fixture capture is replayed the way the sensor would handle it, with
every output switched on: alerts as JSON lines, the daemon's JSON log sink,
the Prometheus exposition, the alert store (alerts and report samples),
evidence pcaps, and the audit report made from that store. Client addresses
are taken from the capture itself with tshark (not with our decoder): every
unicast address that appears in a frame but never as the transmitter of a
beacon or probe response nor as a BSSID. None of them may appear in any
output, in any of the spellings a person or a program would use, nor as raw
octets in a binary file.
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from evil_twin_monitor.cli import main
from evil_twin_monitor.daemon.logs import configure_logging
from evil_twin_monitor.engine import Engine
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.replay import replay_files
from evil_twin_monitor.sinks.log import LogSink

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "fixtures" / "pcaps"
REGISTRY = ROOT / "fixtures" / "registry.yaml"


@functools.lru_cache(maxsize=None)
def client_addresses(pcap: Path) -> frozenset[bytes]:
    """Unicast addresses of the capture that are not access points (read by tshark)."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=;",
         "-e", "wlan.fc.type_subtype", "-e", "wlan.ra", "-e", "wlan.ta", "-e", "wlan.bssid"],
        capture_output=True, text=True, check=True).stdout
    seen: set[bytes] = set()
    aps: set[bytes] = set()
    for line in out.splitlines():
        kind, *addresses = line.split(";")
        octets = [bytes.fromhex(a.replace(":", "")) if a else None for a in addresses]
        seen.update(a for a in octets if a)
        subtype = int(kind, 0) if kind else -1
        if subtype in (0x0005, 0x0008) and octets[1]:
            aps.add(octets[1])
        if 0 <= subtype < 0x10 and octets[2]:           # management frames name their BSSID
            aps.add(octets[2])
    return frozenset(a for a in seen - aps if not a[0] & 1)


def spellings(addr: bytes) -> list[bytes]:
    text = addr.hex()
    forms = [addr, text.encode(), addr.hex(":").encode(), addr.hex("-").encode()]
    return forms + [f.upper() for f in forms[1:]]


# The fixtures that have clients in them (phones probing, data, deauth targets).
WITH_CLIENTS = [p for p in sorted(PCAPS.glob("*.pcap"))
                if p.stat().st_size < 1_200_000 and client_addresses(p)]


def test_the_fixtures_do_have_clients_to_leak():
    assert len(WITH_CLIENTS) >= 8
    assert any(p.stem == "deauth_flood" for p in WITH_CLIENTS)
    assert any(p.stem == "karma_responder" for p in WITH_CLIENTS)


@pytest.mark.parametrize("pcap", WITH_CLIENTS, ids=lambda p: p.stem)
def test_no_client_address_in_any_output(pcap, tmp_path, capsys):
    clients = client_addresses(pcap)
    raw = pcap.read_bytes()
    assert all(addr in raw for addr in clients)        # the search below would find them
    store = tmp_path / "alerts.sqlite3"
    evidence = tmp_path / "evidence"
    metrics = tmp_path / "metrics.prom"
    status = main(["replay", str(pcap), "--registry", str(REGISTRY), "--facility", "city-hall",
                   "--sensor", "city-hall-01", "--format", "jsonl", "--store", str(store),
                   "--evidence", str(evidence), "--metrics-file", str(metrics)])
    out, err = capsys.readouterr()
    assert status == 0, err

    log_stream = io.StringIO()
    engine = Engine(load_registry(REGISTRY), facility="city-hall", sensor="city-hall-01",
                    sinks=[LogSink(configure_logging("debug", "json", stream=log_stream))])
    replay_files([str(pcap)], engine)

    status = main(["report", "--store", str(store), "--registry", str(REGISTRY),
                   "--from", "2026-04-01", "--to", "2026-04-02", "--out", str(tmp_path / "reports")])
    assert status == 0, capsys.readouterr().err

    outputs: dict[str, bytes] = {
        "jsonl": out.encode(), "summary": err.encode(), "log": log_stream.getvalue().encode(),
        "metrics": metrics.read_bytes(),
    }
    with sqlite3.connect(store) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            outputs[f"store:{table}"] = json.dumps(rows, default=lambda v: v.hex()).encode()
    outputs["store file"] = store.read_bytes()
    for path in sorted(evidence.glob("*")) + sorted((tmp_path / "reports").glob("*")):
        outputs[path.name] = path.read_bytes()
    assert any(name.endswith(".html") for name in outputs), "no report written"

    leaks = [(name, addr.hex(":")) for addr in clients for name, data in outputs.items()
             if any(form in data for form in spellings(addr))]
    assert leaks == []
