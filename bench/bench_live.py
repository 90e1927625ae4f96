"""Benchmark: the live daemon on a simulated monitor interface at rising frame rates.

Theory of operation
-------------------
The replay benchmark measures the engine on a file; this one measures the
whole sensor as it runs in the field: the kernel filter, the capture socket
and its buffer, the daemon's loop, decoder and rules, in the real daemon
process. In a fresh network namespace:

- the scenario player (``python -m evil_twin_monitor.simulation play``)
  owns a TAP interface of radiotap link type, ``mon0``, and floods it on
  command with a prepared traffic mix (``simulation.frames.MIXES``) at a
  given rate, whatever the radio's channel;
- the daemon (``python -m evil_twin_monitor run``) uses the simulated radio
  fixed on channel 6 (``channels: {only: [6]}``, where the flood is heard),
  JSON logs and a ``stats`` event every second.

First the daemon idles for ``--seconds`` (its CPU with no frames at all).
Each step then floods at one rate for ``--seconds``, waits until the capture
socket's queue is empty (``/proc/PID/net/packet``, Rmem: the backlog is
drained) and takes the first ``stats`` event after that. Counters are deltas
of the daemon's ``frames_total`` and ``kernel_drops_total`` between that
event and the one that ended the previous step, so the figures belong to the
step and nothing else (the scenario has no transmitters: nothing else is
written).

Only management frames pass the kernel filter (the ``mixed`` mix is about
20 % management, like a busy channel), so the daemon's "received" counts those
only; the table shows the offered total, the management frames among them,
what the daemon received, what the kernel dropped because the socket
buffer was full, and the remainder (frames neither received nor counted as
dropped: should be 0). CPU is the daemon's ``utime + stime`` from
``/proc/PID/stat`` over the busy window (flood plus drain) in % of one core,
and per received frame; peak RSS is ``VmHWM``. The player's CPU is shown too,
because an injector at 100 % caps the offered rate. With two or more CPUs
the daemon and the player are pinned to different ones (``sched_setaffinity``,
what ``taskset`` does); the kernel's delivery work (filter, socket queue)
runs in the player's ``write`` call, on the player's CPU.

Usage (root: namespaces and TAP devices)::

    .venv/bin/python bench/bench_live.py [--rates 2000,5000,...] [--seconds 5]
        [--mix mixed] [--mgmt-rates 20000,max] [--buffer-mb 16] [--no-pin] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from evil_twin_monitor.simulation.frames import MIXES, traffic_mix  # noqa: E402

# The range, then on until the daemon drops (0 = as fast as the player can write).
DEFAULT_RATES = (2000, 5000, 10000, 20000, 30000, 40000, 60000, 80000, 120000, 160000, 240000, 0)
DEFAULT_MGMT_RATES = (20000, 0)
TARGET_FPS = 20_000          # issue 3: no drops at 20,000 frames/s of mixed traffic
FREQ_MHZ = 2437              # channel 6
MIX_FRAMES = 4096            # frames the player prepares and cycles through
CLK_TCK = os.sysconf("SC_CLK_TCK")
DRAIN_POLL_S = 0.01
IN_FLIGHT_S = 0.05           # after the queue is empty: the last batch read is being processed

SENSOR_YAML = """\
sensor: {{id: bench-01, facility: city-hall}}
registry: {registry}
radio: {{interface: mon0, driver: simulated, control_socket: radio.sock}}
channels: {{only: [6]}}
capture: {{buffer_mb: {buffer_mb}}}
logging: {{level: info, format: json, stats_interval_s: 1}}
store: {{path: alerts.sqlite3}}
"""


class BenchError(Exception):
    """The benchmark cannot go on; ``str()`` is one line for people."""


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def _json_lines(stream: Any, sink: "queue.Queue[tuple[float, dict[str, Any]] | None]") -> None:
    """Pump a child's JSON lines into ``sink`` with their arrival time; None at EOF."""
    def pump() -> None:
        for line in stream:
            try:
                item = json.loads(line)
            except ValueError:
                item = {"event": "not-json", "line": line.rstrip()}
            sink.put((time.monotonic(), item if isinstance(item, dict) else {"event": item}))
        sink.put(None)
    threading.Thread(target=pump, daemon=True).start()


class Child:
    """A child process in the namespace whose JSON-line output is read in the background."""

    def __init__(self, name: str, args: list[str], cpu: int | None, cwd: Path,
                 json_on: str, stdin: bool = False) -> None:
        self.name = name
        self.events: "queue.Queue[tuple[float, dict[str, Any]] | None]" = queue.Queue()
        self.log: list[dict[str, Any]] = []
        preexec: Callable[[], None] | None = (
            (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None)
        self.proc = subprocess.Popen(
            args, cwd=cwd, text=True, preexec_fn=preexec, start_new_session=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if json_on == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if json_on == "stderr" else None)
        # `ip netns exec` and the preexec affinity both exec in place: the pid is the Python's.
        _json_lines(self.proc.stdout if json_on == "stdout" else self.proc.stderr, self.events)

    def wait_for(self, event: str, timeout: float,
                 after: float = 0.0) -> tuple[float, dict[str, Any]]:
        """The next event named ``event`` that arrives after monotonic time ``after``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise BenchError(f"{self.name}: no {event!r} event within {timeout:g} s") from None
            if item is None:
                tail = "; ".join(json.dumps(e)[:200] for e in self.log[-3:])
                raise BenchError(
                    f"{self.name} exited ({self.proc.wait()}) before {event!r}: {tail}")
            arrived, data = item
            data["_arrived"] = arrived
            self.log.append(data)
            if data.get("event") in ("sensor_failed", "sensor_crashed", "error"):
                raise BenchError(f"{self.name}: {data.get('event')}: {data.get('error', data)}")
            if data.get("event") == event and arrived >= after:
                return arrived, data

    def command(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def cpu_s(self) -> float:
        """utime + stime of the process so far (seconds)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLK_TCK   # fields 14, 15 of stat(5)

    def status_kib(self, key: str) -> int:
        """A ``/proc/PID/status`` memory line (VmHWM, VmRSS) in KiB."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self, how: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Ask politely, then kill; never raises."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(how)
                self.proc.wait(timeout=timeout)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Lab:
    """A network namespace with the player and the daemon; `close` undoes everything."""

    def __init__(self, registry: Path, buffer_mb: int, pin: bool) -> None:
        self.netns = f"etm-bench-{uuid.uuid4().hex[:8]}"
        self.tmp = Path(tempfile.mkdtemp(prefix="etm-bench-"))
        self.player: Child | None = None
        self.daemon: Child | None = None
        cpus = sorted(os.sched_getaffinity(0))
        self.daemon_cpu, self.player_cpu = ((cpus[0], cpus[1]) if pin and len(cpus) >= 2
                                            else (None, None))
        self.pinning = (f"daemon on CPU {self.daemon_cpu}, player on CPU {self.player_cpu}"
                        if self.daemon_cpu is not None else
                        "not pinned" + ("" if pin else " (--no-pin)") +
                        (f" (only {len(cpus)} CPU)" if pin and len(cpus) < 2 else ""))
        (self.tmp / "sensor.yaml").write_text(
            SENSOR_YAML.format(registry=json.dumps(str(registry)), buffer_mb=buffer_mb))
        (self.tmp / "scenario.json").write_text('{"transmitters": []}\n')
        self._ip(["netns", "add", self.netns])
        self._ip(["netns", "exec", self.netns, "ip", "link", "set", "lo", "up"])

    @staticmethod
    def _ip(args: list[str]) -> None:
        done = subprocess.run(["ip", *args], capture_output=True, text=True)
        if done.returncode:
            raise BenchError(f"ip {' '.join(args)}: {done.stderr.strip()}")

    def _in_ns(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *args]

    def start(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Player, then daemon; returns the daemon's capture_started and first stats events."""
        self.player = Child(
            "player", self._in_ns([sys.executable, "-m", "evil_twin_monitor.simulation", "play",
                                   "--interface", "mon0", "--control", str(self.tmp / "radio.sock"),
                                   "--scenario", str(self.tmp / "scenario.json"), "--quiet"]),
            self.player_cpu, ROOT, json_on="stdout", stdin=True)
        self.player.wait_for("ready", 20)
        self.daemon = Child(
            "daemon", self._in_ns([sys.executable, "-m", "evil_twin_monitor", "run", "--config",
                                   str(self.tmp / "sensor.yaml"), "--log-format", "json"]),
            self.daemon_cpu, self.tmp, json_on="stderr")
        _, capture = self.daemon.wait_for("capture_started", 30)
        _, stats = self.daemon.wait_for("stats", 5)
        return capture, stats

    def interface_counters(self) -> dict[str, int]:
        """mon0's rx counters (the frames the TAP delivered, and any it dropped itself)."""
        out: dict[str, int] = {}
        for key in ("rx_packets", "rx_dropped"):
            done = subprocess.run(self._in_ns(["cat", f"/sys/class/net/mon0/statistics/{key}"]),
                                  capture_output=True, text=True)
            out[key] = int(done.stdout.strip() or 0)
        return out

    def close(self) -> dict[str, Any] | None:
        """Stop both processes and delete the namespace; returns the daemon's final counters."""
        final = None
        if self.daemon is not None:
            self.daemon.stop(signal.SIGTERM)
            try:
                _, final = self.daemon.wait_for("sensor_stopped", 2)
            except BenchError:
                pass
        if self.player is not None:
            self.player.stop(signal.SIGTERM)   # also ends a flood in progress; removes mon0
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return final


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------


def filter_share(mix: str, filter_expression: str) -> tuple[list[bool], float]:
    """Which prepared frames of ``mix`` pass the daemon's kernel filter, and the share.

    The player prepares the same ``traffic_mix(mix, MIX_FRAMES, FREQ_MHZ)`` and
    cycles through it from the first frame on every flood, so how many frames
    passed the filter is known exactly from how many were written."""
    frames = traffic_mix(mix, MIX_FRAMES, FREQ_MHZ)
    if filter_expression.strip() == "type mgt":
        def passes(fc: int) -> bool:
            return fc & 0x0C == 0
    else:
        found = re.findall(r"wlan\[0\] == 0x([0-9a-f]{2})", filter_expression)
        wanted = {int(h, 16) for h in found}
        if not wanted:
            raise BenchError(f"cannot read the daemon's capture filter {filter_expression!r}")

        def passes(fc: int) -> bool:
            return fc in wanted
    flags = [passes(f[int.from_bytes(f[2:4], "little")]) for f in frames]
    return flags, sum(flags) / len(flags)


def passed_count(flags: list[bool], written: int) -> int:
    cycles, rest = divmod(written, len(flags))
    return cycles * sum(flags) + sum(flags[:rest])


def socket_backlog(daemon: Child) -> int:
    """Bytes queued on the packet sockets of the daemon's namespace (its capture socket).

    ``/proc/PID/net`` shows the network namespace of PID, so no ``ip netns exec`` is needed."""
    try:
        with open(f"/proc/{daemon.proc.pid}/net/packet") as fh:
            rows = fh.read().splitlines()[1:]
    except OSError:
        return 0
    return sum(int(row.split()[6]) for row in rows if len(row.split()) > 6)


def wait_drained(daemon: Child, limit_s: float) -> float:
    """Wait until the capture socket's queue is empty; returns the time it was first seen so."""
    deadline = time.monotonic() + limit_s
    while socket_backlog(daemon) and time.monotonic() < deadline:
        time.sleep(DRAIN_POLL_S)
    return time.monotonic()


def measure_idle(lab: Lab, seconds: float) -> dict[str, Any]:
    """The daemon's CPU with no frames at all: what a quiet night costs a sensor box."""
    assert lab.daemon is not None
    cpu0, t0 = lab.daemon.cpu_s(), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = lab.daemon.cpu_s(), time.monotonic()
    return {"seconds": round(t1 - t0, 2),
            "daemon_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 2)}


def run_step(lab: Lab, mix: str, rate: float, seconds: float, flags: list[bool],
             baseline: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One flood; returns (the step's figures, the stats event that ends it)."""
    player, daemon = lab.player, lab.daemon
    assert player is not None and daemon is not None
    iface0 = lab.interface_counters()
    cpu0, pcpu0 = daemon.cpu_s(), player.cpu_s()
    t0 = time.monotonic()
    player.command({"cmd": "flood", "rate": rate, "seconds": seconds, "mix": mix,
                    "freq_mhz": FREQ_MHZ, "frames": MIX_FRAMES})
    _, done = player.wait_for("flood_done", seconds + 30)
    t_flood_end = time.monotonic()
    pcpu1 = player.cpu_s()
    busy_end = wait_drained(daemon, limit_s=120)
    time.sleep(IN_FLIGHT_S)
    cpu1 = daemon.cpu_s()
    # The first stats event written after that: its totals hold the whole step.
    _, stats = daemon.wait_for("stats", 5, after=time.monotonic())
    iface1 = lab.interface_counters()
    in_step = [e for e in daemon.log if e.get("event") == "stats" and e["_arrived"] > t0]
    written = int(done["frames"])
    offered_passing = passed_count(flags, written)
    received = stats["frames_total"] - baseline["frames_total"]
    drops = stats["kernel_drops_total"] - baseline["kernel_drops_total"]
    busy_s = busy_end - t0
    cpu = cpu1 - cpu0
    return {
        "mix": mix, "target_fps": rate, "seconds": round(done["seconds"], 3),
        "offered_frames": written, "offered_fps": round(done["rate"], 1),
        "write_errors": done.get("errors", 0),
        "filter_passing_frames": offered_passing,
        "filter_passing_fps":
            round(done["rate"] * offered_passing / written, 1) if written else 0.0,
        "received_frames": received, "kernel_drops": drops,
        "unaccounted": offered_passing - received - drops,
        "drop_share": round(drops / offered_passing, 4) if offered_passing else 0.0,
        "drain_s": round(max(0.0, busy_end - t_flood_end), 2),
        "processed_fps": round(received / busy_s, 1) if busy_s > 0 else 0.0,
        "daemon_stats_peak_fps": max((e.get("frames_per_s", 0) for e in in_step), default=0),
        "daemon_cpu_percent": round(100 * cpu / busy_s, 1) if busy_s > 0 else 0.0,
        "daemon_cpu_us_per_frame": round(1e6 * cpu / received, 1) if received else None,
        "daemon_peak_rss_mib": round(daemon.status_kib("VmHWM") / 1024, 1),
        "player_cpu_percent": round(100 * (pcpu1 - pcpu0) / done["seconds"], 1)
        if done["seconds"] else 0.0,
        "interface_rx_packets": iface1["rx_packets"] - iface0["rx_packets"],
        "interface_rx_dropped": iface1["rx_dropped"] - iface0["rx_dropped"],
    }, stats


def _rates(text: str) -> list[float]:
    """``2000,5k,max`` -> [2000.0, 5000.0, 0.0] (0: as fast as the player can write)."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    try:
        rates = [0.0 if w == "max" else float(w.replace("k", "e3")) for w in words]
    except ValueError:
        raise argparse.ArgumentTypeError(f"rates are frames/s separated by commas, like "
                                         f"2000,5k,10k,max; got {text!r}") from None
    if any(r < 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive frames/s (or max)")
    return rates


def _target(rate: float) -> str:
    return f"{rate:,.0f}" if rate else "max"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _lost(step: dict[str, Any]) -> bool:
    return bool(step["kernel_drops"] or step["unaccounted"] or step["write_errors"])


def highest_drop_free(steps: list[dict[str, Any]], mix: str) -> tuple[float | None, float | None]:
    """(highest offered rate of ``mix`` at which it and every lower rate lost
    nothing, lowest offered rate that lost frames or None)."""
    best = None
    for step in sorted((s for s in steps if s["mix"] == mix), key=lambda s: s["offered_fps"]):
        if _lost(step):
            return best, step["offered_fps"]
        best = step["offered_fps"]
    return best, None


def report(r: dict[str, Any]) -> str:
    lines = [
        f"Live daemon benchmark, {r['date']}: Python {r['python']} on {r['cpu']} "
        f"({r['cpus']} CPUs), {r['pinning']}; capture buffer {r['buffer_mb']} MiB; "
        f"{r['seconds']:g} s per step.",
        f"Kernel filter: {r['filter']!r}; passes {100 * r['mix_share']:.1f} % of the "
        f"{r['mix']!r} mix ({', '.join(f'{k} {v:.0%}' for k, v in MIXES[r['mix']].items())}).",
        "",
    ]
    header = ("mix", "target/s", "offered/s", "mgmt/s", "received", "drops", "drop %",
              "proc/s", "drain s", "CPU %", "us/frame", "RSS MiB", "player CPU %")
    rows = [header]
    for s in r["steps"]:
        rows.append((s["mix"], _target(s["target_fps"]), f"{s['offered_fps']:,.0f}",
                     f"{s['filter_passing_fps']:,.0f}", f"{s['received_frames']:,}",
                     f"{s['kernel_drops']:,}" + ("" if not s["unaccounted"] else
                                                 f" (+{s['unaccounted']} lost)"),
                     f"{100 * s['drop_share']:.1f}", f"{s['processed_fps']:,.0f}",
                     f"{s['drain_s']:.2f}", f"{s['daemon_cpu_percent']:.0f}",
                     "-" if s["daemon_cpu_us_per_frame"] is None
                     else f"{s['daemon_cpu_us_per_frame']:.1f}",
                     f"{s['daemon_peak_rss_mib']:.0f}", f"{s['player_cpu_percent']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    best, first_loss = r["highest_drop_free_fps"], r["first_loss_fps"]
    tested = any(s["mix"] == r["mix"] for s in r["steps"])
    lines += [
        "",
        "offered/s: frames/s the player wrote; mgmt/s: those passing the kernel filter (the rest "
        "never reach the daemon); received: frames the daemon read; drops: the kernel's count "
        "(socket buffer full); proc/s: received / (flood + drain) seconds; CPU %: daemon, of one "
        "core, over flood + drain; us/frame: daemon CPU per received frame; RSS: daemon peak "
        "(VmHWM).",
        f"Idle (no frames, {r['idle']['seconds']:g} s): daemon CPU "
        f"{r['idle']['daemon_cpu_percent']:.1f} % of one core.",
        f"No {r['mix']!r} steps were run." if not tested else
        (f"Highest drop-free offered rate ({r['mix']}): {best:,.0f} frames/s"
         if best is not None else f"Highest drop-free offered rate ({r['mix']}): none")
        + (f" (first drops at {first_loss:,.0f} frames/s)" if first_loss is not None
           else " (no drops at any rate tested)")
        + f"; target {TARGET_FPS:,} frames/s: "
        + ("met" if best is not None and best >= TARGET_FPS * 0.98 else "NOT met") + ".",
    ]
    if r.get("final"):
        f = r["final"]
        lines.append(f"Daemon exit: {f.get('frames', 0):,} frames, {f.get('kernel_drops', 0):,} "
                     f"kernel drops, {f.get('alerts', 0)} alerts.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Live daemon on a simulated monitor interface at rising frame rates "
                    "(needs root: network namespace and TAP device).")
    parser.add_argument("--rates", type=_rates, default=list(DEFAULT_RATES),
                        help="offered frames/s per step, comma-separated; max = as fast as the "
                             "player can write (default: "
                             + ",".join(str(r) if r else "max" for r in DEFAULT_RATES) + ")")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per step (default 5)")
    parser.add_argument("--mix", default="mixed", choices=sorted(MIXES),
                        help="traffic mix of the rising steps (default mixed)")
    parser.add_argument("--mgmt-rates", type=_rates, default=list(DEFAULT_MGMT_RATES),
                        help="rates of the final all-management steps, the daemon's worst case "
                             "(default 20000,max; '' to skip)", metavar="RATES")
    parser.add_argument("--buffer-mb", type=int, default=16,
                        help="capture.buffer_mb of the daemon (default 16, the shipped default)")
    parser.add_argument("--registry", type=Path, default=HERE / "registry.yaml",
                        help="registry the daemon loads (default bench/registry.yaml)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin daemon and player to CPUs")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")

    if os.geteuid() != 0:
        print("bench_live.py needs root: it creates a network namespace and a TAP device.\n"
              "Run: sudo .venv/bin/python bench/bench_live.py", file=sys.stderr)
        return 2
    if shutil.which("ip") is None:
        print("bench_live.py needs the `ip` command (Debian: apt install iproute2)",
              file=sys.stderr)
        return 2

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    lab: Lab | None = None
    result: dict[str, Any] = {}
    try:
        lab = Lab(args.registry.resolve(), args.buffer_mb, pin=not args.no_pin)
        capture, stats = lab.start()
        assert lab.daemon is not None
        plan = next((e for e in lab.daemon.log if e.get("event") == "channel_plan"), {})
        if plan.get("home") != [FREQ_MHZ]:
            raise BenchError(f"the daemon is not fixed on {FREQ_MHZ} MHz: {plan}")
        if not args.json:
            print(f"  idle for {args.seconds:g} s ...", file=sys.stderr, flush=True)
        idle = measure_idle(lab, args.seconds)
        steps: list[dict[str, Any]] = []
        schedule = [(args.mix, r) for r in args.rates] + [("mgmt", r) for r in args.mgmt_rates]
        shares = {args.mix: filter_share(args.mix, capture["filter"])}
        for mix, rate in schedule:
            if mix not in shares:
                shares[mix] = filter_share(mix, capture["filter"])
            if not args.json:
                print(f"  {mix} at {_target(rate)} frames/s for {args.seconds:g} s ...",
                      file=sys.stderr, flush=True)
            step, stats = run_step(lab, mix, rate, args.seconds, shares[mix][0], stats)
            steps.append(step)
        result = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "cpu": _cpu_model(),
            "cpus": os.cpu_count(), "pinning": lab.pinning, "buffer_mb": args.buffer_mb,
            "seconds": args.seconds, "mix": args.mix, "filter": capture["filter"],
            "mix_share": round(shares[args.mix][1], 4),
            "buffer_bytes": capture.get("buffer_bytes"),
            "idle": idle, "steps": steps, "target_fps": TARGET_FPS,
        }
        best, first_loss = highest_drop_free(steps, args.mix)
        result["highest_drop_free_fps"], result["first_loss_fps"] = best, first_loss
    except KeyboardInterrupt:
        print("bench_live.py: interrupted; cleaning up", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench_live.py: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not skip the cleanup
        if lab is not None:
            final = lab.close()
            if result:
                result["final"] = {k: v for k, v in (final or {}).items()
                                   if k in ("frames", "kernel_drops", "alerts", "alerts_by_rule")}
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
