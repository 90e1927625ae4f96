"""Command line of the simulation: ``play`` a scenario, ``sniff`` what the interface carries.

Theory of operation
-------------------
``python -m evil_twin_monitor.simulation play --interface mon0 --control SOCK
[--scenario FILE.json] [--quiet]`` creates the simulated monitor interface
in the current network namespace (callers run it under ``ip netns exec NS``),
binds the control socket, starts the scenario's transmitters, and then
talks JSON lines: commands on stdin, events on stdout, one object per line,
flushed at once, so a test can drive it with ``subprocess.Popen`` and a demo
script can too.

Commands, each followed by its reply (an optional ``"id"`` is echoed)::

    {"cmd": "add", "transmitter": {"bssid": ..., "ssid": ..., "freq_mhz": ...}}
        -> added
    {"cmd": "remove", "bssid": ...}   or   {"cmd": "remove", "name": ...}
        -> removed {count}
    {"cmd": "delete_interface"}       the USB adapter is unplugged
        -> interface_deleted
    {"cmd": "create_interface"}       plugged back in, link up
        -> interface_created
    {"cmd": "down"}   /   {"cmd": "up"}     ip link set down / up
        -> interface_down / interface_up
    {"cmd": "deauth", "bssid": ..., "count": 50, "seconds": 1.0,
     "destination": "ff:ff:ff:ff:ff:ff", "reason": 7}
        -> deauth_started, later deauth_done {written, missed}
    {"cmd": "flood", "rate": 20000, "seconds": 5, "mix": "mixed",
     "freq_mhz": 2437, "frames": 4096}      rate 0: as fast as possible
        -> flood_done {frames, seconds, rate, errors}
    {"cmd": "status"}
        -> status {tuned_freq_mhz, interface_exists, transmitters, counters}
    {"cmd": "quit"}                   also: EOF on stdin, SIGTERM, SIGINT
        -> quitting, stopped

``--no-stdin`` takes no commands and plays until SIGTERM/SIGINT (for shell
scripts that start the player in the background).

Unsolicited events: ``ready`` (once, when frames can flow), ``tuned``
{freq_mhz, width_mhz} for every tune datagram (``--quiet`` leaves them out:
a caller that does not read stdout would otherwise block the player once the
pipe is full), ``control_error``. A bad command gets ``error`` {error} and
the player goes on. On exit the interface is removed, the socket file
unlinked, ``stopped`` printed, and the exit status is 0; a scenario or setup
problem is one line on stderr and status 2.

Scenario file (JSON)::

    {"transmitters": [{"name": "twin", "bssid": "02:00:5e:00:00:01",
                       "ssid": "Shinjuku_Free_Wi-Fi", "freq_mhz": 5745,
                       "security": "wpa2-psk", "profile": "hostapd"}, ...]}

``sniff --interface mon0 [--seconds S] [--count N]`` prints one JSON line
per frame heard (decoded by our decoder) after a ``listening`` line, then
``sniff_done`` with counts by kind: a plain AF_PACKET socket, no filter, to
check the player from outside.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from typing import Any, Callable

from ..decoding import Decoder, mac_text
from . import frames as F
from .player import Event, ScenarioPlayer, Transmitter
from .tap import SimulatedMonitor, SimulatedMonitorError

ETH_P_ALL = 0x0003


class UsageError(Exception):
    """A scenario or setup problem: one line on stderr, exit status 2."""


def emit(event: Event) -> None:
    """One JSON line on stdout, flushed at once (the caller waits for it).
    A caller that went away is not an error: the player keeps its state
    consistent and exits on EOF or a signal as usual."""
    try:
        sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def load_scenario(path: str) -> list[Transmitter]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise UsageError(f"scenario {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"scenario {path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("transmitters", []), list):
        raise UsageError(f"scenario {path}: expected {{\"transmitters\": [...]}}")
    out = []
    for i, spec in enumerate(data.get("transmitters", [])):
        try:
            out.append(Transmitter.from_dict(spec))
        except ValueError as exc:
            raise UsageError(f"scenario {path}: transmitters[{i}]: {exc}") from None
    return out


class Session:
    """The ``play`` command: a player, its interface, and the stdin command loop."""

    def __init__(self, interface: str, control: str, transmitters: list[Transmitter],
                 quiet: bool = False, use_stdin: bool = True) -> None:
        self.quiet = quiet
        self.use_stdin = use_stdin
        self.monitor = SimulatedMonitor(interface)
        self.player = ScenarioPlayer(self.monitor, control, transmitters, on_event=self._event)
        self.stop_reason: str | None = None
        self._pending = b""
        self._commands: dict[str, Callable[[dict[str, Any]], Event]] = {
            "add": self._add, "remove": self._remove,
            "delete_interface": self._delete, "create_interface": self._create,
            "down": self._down, "up": self._up, "deauth": self._deauth,
            "flood": self._flood, "status": self._status, "quit": self._quit,
        }

    def _event(self, event: Event) -> None:
        if self.quiet and event["event"] == "tuned":
            return
        emit(event)

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        previous = signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        stdin = sys.stdin.fileno() if self.use_stdin else -1
        watched = (stdin, wake_r.fileno()) if self.use_stdin else (wake_r.fileno(),)
        try:
            try:
                self.player.open()
                self.monitor.create()
            except SimulatedMonitorError as exc:
                raise UsageError(str(exc)) from None
            emit({"event": "ready", "interface": self.monitor.name,
                  "control": self.player.control_socket_path, "pid": os.getpid(),
                  "transmitters": [tx.describe() for tx in self.player.transmitters]})
            while self.stop_reason is None:
                ready = self.player.poll(1.0, watched)
                if wake_r.fileno() in ready:
                    try:
                        wake_r.recv(64)
                    except BlockingIOError:
                        pass
                if stdin in ready and self.stop_reason is None:
                    self._read_stdin(stdin)
        finally:
            self.player.close()
            self.monitor.delete()
            signal.set_wakeup_fd(previous)
            wake_r.close()
            wake_w.close()
        emit({"event": "stopped", "reason": self.stop_reason,
              "counters": dict(self.player.counters)})
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_reason = signal.Signals(signum).name

    def _read_stdin(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self.stop_reason = "eof"
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if line.strip():
                self._command(line)
            if self.stop_reason is not None:
                return

    def _command(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            emit({"event": "error", "error": f"not a JSON object: {line[:80]!r}"})
            return
        if not isinstance(msg, dict):
            emit({"event": "error",
                  "error": "a command is a JSON object like {\"cmd\": \"status\"}"})
            return
        name = msg.get("cmd")
        handler = self._commands.get(name) if isinstance(name, str) else None
        if handler is None:
            emit({"event": "error", "cmd": name, "id": msg.get("id"),
                  "error": f"unknown cmd {name!r}; valid: {', '.join(self._commands)}"})
            return
        try:
            reply = handler(msg)
        except (ValueError, TypeError, KeyError, SimulatedMonitorError, OSError) as exc:
            reply = {"event": "error", "cmd": name, "error": _one_line(exc)}
        if "id" in msg:
            reply["id"] = msg["id"]
        emit(reply)

    # -- commands ----------------------------------------------------------

    def _add(self, msg: dict[str, Any]) -> Event:
        tx = Transmitter.from_dict(msg.get("transmitter"))  # type: ignore[arg-type]
        self.player.add(tx)
        return {"event": "added", **tx.describe()}

    def _remove(self, msg: dict[str, Any]) -> Event:
        if "bssid" not in msg and "name" not in msg:
            raise ValueError("remove needs 'bssid' or 'name'")
        count = self.player.remove(msg.get("bssid"), msg.get("name"))
        return {"event": "removed", "count": count}

    def _delete(self, msg: dict[str, Any]) -> Event:
        self.monitor.delete()
        return {"event": "interface_deleted", "interface": self.monitor.name}

    def _create(self, msg: dict[str, Any]) -> Event:
        self.monitor.create()
        return {"event": "interface_created", "interface": self.monitor.name}

    def _down(self, msg: dict[str, Any]) -> Event:
        self.monitor.set_up(False)
        return {"event": "interface_down", "interface": self.monitor.name}

    def _up(self, msg: dict[str, Any]) -> Event:
        self.monitor.set_up(True)
        return {"event": "interface_up", "interface": self.monitor.name}

    def _deauth(self, msg: dict[str, Any]) -> Event:
        tx = self.player.find(msg.get("bssid"), msg.get("name"))
        if tx is None:
            raise ValueError("deauth needs the 'bssid' or 'name' of a transmitter in the scenario")
        count = _number(msg, "count", 50, int)
        seconds = _number(msg, "seconds", 1.0, float)
        destination = F.mac(msg.get("destination", "ff:ff:ff:ff:ff:ff"))
        self.player.deauth_burst(tx, count, seconds, destination, _number(msg, "reason", 7, int),
                                 tag=msg.get("id"))
        return {"event": "deauth_started", "bssid": tx.bssid.hex(":"), "count": count}

    def _flood(self, msg: dict[str, Any]) -> Event:
        rate = _number(msg, "rate", 20000, float)
        seconds = _number(msg, "seconds", 5.0, float)
        mix = msg.get("mix", "mixed")
        freq = _number(msg, "freq_mhz", 2437, int)
        prepared = F.traffic_mix(mix, _number(msg, "frames", 4096, int), freq)
        result = self.player.flood(rate, seconds, prepared,
                                   should_stop=lambda: self.stop_reason is not None)
        return {"event": "flood_done", "mix": mix, "frames": result.frames,
                "errors": result.errors, "seconds": round(result.seconds, 4),
                "rate": round(result.rate_fps, 1), "target_rate": rate}

    def _status(self, msg: dict[str, Any]) -> Event:
        tuned = self.player.tuned
        return {"event": "status", "interface": self.monitor.name,
                "interface_exists": self.monitor.exists,
                "tuned_freq_mhz": tuned[0] if tuned else None,
                "width_mhz": tuned[1] if tuned else None,
                "transmitters": [tx.describe() for tx in self.player.transmitters],
                "counters": dict(self.player.counters)}

    def _quit(self, msg: dict[str, Any]) -> Event:
        self.stop_reason = "quit"
        return {"event": "quitting"}


def _number(msg: dict[str, Any], key: str, default: Any, kind: type) -> Any:
    value = msg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return kind(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


# ---------------------------------------------------------------------------
# sniff
# ---------------------------------------------------------------------------


def sniff(interface: str, seconds: float, count: int | None) -> int:
    """Print what arrives on ``interface`` as decoded JSON lines."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((interface, 0))
    except OSError as exc:
        raise UsageError(f"cannot capture on {interface}: {exc.strerror}") from None
    decoder = Decoder()
    emit({"event": "listening", "interface": interface})
    end = time.monotonic() + seconds
    heard = 0
    with sock:
        while count is None or heard < count:
            left = end - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            except OSError as exc:
                emit({"event": "sniff_error", "error": _one_line(exc)})
                break
            heard += 1
            frame = decoder.decode(data, 127, time.time_ns(), heard)
            if frame is None:
                continue
            el = frame.elements
            ssid = el.ssid if el is not None else None
            emit({"event": "frame", "kind": frame.kind, "bssid": mac_text(frame.bssid),
                  "ta": mac_text(frame.addr2), "freq_mhz": frame.freq_mhz,
                  "signal_dbm": frame.signal_dbm, "seq": frame.seq, "tsf": frame.tsf,
                  "ssid": ssid.decode("utf-8", "replace") if ssid is not None else None,
                  "security": sorted(el.security) if el else None,
                  "channel": el.channel if el else None})
    emit({"event": "sniff_done", "frames": heard, "kinds": dict(decoder.frames)})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evil_twin_monitor.simulation",
                                     description="Simulated monitor interface and scenario player "
                                                 "(run inside a network namespace; needs root).")
    sub = parser.add_subparsers(dest="command", required=True)
    play = sub.add_parser("play", help="create the interface and play a scenario; "
                                       "JSON-line commands on stdin, events on stdout")
    play.add_argument("--interface", default="mon0")
    play.add_argument("--control", required=True, help="AF_UNIX datagram socket path the "
                                                      "simulated radio sends tune datagrams to")
    play.add_argument("--scenario", help="JSON file listing transmitters")
    play.add_argument("--quiet", action="store_true", help="do not print a 'tuned' event per hop")
    play.add_argument("--no-stdin", action="store_true",
                      help="take no commands; play until SIGTERM/SIGINT (for shell scripts)")
    sn = sub.add_parser("sniff", help="print the frames arriving on an interface")
    sn.add_argument("--interface", default="mon0")
    sn.add_argument("--seconds", type=float, default=2.0)
    sn.add_argument("--count", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "sniff":
            return sniff(args.interface, args.seconds, args.count)
        transmitters = load_scenario(args.scenario) if args.scenario else []
        try:
            session = Session(args.interface, args.control, transmitters, args.quiet,
                              use_stdin=not args.no_stdin)
        except SimulatedMonitorError as exc:
            raise UsageError(str(exc)) from None
        return session.run()
    except UsageError as exc:
        print(f"simulation: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
