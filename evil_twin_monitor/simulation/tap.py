"""A simulated monitor-mode interface: a TAP device with the radiotap link type.

Theory of operation
-------------------
A TAP device is a network interface whose "wire" is a file descriptor: every
frame written to the fd is received by the interface, exactly as a driver
hands a received frame to the kernel. Two ioctls on ``/dev/net/tun`` make it
look like a Wi-Fi adapter in monitor mode:

- ``TUNSETIFF`` with ``IFF_TAP | IFF_NO_PI`` creates the device (no packet
  information prefix: what we write is the frame, byte for byte);
- ``TUNSETLINK`` 803 (``ARPHRD_IEEE80211_RADIOTAP``) sets the link type, so
  ``ip link`` shows ``link/ieee802.11/radiotap``, libpcap picks DLT 127, and
  the capture code cannot tell it from a real monitor interface.

Then the link is brought up (``SIOCSIFFLAGS``). Every AF_PACKET socket bound
to the interface receives what we write, synchronously, in the writer's own
system call: a full socket buffer shows up as that socket's kernel drops,
which is what the live benchmark measures.

The device is not persistent: closing the fd removes it, which is how
`delete` simulates a USB adapter being unplugged (capture sockets bound to it
get ``ENETDOWN``), and `create` plugs it back in under the same name. A
write while the link is down fails with ``EIO``, as a radio that is down
hears nothing.

Needs CAP_NET_ADMIN (root); always used inside a network namespace, so the
name never clashes with the host's interfaces.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
from types import TracebackType

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
TUNSETLINK = 0x400454CD
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_IEEE80211_RADIOTAP = 803

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_IFREQ = struct.Struct("16sH")  # struct ifreq: name + the short of the union we use
IFNAMSIZ = 16


class SimulatedMonitorError(Exception):
    """The TAP device could not be created or changed (one line for people)."""


class SimulatedMonitor:
    """A TAP interface that looks like a monitor-mode Wi-Fi adapter.

    ``write`` injects one received frame (radiotap header + 802.11 frame).
    """

    def __init__(self, name: str = "mon0") -> None:
        encoded = name.encode()
        if not encoded or len(encoded) >= IFNAMSIZ or b"/" in encoded or b" " in encoded:
            raise SimulatedMonitorError(f"invalid interface name {name!r}: 1-15 characters, "
                                        "no '/' or spaces")
        self.name = name
        self._fd: int | None = None

    @property
    def exists(self) -> bool:
        """True while the interface exists (created and not deleted)."""
        return self._fd is not None

    def fileno(self) -> int:
        if self._fd is None:
            raise SimulatedMonitorError(f"interface {self.name} does not exist")
        return self._fd

    def create(self, up: bool = True) -> None:
        """Create the interface (plug the adapter in) and bring it up."""
        if self._fd is not None:
            return
        try:
            fd = os.open(TUN_PATH, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise SimulatedMonitorError(
                f"cannot open {TUN_PATH}: {exc.strerror} "
                "(needs root, or CAP_NET_ADMIN and the tun module)") from exc
        try:
            fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(self.name.encode(), IFF_TAP | IFF_NO_PI))
            fcntl.ioctl(fd, TUNSETLINK, ARPHRD_IEEE80211_RADIOTAP)
        except OSError as exc:
            os.close(fd)
            hint = " (already in use?)" if exc.errno == errno.EBUSY else ""
            raise SimulatedMonitorError(f"cannot create TAP interface {self.name}: "
                                        f"{exc.strerror}{hint}") from exc
        self._fd = fd
        if up:
            self.set_up(True)

    def set_up(self, up: bool) -> None:
        """Bring the link up or down (``ip link set ... up|down``)."""
        if self._fd is None:
            raise SimulatedMonitorError(f"interface {self.name} does not exist")
        name = self.name.encode()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                _, flags = _IFREQ.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, _IFREQ.pack(name, 0)))
                flags = flags | IFF_UP if up else flags & ~IFF_UP
                fcntl.ioctl(sock, SIOCSIFFLAGS, _IFREQ.pack(name, flags))
        except OSError as exc:
            raise SimulatedMonitorError(f"cannot set {self.name} {'up' if up else 'down'}: "
                                        f"{exc.strerror}") from exc

    def write(self, frame: bytes) -> int:
        """Inject one received frame. Raises OSError (EIO while the link is
        down) or `SimulatedMonitorError` when the interface does not exist."""
        fd = self._fd
        if fd is None:
            raise SimulatedMonitorError(f"interface {self.name} does not exist")
        return os.write(fd, frame)

    def delete(self) -> None:
        """Remove the interface (unplug the adapter). Never raises."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "SimulatedMonitor":
        self.create()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.delete()

    def __repr__(self) -> str:
        return f"SimulatedMonitor({self.name!r}, exists={self.exists})"
