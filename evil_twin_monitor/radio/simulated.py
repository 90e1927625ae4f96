"""A simulated radio: a TAP interface with a radiotap link type, tuned by datagram.

Theory of operation
-------------------
Without Wi-Fi hardware, the capture side of the daemon still needs an
interface that delivers radiotap frames: a TAP device whose link type is set
to 803 (``ARPHRD_IEEE80211_RADIOTAP``). Whoever writes frames into it (the
scenario player) plays the air; this class plays the adapter's tuner. Each
``tune()`` sends one datagram ``b"<freq_mhz> <width_mhz>"`` on an AF_UNIX
``SOCK_DGRAM`` socket to ``RadioSettings.control_socket``, and the player then
writes only the frames of transmitters on that frequency, just as a real
radio hears only its channel.

The daemon must meet the same failures as with a real adapter, so ``open()``
and ``tune()`` check the interface through rtnetlink like `Nl80211Radio`
does: missing (or deleted and re-created, which gives it a new index) is
`InterfaceMissing`, administratively down is `InterfaceDown`, and a link type
other than 801/802/803 is `NotWireless`. Nobody listening on the control
socket (no player yet, or a daemon run by hand) is not an error: the
datagram is dropped and counted in ``undelivered``.
"""

from __future__ import annotations

import os
import socket

from .base import (
    MONITOR_LINK_TYPES,
    InterfaceDown,
    InterfaceMissing,
    Link,
    NotWireless,
    RadioError,
    RadioInfo,
    RadioSettings,
    TuneFailed,
    SUN_PATH_MAX,
    require_interface_name,
)
from .nl80211 import PyrouteBackend

SEND_TIMEOUT_S = 0.5      # a player that stopped reading must not stall the daemon for long


class SimulatedRadio:
    """`Radio` over a TAP interface; see the module docstring."""

    def __init__(self, settings: RadioSettings) -> None:
        self.settings = settings
        self._ipr: PyrouteBackend | None = None  # rtnetlink only: the link lookups
        self._sock: socket.socket | None = None
        self._link: Link | None = None
        self.frequency: int | None = None     # last frequency tuned
        self.width: int | None = None
        self.sent = 0                          # datagrams delivered to the control socket
        self.undelivered = 0                   # datagrams nobody received (no listener, full queue, ...)
        self.last_send_error: str | None = None

    def open(self) -> RadioInfo:
        """Check the interface and prepare the control socket."""
        if self._ipr is not None:
            self.close()
        name = self.settings.interface
        require_interface_name(name)
        path = self.settings.control_socket
        if path is not None and len(os.fsencode(path)) > SUN_PATH_MAX:
            raise RadioError(
                f"radio.control_socket {path!r}: a socket path is at most {SUN_PATH_MAX} bytes long",
                permanent=True,
            )
        self._ipr = PyrouteBackend()
        try:
            link = self._lookup(ifname=name)
            if link is None:
                raise InterfaceMissing(
                    f"{name}: no such network interface (has the simulation created it yet? "
                    "`ip link` lists the interfaces)"
                )
            if link.link_type not in MONITOR_LINK_TYPES:
                raise NotWireless(
                    f"{name}: not a monitor interface (link type {link.link_type_name}); the simulated radio "
                    "needs a TAP with link type ieee802.11/radiotap (803), like the scenario player's; "
                    "for a real adapter use radio.driver: nl80211"
                )
            self._check_up(link)
            if path is not None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.settimeout(SEND_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        self._link = link
        self.frequency = self.width = None
        return RadioInfo(capture_interface=name, phy=None, driver="simulated", frequencies=None)

    def tune(self, freq_mhz: int, width_mhz: int = 20) -> None:
        """Tell the player which frequency we listen on, if the interface is still there."""
        opened = self._link
        if self._ipr is None or opened is None:
            raise RuntimeError("SimulatedRadio.tune() called before open()")
        if not (isinstance(freq_mhz, int) and isinstance(width_mhz, int) and freq_mhz > 0 and width_mhz > 0):
            raise TuneFailed(f"cannot tune to {freq_mhz!r} MHz / {width_mhz!r} MHz: not a frequency")
        link = self._lookup(index=opened.index)
        if link is None or link.name != opened.name:
            raise InterfaceMissing(
                f"{opened.name}: the interface disappeared (deleted or re-created); "
                "it is used again once it is back"
            )
        self._check_up(link)
        self._send(f"{freq_mhz} {width_mhz}".encode("ascii"))
        self.frequency, self.width = freq_mhz, width_mhz

    def close(self) -> None:
        """Release the sockets; the simulated interface itself is the player's. Never raises."""
        for sock in (self._sock, self._ipr):
            if sock is not None:
                try:
                    sock.close()
                except Exception:
                    pass
        self._sock = self._ipr = None
        self._link = None
        self.frequency = self.width = None

    def _check_up(self, link: Link) -> None:
        if not link.up:
            raise InterfaceDown(f"{link.name}: the interface is down; bring it up with `ip link set {link.name} up`")

    def _send(self, data: bytes) -> None:
        path = self.settings.control_socket
        if path is None or self._sock is None:
            return
        try:
            self._sock.sendto(data, path)
        except OSError as exc:   # ENOENT/ECONNREFUSED: no player listening; timeout: player stuck
            self.undelivered += 1
            self.last_send_error = f"{path}: {exc.strerror or exc}"
            return
        self.sent += 1

    def _lookup(self, ifname: str | None = None, index: int | None = None) -> Link | None:
        """The interface by name or index; None when it is gone."""
        try:
            return self._ipr.link(ifname) if ifname is not None else self._ipr.link_by_index(index)
        except OSError as exc:
            raise RadioError(
                f"{self.settings.interface}: looking up the interface failed: {exc.strerror or exc}",
                permanent=False,
            ) from exc
