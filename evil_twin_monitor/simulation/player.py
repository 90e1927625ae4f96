"""The scenario player: transmitters on channels, heard only where the radio listens.

Theory of operation
-------------------
A real sensor hears an access point only while its radio is tuned to that
AP's channel; an evil twin on a channel outside the facility's set is caught
only if the channel plan visits it. The player reproduces exactly that.

The "radio" is the daemon's simulated radio (`radio.simulated`): each
``tune()`` sends one datagram ``b"<freq_mhz> <width_mhz>"`` to the player's
AF_UNIX SOCK_DGRAM control socket. The player remembers the last one; until
the first arrives the radio is tuned nowhere and nothing is heard. A
transmitter is heard when the tuned centre frequency equals its own (the
primary 20 MHz channel; the width is recorded, not simulated, and neither is
2.4 GHz adjacent-channel leakage).

Each `Transmitter` keeps its own TSF clock (microseconds, from an offset
derived from its BSSID so that two radios never share one) and sequence
counter, and beacons every ``beacon_interval_tu`` x 1024 us whether heard or
not (so the sensor sees the sequence gaps a hopping radio sees). Its element
region is built once; a beacon is a few byte concatenations.

Scheduling is a heap of due times (monotonic nanoseconds): `poll` waits on
the control socket (and any file descriptors the caller adds) until the
next frame is due, then writes what is due. A player that fell behind (a
flood ran, the machine stalled) skips the missed beacon slots rather than
bursting them, as an AP does not queue beacons either.

`flood` is for the benchmark: a prepared list of frames written, cycled, at
a steady rate in batches of about 2 ms (``rate_fps=0``: as fast as one core
can), regardless of tuning; pending control datagrams are drained every few
milliseconds meanwhile, because the kernel queues only
``net.unix.max_dgram_qlen`` (10) datagrams and the daemon keeps hopping.

Nothing here raises on a bad datagram or a failed write: they are counted in
`counters` (and reported through ``on_event`` for datagrams).
"""

from __future__ import annotations

import heapq
import os
import select
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..decoding.channels import channel_to_frequency
from . import frames as F
from .tap import SimulatedMonitor, SimulatedMonitorError

TU_NS = 1024_000          # one time unit (1024 us) in nanoseconds
CONTROL_DRAIN_S = 0.005   # how often a flood looks at the control socket

Event = dict[str, Any]


class Transmitter:
    """One access point (legitimate or not): its beacons, TSF and sequence numbers."""

    FIELDS = ("name", "bssid", "ssid", "freq_mhz", "channel", "security", "pmf",
              "beacon_interval_tu", "signal_dbm", "announced_channel", "profile", "tsf_offset_us")

    def __init__(self, bssid: str | bytes, ssid: str | bytes, freq_mhz: int,
                 security: str | Iterable[str] = "wpa2-psk", beacon_interval_tu: int = 100,
                 signal_dbm: int = -50, *, pmf: str | None = None,
                 announced_channel: int | None = None, profile: str = "city-ap",
                 name: str | None = None, tsf_offset_us: int | None = None) -> None:
        self.bssid = F.mac(bssid)
        self.ssid = ssid if isinstance(ssid, bytes) else ssid.encode("utf-8")
        if not isinstance(freq_mhz, int) or isinstance(freq_mhz, bool):
            raise ValueError(f"freq_mhz must be an integer, got {freq_mhz!r}")
        F.channel_of(freq_mhz)  # validates
        if not isinstance(beacon_interval_tu, int) or not 1 <= beacon_interval_tu <= 65535:
            raise ValueError(f"beacon_interval_tu must be 1-65535, got {beacon_interval_tu!r}")
        if not isinstance(signal_dbm, int) or not -127 <= signal_dbm <= 0:
            raise ValueError(f"signal_dbm must be an integer from -127 to 0, got {signal_dbm!r}")
        self.freq_mhz = freq_mhz
        self.security = F.security_set(security)
        self.pmf = pmf
        self.beacon_interval_tu = beacon_interval_tu
        self.signal_dbm = signal_dbm
        self.announced_channel = announced_channel
        self.profile = profile
        self.name = name or self.bssid.hex(":")
        self.tsf_offset_us = (tsf_offset_us if tsf_offset_us is not None
                              else int.from_bytes(self.bssid, "big") * 7919 % 10**12)
        self.seq = 0
        self.active = True  # cleared when removed from a player
        prof = F.profile_named(profile)
        region, privacy = F.ap_elements(self.ssid, freq_mhz, self.security, pmf,
                                        profile=prof, channel=announced_channel)
        cap = F.capability(freq_mhz, privacy, prof)
        # Everything but radiotap TSFT, sequence control and timestamp is fixed.
        self._header = struct.pack("<BBH6s6s6s", F.FC_BEACON, 0, 0, F.BROADCAST,
                                   self.bssid, self.bssid)
        self._tail = struct.pack("<HH", beacon_interval_tu, cap) + region

    @property
    def interval_ns(self) -> int:
        return self.beacon_interval_tu * TU_NS

    def tsf(self, now_ns: int) -> int:
        """The AP's TSF timer (microseconds) at monotonic time ``now_ns``."""
        return self.tsf_offset_us + now_ns // 1000

    def next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) & 0xFFF
        return seq

    def beacon(self, now_ns: int, sensor_tsft: int | None = None) -> bytes:
        """The next beacon, stamped with TSF(now) and the next sequence number."""
        return (F.radiotap(self.freq_mhz, self.signal_dbm, sensor_tsft) + self._header
                + struct.pack("<HQ", self.next_seq() << 4, self.tsf(now_ns) & 0xFFFFFFFFFFFFFFFF)
                + self._tail)

    def deauth(self, destination: bytes = F.BROADCAST, reason: int = 7) -> bytes:
        """A deauthentication frame in this AP's name (as a spoofer sends it)."""
        return F.deauth(self.bssid, destination, self.bssid, self.freq_mhz, reason=reason,
                        seq=self.next_seq(), signal_dbm=self.signal_dbm)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "Transmitter":
        """From a scenario/command mapping; ValueError names the bad field."""
        if not isinstance(spec, Mapping):
            raise ValueError("a transmitter is an object like {\"bssid\": ..., \"ssid\": ..., "
                             "\"freq_mhz\": ...}")
        unknown = sorted(set(spec) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown transmitter field {', '.join(unknown)}; valid: "
                             + ", ".join(cls.FIELDS))
        for key in ("bssid", "ssid"):
            if not isinstance(spec.get(key), str):
                raise ValueError(f"transmitter needs '{key}' (a string)")
        freq = spec.get("freq_mhz")
        if freq is None and "channel" in spec:
            channel = spec["channel"]
            freq = channel_to_frequency(channel) if isinstance(channel, int) else None
            if freq is None:
                raise ValueError(f"channel {channel!r} is not a 2.4/5 GHz channel number "
                                 "(use freq_mhz for 6 GHz)")
        if freq is None:
            raise ValueError("transmitter needs 'freq_mhz' (or 'channel')")
        kwargs = {k: spec[k] for k in ("security", "pmf", "beacon_interval_tu", "signal_dbm",
                                       "announced_channel", "profile", "name", "tsf_offset_us")
                  if k in spec}
        name = spec.get("name")
        try:
            return cls(spec["bssid"], spec["ssid"], freq, **kwargs)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"transmitter {name or spec['bssid']}: {exc}") from None

    def describe(self) -> Event:
        return {"name": self.name, "bssid": self.bssid.hex(":"),
                "ssid": self.ssid.decode("utf-8", "replace"), "freq_mhz": self.freq_mhz,
                "security": sorted(self.security), "beacon_interval_tu": self.beacon_interval_tu,
                "signal_dbm": self.signal_dbm, "profile": self.profile}

    def __repr__(self) -> str:
        return (f"Transmitter({self.name!r}, bssid={self.bssid.hex(':')}, "
                f"ssid={self.ssid!r}, freq={self.freq_mhz})")


@dataclass(frozen=True)
class FloodResult:
    frames: int       # frames the kernel accepted
    errors: int       # writes that failed (link down, interface gone)
    seconds: float
    rate_fps: float   # achieved: frames / seconds
    target_fps: float  # asked for; 0 = as fast as possible


class _Burst:
    """A deauthentication burst: ``count`` frames spread over ``seconds``."""

    __slots__ = ("tx", "destination", "reason", "left", "gap_ns", "written", "missed", "tag")

    def __init__(self, tx: Transmitter, destination: bytes, reason: int, count: int,
                 seconds: float, tag: Any) -> None:
        self.tx, self.destination, self.reason, self.tag = tx, destination, reason, tag
        self.left = count
        self.gap_ns = int(seconds * 1e9 / count) if count else 0
        self.written = 0
        self.missed = 0


class ScenarioPlayer:
    """Writes transmitters' frames into a `SimulatedMonitor` while the radio is tuned to them."""

    def __init__(self, monitor: SimulatedMonitor, control_socket_path: str | None,
                 transmitters: Iterable[Transmitter] = (), *,
                 on_event: Callable[[Event], None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.monitor = monitor
        self.control_socket_path = control_socket_path
        self.on_event = on_event or (lambda event: None)
        self.clock = clock
        self.tuned: tuple[int, int] | None = None   # (freq_mhz, width_mhz), None = nowhere
        self.transmitters: list[Transmitter] = []
        self.counters: Counter[str] = Counter()
        self._heap: list[tuple[int, int, Any]] = []
        self._order = 0
        self._sock: socket.socket | None = None
        for tx in transmitters:
            self.add(tx)

    # -- control socket --------------------------------------------------

    def open(self) -> None:
        """Bind the control socket (replacing a stale socket file)."""
        if self._sock is not None or self.control_socket_path is None:
            return
        path = self.control_socket_path
        try:
            if os.path.exists(path) and not os.path.isdir(path):
                os.unlink(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
        except OSError as exc:
            raise SimulatedMonitorError(
                f"cannot bind control socket {path}: {exc.strerror}") from exc
        sock.setblocking(False)
        self._sock = sock

    def close(self) -> None:
        """Close and remove the control socket. Never raises."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
            try:
                os.unlink(self.control_socket_path)  # type: ignore[arg-type]
            except OSError:
                pass

    def __enter__(self) -> "ScenarioPlayer":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        """The control socket's fd (for a caller's own select loop)."""
        if self._sock is None:
            raise ValueError("control socket is not open")
        return self._sock.fileno()

    def handle_control(self) -> None:
        """Read every pending tune datagram; the last valid one wins."""
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.counters["control_errors"] += 1
                return
            self.tune_from(data)

    def tune_from(self, data: bytes) -> None:
        """Apply one datagram ``b"<freq_mhz> <width_mhz>"`` (width optional)."""
        parts = data.split()
        try:
            if not 1 <= len(parts) <= 2:
                raise ValueError
            freq = int(parts[0])
            width = int(parts[1]) if len(parts) == 2 else 20
            if freq <= 0 or width <= 0:
                raise ValueError
        except ValueError:
            self.counters["bad_control"] += 1
            self.on_event({"event": "control_error",
                           "error": f"expected b'<freq_mhz> <width_mhz>', got {data[:40]!r}"})
            return
        self.tuned = (freq, width)
        self.counters["tunes"] += 1
        self.on_event({"event": "tuned", "freq_mhz": freq, "width_mhz": width})

    @property
    def tuned_freq(self) -> int | None:
        return self.tuned[0] if self.tuned is not None else None

    # -- transmitters ----------------------------------------------------

    def add(self, tx: Transmitter) -> None:
        """Start beaconing; the first beacon goes out at once (a random phase
        would make short tests flaky)."""
        tx.active = True
        self.transmitters.append(tx)
        self._schedule(self.clock(), tx)

    def remove(self, bssid: str | bytes | None = None, name: str | None = None) -> int:
        """Stop every transmitter with this BSSID (or name); returns how many."""
        gone = [tx for tx in self.transmitters if self._matches(tx, bssid, name)]
        for tx in gone:
            tx.active = False
            self.transmitters.remove(tx)
        return len(gone)

    def find(self, bssid: str | bytes | None = None, name: str | None = None) -> Transmitter | None:
        for tx in self.transmitters:
            if self._matches(tx, bssid, name):
                return tx
        return None

    @staticmethod
    def _matches(tx: Transmitter, bssid: str | bytes | None, name: str | None) -> bool:
        return ((bssid is not None and tx.bssid == F.mac(bssid))
                or (name is not None and tx.name == name))

    def deauth_burst(self, tx: Transmitter, count: int, seconds: float = 1.0,
                     destination: bytes = F.BROADCAST, reason: int = 7, tag: Any = None) -> None:
        """Schedule ``count`` deauthentication frames in ``tx``'s name over
        ``seconds``, each heard only if the radio is on ``tx``'s channel then.
        ``deauth_done`` is reported when the last one is due."""
        if count < 1 or seconds < 0:
            raise ValueError("a burst needs count >= 1 and seconds >= 0")
        self._schedule(self.clock(), _Burst(tx, destination, reason, count, seconds, tag))

    def _schedule(self, due_ns: int, item: Any) -> None:
        self._order += 1
        heapq.heappush(self._heap, (due_ns, self._order, item))

    # -- writing -----------------------------------------------------------

    def _emit(self, frame: bytes, freq_mhz: int) -> bool:
        """Write a frame heard on ``freq_mhz`` if the radio is tuned there."""
        tuned = self.tuned
        if tuned is None or tuned[0] != freq_mhz:
            self.counters["not_heard"] += 1
            return False
        if not self.monitor.exists:
            self.counters["no_interface"] += 1
            return False
        try:
            self.monitor.write(frame)
        except (OSError, SimulatedMonitorError):
            self.counters["write_errors"] += 1
            return False
        self.counters["written"] += 1
        return True

    def run_due(self, now_ns: int | None = None) -> int | None:
        """Write everything due by ``now_ns``; returns the next due time (or None)."""
        now = self.clock() if now_ns is None else now_ns
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, item = heapq.heappop(heap)
            if isinstance(item, Transmitter):
                if not item.active:
                    continue
                missed = (now - due) // item.interval_ns
                if missed:  # fell behind: the AP sent those while nobody wrote them
                    self.counters["late_skipped"] += missed
                    item.seq = (item.seq + missed) & 0xFFF
                    due += missed * item.interval_ns
                self._emit(item.beacon(now, sensor_tsft=now // 1000), item.freq_mhz)
                self._schedule(due + item.interval_ns, item)
            else:
                burst: _Burst = item
                frame = burst.tx.deauth(burst.destination, burst.reason)
                if self._emit(frame, burst.tx.freq_mhz):
                    burst.written += 1
                else:
                    burst.missed += 1
                burst.left -= 1
                if burst.left > 0:
                    self._schedule(due + burst.gap_ns, burst)
                else:
                    event: Event = {"event": "deauth_done", "bssid": burst.tx.bssid.hex(":"),
                                    "written": burst.written, "missed": burst.missed}
                    if burst.tag is not None:
                        event["id"] = burst.tag
                    self.on_event(event)
        return heap[0][0] if heap else None

    def poll(self, timeout_s: float, extra_fds: Sequence[int] = ()) -> list[int]:
        """Wait up to ``timeout_s`` (less if a frame is due), handle tune
        datagrams and due frames; return which of ``extra_fds`` are readable."""
        nxt = self.run_due()
        if nxt is not None:
            timeout_s = max(0.0, min(timeout_s, (nxt - self.clock()) / 1e9))
        fds = list(extra_fds)
        if self._sock is not None:
            fds.append(self._sock.fileno())
        try:
            ready, _, _ = select.select(fds, [], [], timeout_s)
        except InterruptedError:
            ready = []
        if self._sock is not None and self._sock.fileno() in ready:
            self.handle_control()
        self.run_due()
        return [fd for fd in ready if fd in extra_fds]

    def run_for(self, seconds: float) -> None:
        """Play for ``seconds`` (for scripts that drive the player in-process)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.poll(left)

    # -- benchmark ---------------------------------------------------------

    def flood(self, rate_fps: float, seconds: float, frames: Sequence[bytes],
              should_stop: Callable[[], bool] | None = None) -> FloodResult:
        """Write ``frames`` (cycled) at ``rate_fps`` for ``seconds``, whatever the
        tuning (0 = as fast as possible). Returns what was achieved."""
        if not frames:
            raise ValueError("flood needs at least one frame")
        if rate_fps < 0 or seconds <= 0:
            raise ValueError("flood needs rate >= 0 and seconds > 0")
        fd = self.monitor.fileno()
        write = os.write
        perf = time.perf_counter
        count = len(frames)
        # About 2 ms of frames per batch (written back to back, as frames come
        # in bursts on the air too); unlimited floods write 512 at a time.
        batch = 512 if rate_fps == 0 else max(1, int(rate_fps / 500))
        index = attempts = errors = 0
        start = perf()
        end = start + seconds
        next_drain = start + CONTROL_DRAIN_S
        while True:
            now = perf()
            if now >= end:
                break
            if now >= next_drain:
                self.handle_control()
                next_drain = now + CONTROL_DRAIN_S
                if should_stop is not None and should_stop():
                    break
            if rate_fps:
                due = int((now - start) * rate_fps) - attempts
                if due < batch:  # sleep until a whole batch is due: one wake-up per batch
                    wait = (attempts + batch) / rate_fps - (now - start)
                    time.sleep(max(0.0, min(wait, end - now, CONTROL_DRAIN_S)))
                    continue
                todo = min(due, 4 * batch)  # behind: catch up, but keep draining control
            else:
                todo = batch
            for _ in range(todo):
                try:
                    write(fd, frames[index])
                except OSError:
                    errors += 1
                index += 1
                if index == count:
                    index = 0
            attempts += todo
        elapsed = perf() - start
        written = attempts - errors
        self.counters["written"] += written
        self.counters["write_errors"] += errors
        return FloodResult(written, errors, elapsed, written / elapsed if elapsed else 0.0,
                           float(rate_fps))
