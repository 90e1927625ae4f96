"""Live capture: a scapy PF_PACKET socket on the monitor interface, read raw.

Theory of operation
-------------------
scapy opens the socket (``L2ListenSocket``, not promiscuous: a monitor
interface hands up everything anyway) and libpcap, through scapy's
``compile_filter``, turns the filter expression into a BPF program for the
interface's link type, which the kernel runs on every frame before it is
queued. From then on the socket is read directly with ``recvmsg``: scapy's own
``recv`` dissects every packet, which a busy channel cannot afford.

Each frame carries the kernel's receive time (``SO_TIMESTAMPNS``), so a
backlog read late still has its true capture times; the engine's clock is
those timestamps. The receive buffer is made large (``SO_RCVBUFFORCE``, which
CAP_NET_ADMIN allows past ``rmem_max``) so that a channel hop or a burst does
not overflow it; ``PACKET_STATISTICS`` says how many frames the kernel still
had to drop, and reading it resets the kernel's counters.

Errors are split by what the daemon can do about them: `CaptureLost` (the
interface went away or down: retry later) and `CaptureError` with
``permanent`` set (missing capability, wrong link type, no libpcap: a
restart will not help).
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
from typing import Iterable

from ..radio.base import (ARPHRD_IEEE80211, ARPHRD_IEEE80211_PRISM, ARPHRD_IEEE80211_RADIOTAP,
                          ARPHRD_NAMES)
from .bpf import filter_expression

SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_STATISTICS = 6
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26

# ARPHRD (the interface's hardware type) -> pcap link type the decoder knows.
LINKTYPE_OF_ARPHRD = {ARPHRD_IEEE80211_RADIOTAP: 127, ARPHRD_IEEE80211: 105,
                      ARPHRD_IEEE80211_PRISM: 119}

_LOST_ERRNOS = {errno.ENETDOWN, errno.ENODEV, errno.ENXIO, errno.EBADFD}
_MAX_FRAME = 65536
_TIMESPEC = struct.Struct("qq")
_STATS = struct.Struct("II")


class CaptureError(Exception):
    """Capture could not be opened or continued; ``str()`` is one line for people."""

    permanent = True


class CaptureLost(CaptureError):
    """The interface vanished or went down; it may come back."""

    permanent = False


def _quiet_scapy() -> None:
    """scapy warns on stderr about link types it cannot dissect; we never ask it to."""
    logging.getLogger("scapy").setLevel(logging.ERROR)


class LiveCapture:
    """A filtered capture socket on one monitor interface."""

    def __init__(self, interface: str, kinds: Iterable[str], buffer_bytes: int) -> None:
        self.interface = interface
        self.filter = filter_expression(kinds)
        self.buffer_bytes = 0
        self._pending: OSError | None = None
        self._sock = self._open(interface)
        try:
            hatype = self._sock.getsockname()[3]
            linktype = LINKTYPE_OF_ARPHRD.get(hatype)
            if linktype is None:
                name = ARPHRD_NAMES.get(hatype, f"type {hatype}")
                raise CaptureError(
                    f"{interface}: link type {name}, not a monitor interface; a monitor "
                    "interface shows link/ieee802.11/radiotap in `ip link`")
            self.linktype = linktype
            self._attach_filter(linktype)
            self._set_buffer(buffer_bytes)
            self._sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 0)
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self._sock.setblocking(False)
            self._discard_unfiltered()
        except BaseException:
            self._sock.close()
            raise

    # -- opening ----------------------------------------------------------------
    def _open(self, interface: str) -> socket.socket:
        _quiet_scapy()
        from scapy.arch.linux import L2ListenSocket
        try:
            scapy_socket = L2ListenSocket(iface=interface, promisc=False)
        except PermissionError as exc:
            raise CaptureError(f"{interface}: opening a capture socket needs CAP_NET_RAW "
                               f"({exc.strerror})") from exc
        except OSError as exc:
            if exc.errno in _LOST_ERRNOS:
                raise CaptureLost(f"{interface}: {exc.strerror}") from exc
            raise CaptureError(f"{interface}: cannot open a capture socket: {exc}") from exc
        except ValueError as exc:  # scapy: "Interface 'x' not found": gone since the radio opened
            raise CaptureLost(f"{interface}: no such network interface") from exc
        # Keep only the plain socket: closing the scapy wrapper would close it too.
        sock: socket.socket = scapy_socket.ins
        scapy_socket.ins = None  # type: ignore[assignment]
        return sock

    def _attach_filter(self, linktype: int) -> None:
        try:
            from scapy.arch.common import compile_filter, free_filter
            from scapy.libs.structures import sock_fprog
            program = compile_filter(self.filter, linktype=linktype)
        except (ImportError, OSError) as exc:
            raise CaptureError(f"cannot compile the capture filter: libpcap is missing "
                               f"(Debian: apt install libpcap0.8): {exc}") from exc
        except Exception as exc:  # scapy's Scapy_Exception: a filter libpcap rejects
            raise CaptureError(f"cannot compile the capture filter {self.filter!r}: {exc}") from exc
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                                  sock_fprog(program.bf_len, program.bf_insns))
        finally:
            free_filter(program)

    def _set_buffer(self, wanted: int) -> None:
        """The largest buffer we may have: forced with CAP_NET_ADMIN, else up to rmem_max."""
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
        except PermissionError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
        # The kernel doubles the value for its bookkeeping; report what we asked for at most.
        self.buffer_bytes = min(wanted, self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def _discard_unfiltered(self) -> None:
        """Frames queued between bind and the filter, and the counters they moved."""
        try:
            while True:
                self._sock.recv(_MAX_FRAME)
        except BlockingIOError:
            pass
        except OSError as exc:
            self._raise_lost(exc)
        self.kernel_stats()

    # -- reading ----------------------------------------------------------------
    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` queued frames as (receive time ns, bytes); [] when none wait.

        Raises `CaptureLost` when the interface went away or down.
        """
        if self._pending is not None:
            self._raise_lost(self._pending)
        frames: list[tuple[int, bytes]] = []
        append = frames.append
        recvmsg = self._sock.recvmsg
        unpack = _TIMESPEC.unpack
        try:
            for _ in range(limit):
                data, ancillary, _flags, _addr = recvmsg(_MAX_FRAME, 64)
                ts = 0
                for level, kind, value in ancillary:
                    if kind == SO_TIMESTAMPNS and level == socket.SOL_SOCKET:
                        sec, nsec = unpack(value)
                        ts = sec * 1_000_000_000 + nsec
                append((ts, data))
        except BlockingIOError:
            pass
        except OSError as exc:
            if not frames:
                self._raise_lost(exc)
            self._pending = exc  # hand over what arrived; raise on the next read
        return frames

    def kernel_stats(self) -> tuple[int, int]:
        """(frames passed by the filter, frames the kernel dropped) since the last call."""
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        except OSError:
            return 0, 0
        return _STATS.unpack(raw)

    def _raise_lost(self, exc: OSError) -> None:
        if exc.errno in _LOST_ERRNOS:
            raise CaptureLost(f"{self.interface}: {exc.strerror}") from exc
        raise CaptureError(f"{self.interface}: capture failed: {exc}") from exc

    def close(self) -> None:
        self._sock.close()
