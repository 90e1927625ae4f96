"""The channel plan: which frequency the sensor's one radio listens on, and for how long.

Theory of operation
-------------------
A sensor has one radio, and an evil twin can sit on any channel, so the radio
hops. Two needs pull in different directions:

- **home** channels, the frequencies of the facility's own access points (from
  the registry). A twin usually copies the real AP's channel, and the rules
  that compare a registered BSSID with itself over time (cloned BSSID,
  fingerprint, AP missing) need steady samples there. The radio spends most of
  its time here.
- **other** channels: every remaining 20 MHz channel of the regulatory domain.
  A twin placed elsewhere (to avoid the real AP's interference, or on a band
  the facility does not use) must still be found, so each one is visited
  regularly, briefly.

One *cycle* visits every home channel once (``home_dwell_s`` each), then the
next ``others_per_cycle`` other channels in rotation (``other_dwell_s`` each).
A home channel is therefore never more than one cycle away, and every other
channel comes round once in ``ceil(len(others) / others_per_cycle)`` cycles
(`ChannelPlan.sweep_s`). The order is fixed (ascending frequency), so a plan
and the hops it produces are deterministic: tests and logs can rely on them.

Variations:

- ``only:`` lists exactly the channels to visit: all of them are home, there is
  no sweep (a lab, or a site where the operator knows better).
- ``exclude:`` removes channels from both sets: an explicit "never tune here"
  wins over the registry (check-config says which home channels it removed).
- ``supported`` (the frequencies the radio reports it can tune, if known)
  drops the rest; a frequency the radio refuses at run time is dropped with
  `ChannelPlan.without`.
- A registered channel outside the regulatory domain stays a home channel:
  listening is not transmitting, and the registry is the truth about where our
  APs are. `ChannelPlan.notes` says so, for check-config.
- A facility without access points has no home channels; the plan is then a
  plain round robin over the domain at ``other_dwell_s``.

A plan with nothing to visit is an error (`ChannelPlanError`) when it is
built, never an endless loop of empty cycles; every dwell is positive.

This module is pure: no clock, no radio, no I/O. The daemon iterates
`ChannelPlan.steps` and sleeps ``dwell_s`` on each hop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterator

from .decoding.channels import (
    BAND_2G, BAND_5G, BAND_6G, JP_6G, JP_24, JP_W52, JP_W53, JP_W56, band_of,
    channel_to_frequency, frequency_to_channel,
)
from .registry.model import Registry

WIDTH_MHZ = 20
DEFAULT_DOMAIN = "JP"
DEFAULT_HOME_DWELL_S = 0.5
DEFAULT_OTHER_DWELL_S = 0.25
DEFAULT_OTHERS_PER_CYCLE = 2
# Shorter than ~10 ms is less than a retune takes; longer than a minute per
# channel makes a sweep of 50+ channels take the better part of an hour.
MIN_DWELL_S = 0.01
MAX_DWELL_S = 60.0
# Below one beacon interval (102.4 ms) a dwell can miss an AP's beacon entirely.
BEACON_INTERVAL_S = 0.1024


def _ch5(*channels: int) -> tuple[int, ...]:
    return tuple(5000 + 5 * c for c in channels)


def _ch6(first: int, last: int) -> tuple[int, ...]:
    return tuple(5950 + 5 * c for c in range(first, last + 1, 4))


@dataclass(frozen=True)
class RegulatoryDomain:
    """The 20 MHz channels a domain allows, as centre frequencies (ascending)."""

    code: str
    name: str                     # who uses it, for people
    bands: str                    # its channels in words, for people
    frequencies: tuple[int, ...]


# The data: which 20 MHz channels each supported domain has. A sensor only
# listens, so DFS channels are included (radar rules restrict transmitting).
DOMAINS: dict[str, RegulatoryDomain] = {
    "JP": RegulatoryDomain(
        "JP", "Japan", "2.4 GHz 1-13, W52/W53/W56 36-144, 6 GHz 5925-6425 MHz",
        JP_24 + JP_W52 + JP_W53 + JP_W56 + JP_6G),
    "US": RegulatoryDomain(
        "US", "United States, FCC", "2.4 GHz 1-11, 5 GHz 36-165, 6 GHz 5925-7125 MHz",
        tuple(2407 + 5 * c for c in range(1, 12))
        + _ch5(*range(36, 65, 4), *range(100, 145, 4), *range(149, 166, 4))
        + _ch6(1, 233)),
    "ETSI": RegulatoryDomain(
        "ETSI", "Europe, ETSI", "2.4 GHz 1-13, 5 GHz 36-64 and 100-140, 6 GHz 5945-6425 MHz",
        tuple(2407 + 5 * c for c in range(1, 14))
        + _ch5(*range(36, 65, 4), *range(100, 141, 4))
        + _ch6(1, 93)),
}

BAND_NAMES = {"2.4ghz": BAND_2G, "5ghz": BAND_5G, "6ghz": BAND_6G}
_BAND_LABELS = {BAND_2G: "2.4 GHz", BAND_5G: "5 GHz", BAND_6G: "6 GHz"}


class ChannelPlanError(ValueError):
    """The settings leave nothing to listen on; ``str()`` is one line for people."""


@dataclass(frozen=True)
class ChannelSettings:
    """The ``channels:`` section. ``only`` and ``exclude`` hold centre
    frequencies in MHz (the configuration reader converts channel numbers and
    band names)."""

    regulatory_domain: str = DEFAULT_DOMAIN
    home_dwell_s: float = DEFAULT_HOME_DWELL_S
    other_dwell_s: float = DEFAULT_OTHER_DWELL_S
    others_per_cycle: int = DEFAULT_OTHERS_PER_CYCLE
    only: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Hop:
    """Tune to ``freq_mhz`` (``width_mhz`` wide) and listen for ``dwell_s``."""

    freq_mhz: int
    width_mhz: int
    dwell_s: float
    home: bool


def is_20mhz_channel(freq_mhz: int) -> bool:
    """Whether a frequency is the centre of a 20 MHz channel the kernel can tune
    (5190 MHz, channel 38, is only the centre of a 40 MHz pair)."""
    if freq_mhz == 2484 or 2412 <= freq_mhz <= 2472 and freq_mhz % 5 == 2:
        return True
    channel = frequency_to_channel(freq_mhz)
    if channel is None:
        return False
    band = band_of(freq_mhz)
    if band == BAND_5G and freq_mhz > 5000:
        return 32 <= channel <= 144 and channel % 4 == 0 or 149 <= channel <= 177 \
            and channel % 4 == 1
    if band == BAND_6G:
        return channel == 2 or channel % 4 == 1
    return False


def parse_channel(value: object, domain: str = DEFAULT_DOMAIN) -> tuple[int, ...]:
    """Frequencies (MHz) an ``only:``/``exclude:`` entry stands for.

    A number below 2400 is a 2.4/5 GHz channel number, 2400 or more is a
    frequency in MHz (6 GHz can only be written so: its numbers repeat the
    2.4 GHz ones), a band name (``2.4GHz``, ``5GHz``, ``6GHz``) is every channel
    of that band in ``domain``. Raises ValueError with a one-line reason.
    """
    if isinstance(value, str):
        text = value.strip()
        band = BAND_NAMES.get(text.lower().replace(" ", ""))
        if band is not None:
            table = DOMAINS.get(domain, DOMAINS[DEFAULT_DOMAIN])
            return tuple(f for f in table.frequencies if band_of(f) == band)
        if not text.isdigit():
            raise ValueError(f"'{value}' is neither a channel, a frequency in MHz nor a band; "
                             f"valid: a channel like 36, a frequency like 5955, or "
                             f"{', '.join(_BAND_LABELS[b].replace(' ', '') for b in BAND_NAMES.values())}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a channel number, a frequency in MHz or a band; got {value!r}")
    if value < 2400:
        freq = channel_to_frequency(value) if value > 0 else None
        if freq is None or not is_20mhz_channel(freq):
            raise ValueError(f"{value} is not a 20 MHz channel in 2.4 or 5 GHz; valid: 1-14, "
                             "36-144 in steps of 4, 149-177 in steps of 4 (6 GHz: write "
                             "the frequency in MHz, like 5955)")
        return (freq,)
    if not is_20mhz_channel(value):
        channel = frequency_to_channel(value)
        what = f" (channel {channel})" if channel is not None else ""
        raise ValueError(f"{value} MHz{what} is not the centre of a 20 MHz channel; valid: "
                         "2412-2472 in steps of 5, 2484, 5160-5720 and 5745-5885 in steps "
                         "of 20, 5935, 5955-7115 in steps of 20")
    return (value,)


def format_frequencies(freqs: tuple[int, ...] | list[int] | frozenset[int]) -> str:
    """'2.4 GHz ch 1,6,11; 5 GHz ch 36-64,100-140; 6 GHz 5955-6415 MHz' for people.

    Runs of three or more neighbouring 20 MHz channels are written as a range.
    """
    parts = []
    by_band: dict[str | None, list[int]] = {}
    for freq in sorted(set(freqs)):
        by_band.setdefault(band_of(freq), []).append(freq)
    for band in (BAND_2G, BAND_5G, BAND_6G, None):
        members = by_band.get(band)
        if not members:
            continue
        if band == BAND_6G or band is None:
            label = "6 GHz" if band else "other"
            parts.append(f"{label} {_runs(members, 20)} MHz")
        else:
            numbers = [frequency_to_channel(f) or f for f in members]
            parts.append(f"{_BAND_LABELS[band]} ch {_runs(numbers, 1 if band == BAND_2G else 4)}")
    return "; ".join(parts) if parts else "none"


def _runs(values: list[int], step: int) -> str:
    """'1-13' for 1,2,...,13 (three or more in ``step``), else the values."""
    groups: list[list[int]] = []
    for value in values:
        if groups and value - groups[-1][-1] == step:
            groups[-1].append(value)
        else:
            groups.append([value])
    return ",".join(f"{g[0]}-{g[-1]}" if len(g) >= 3 else ",".join(map(str, g)) for g in groups)


def seconds_text(value: float) -> str:
    """'0.25 s', '206.75 s': durations as people read them in plans and summaries."""
    return f"{round(value, 2):g} s"


@dataclass(frozen=True)
class ChannelPlan:
    """Which frequencies to visit and for how long; see the module docstring.

    ``home`` and ``others`` are ascending centre frequencies (MHz). The other
    fields record what was left out and why, for `notes`.
    """

    domain: str
    home: tuple[int, ...]
    others: tuple[int, ...]
    home_dwell_s: float = DEFAULT_HOME_DWELL_S
    other_dwell_s: float = DEFAULT_OTHER_DWELL_S
    others_per_cycle: int = DEFAULT_OTHERS_PER_CYCLE
    fixed: bool = False                      # from ``only:``: no sweep
    outside_domain: tuple[int, ...] = ()     # home channels the domain does not list
    excluded_home: tuple[int, ...] = ()      # registered channels removed by ``exclude:``
    unsupported: tuple[int, ...] = ()        # the radio cannot tune these
    refused: tuple[int, ...] = ()            # the radio refused these at run time
    skipped_others: int = 0                  # others left out by others_per_cycle: 0
    registered: bool = True                  # False: the facility has no APs

    def __post_init__(self) -> None:
        for name in ("home_dwell_s", "other_dwell_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ChannelPlanError(f"{name} must be a positive number of seconds; got {value!r}")
        if self.others_per_cycle < 0:
            raise ChannelPlanError("others_per_cycle must be 0 or more")
        if self.others and self.others_per_cycle == 0:
            raise ChannelPlanError("the plan lists other channels but visits none per cycle")
        if not self.home and not self.others:
            raise ChannelPlanError("the channel plan has no channel to listen on")

    # --- timing -----------------------------------------------------------

    @property
    def per_cycle(self) -> int:
        """Other channels actually visited per cycle (never more than there are)."""
        return min(self.others_per_cycle, len(self.others))

    @property
    def cycle_s(self) -> float:
        """One cycle: every home channel once, then ``per_cycle`` others."""
        return len(self.home) * self.home_dwell_s + self.per_cycle * self.other_dwell_s

    @property
    def sweep_s(self) -> float:
        """Time from the start of the plan until every channel has been listened
        to (a full dwell) at least once.

        It is also the longest time between the starts of two visits to one
        channel (positions p and p+n of the rotation are one channel; with
        n = a*k + b others that gap is a+1 cycles minus k-b slots, which adds
        up to the same), so: how long a transmitter on the least visited
        channel can go unheard."""
        n, k = len(self.others), self.per_cycle
        if not n:
            return self.cycle_s
        last = n - 1  # the last other channel's position in the rotation
        return ((last // k) * self.cycle_s + len(self.home) * self.home_dwell_s
                + (last % k + 1) * self.other_dwell_s)

    @property
    def home_share(self) -> float:
        """Fraction of the time spent on home channels."""
        return len(self.home) * self.home_dwell_s / self.cycle_s

    # --- iteration and change ------------------------------------------------

    def steps(self) -> Iterator[Hop]:
        """The hops, forever, starting at the first home channel."""
        home = [Hop(f, WIDTH_MHZ, self.home_dwell_s, True) for f in self.home]
        others = [Hop(f, WIDTH_MHZ, self.other_dwell_s, False) for f in self.others]
        k, position = self.per_cycle, 0
        while True:  # __post_init__ guarantees at least one hop per cycle
            yield from home
            for _ in range(k):
                yield others[position]
                position = (position + 1) % len(others)

    def without(self, freq_mhz: int) -> ChannelPlan:
        """This plan minus a frequency the radio refused.

        Raises `ChannelPlanError` when it was the last one: a radio that can
        tune nothing of the plan cannot be worked around by hopping.
        """
        if freq_mhz not in self.home and freq_mhz not in self.others:
            return self
        home = tuple(f for f in self.home if f != freq_mhz)
        others = tuple(f for f in self.others if f != freq_mhz)
        if not home and not others:
            raise ChannelPlanError(
                f"the radio refused every channel of the plan (last: {_describe_freq(freq_mhz)})")
        return replace(self, home=home, others=others,
                       refused=tuple(sorted(self.refused + (freq_mhz,))))

    # --- for people ----------------------------------------------------------

    def describe(self) -> str:
        """One line for logs and check-config."""
        n_home, n_others = len(self.home), len(self.others)
        if self.fixed:
            head = (f"{self.domain}: fixed channels {format_frequencies(self.home)} "
                    f"({n_home} channel{'s' * (n_home != 1)}, {seconds_text(self.home_dwell_s)} each, "
                    "no sweep)")
        else:
            home = (f"home {format_frequencies(self.home)} ({n_home} channel{'s' * (n_home != 1)}, "
                    f"{seconds_text(self.home_dwell_s)} each)" if self.home
                    else "no home channels (the facility has no registered access points)")
            other = (f"{self.per_cycle} of {n_others} other channels per cycle "
                     f"({seconds_text(self.other_dwell_s)} each)" if n_others else "no other channels")
            head = f"{self.domain}: {home}; {other}"
        return (f"{head}; cycle {seconds_text(self.cycle_s)}, full sweep {seconds_text(self.sweep_s)}, "
                f"{self.home_share:.0%} of the time on home channels")

    def notes(self) -> tuple[str, ...]:
        """Things an operator should know about this plan, one sentence each."""
        out: list[str] = []
        if not self.registered and not self.fixed:
            out.append("the facility has no registered access points, so every channel is "
                       "swept at the other-channel dwell")
        if self.outside_domain:
            out.append(f"{format_frequencies(self.outside_domain)} "
                       f"{'is' if len(self.outside_domain) == 1 else 'are'} not in regulatory "
                       f"domain {self.domain} but listed "
                       f"{'in only:' if self.fixed else 'for a registered access point'}; "
                       "listened to anyway")
        if self.excluded_home:
            out.append(f"exclude: removes registered channel(s) {format_frequencies(self.excluded_home)}; "
                       "access points there are not monitored")
        if self.skipped_others:
            out.append(f"others_per_cycle is 0: the {self.skipped_others} other channels of "
                       f"{self.domain} are never visited, so a twin there goes unseen")
        if self.unsupported:
            out.append(f"the radio cannot tune {format_frequencies(self.unsupported)}; skipped")
        if self.refused:
            out.append(f"the radio refused {format_frequencies(self.refused)}; skipped")
        short = [name for name, dwell in (("home_dwell_s", self.home_dwell_s),
                                          ("other_dwell_s", self.other_dwell_s))
                 if dwell < BEACON_INTERVAL_S and (self.home if name == "home_dwell_s" else self.others)]
        if short:
            out.append(f"{' and '.join(short)} shorter than a beacon interval (0.1024 s): "
                       "beacons will be missed")
        return tuple(out)


def _describe_freq(freq_mhz: int) -> str:
    return format_frequencies((freq_mhz,))


def build_plan(registry: Registry, facility_id: str | None, settings: ChannelSettings,
               supported: frozenset[int] | None = None) -> ChannelPlan:
    """The plan for a sensor at ``facility_id``.

    ``supported`` is the set of frequencies the radio can tune (None: unknown,
    assume all). Raises `ChannelPlanError` when nothing is left to visit.
    """
    domain = DOMAINS.get(settings.regulatory_domain)
    if domain is None:
        raise ChannelPlanError(f"unknown regulatory domain '{settings.regulatory_domain}'; "
                               f"valid: {', '.join(DOMAINS)}")
    excluded = frozenset(settings.exclude)
    fixed = bool(settings.only)
    registered = True
    excluded_home: tuple[int, ...] = ()
    skipped = 0
    if fixed:
        home = sorted(set(settings.only) - excluded)
        others: list[int] = []
    else:
        if facility_id is None or registry.facility(facility_id) is None:
            raise ChannelPlanError(f"no facility '{facility_id}' in the registry to plan channels for")
        listed = sorted(frozenset().union(*(ap.frequencies
                                            for ap in registry.access_points(facility_id))))
        registered = bool(listed)
        home = [f for f in listed if f not in excluded]
        excluded_home = tuple(f for f in listed if f in excluded)
        others = [f for f in domain.frequencies if f not in listed and f not in excluded]
        if settings.others_per_cycle == 0:
            skipped, others = len(others), []
    allowed = frozenset(domain.frequencies)
    outside = tuple(f for f in home if f not in allowed)
    unsupported: tuple[int, ...] = ()
    if supported is not None:
        unsupported = tuple(f for f in home + others if f not in supported)
        home = [f for f in home if f in supported]
        others = [f for f in others if f in supported]
    if not home and not others:
        raise ChannelPlanError(_nothing_left(settings, fixed, registered, excluded_home,
                                             unsupported, skipped))
    return ChannelPlan(
        domain=domain.code, home=tuple(home), others=tuple(others),
        home_dwell_s=settings.home_dwell_s, other_dwell_s=settings.other_dwell_s,
        others_per_cycle=settings.others_per_cycle, fixed=fixed, outside_domain=outside,
        excluded_home=excluded_home, unsupported=tuple(sorted(unsupported)),
        skipped_others=skipped, registered=registered)


def _nothing_left(settings: ChannelSettings, fixed: bool, registered: bool,
                  excluded_home: tuple[int, ...], unsupported: tuple[int, ...],
                  skipped: int) -> str:
    """Why a plan came out empty, in the operator's terms."""
    if unsupported:
        return (f"the radio can tune none of the plan's channels "
                f"({format_frequencies(unsupported)})")
    if fixed:
        return "exclude: removes every channel listed in only:; nothing to listen on"
    if settings.others_per_cycle == 0 and skipped:
        why = ("the facility has no registered access points" if not registered
               else "exclude: removes every registered channel")
        return f"{why} and others_per_cycle is 0: nothing to listen on"
    return (f"exclude: removes every channel of regulatory domain {settings.regulatory_domain}"
            + (" and every registered channel" if excluded_home else "")
            + ": nothing to listen on")
