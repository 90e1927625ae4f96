"""Benchmark: the engine under a beacon flood of 100,000 random BSSIDs a minute.

Theory of operation
-------------------
The issue asks that state and memory stay bounded under 100,000 random
BSSIDs per minute and that the engine keeps detecting everything else
meanwhile. This script feeds such a flood, in capture time, through the real
`Decoder` and `Engine` with every rule enabled and the fixture registry
(``fixtures/registry.yaml``, facility city-hall), and prints:

- frames per second processed (decode + engine, nothing else timed);
- peak memory: the Python heap's peak while processing (``tracemalloc``, in a
  second pass over the same input, since tracing slows Python down several
  times) and the process's peak resident set (``ru_maxrss``) before and after
  the first pass;
- the sizes of the rules' tables (every ``len()``-able attribute of every
  rule, plus ``BeaconFlood.table_sizes()``), of the engine's open alerts and
  memo, and the findings the fair cap dropped, per rule;
- whether ``beacon_flood``, the twin (``unknown_bssid``) and a deauth flood
  started in the middle of the flood were detected, and when.

Input, per run (fixed seed, so two runs feed the same frames): one minute of
normal life (the three city hall APs beaconing ten times a second, as
registered), then ``--minutes`` minutes in which an mdk4-style flood sends
``--per-minute`` beacons on channel 6, each from a new random BSSID with a
random name (``--registered-share`` of them advertise Shinjuku_Free_Wi-Fi, the
"flood of the city's name" that makes unknown_bssid open an alert per BSSID),
an open evil twin of Shinjuku_Free_Wi-Fi beacons from the flood's second
minute, and an aireplay-ng burst (64 deauths) hits the 3F lobby AP half way
through. Frames are built with `evil_twin_monitor.simulation.frames` in
chunks of 10,000 (the chunk, not the whole input, is in memory) and only the
decode + feed of a chunk is timed.

Usage: ``.venv/bin/python bench/bench_flood.py [--minutes 3] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import struct
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evil_twin_monitor.decoding import Decoder  # noqa: E402
from evil_twin_monitor.engine import Engine  # noqa: E402
from evil_twin_monitor.registry import load_registry  # noqa: E402
from evil_twin_monitor.simulation import frames as sim  # noqa: E402

NS = 1_000_000_000
T0_NS = 1_775_034_000 * NS          # 2026-04-01T09:00:00Z, as the fixtures
LINKTYPE = 127
CHUNK = 10_000
NORMAL_S = 60
FREE = b"Shinjuku_Free_Wi-Fi"
LOBBY = sim.mac("00:1a:2b:3c:4d:50")
TWIN = sim.mac("02:5e:1f:a0:0c:33")
CLIENT = sim.mac("3a:11:22:33:44:55")
NAME_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-!#%&()+,.;=@"
CITY = (  # bssid, ssid, frequency, security (as fixtures/registry.yaml lists them)
    ("00:1a:2b:3c:4d:50", "Shinjuku_Free_Wi-Fi", 2412, "wpa2-psk"),
    ("00:1a:2b:3c:4d:60", "Shinjuku_Free_Wi-Fi", 5180, "wpa2-psk"),
    ("00:1a:2b:3c:4d:70", "Shinjuku_Secure", 2437, "wpa2-psk+wpa3-sae"),
)
_FIXED = struct.Struct("<QHH")
# mdk4's beacon (packet.c create_beacon, open, 11g): no TIM, ESS, interval 100.
_MDK4_TAIL = (sim.element(1, bytes((0x82, 0x84, 0x8B, 0x96)))
              + sim.element(50, bytes((0x0C, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6C)))
              + sim.element(3, bytes((6,))))


def frames(minutes: float, per_minute: int, registered_share: float, seed: int = 2026
           ) -> Iterator[tuple[int, bytes]]:
    """(capture time in ns, radiotap frame) in time order."""
    rng = random.Random(seed)
    flood_start = NORMAL_S * NS
    end = flood_start + int(minutes * 60 * NS)
    flood_step = 60 * NS // per_minute
    beacon_step = 102_400_000
    deauth_at = flood_start + (end - flood_start) // 2
    twin_from = flood_start + 60 * NS
    # City APs and the twin beacon at their own TBTTs; merged with the flood on the fly.
    schedule = [(i * 7_000_000, i) for i in range(len(CITY))] + [(twin_from, len(CITY))]
    seqs = [rng.randrange(4096) for _ in range(len(CITY) + 1)]
    tsf0 = [rng.randrange(10**9, 10**12) for _ in range(len(CITY) + 1)]
    flood_t = flood_start
    mdk_tsf, mdk_seq = 0, rng.randrange(4096)
    deauth_done = False
    rt6 = sim.radiotap(2437, -50)
    while True:
        t_ap, who = min(schedule)
        nexts = [t_ap]
        if flood_t < end:
            nexts.append(flood_t)
        if not deauth_done:
            nexts.append(deauth_at)
        now = min(nexts)
        if now >= end:
            return
        if not deauth_done and now == deauth_at:
            deauth_done = True
            for k in range(64):            # aireplay-ng -0 1 -a lobby -c client
                src, dst = (LOBBY, CLIENT) if k % 2 == 0 else (CLIENT, LOBBY)
                yield now + k * 2_000_000, sim.deauth(src, dst, LOBBY, 2412, seq=k)
            continue
        if flood_t < end and now == flood_t:
            flood_t += flood_step
            address = bytes((rng.randrange(256) & 0xFE,)) + rng.randbytes(5)
            if rng.random() < registered_share:
                name = FREE
            else:
                name = bytes(rng.choices(NAME_CHARS, k=rng.randint(1, 32)))
            mdk_tsf += 0x400 * 100
            mdk_seq = (mdk_seq + 1) & 0xFFF
            yield now, (rt6 + sim.mgmt_header(sim.FC_BEACON, sim.BROADCAST, address, address,
                                              mdk_seq)
                        + _FIXED.pack(mdk_tsf, 100, 0x0001) + sim.element(0, name) + _MDK4_TAIL)
            continue
        schedule.remove((t_ap, who))
        schedule.append((t_ap + beacon_step, who))
        seqs[who] = (seqs[who] + 1) & 0xFFF
        tsf = tsf0[who] + t_ap // 1000
        if who < len(CITY):
            bssid, ssid, freq, security = CITY[who]
            yield t_ap, sim.beacon(bssid, ssid, freq, security=security, tsf=tsf, seq=seqs[who],
                                   signal_dbm=-55)
        else:
            yield t_ap, sim.beacon(TWIN, FREE, 2437, security="open", tsf=tsf, seq=seqs[who],
                                   profile="hostapd", signal_dbm=-47)


def chunks(minutes: float, per_minute: int, share: float) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in frames(minutes, per_minute, share):
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Opened:
    """Keeps the first opening time of the alerts the benchmark looks for."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, bytes | None], int] = {}

    def opened(self, alert: Any) -> None:
        self.first.setdefault((alert.rule, alert.bssid), alert.time_ns)

    def closed(self, alert: Any) -> None:
        pass


def run(minutes: float, per_minute: int, share: float, trace: bool) -> dict[str, Any]:
    """One pass: build a fresh decoder and engine, feed everything, measure."""
    if trace:
        tracemalloc.start()
    sink = Opened()
    engine = Engine(load_registry(ROOT / "fixtures" / "registry.yaml"), facility="city-hall",
                    sensor="bench", sinks=[sink])
    decoder = Decoder()
    decode, feed = decoder.decode, engine.feed
    count = 0
    busy = 0.0
    for chunk in chunks(minutes, per_minute, share):
        started = time.perf_counter()
        for ts, data in chunk:
            count += 1
            frame = decode(data, LINKTYPE, T0_NS + ts, count)
            if frame is not None:
                feed(frame)
        busy += time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    flood_start = T0_NS + NORMAL_S * NS

    def after(key: tuple[str, bytes | None], since: int) -> float | None:
        opened = sink.first.get(key)
        return None if opened is None else round((opened - since) / NS, 1)

    rules: dict[str, dict[str, int]] = {}
    for rule in engine.rules:
        sizes = {name: len(value) for name, value in vars(rule).items()
                 if hasattr(value, "__len__") and not isinstance(value, (str, bytes))
                 and name not in ("settings",)}
        if hasattr(rule, "table_sizes"):
            sizes.update({f"table_sizes.{k}": v for k, v in rule.table_sizes().items()})
        rules[rule.id] = {k: v for k, v in sorted(sizes.items()) if v}
    open_by_rule: dict[str, int] = {}
    for alert in engine.open_alerts:
        open_by_rule[alert.rule] = open_by_rule.get(alert.rule, 0) + 1
    deauth_at = flood_start + int(minutes * 60 * NS) // 2
    return {
        "frames": count,
        "seconds": round(busy, 2),
        "frames_per_second": round(count / busy) if busy else 0,
        "tracemalloc_peak_mib": None if peak is None else round(peak / 2**20, 1),
        "detected": {
            "beacon_flood_after_s": after(("beacon_flood", None), flood_start),
            "twin_unknown_bssid_after_s": after(("unknown_bssid", TWIN), flood_start + 60 * NS),
            "deauth_flood_after_s": after(("deauth_flood", LOBBY), deauth_at),
        },
        "alerts_opened_by_rule": dict(sorted(engine.alerts_by_rule.items())),
        "open_alerts_by_rule": dict(sorted(open_by_rule.items())),
        "dropped_findings": engine.dropped_findings,
        "dropped_by_rule": dict(sorted(engine.dropped_by_rule.items())),
        "engine_memo": len(engine._memo),
        "rule_tables": rules,
    }


def max_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="minutes of flood (capture time), after one minute of normal life")
    parser.add_argument("--per-minute", type=int, default=100_000,
                        help="flood beacons (new random BSSIDs) per minute of capture time")
    parser.add_argument("--registered-share", type=float, default=0.1,
                        help="share of flood beacons advertising Shinjuku_Free_Wi-Fi")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rss_start = max_rss_mib()
    result = run(args.minutes, args.per_minute, args.registered_share, trace=False)
    rss_after = max_rss_mib()
    traced = None if args.no_trace else run(args.minutes, args.per_minute,
                                            args.registered_share, trace=True)
    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "minutes_of_flood": args.minutes,
        "flood_per_minute": args.per_minute,
        "registered_share": args.registered_share,
        **result,
        "tracemalloc_peak_mib": traced["tracemalloc_peak_mib"] if traced else None,
        "ru_maxrss_mib_before": rss_start,
        "ru_maxrss_mib_after": rss_after,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    d = report["detected"]
    print(f"flood: {args.per_minute:,} random BSSIDs/min for {args.minutes:g} min on channel 6 "
          f"({args.registered_share:.0%} advertising Shinjuku_Free_Wi-Fi), after 1 min of "
          f"normal life; Python {report['python']}")
    print(f"frames processed: {report['frames']:,} in {report['seconds']} s: "
          f"{report['frames_per_second']:,} frames/s (decode + engine, all rules)")
    print(f"peak memory: tracemalloc {report['tracemalloc_peak_mib']} MiB; ru_maxrss "
          f"{rss_after} MiB (at start {rss_start} MiB)")
    print(f"detected: beacon_flood {d['beacon_flood_after_s']} s after the flood began; twin "
          f"(unknown_bssid) {d['twin_unknown_bssid_after_s']} s after it appeared; deauth_flood "
          f"{d['deauth_flood_after_s']} s after the burst (None = missed)")
    print(f"alerts opened: {report['alerts_opened_by_rule']}")
    print(f"open at the end: {report['open_alerts_by_rule']}")
    print(f"dropped findings: {report['dropped_findings']:,} {report['dropped_by_rule']}; "
          f"engine memo {report['engine_memo']:,} entries")
    print("rule tables (entries):")
    for rule, sizes in report["rule_tables"].items():
        print(f"  {rule}: " + (", ".join(f"{k} {v:,}" for k, v in sizes.items()) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
