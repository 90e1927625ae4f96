"""Benchmark: replay throughput and memory, against tshark on the same file.

Theory of operation
-------------------
Absolute frames per second depend on the machine, so every figure is
printed next to a reference measured in the same run on the same file:

(a) ``evil-twin-monitor replay FILE --registry bench/registry.yaml --format
    jsonl --quiet`` end to end, as a subprocess (interpreter start-up,
    registry load, decode, all rules, alert output): best wall-clock time of
    ``--runs``, and the child's peak resident memory from ``os.wait4``;
(b) the decoder alone, in this process (``Decoder.decode_file``), best of
    ``--runs``, next to the capture reader alone (``open_capture``) so the
    cost of each layer shows;
(c) tshark extracting the BSSID, SSID and channel of the beacons of the same
    file (the reference; one run unless ``--tshark-runs``).

Frames per second always divide by *every* record of the file, whatever a
tool does with it. The file is read once before each timed run, so all
tools start with it in the page cache. Both subprocesses are pinned to one CPU (``--no-pin`` to
turn that off), because the target is one core of a small sensor PC.

Usage: ``python bench/bench_replay.py [--json]``; builds
``bench/out/mixed.pcap`` first if it is missing (see make_capture.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_capture  # noqa: E402  (sibling script)

TARGET_FPS = 100_000
TARGET_RATIO = 10.0


def _pin(cpu: int | None):  # type: ignore[no-untyped-def]
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def run_child(cmd: list[str], cpu: int | None, stdout_path: str = os.devnull
              ) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, peak anonymous RSS in KiB) of one subprocess.

    Peak RSS (``ru_maxrss``) includes the pages of the capture file that the
    reader maps into memory, which the kernel can drop at any time; the
    anonymous part (heap: the engine's state) is sampled from
    ``/proc/PID/status`` every 10 ms, so it is a close lower bound."""
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=_pin(cpu))
        peak_anon = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_anon = max(peak_anon, _rss_anon(proc.pid))
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): "
                             f"{err.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss, peak_anon


def _rss_anon(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def warm(path: Path) -> None:
    """Read the file once so every tool starts with it in the page cache: on a
    VM that reclaims idle page cache, a cold read can take longer than the
    decoding, and whichever tool runs first would be penalised."""
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


def bench_replay(capture: Path, registry: Path, runs: int, cpu: int | None) -> dict:
    cmd = [sys.executable, "-m", "evil_twin_monitor", "replay", str(capture),
           "--registry", str(registry), "--format", "jsonl", "--quiet"]
    times: list[float] = []
    rss, anon = [], []
    stats: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        alerts_path = os.path.join(tmp, "alerts.jsonl")
        stats_path = os.path.join(tmp, "stats.json")
        for _ in range(runs):
            warm(capture)
            elapsed, peak, peak_anon = run_child(cmd + ["--stats-json", stats_path], cpu,
                                                 alerts_path)
            if not times or elapsed < min(times):
                with open(stats_path, encoding="utf-8") as f:
                    stats = json.load(f)   # the fastest run's own figures
            times.append(elapsed)
            rss.append(peak)
            anon.append(peak_anon)
        with open(alerts_path, encoding="utf-8") as f:
            alerts = [json.loads(line) for line in f if line.strip()]
    rules: dict[str, int] = {}
    for alert in alerts:
        rules[alert["rule"]] = rules.get(alert["rule"], 0) + 1
    return {"command": " ".join(cmd[1:]), "seconds": min(times), "all_seconds": times,
            "peak_rss_mib": round(max(rss) / 1024, 1),
            "peak_anon_rss_mib": round(max(anon) / 1024, 1), "alerts": len(alerts),
            "alerts_by_rule": dict(sorted(rules.items())),
            "replay_reported_fps": stats.get("frames_per_second")}


def bench_decoder(capture: Path, runs: int) -> dict:
    from evil_twin_monitor.decoding import Decoder, open_capture

    read_times, decode_times = [], []
    records = decoded = 0
    for _ in range(runs):
        warm(capture)
        started = time.perf_counter()
        with open_capture(capture) as reader:
            records = sum(1 for _record in reader)
        read_times.append(time.perf_counter() - started)
        decoder = Decoder()
        started = time.perf_counter()
        decoded = sum(1 for _frame in decoder.decode_file(capture))
        decode_times.append(time.perf_counter() - started)
        assert sum(decoder.frames.values()) == records
    return {"records": records, "frames_returned": decoded,
            "read_seconds": min(read_times), "decode_seconds": min(decode_times)}


def bench_tshark(capture: Path, runs: int, cpu: int | None) -> dict | None:
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    cmd = [tshark, "-n", "-r", str(capture), "-Y", "wlan.fc.type_subtype == 8",
           "-T", "fields", "-e", "wlan.bssid", "-e", "wlan.ssid", "-e", "wlan.ds.current_channel"]
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True).stdout
    times = []
    for _ in range(runs):
        warm(capture)
        times.append(run_child(cmd, cpu)[0])
    return {"command": "tshark " + " ".join(cmd[1:]), "seconds": min(times),
            "version": version.splitlines()[0] if version else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=make_capture.DEFAULT_OUT)
    parser.add_argument("--registry", type=Path, default=make_capture.REGISTRY_PATH)
    parser.add_argument("--runs", type=int, default=3, help="best of N (replay, decoder)")
    parser.add_argument("--tshark-runs", type=int, default=1)
    parser.add_argument("--skip-tshark", action="store_true")
    parser.add_argument("--no-pin", action="store_true", help="do not pin subprocesses to one CPU")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    if not args.capture.exists():
        print(f"building {args.capture} ...", file=sys.stderr)
        args.capture.parent.mkdir(parents=True, exist_ok=True)
        make_capture.build(args.capture)
    cpu = None if args.no_pin else min(os.sched_getaffinity(0))

    replay = bench_replay(args.capture, args.registry, args.runs, cpu)
    decoder = bench_decoder(args.capture, args.runs)
    tshark = None if args.skip_tshark else bench_tshark(args.capture, args.tshark_runs, cpu)

    frames = decoder["records"]
    result = {
        "capture": str(args.capture), "capture_mb": round(args.capture.stat().st_size / 1e6, 1),
        "frames": frames, "python": platform.python_version(), "machine": platform.machine(),
        "cpu": platform.processor() or _cpu_model(), "pinned_cpu": cpu,
        "replay": replay | {"fps": round(frames / replay["seconds"])},
        "decoder": decoder | {"fps": round(frames / decoder["decode_seconds"]),
                              "read_fps": round(frames / decoder["read_seconds"])},
        "tshark": None if tshark is None else tshark | {"fps": round(frames / tshark["seconds"])},
    }
    if tshark is not None:
        result["ratio_replay_to_tshark"] = round(tshark["seconds"] / replay["seconds"], 1)
        result["ratio_decoder_to_tshark"] = round(tshark["seconds"] / decoder["decode_seconds"], 1)
    ratio = result.get("ratio_replay_to_tshark", TARGET_RATIO)
    result["meets_targets"] = result["replay"]["fps"] >= TARGET_FPS and ratio >= TARGET_RATIO
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def report(r: dict) -> str:
    lines = [
        f"capture: {r['capture']} ({r['frames']:,} frames, {r['capture_mb']} MB)",
        f"python {r['python']} on {r['cpu']} ({r['machine']}), subprocesses pinned to CPU "
        f"{r['pinned_cpu']}",
        "",
        f"{'measurement':<44}{'seconds':>9}{'frames/s':>12}",
        f"{'replay end to end (best of runs)':<44}{r['replay']['seconds']:>9.2f}"
        f"{r['replay']['fps']:>12,}",
        f"{'  as reported by replay (excl. start-up)':<44}{'':>9}"
        f"{(r['replay']['replay_reported_fps'] or 0):>12,}",
        f"{'decoder alone, in process':<44}{r['decoder']['decode_seconds']:>9.2f}"
        f"{r['decoder']['fps']:>12,}",
        f"{'capture reader alone, in process':<44}{r['decoder']['read_seconds']:>9.2f}"
        f"{r['decoder']['read_fps']:>12,}",
    ]
    if r["tshark"] is not None:
        lines.append(f"{'tshark, beacon BSSID/SSID/channel':<44}{r['tshark']['seconds']:>9.2f}"
                     f"{r['tshark']['fps']:>12,}")
    lines += ["", f"replay peak RSS: {r['replay']['peak_rss_mib']} MiB (heap, sampled: "
              f"{r['replay']['peak_anon_rss_mib']} MiB; the rest is file-backed: "
              "interpreter, libraries, mapped capture)",
              f"alerts: "
              f"{r['replay']['alerts']} {r['replay']['alerts_by_rule']}"]
    if r["tshark"] is not None:
        lines.append(f"replay is {r['ratio_replay_to_tshark']}x tshark end to end "
                     f"(decoder alone {r['ratio_decoder_to_tshark']}x); {r['tshark']['version']}")
    lines.append(f"targets (>= {TARGET_FPS:,} frames/s and >= {TARGET_RATIO:g}x tshark): "
                 f"{'met' if r['meets_targets'] else 'NOT met'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
