"""Radio control: monitor mode and channel hopping behind one small interface.

`make_radio` picks the implementation named by ``RadioSettings.driver`` and
imports it only then, so loading a configuration or replaying a capture never
pulls in netlink code. See `base` for the contract and the errors.
"""

from __future__ import annotations

from .base import (
    DRIVERS,
    InterfaceConflict,
    InterfaceDown,
    InterfaceMissing,
    Link,
    MissingCapability,
    NoMonitorSupport,
    NotWireless,
    Radio,
    RadioError,
    RadioInfo,
    RadioSettings,
    TuneFailed,
    interface_name_problem,
)

__all__ = [
    "DRIVERS",
    "InterfaceConflict",
    "InterfaceDown",
    "InterfaceMissing",
    "Link",
    "MissingCapability",
    "NoMonitorSupport",
    "NotWireless",
    "Radio",
    "RadioError",
    "RadioInfo",
    "RadioSettings",
    "TuneFailed",
    "interface_name_problem",
    "make_radio",
]


def make_radio(settings: RadioSettings) -> Radio:
    """The radio implementation for ``settings.driver`` (not opened yet)."""
    if settings.driver == "nl80211":
        from .nl80211 import Nl80211Radio

        return Nl80211Radio(settings)
    if settings.driver == "simulated":
        from .simulated import SimulatedRadio

        return SimulatedRadio(settings)
    raise ValueError(f"unknown radio driver {settings.driver!r} (valid: {', '.join(DRIVERS)})")
