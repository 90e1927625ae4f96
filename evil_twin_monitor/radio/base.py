"""The radio contract: what the daemon may ask of a receiver, and how it fails.

Theory of operation
-------------------
The daemon needs three things from a radio: make an interface that hands up
every 802.11 frame (``open``), point it at one frequency at a time (``tune``),
and leave the adapter as it found it (``close``). Two implementations exist:
`nl80211.Nl80211Radio` (a real adapter, through the kernel's nl80211 interface)
and `simulated.SimulatedRadio` (a TAP interface with a radiotap link type,
whose "channel" is a datagram to the scenario player). Both are chosen by
`make_radio` from `RadioSettings.driver`.

Failures are `RadioError` subclasses, and the one thing the daemon decides
from them is in ``permanent``: a permanent error (not a Wi-Fi device, no
monitor mode, a missing capability) will not go away by waiting, so the
daemon stops and says why; a transient one (the USB adapter unplugged, the
interface down, one frequency refused) is retried with backoff or skipped.
``str(error)`` is one line, written for the person who reads the log: it says
what is wrong and what to do about it.

This module imports nothing heavy (no pyroute2), so configuration loading can
use `RadioSettings` and `interface_name_problem` without touching netlink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DRIVERS = ("nl80211", "simulated")
IFNAMSIZ = 16  # kernel limit including the terminating NUL: names are at most 15 bytes

# ARPHRD_* link types the radios care about (linux/if_arp.h).
ARPHRD_IEEE80211 = 801
ARPHRD_IEEE80211_PRISM = 802
ARPHRD_IEEE80211_RADIOTAP = 803
MONITOR_LINK_TYPES = frozenset({ARPHRD_IEEE80211, ARPHRD_IEEE80211_PRISM, ARPHRD_IEEE80211_RADIOTAP})
ARPHRD_NAMES = {
    1: "ether",
    772: "loopback",
    776: "sit",
    778: "gre",
    65534: "none",
    ARPHRD_IEEE80211: "ieee802.11",
    ARPHRD_IEEE80211_PRISM: "ieee802.11/prism",
    ARPHRD_IEEE80211_RADIOTAP: "ieee802.11/radiotap",
}

CAPABILITY_HINT = (
    "the sensor needs CAP_NET_ADMIN to control the radio "
    "(run it from the systemd unit, which grants CAP_NET_ADMIN and CAP_NET_RAW, or as root)"
)


@dataclass(frozen=True)
class RadioSettings:
    """The ``radio:`` section of the sensor configuration."""

    driver: str                       # "nl80211" | "simulated"
    interface: str                    # the adapter's interface (nl80211) or the TAP (simulated)
    monitor_interface: str = "etm0"   # nl80211: name of the monitor interface created on the phy
    control_socket: str | None = None  # simulated: the scenario player's AF_UNIX datagram socket
    retry_initial_s: float = 1.0      # backoff while the interface is missing or down
    retry_max_s: float = 30.0


@dataclass(frozen=True)
class RadioInfo:
    """What an opened radio tells the rest of the daemon."""

    capture_interface: str                 # where the capture socket binds
    phy: str | None                        # "phy0"; None for simulated
    driver: str | None                     # kernel driver ("mt76x2u"), "simulated", or None if unknown
    frequencies: frozenset[int] | None     # MHz the phy can tune to; None = unknown/any


@dataclass(frozen=True)
class Link:
    """One network interface as rtnetlink reports it."""

    index: int
    name: str
    up: bool          # administratively up (IFF_UP)
    link_type: int    # ARPHRD_*

    @property
    def link_type_name(self) -> str:
        return ARPHRD_NAMES.get(self.link_type, f"type {self.link_type}")


class RadioError(Exception):
    """The radio could not be opened or tuned; ``str()`` is one line for people.

    ``permanent`` says whether retrying can help; a subclass sets its default,
    and a caller may override it for one instance."""

    permanent: bool = False

    def __init__(self, message: str, *, permanent: bool | None = None) -> None:
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent


class InterfaceMissing(RadioError):
    """No such interface (USB adapter unplugged, or not yet there): retry later."""

    permanent = False


class InterfaceDown(RadioError):
    """The interface exists but is administratively down: retry later."""

    permanent = False


class NotWireless(RadioError):
    """The interface is not a Wi-Fi device (or the kernel has no Wi-Fi stack)."""

    permanent = True


class NoMonitorSupport(RadioError):
    """The adapter's driver cannot (or will not) hand up frames in monitor mode."""

    permanent = True


class MissingCapability(RadioError):
    """The kernel refused an operation for lack of privilege; the message names the capability."""

    permanent = True


class InterfaceConflict(RadioError):
    """The configured monitor interface name is taken by something we must not touch."""

    permanent = True


class TuneFailed(RadioError):
    """One frequency was refused; the channel plan skips it and carries on."""

    permanent = False


@runtime_checkable
class Radio(Protocol):
    """A receiver the daemon can open, hop and give back."""

    def open(self) -> RadioInfo:
        """Prepare a capture interface; raise a `RadioError` if that is impossible now."""
        ...

    def tune(self, freq_mhz: int, width_mhz: int = 20) -> None:
        """Listen on one frequency; `TuneFailed` if only this frequency is refused."""
        ...

    def close(self) -> None:
        """Restore everything as it was before ``open``; never raises."""
        ...


def interface_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name, or None if it can.

    The kernel would refuse such a name with a bare "invalid argument"; saying
    it up front turns a typo into a readable configuration error."""
    if not name:
        return "an interface name cannot be empty"
    if len(name.encode("utf-8", "surrogateescape")) >= IFNAMSIZ:
        return f"interface names are at most {IFNAMSIZ - 1} bytes long"
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        return "an interface name cannot be '.' or '..' or contain '/', ':' or whitespace"
    return None


def require_interface_name(name: str, field: str = "radio.interface") -> None:
    """`interface_name_problem` as a permanent `RadioError` naming the setting."""
    problem = interface_name_problem(name)
    if problem is not None:
        raise RadioError(f"{field} {name!r}: {problem}", permanent=True)


SUN_PATH_MAX = 107  # bytes of an AF_UNIX socket path (sockaddr_un.sun_path without the NUL)
