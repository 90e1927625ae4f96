"""A real Wi-Fi adapter as the sensor's receiver, through the kernel's nl80211.

Theory of operation
-------------------
``open()`` turns the configured interface (say ``wlan1``) into a capture
interface in the least invasive way the driver allows, and records every
change it makes as an *undo step*; ``close()`` (and a failed ``open()``) runs
the steps backwards, so the adapter ends exactly as it was found.

1. rtnetlink says whether ``wlan1`` exists (else `InterfaceMissing`: the USB
   adapter may simply be unplugged, so the daemon retries);
2. nl80211 says which phy it belongs to; no nl80211 at all, or an interface
   nl80211 does not know, is `NotWireless`;
3. the phy's supported interface types must include monitor
   (`NoMonitorSupport`), and its enabled channels become
   ``RadioInfo.frequencies``;
4. then, in order of preference:

   - ``wlan1`` is already a monitor interface: use it (bring it up if needed);
   - create a monitor interface ``etm0`` on the phy, take ``wlan1`` down if
     it was up (the sensor owns the adapter: a managed interface that scans
     and roams would pull the radio off the channel plan, and many drivers
     refuse a channel change while it is up), and bring ``etm0`` up. A stale
     ``etm0`` left by a previous run that died (power loss, SIGKILL) is
     adopted if it is a monitor interface on the same phy;
   - if the driver refuses to create or start it (EOPNOTSUPP, EBUSY, ...),
     switch ``wlan1`` itself to monitor: down, set type, up. Setting
     ``monitor_interface`` to the interface's own name asks for this directly.

``tune()`` sets a 20 MHz channel by frequency (``NL80211_CMD_SET_WIPHY`` with
``WIPHY_FREQ``, ``CHANNEL_WIDTH`` and ``CENTER_FREQ1``): HT20 first, and
20 MHz non-HT where the kernel rejects HT20 (legacy adapters; channel 14).
A refused frequency is `TuneFailed`, which the channel plan drops and carries
on; a vanished interface is `InterfaceMissing`.

Errors are mapped from errno in one place (`_mapped`): EPERM/EACCES is
`MissingCapability` naming CAP_NET_ADMIN, ENODEV `InterfaceMissing`, ENETDOWN
`InterfaceDown`, ERFKILL a transient error telling how to unblock the radio.

All netlink traffic goes through `Backend`, a thin seam with one method per
kernel request. `PyrouteBackend` is the real one (pyroute2 ``IPRoute`` for
links, ``IW`` for nl80211); the decisions above are unit-tested against a
fake, since a machine without Wi-Fi hardware (or mac80211_hwsim) cannot
exercise them. pyroute2's synchronous classes run their own asyncio loop per
call, so a radio must be used from one thread and not from inside a running
asyncio loop.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Protocol

from .base import (
    CAPABILITY_HINT,
    MONITOR_LINK_TYPES,
    InterfaceConflict,
    InterfaceDown,
    InterfaceMissing,
    Link,
    MissingCapability,
    NoMonitorSupport,
    NotWireless,
    RadioError,
    RadioInfo,
    RadioSettings,
    TuneFailed,
    require_interface_name,
)

# linux/nl80211.h values used here (the numbers are kernel ABI).
NL80211_IFTYPE_MONITOR = 6
IFTYPE_NAMES = {
    0: "unspecified", 1: "adhoc", 2: "station", 3: "ap", 4: "ap_vlan", 5: "wds", 6: "monitor",
    7: "mesh_point", 8: "p2p_client", 9: "p2p_go", 10: "p2p_device", 11: "ocb", 12: "nan",
}
NL80211_CHAN_WIDTH_20_NOHT = 0
NL80211_CHAN_WIDTH_20 = 1
IFF_UP = 0x1

_PERMISSION = (errno.EPERM, errno.EACCES)
_GONE = (errno.ENODEV, errno.ENXIO)


class NoNl80211(Exception):
    """The kernel has no nl80211 generic netlink family (cfg80211 is not loaded)."""


@dataclass(frozen=True)
class WirelessInterface:
    """A network interface as nl80211 sees it."""

    ifindex: int
    name: str
    phy_index: int
    iftype: int


@dataclass(frozen=True)
class Phy:
    """What the radio needs to know about a wiphy."""

    index: int
    name: str
    iftypes: frozenset[str]        # supported interface types ("station", "monitor", ...)
    frequencies: frozenset[int]    # enabled channels of all bands, MHz


class Backend(Protocol):
    """One method per kernel request; errors are `OSError` with the kernel's errno."""

    def link(self, name: str) -> Link | None: ...
    def link_by_index(self, index: int) -> Link | None: ...
    def set_link_up(self, index: int, up: bool) -> None: ...
    def wireless_interfaces(self) -> list[WirelessInterface]: ...  # NoNl80211 if the family is missing
    def phy(self, index: int) -> Phy: ...
    def driver(self, name: str) -> str | None: ...
    def add_monitor(self, name: str, phy_index: int) -> int | None: ...  # new ifindex, if the kernel said
    def del_interface(self, ifindex: int) -> None: ...
    def set_iftype(self, ifindex: int, iftype: int) -> None: ...
    def set_frequency(self, ifindex: int, freq_mhz: int, chan_width: int) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class _Undo:
    what: str                      # "delete etm0", for the log if it fails
    action: Callable[[], None]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.strerror or os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _iftype_name(iftype: int) -> str:
    return IFTYPE_NAMES.get(iftype, f"type {iftype}")


def _mapped(exc: OSError, doing: str, ifname: str) -> RadioError:
    """The `RadioError` for a kernel error met while ``doing`` something to ``ifname``."""
    code = exc.errno
    if code in _PERMISSION:
        return MissingCapability(f"{doing}: permission denied; {CAPABILITY_HINT}")
    if code in _GONE:
        return InterfaceMissing(
            f"{ifname}: the interface disappeared while {doing} "
            "(adapter unplugged? `ip link` lists the interfaces)"
        )
    if code == errno.ENETDOWN:
        return InterfaceDown(f"{ifname}: the interface is down ({doing}); bring it up with `ip link set {ifname} up`")
    if code == errno.ERFKILL:
        return RadioError(
            f"{ifname}: the radio is blocked by rfkill ({doing}); "
            "unblock it with `rfkill unblock wifi` (`rfkill list` shows a hardware switch too)",
            permanent=False,
        )
    return RadioError(f"{ifname}: {doing} failed: {_reason(exc)}", permanent=False)


class Nl80211Radio:
    """A monitor-mode receiver on a real adapter; see the module docstring."""

    def __init__(self, settings: RadioSettings, backend_factory: Callable[[], Backend] | None = None) -> None:
        self.settings = settings
        self._factory: Callable[[], Backend] = backend_factory or PyrouteBackend
        self._backend: Backend | None = None
        self._undo: list[_Undo] = []
        self._info: RadioInfo | None = None
        self._capture_index: int | None = None
        self._width_code: dict[int, int] = {}   # freq -> NL80211_CHAN_WIDTH_* the kernel accepted
        self.mode: str | None = None             # existing | created | adopted | switched
        self.frequency: int | None = None        # last frequency tuned successfully
        self.restore_problems: list[str] = []    # what close() could not put back, one line each

    # -- open ---------------------------------------------------------------

    def open(self) -> RadioInfo:
        """Prepare the monitor interface; on failure nothing is left changed."""
        if self._backend is not None:
            self.close()
        name = self.settings.interface
        require_interface_name(name)
        self.restore_problems = []
        self.frequency = None
        self._width_code = {}
        self._backend = self._factory()
        try:
            self._info = self._open(self._backend, name)
        except BaseException:
            self.close()
            raise
        return self._info

    def _open(self, b: Backend, name: str) -> RadioInfo:
        link = self._read(lambda: b.link(name), f"looking up {name}", name)
        if link is None:
            raise InterfaceMissing(
                f"{name}: no such network interface (is the adapter plugged in? `ip link` lists the interfaces)"
            )
        try:
            wifs = self._read(b.wireless_interfaces, "listing wireless interfaces", name)
        except NoNl80211:
            raise NotWireless(
                f"{name}: not a wireless interface (link type {link.link_type_name}): this kernel has no "
                "nl80211/cfg80211, so no Wi-Fi driver is loaded; plug in the adapter and check that its driver loads "
                "(`lsmod | grep cfg80211`), or use radio.driver: simulated for a simulated interface"
            ) from None
        wif = next((w for w in wifs if w.ifindex == link.index), None)
        if wif is None:
            hint = ""
            if link.link_type in MONITOR_LINK_TYPES:
                hint = " and nl80211 does not manage it (a simulated TAP? then use radio.driver: simulated)"
            raise NotWireless(
                f"{name}: not a wireless interface (link type {link.link_type_name}){hint}; "
                "set radio.interface to the Wi-Fi adapter (`iw dev` lists them)"
            )
        phy = self._read(lambda: b.phy(wif.phy_index), f"reading the capabilities of phy{wif.phy_index}", name)
        driver = b.driver(name)
        label = f"{name} ({phy.name}, driver {driver or 'unknown'})"
        if wif.iftype == NL80211_IFTYPE_MONITOR:
            index, capture = self._use_existing(b, link)
        else:
            if phy.iftypes and "monitor" not in phy.iftypes:
                raise NoMonitorSupport(
                    f"{label}: the driver does not support monitor mode "
                    f"(it supports {', '.join(sorted(phy.iftypes))}); use an adapter whose "
                    f"`iw phy {phy.name} info` lists monitor under 'Supported interface modes'"
                )
            if self.settings.monitor_interface == name:
                index, capture = self._switch(b, link, wif, label, reason=None)
            else:
                index, capture = self._create(b, link, wif, wifs, phy, label)
        self._capture_index = index
        return RadioInfo(
            capture_interface=capture,
            phy=phy.name,
            driver=driver,
            frequencies=phy.frequencies or None,
        )

    def _use_existing(self, b: Backend, link: Link) -> tuple[int, str]:
        if not link.up:
            self._step(
                f"bringing {link.name} up", partial(b.set_link_up, link.index, True),
                f"take {link.name} back down", partial(b.set_link_up, link.index, False),
            )
        self.mode = "existing"
        return link.index, link.name

    def _create(
        self, b: Backend, link: Link, wif: WirelessInterface, wifs: list[WirelessInterface], phy: Phy, label: str
    ) -> tuple[int, str]:
        mon = self.settings.monitor_interface
        require_interface_name(mon, "radio.monitor_interface")
        existing = self._read(lambda: b.link(mon), f"looking up {mon}", link.name)
        if existing is not None:
            other = next((w for w in wifs if w.ifindex == existing.index), None)
            if other is None or other.phy_index != phy.index or other.iftype != NL80211_IFTYPE_MONITOR:
                raise InterfaceConflict(
                    f"{mon}: an interface with this name exists and is not a monitor interface on {phy.name}; "
                    f"set radio.monitor_interface to a free name, or remove it (`ip link del {mon}`)"
                )
            mindex: int | None = existing.index   # left by a run that could not clean up: adopt it
            self.mode = "adopted"
        else:
            try:
                mindex = b.add_monitor(mon, phy.index)
            except OSError as exc:
                if exc.errno in _PERMISSION or exc.errno in _GONE:
                    raise _mapped(exc, f"creating monitor interface {mon} on {phy.name}", link.name) from exc
                return self._switch(b, link, wif, label, reason=f"creating {mon} failed: {_reason(exc)}")
            if mindex is None:
                created = self._read(lambda: b.link(mon), f"looking up {mon}", link.name)
                if created is None:
                    raise RadioError(f"{mon}: created on {phy.name} but not found afterwards; try again",
                                     permanent=False)
                mindex = created.index
            self.mode = "created"
        self._undo.append(_Undo(f"delete {mon}", partial(b.del_interface, mindex)))
        if link.up:
            self._step(
                f"taking {link.name} down", partial(b.set_link_up, link.index, False),
                f"bring {link.name} back up", partial(b.set_link_up, link.index, True),
            )
        try:
            b.set_link_up(mindex, True)
        except OSError as exc:
            if exc.errno in _PERMISSION or exc.errno in _GONE or exc.errno == errno.ERFKILL:
                raise _mapped(exc, f"bringing {mon} up", link.name) from exc
            # The driver made the interface but will not start it next to the other one.
            self._rollback()
            return self._switch(b, link, wif, label, reason=f"bringing {mon} up failed: {_reason(exc)}")
        # Undone first: a driver that will not run both interfaces at once must
        # see the monitor interface down before the managed one comes back up.
        self._undo.append(_Undo(f"take {mon} down", partial(b.set_link_up, mindex, False)))
        now = self._read(lambda: b.link_by_index(mindex), f"looking up {mon}", link.name)  # udev may rename it
        return mindex, (now.name if now is not None else mon)

    def _switch(self, b: Backend, link: Link, wif: WirelessInterface, label: str, reason: str | None) -> tuple[int, str]:
        name, index = link.name, link.index
        try:
            if link.up:
                b.set_link_up(index, False)
                self._undo.append(_Undo(f"bring {name} back up", partial(b.set_link_up, index, True)))
            b.set_iftype(index, NL80211_IFTYPE_MONITOR)
            self._undo.append(_Undo(
                f"restore {name} to {_iftype_name(wif.iftype)} mode", partial(b.set_iftype, index, wif.iftype)
            ))
            b.set_link_up(index, True)
            self._undo.append(_Undo(f"take {name} down", partial(b.set_link_up, index, False)))
        except OSError as exc:
            if exc.errno in _PERMISSION or exc.errno in _GONE or exc.errno == errno.ERFKILL:
                raise _mapped(exc, f"switching {name} to monitor mode", name) from exc
            tried = f"{reason}; " if reason else ""
            raise NoMonitorSupport(
                f"{label}: the driver refused monitor mode ({tried}switching {name} to monitor failed: "
                f"{_reason(exc)}); stop NetworkManager/wpa_supplicant from managing {name} "
                f"(`nmcli device set {name} managed no`) or use another adapter"
            ) from exc
        self.mode = "switched"
        return index, name

    def _step(self, doing: str, action: Callable[[], None], undo_what: str, undo: Callable[[], None]) -> None:
        try:
            action()
        except OSError as exc:
            raise _mapped(exc, doing, self.settings.interface) from exc
        self._undo.append(_Undo(undo_what, undo))

    def _read(self, fn: Callable[[], Any], doing: str, ifname: str) -> Any:
        try:
            return fn()
        except OSError as exc:
            raise _mapped(exc, doing, ifname) from exc

    # -- tune ---------------------------------------------------------------

    def tune(self, freq_mhz: int, width_mhz: int = 20) -> None:
        """Listen on ``freq_mhz`` with a 20 MHz channel."""
        b, info, index = self._backend, self._info, self._capture_index
        if b is None or info is None or index is None:
            raise RuntimeError("Nl80211Radio.tune() called before open()")
        if width_mhz != 20:
            raise TuneFailed(f"{freq_mhz} MHz: {width_mhz} MHz channels are not supported, only 20 MHz")
        if info.frequencies is not None and freq_mhz not in info.frequencies:
            raise TuneFailed(
                f"{info.phy} cannot tune to {freq_mhz} MHz: not an enabled channel of this adapter "
                f"in the current regulatory domain (`iw phy {info.phy} channels` lists them)"
            )
        known = self._width_code.get(freq_mhz)
        codes = [known] if known is not None else [NL80211_CHAN_WIDTH_20, NL80211_CHAN_WIDTH_20_NOHT]
        for i, code in enumerate(codes):
            try:
                b.set_frequency(index, freq_mhz, code)
            except OSError as exc:
                if exc.errno == errno.EINVAL and i + 1 < len(codes):
                    continue   # HT20 not allowed here (legacy adapter, JP channel 14): try non-HT
                raise self._tune_error(exc, freq_mhz, info) from exc
            self._width_code[freq_mhz] = code
            self.frequency = freq_mhz
            return

    def _tune_error(self, exc: OSError, freq_mhz: int, info: RadioInfo) -> RadioError:
        capture = info.capture_interface
        if exc.errno in _GONE:
            return InterfaceMissing(
                f"{capture}: the monitor interface disappeared (adapter unplugged or interface deleted); "
                f"it is set up again when {self.settings.interface} is back"
            )
        if exc.errno in _PERMISSION or exc.errno in (errno.ENETDOWN, errno.ERFKILL):
            return _mapped(exc, f"tuning {capture} to {freq_mhz} MHz", capture)
        if exc.errno == errno.EBUSY:
            # Not about this frequency: another interface on the phy came up (say,
            # NetworkManager raised wlan1 again) and holds the channel. Reopening
            # the radio takes it down again; dropping frequencies would not help.
            return RadioError(
                f"{info.phy} refused {freq_mhz} MHz: device busy (another interface on {info.phy} "
                "is up and holds the channel; the radio is set up again)",
                permanent=False,
            )
        return TuneFailed(f"{info.phy} refused {freq_mhz} MHz ({_reason(exc)}); the channel plan skips it")

    # -- close --------------------------------------------------------------

    def close(self) -> None:
        """Undo every change ``open`` made, newest first; never raises."""
        backend = self._backend
        if backend is None:
            return
        try:
            self._rollback()
        finally:
            self._backend = None
            self._info = None
            self._capture_index = None
            self.mode = None
            try:
                backend.close()
            except Exception:
                pass
        if self.restore_problems:
            _log_restore_problems(self.settings.interface, self.restore_problems)

    def _rollback(self) -> None:
        while self._undo:
            step = self._undo.pop()
            try:
                step.action()
            except OSError as exc:
                if exc.errno in _GONE:
                    continue   # the adapter is gone, and with it whatever we changed
                self.restore_problems.append(f"{step.what}: {_reason(exc)}")
            except Exception as exc:
                self.restore_problems.append(f"{step.what}: {_reason(exc)}")


def _log_restore_problems(interface: str, problems: list[str]) -> None:
    try:
        import structlog

        structlog.get_logger("evil_twin_monitor.radio").warning(
            "radio_restore_incomplete", interface=interface, problems=problems
        )
    except Exception:
        pass


# -- the real backend -------------------------------------------------------------------------


def phy_from_messages(index: int, messages: Iterable[Any]) -> Phy:
    """Merge a (split) ``NL80211_CMD_GET_WIPHY`` dump into one `Phy`.

    With ``SPLIT_WIPHY_DUMP`` the kernel spreads one wiphy over several
    messages (bands and their channels included), so everything is a union."""
    name: str | None = None
    iftypes: set[str] = set()
    freqs: set[int] = set()
    for msg in messages:
        if msg.get_attr("NL80211_ATTR_WIPHY") not in (None, index):
            continue
        name = name or msg.get_attr("NL80211_ATTR_WIPHY_NAME")
        iftypes.update(msg.get_attr("NL80211_ATTR_SUPPORTED_IFTYPES") or ())
        for band in msg.get_attr("NL80211_ATTR_WIPHY_BANDS") or ():
            for chan in band.get_attr("NL80211_BAND_ATTR_FREQS") or ():
                mhz = chan.get_attr("NL80211_FREQUENCY_ATTR_FREQ")
                if mhz and not chan.get_attr("NL80211_FREQUENCY_ATTR_DISABLED"):
                    freqs.add(int(mhz))
    return Phy(index=index, name=name or f"phy{index}", iftypes=frozenset(iftypes), frequencies=frozenset(freqs))


def _link_from(msg: Any) -> Link:
    return Link(
        index=int(msg["index"]),
        name=msg.get_attr("IFLA_IFNAME"),
        up=bool(msg["flags"] & IFF_UP),
        link_type=int(msg["ifi_type"]),
    )


class PyrouteBackend:
    """`Backend` over pyroute2: ``IPRoute`` for links, ``IW`` (nl80211) for the radio.

    Sockets open on first use and stay open until ``close``. pyroute2's
    ``NetlinkError`` becomes ``OSError`` with the same errno."""

    def __init__(self) -> None:
        self._ipr: Any = None
        self._iw: Any = None

    def _iproute(self) -> Any:
        if self._ipr is None:
            from pyroute2 import IPRoute

            with _oserrors():
                self._ipr = IPRoute()
        return self._ipr

    def _nl80211(self) -> Any:
        if self._iw is None:
            from pyroute2.netlink.exceptions import NetlinkError

            try:
                self._iw = _quiet_iw_class()()
            except NetlinkError as exc:
                if exc.code == errno.ENOENT:
                    raise NoNl80211("no nl80211 generic netlink family") from exc
                raise OSError(exc.code, os.strerror(exc.code)) from exc
        return self._iw

    def link(self, name: str) -> Link | None:
        return self._get_link(ifname=name)

    def link_by_index(self, index: int) -> Link | None:
        return self._get_link(index=index)

    def _get_link(self, **key: Any) -> Link | None:
        try:
            with _oserrors():
                msgs = self._iproute().link("get", **key)
        except OSError as exc:
            if exc.errno in _GONE:
                return None
            raise
        return _link_from(msgs[0]) if msgs else None

    def set_link_up(self, index: int, up: bool) -> None:
        with _oserrors():
            self._iproute().link("set", index=index, state="up" if up else "down")

    def wireless_interfaces(self) -> list[WirelessInterface]:
        iw = self._nl80211()
        result = []
        with _oserrors():
            for msg in iw.get_interfaces_dump():
                ifindex = msg.get_attr("NL80211_ATTR_IFINDEX")
                if ifindex is None:
                    continue   # a wdev without a netdev (P2P device)
                result.append(WirelessInterface(
                    ifindex=int(ifindex),
                    name=msg.get_attr("NL80211_ATTR_IFNAME") or "",
                    phy_index=int(msg.get_attr("NL80211_ATTR_WIPHY") or 0),
                    iftype=int(msg.get_attr("NL80211_ATTR_IFTYPE") or 0),
                ))
        return result

    def phy(self, index: int) -> Phy:
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
        from pyroute2.netlink.nl80211 import NL80211_NAMES, nl80211cmd

        iw = self._nl80211()
        msg = nl80211cmd()
        msg["cmd"] = NL80211_NAMES["NL80211_CMD_GET_WIPHY"]
        # An empty value encodes as a zero-length attribute: the SPLIT_WIPHY_DUMP flag.
        msg["attrs"] = [["NL80211_ATTR_WIPHY", index], ["NL80211_ATTR_SPLIT_WIPHY_DUMP", ""]]
        with _oserrors():
            replies = tuple(iw.nlm_request(msg, msg_type=iw.prid, msg_flags=NLM_F_REQUEST | NLM_F_DUMP))
        return phy_from_messages(index, replies)

    def driver(self, name: str) -> str | None:
        try:
            return os.path.basename(os.readlink(f"/sys/class/net/{name}/device/driver")) or None
        except OSError:
            return None

    def add_monitor(self, name: str, phy_index: int) -> int | None:
        iw = self._nl80211()
        with _oserrors():
            replies = iw.add_interface(name, "monitor", phy=phy_index)
        for reply in replies or ():
            ifindex = reply.get_attr("NL80211_ATTR_IFINDEX")
            if ifindex:
                return int(ifindex)
        return None

    def del_interface(self, ifindex: int) -> None:
        with _oserrors():
            self._nl80211().del_interface(ifindex)

    def set_iftype(self, ifindex: int, iftype: int) -> None:
        with _oserrors():
            self._nl80211().set_interface_type(ifindex, iftype)

    def set_frequency(self, ifindex: int, freq_mhz: int, chan_width: int) -> None:
        from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
        from pyroute2.netlink.nl80211 import NL80211_NAMES, nl80211cmd

        iw = self._nl80211()
        msg = nl80211cmd()
        msg["cmd"] = NL80211_NAMES["NL80211_CMD_SET_WIPHY"]
        msg["attrs"] = [
            ["NL80211_ATTR_IFINDEX", ifindex],
            ["NL80211_ATTR_WIPHY_FREQ", freq_mhz],
            ["NL80211_ATTR_CHANNEL_WIDTH", chan_width],
            ["NL80211_ATTR_CENTER_FREQ1", freq_mhz],   # a 20 MHz channel is centred on itself
        ]
        with _oserrors():
            tuple(iw.nlm_request(msg, msg_type=iw.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK))

    def close(self) -> None:
        for sock in (self._iw, self._ipr):
            if sock is not None:
                try:
                    sock.close()
                except Exception:
                    pass
        self._iw = self._ipr = None


class _oserrors:
    """Turn pyroute2's ``NetlinkError`` into ``OSError`` with the same errno."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        from pyroute2.netlink.exceptions import NetlinkError

        if isinstance(exc, NetlinkError):
            code = int(exc.code or errno.EIO)
            raise OSError(code, os.strerror(code)) from exc
        return False


_QUIET_IW: Any = None


def _quiet_iw_class() -> Any:
    """pyroute2's ``IW``, minus the ERROR lines it logs when nl80211 is missing
    (we raise `NotWireless` with a better message instead)."""
    global _QUIET_IW
    if _QUIET_IW is None:
        from pyroute2.iwutil import IW, AsyncIW

        class _QuietAsyncIW(AsyncIW):
            module_err_level = "debug"

        class _QuietIW(IW):
            async_class = _QuietAsyncIW

        _QUIET_IW = _QuietIW
    return _QUIET_IW
