"""What a periodic audit report says, gathered from the alert store and the registry.

Theory of operation
-------------------
A report covers one facility and one period of whole days in one time zone
(``--from``/``--to`` inclusive, midnight to midnight; a period that has not
ended yet stops at the moment the report is made). Three kinds of rows from
the store (`store.db`) feed it:

- **alerts** whose evidence overlaps the period (as ``alerts --since/--until``);
- **health** samples, one per sensor and statistics interval: the interval
  ``[time - interval_s, time]`` and ``up_s``, the seconds of it the capture
  was open;
- **presence** samples: frames heard from one registry entry in one interval.

Arithmetic, all of it in `_Accumulator`:

- A sample's seconds are spread evenly over its interval, so the part outside
  the period (or outside a chart bucket) is cut off in proportion. Two samples
  of one sensor that overlap in time (a capture replayed twice with another
  sensor name does not, but two captures of the same morning do) count the
  overlap once: each sample starts no earlier than the previous one ended.
- **Uptime** of a sensor = its open seconds / the period's length.
- **Availability** of a registered AP = the listening seconds of the intervals
  in which it was heard / all listening seconds, where listening seconds are
  the open seconds of intervals whose presence was recorded (``presence = 1``;
  with ``ap_missing`` disabled nothing is measured and the report says so). An
  AP heard once in a 60 s interval counts the whole interval: availability
  answers "was it on the air", not "how many beacons". With several sensors
  at one facility the seconds of all of them are added up.

The store does this arithmetic's sums in SQL (`AlertStore.health_spans`,
`AlertStore.presence_spans`): samples that lie in one chart bucket arrive as
one sum, a sample across a bucket boundary on its own, so memory does not
grow with the number of samples (a month of 20 APs is 864,000 presence rows).

Alerts
------
- **Alerts without a facility are included.** A sensor or a ``replay``
  without a facility stores alerts with none; the store cannot say where
  they were seen, so they count in every facility's report of the period,
  in the verdict and the headline like the others, marked "stored without a
  facility", with a note saying how many. The alternative, refusing to
  report (exit 2), would leave the contractor without a report for a store
  that is otherwise fine; leaving them out gave an all-clear over critical
  alerts. A store with no data for any facility but such alerts still exits
  2, asking for ``--facility``.
- **Bounded list.** Counts per rule and per chart bucket come from SQL; the
  alerts are grouped per rule and BSSID (at most `GROUPS_SHOWN` groups, the
  most severe, then the largest first; the table is shown when some group
  holds several alerts) and at most `ALERTS_SHOWN` are listed one by one
  (the most severe, then the first seen; shown oldest first). The report
  says how many more there are and gives the ``alerts --since/--until``
  command that lists them all, so a flood of 50,000 alerts makes a report of
  a few hundred kilobytes, not tens of megabytes.
- **Evidence files.** With the evidence directory known (`EvidenceCheck`:
  ``--config``'s ``evidence`` section or ``--evidence DIR``), a listed
  alert's file that is no longer there is marked "deleted by retention" when
  the alert is older than ``retention_days``, else "missing"; a directory
  that cannot be read is not guessed about, and the report says whether the
  files were checked.

Everything shown that came from the store or the registry passes through
`one_line` (no line breaks, controls or bidi overrides survive); the
renderers add HTML or Markdown escaping on top (`render`).
"""

from __future__ import annotations

import calendar
import json
import os
import re
import shlex
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import __version__
from ..decoding.text import printable_ssid
from ..registry.model import AccessPoint, Facility, Registry
from ..rules.base import SEVERITIES
from ..store.command import one_line
from ..store.db import AlertGroup, AlertStore, HealthSpan, PresenceSpan, StoredAlert

NS = 1_000_000_000
NS_MAX = 2**63 - 1           # the store's times are SQLite integers (signed 64 bits)
FIRST_DAY = date(1970, 1, 1)  # times before the epoch are never written
LAST_DAY = date(2262, 4, 10)  # the last whole day before NS_MAX (2262-04-11T23:47:16Z)
MAX_DAYS = 3660
AVAILABILITY_WARN = 0.90     # an AP heard less than this share of the listening time is named
UPTIME_WARN = 0.99           # below this the summary says how long the sensor was deaf
DROP_WARN = 0.001            # kernel drops above this share of frames are reported
ALERTS_SHOWN = 200           # alerts listed one by one; the rest by group and a command
GROUPS_SHOWN = 200           # groups of alerts (rule and BSSID) listed
EVIDENCE_KEYS = 8            # evidence values shown per alert
EVIDENCE_CHARS = 160         # characters per evidence value
_HIDDEN_EVIDENCE = frozenset({"evidence_file", "frame", "last_frame", "repeats", "last_seen",
                              "ssid_hex", "capture"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Rules that fire when something imitates the ward's networks (the headline's
# "no fake access point imitated ..." needs none of them).
IMPERSONATION_RULES = frozenset({
    "unknown_bssid", "lookalike_ssid", "unexpected_channel", "security_mismatch",
    "fingerprint_mismatch", "cloned_bssid", "karma", "rogue_hardware",
})

# rule -> (title, what it means, what to do), for people who are not RF experts.
RULE_TEXT: dict[str, tuple[str, str, str]] = {
    "unknown_bssid": (
        "Unknown access point using the ward's network name",
        "A device that is not on the ward's list of access points broadcast one of the ward's "
        "network names. This is the classic \"evil twin\": people may connect to it instead of "
        "the real network.",
        "If an access point was installed or replaced at the facility, confirm it with the "
        "network operator and add it to the registry (registry approve). Otherwise find the "
        "device (the alert gives its channel), have it removed and report the incident."),
    "lookalike_ssid": (
        "Network name that imitates the ward's",
        "A network whose name people could mistake for the ward's (a changed letter, space or "
        "symbol) was on the air.",
        "Check whether it belongs to a neighbour such as a shop or another office. If not, find "
        "and report it: it may be set up to trick people."),
    "unexpected_channel": (
        "Registered access point on a channel it should not use",
        "One of the ward's access points, or a device copying its address, was heard on a "
        "channel that its registry entry does not allow.",
        "Ask the network operator whether the access point's channels were changed; if so, "
        "update the registry, if not, treat it as a possible copy."),
    "security_mismatch": (
        "Access point with different security than registered",
        "A device with the address of one of the ward's access points advertised different "
        "(usually weaker) security than registered.",
        "Have the network operator check the access point's settings; an unexplained change "
        "can mean an impostor."),
    "fingerprint_mismatch": (
        "Registered access point behaving like other hardware",
        "A device with the address of one of the ward's access points sent beacons that look "
        "like different hardware or firmware.",
        "If the access point was replaced or updated, approve the new fingerprint; otherwise "
        "suspect a copy and inspect the site."),
    "cloned_bssid": (
        "Two devices sharing one registered access point's address",
        "A second transmitter copied the address of one of the ward's access points.",
        "Treat it as an attack: inspect the site, find the second transmitter and report the "
        "incident."),
    "karma": (
        "Device answering for many network names",
        "A device answered requests for many unrelated network names, a known trick to lure "
        "phones into connecting to it.",
        "Find and report the device."),
    "rogue_hardware": (
        "Known attack equipment",
        "Frames carried the signature of a known attack device.",
        "Find the device and report the incident."),
    "deauth_flood": (
        "Disconnection attack",
        "Many \"disconnect\" messages were sent to one of the ward's access points or its users, "
        "which throws people off the network, often to push them to an evil twin.",
        "Check whether an imitation was seen at the same time; report it if it repeats."),
    "beacon_flood": (
        "Flood of fake networks",
        "A burst of new network names and addresses appeared, far above what is normal here.",
        "Usually an attack tool or prank nearby; report it if it repeats."),
    "ap_missing": (
        "Registered access point went silent",
        "One of the ward's access points that the sensor normally hears stopped transmitting "
        "for a while.",
        "Ask the network operator whether it was switched off or broke. A silenced access "
        "point is also how an attacker makes the evil twin the only choice."),
}


class ReportError(Exception):
    """Bad arguments or data: ``report`` ends with status 2 and this one line."""


# -- the period ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Whole days ``first``..``last`` (inclusive) in ``tz``: [start_ns, end_ns)."""

    first: date
    last: date
    tz: tzinfo
    tz_name: str
    start_ns: int
    end_ns: int

    @property
    def label(self) -> str:
        """'November 2026', '2026', or '2026-11-01 to 2026-11-15'."""
        first, last = self.first, self.last
        if first.day == 1 and (first.year, first.month) == (last.year, last.month) and \
                last.day == calendar.monthrange(last.year, last.month)[1]:
            return first.strftime("%B %Y")
        if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and \
                first.year == last.year:
            return str(first.year)
        if first == last:
            return first.isoformat()
        return f"{first.isoformat()} to {last.isoformat()}"

    @property
    def when(self) -> str:
        """'in November 2026', 'on 2026-11-03', 'from 2026-11-01 to 2026-11-15'."""
        label = self.label
        if self.first == self.last:
            return f"on {label}"
        return f"from {label}" if " to " in label else f"in {label}"

    @property
    def file_part(self) -> str:
        return f"{self.first.isoformat()}-{self.last.isoformat()}"


def parse_period(from_text: str, to_text: str, tz_name: str = "UTC") -> Period:
    """``--from``/``--to`` dates (YYYY-MM-DD, both days included) in ``tz_name``,
    within `FIRST_DAY`..`LAST_DAY` (what the store's nanosecond integers hold)."""
    tz = _timezone(tz_name)
    first = _date(from_text, "--from")
    last = _date(to_text, "--to")
    if last < first:
        raise ReportError(f"--to {to_text} is before --from {from_text}")
    if (last - first).days >= MAX_DAYS:
        raise ReportError(f"--from {from_text} --to {to_text}: at most {MAX_DAYS} days per report")
    try:
        start = _ns(datetime.combine(first, dtime(0), tz))
        end = _ns(datetime.combine(last + timedelta(days=1), dtime(0), tz))
    except (OverflowError, ValueError):  # only a time zone's rules could still get here
        start = end = NS_MAX + 1
    if not -NS_MAX <= start < end <= NS_MAX:
        raise ReportError(f"--from {from_text} --to {to_text}: outside the days the alert store "
                          f"can hold ({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})")
    return Period(first, last, tz, tz_name, start, end)


def _timezone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"--timezone {name!r}: unknown time zone; use a name like Asia/Tokyo "
                          "or UTC") from None


def _date(text: str, option: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{option} {text!r}: not a date; use YYYY-MM-DD, "
                          "like 2026-11-01") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ReportError(f"{option} {text}: outside the days the alert store can hold "
                          f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})")
    return day


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS


# -- what the templates get -----------------------------------------------------------------
@dataclass
class Bucket:
    """One bar of the timeline / one column of the presence chart."""

    start_ns: int
    end_ns: int
    label: str            # short, for the axis: '11-03', '14:00'
    title: str            # full, for tooltips and tables: '2026-11-03', '2026-11-03 14:00'


@dataclass
class ApRow:
    ssid: str
    bssid: str
    label: str
    channels: str
    security: str
    frames: int = 0
    heard_s: float = 0.0
    listening_s: float = 0.0
    last_heard: str | None = None
    heard_by_bucket: list[float] = field(default_factory=list)

    @property
    def availability(self) -> float | None:
        return min(1.0, self.heard_s / self.listening_s) if self.listening_s > 0 else None

    @property
    def name(self) -> str:
        return f"{self.label} ({self.bssid})" if self.label else self.bssid


@dataclass
class SensorRow:
    sensor: str
    samples: int = 0
    up_s: float = 0.0
    frames: float = 0.0
    kernel_drops: float = 0.0
    first_sample: str | None = None
    last_sample: str | None = None
    uptime: float = 0.0

    @property
    def drop_ratio(self) -> float:
        total = self.frames + self.kernel_drops
        return self.kernel_drops / total if total > 0 else 0.0


@dataclass
class ReportAlert:
    id: int
    time: str
    last_seen: str
    rule: str
    title: str
    severity: str
    state: str
    seen: int
    ssid: str | None
    bssid: str
    channel: str
    message: str
    evidence: list[tuple[str, str]]
    evidence_file: str | None
    evidence_gone: str | None = None   # 'deleted by retention', 'missing'; None: there or unchecked
    no_facility: bool = False          # stored without a facility (see the module docstring)


@dataclass
class AlertGroupRow:
    """The alerts of one rule and one BSSID (a flood of alerts reads as a few lines)."""

    rule: str
    title: str
    bssid: str
    ssid: str | None      # the SSID, or one of them (``ssids`` says how many)
    ssids: int
    count: int
    seen: int
    severity: str         # the most severe
    severities: str       # '12 critical, 1 medium'
    first: str
    last: str

    @property
    def count_text(self) -> str:
        return _count(self.count, "alert")


@dataclass(frozen=True)
class EvidenceCheck:
    """Where the evidence files are, to mark the ones already gone. ``retention_days``
    None or 0: unknown or never deleted, so a gone file is just 'missing'."""

    directory: Path
    retention_days: int | None = None


@dataclass
class Happening:
    """One line of "what happened": the alerts of one rule, with what to do."""

    rule: str
    title: str
    count: int
    severities: str
    first: str
    last: str
    meaning: str
    action: str

    @property
    def count_text(self) -> str:
        return _count(self.count, "alert")


@dataclass
class Summary:
    verdict: str          # 'clear', 'attention' or 'unchecked'
    verdict_text: str
    headline: str
    notes: list[str]      # further plain sentences (availability, uptime, drops)
    happenings: list[Happening]


@dataclass
class FacilityReport:
    facility: str
    facility_name: str
    period: Period
    period_text: str
    generated: str
    version: str
    sources: list[str]
    tz_label: str
    has_samples: bool
    presence_recorded: bool
    length_s: float
    aps: list[ApRow]
    sensors: list[SensorRow]
    alerts: list[ReportAlert]              # at most ALERTS_SHOWN: the most severe, oldest first
    alert_total: int                       # all alerts of the period
    groups: list[AlertGroupRow]            # per rule and BSSID, at most GROUPS_SHOWN
    group_total: int
    more_alerts: str                       # the command listing them all ('' when all are shown)
    unattributed: int                      # alerts included that carry no facility
    evidence_note: str                     # how (and whether) evidence files were checked
    buckets: list[Bucket]
    alert_counts: list[dict[str, int]]     # per bucket: severity -> alerts first seen in it
    listening_by_bucket: list[float]       # per bucket: share of the time the capture was open
    presence_by_bucket: list[float]        # per bucket: listening seconds with presence recorded
    summary: Summary
    severities: tuple[str, ...] = SEVERITIES

    @property
    def hidden_alerts(self) -> int:
        """Alerts of the period not listed one by one."""
        return self.alert_total - len(self.alerts)

    @property
    def show_groups(self) -> bool:
        """The table of groups says something the list does not: some rule and
        address raised several alerts."""
        return bool(self.groups) and self.group_total < self.alert_total

    @property
    def uptime(self) -> float:
        return sum(s.up_s for s in self.sensors) / self.length_s / max(1, len(self.sensors)) \
            if self.length_s > 0 else 0.0

    @property
    def frames(self) -> int:
        return round(sum(s.frames for s in self.sensors))

    @property
    def kernel_drops(self) -> int:
        return round(sum(s.kernel_drops for s in self.sensors))


# -- gathering -------------------------------------------------------------------------------
def facility_ids(registry: Registry, store: AlertStore, wanted: str | None) -> list[str]:
    """``wanted`` (checked against the registry), else every registry facility
    the store has data for."""
    known = [f.id for f in registry.facilities]
    if wanted is not None:
        if wanted not in known:
            raise ReportError(f"--facility {wanted}: no such facility in the registry "
                              f"(known: {', '.join(known) or 'none'})")
        return [wanted]
    present = set(store.facilities())
    chosen = [f for f in known if f in present]
    if not chosen:
        loose = store.unattributed(-NS_MAX, NS_MAX)
        held = (f" (it holds {_count(loose, 'alert')} without a facility: name the facility "
                "where they were recorded)") if loose else ""
        raise ReportError(f"{store.path}: no data for any facility of the registry{held}; name "
                          f"one with --facility (known: {', '.join(known) or 'none'})")
    return chosen


def gather(store: AlertStore, registry: Registry, facility_id: str, period: Period, *,
           now_ns: int, sources: Iterable[str] = (), alerts_source: str | None = None,
           evidence: EvidenceCheck | None = None) -> FacilityReport:
    """Everything one facility's report shows (see the module docstring).
    ``alerts_source`` is how ``alerts`` finds this store (``--store PATH``),
    for the command that lists the alerts the report leaves out."""
    facility = registry.facility(facility_id)
    if facility is None:
        raise ReportError(f"--facility {facility_id}: no such facility in the registry")
    start = period.start_ns
    end = min(period.end_ns, now_ns)
    if end <= start:
        raise ReportError(f"--from {period.first.isoformat()}: the period has not begun yet")
    buckets = make_buckets(period, end)
    edges = [b.start_ns for b in buckets] + [end]
    acc = _Accumulator(buckets, start, end, period.tz)
    acc.add_health(store.health_spans(facility_id, start, end, edges))
    aps = _ap_rows(facility, registry)
    acc.add_presence(store.presence_spans(facility_id, start, end, edges), aps)
    for row in acc.sensors.values():
        row.uptime = row.up_s / (end - start) * NS

    # Alerts: the facility's, and those that carry none (never an all-clear over them).
    selection = (facility_id, start, end)
    by_rule, _ = store.alert_groups(*selection, by=("rule",), severities=SEVERITIES,
                                    unattributed=True)
    total = sum(g.count for g in by_rule)
    unattributed = sum(g.unattributed for g in by_rule)
    alert_counts: list[dict[str, int]] = [{} for _ in buckets]
    for i, severity, count in store.alert_histogram(*selection, edges, unattributed=True):
        counts = alert_counts[min(max(i, 0), len(buckets) - 1)]
        counts[severity] = counts.get(severity, 0) + count
    groups, group_total = store.alert_groups(*selection, by=("rule", "bssid"),
                                             severities=SEVERITIES, unattributed=True,
                                             limit=GROUPS_SHOWN)
    shown = store.alerts_by_severity(*selection, severities=SEVERITIES, limit=ALERTS_SHOWN,
                                     unattributed=True)
    shown.sort(key=lambda a: (a.time_ns, a.id))
    check, evidence_note = _evidence_check(evidence)
    rows = [_alert_row(a, period.tz, check, now_ns) for a in shown]
    gone = [r for r in rows if r.evidence_gone]
    if gone:
        evidence_note += (f" {_count(len(gone), 'evidence file')} of the alerts listed below "
                          f"{'is' if len(gone) == 1 else 'are'} no longer there.")
    if not any(r.evidence_file for r in rows):
        evidence_note = ""
    more = ""
    if total > len(rows):
        source = alerts_source or f"--store {shlex.quote(str(store.path))}"
        only = "" if unattributed else f" --facility {facility_id}"
        more = (f"evil-twin-monitor alerts {source}{only} --since {_utc(start)} "
                f"--until {_utc(-(-end // NS) * NS)} --limit 0")  # whole seconds, rounded up
    report = FacilityReport(
        facility=facility.id, facility_name=one_line(facility.name), period=period,
        period_text=_period_text(period, end),
        generated=_local(now_ns, period.tz), version=__version__,
        sources=[one_line(s) for s in sources], tz_label=period.tz_name,
        has_samples=store.has_samples(), presence_recorded=acc.presence_recorded,
        length_s=(end - start) / NS, aps=list(aps.values()),
        sensors=sorted(acc.sensors.values(), key=lambda s: s.sensor), alerts=rows,
        alert_total=total, groups=[_group_row(g, period.tz) for g in groups],
        group_total=group_total, more_alerts=one_line(more), unattributed=unattributed,
        evidence_note=evidence_note,
        buckets=buckets, alert_counts=alert_counts,
        listening_by_bucket=acc.listening_shares(),
        presence_by_bucket=acc.listening_by_bucket,
        summary=Summary("", "", "", [], []))
    report.summary = summarize(report, by_rule)
    return report


def make_buckets(period: Period, end_ns: int) -> list[Bucket]:
    """Hours for a period of up to 2 days, days up to 92 days, weeks beyond;
    in the report's time zone, up to ``end_ns``."""
    days = (period.last - period.first).days + 1
    tz = period.tz
    moments: list[datetime] = []
    if days <= 2:
        cursor = datetime.combine(period.first, dtime(0), tz)
        stop = datetime.combine(period.last + timedelta(days=1), dtime(0), tz)
        while cursor < stop:  # wall-clock hours; UTC arithmetic keeps DST days right
            moments.append(cursor)
            cursor = (cursor.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(tz)
        moments.append(stop)
    else:
        step = 1 if days <= 92 else 7
        day = period.first
        while day <= period.last:
            moments.append(datetime.combine(day, dtime(0), tz))
            day += timedelta(days=step)
        moments.append(datetime.combine(period.last + timedelta(days=1), dtime(0), tz))
    buckets = []
    for lo, hi in zip(moments, moments[1:]):
        lo_ns, hi_ns = _ns(lo), min(_ns(hi), period.end_ns)
        if lo_ns >= end_ns:
            break
        if days <= 2:
            label, title = lo.strftime("%H:00"), lo.strftime("%Y-%m-%d %H:00")
        elif days <= 92:
            label, title = lo.strftime("%m-%d"), lo.strftime("%Y-%m-%d")
        else:
            label, title = lo.strftime("%m-%d"), f"week of {lo.strftime('%Y-%m-%d')}"
        buckets.append(Bucket(lo_ns, min(hi_ns, end_ns), label, title))
    return buckets


class _Accumulator:
    """Spreads samples over the period's buckets (see the module docstring)."""

    def __init__(self, buckets: list[Bucket], start_ns: int, end_ns: int, tz: tzinfo) -> None:
        self.tz = tz
        self.edges = [b.start_ns for b in buckets] + [end_ns]
        self.start_ns, self.end_ns = start_ns, end_ns
        self.sensors: dict[str, SensorRow] = {}
        self.up_by_bucket = [0.0] * len(buckets)
        self.listening_by_bucket = [0.0] * len(buckets)
        self.presence_recorded = False

    def spread(self, lo: int, hi: int, amount: float, into: list[float] | None) -> float:
        """Add ``amount``, spread evenly over [lo, hi), to the buckets it
        overlaps; returns the part that falls inside the period."""
        if hi <= lo:
            return 0.0
        edges = self.edges
        i = max(0, bisect_right(edges, lo) - 1)
        inside = 0.0
        while i < len(edges) - 1 and edges[i] < hi:
            overlap = min(hi, edges[i + 1]) - max(lo, edges[i])
            if overlap > 0:
                part = amount * overlap / (hi - lo)
                inside += part
                if into is not None:
                    into[i] += part
            i += 1
        return inside

    def listening_shares(self) -> list[float]:
        """Per bucket, the share of its time the sensors listened (their mean)."""
        sensors = max(1, len(self.sensors))
        return [up / ((hi - lo) / NS) / sensors if hi > lo else 0.0
                for up, lo, hi in zip(self.up_by_bucket, self.edges, self.edges[1:])]

    def add_health(self, spans: Iterable[HealthSpan]) -> None:
        """Sensors' samples, summed per bucket by the store (`AlertStore.health_spans`)."""
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for span in spans:
            lo, hi = span.lo_ns, span.hi_ns
            inside = self.spread(lo, hi, 1.0, None)  # the share of the span in the period
            if inside <= 0:
                continue
            row = self.sensors.get(span.sensor)
            if row is None:
                row = self.sensors[span.sensor] = SensorRow(sensor=span.sensor or "unnamed sensor")
            row.samples += span.samples
            row.up_s += self.spread(lo, hi, span.up_s, self.up_by_bucket)
            row.frames += span.frames * inside
            row.kernel_drops += span.kernel_drops * inside
            first[span.sensor] = min(first.get(span.sensor, NS_MAX), max(lo, self.start_ns))
            last[span.sensor] = max(last.get(span.sensor, -NS_MAX), min(hi, self.end_ns))
            if span.presence:
                self.presence_recorded = True
                self.spread(lo, hi, span.listening_s, self.listening_by_bucket)
        for sensor, row in self.sensors.items():
            row.first_sample = _local(first[sensor], self.tz)
            row.last_sample = _local(last[sensor], self.tz)

    def add_presence(self, spans: Iterable[PresenceSpan], aps: dict[str, ApRow]) -> None:
        """Registry entries heard, summed per bucket by the store (`AlertStore.presence_spans`)."""
        listening = sum(self.listening_by_bucket)
        for ap in aps.values():
            ap.listening_s = listening
            ap.heard_by_bucket = [0.0] * len(self.listening_by_bucket)
        last: dict[str, int] = {}
        for span in spans:
            ap = aps.get(span.bssid)
            if ap is None:  # an entry no longer in the registry
                continue
            ap.heard_s += self.spread(span.lo_ns, span.hi_ns, span.heard_s, ap.heard_by_bucket)
            ap.frames += span.frames
            last[span.bssid] = max(last.get(span.bssid, -NS_MAX), span.last_ns)
        for bssid, ns in last.items():
            aps[bssid].last_heard = _local(ns, self.tz)


def _ap_rows(facility: Facility, registry: Registry) -> dict[str, ApRow]:
    rows: dict[str, ApRow] = {}
    for ap in registry.access_points(facility.id):
        rows[ap.bssid_text] = ApRow(
            ssid=printable_ssid(ap.network.ssid), bssid=ap.bssid_text, label=one_line(ap.label),
            channels=_channels(ap), security=", ".join(sorted(ap.network.security)))
    return rows


def _channels(ap: AccessPoint) -> str:
    from ..decoding.channels import frequency_to_channel
    parts = []
    for freq in sorted(ap.frequencies):
        channel = frequency_to_channel(freq)
        parts.append(str(channel) if channel and freq < 5925 else f"{freq} MHz")
    return ", ".join(parts)


def _alert_row(alert: StoredAlert, tz: tzinfo, evidence: EvidenceCheck | None = None,
               now_ns: int = 0) -> ReportAlert:
    title = RULE_TEXT.get(alert.rule, (alert.rule, "", ""))[0]
    shown: list[tuple[str, str]] = []
    for key, value in alert.evidence.items():
        if key in _HIDDEN_EVIDENCE:
            continue
        if len(shown) == EVIDENCE_KEYS:
            shown.append(("…", f"more: evil-twin-monitor alerts show {alert.id}"))
            break
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                               default=str)
        text = one_line(text)
        if len(text) > EVIDENCE_CHARS:
            text = text[:EVIDENCE_CHARS - 1] + "…"
        shown.append((one_line(key), text))
    file = alert.evidence.get("evidence_file")
    file = str(file) if file not in (None, "") else None
    return ReportAlert(
        id=alert.id, time=_local(alert.time_ns, tz), last_seen=_local(alert.last_seen_ns, tz),
        rule=one_line(alert.rule), title=title, severity=one_line(alert.severity),
        state=one_line(alert.state), seen=alert.repeats + 1,
        ssid=one_line(alert.ssid) if alert.ssid is not None else None,
        bssid=one_line(alert.bssid or "-"),
        channel=str(alert.channel) if alert.channel else (
            f"{alert.frequency_mhz} MHz" if alert.frequency_mhz else "-"),
        message=one_line(alert.message), evidence=shown,
        evidence_file=one_line(file) if file is not None else None,
        evidence_gone=_evidence_gone(file, alert.time_ns, evidence, now_ns),
        no_facility=alert.facility is None)


def _group_row(group: AlertGroup, tz: tzinfo) -> AlertGroupRow:
    rule, bssid = group.key
    order = [s for s in SEVERITIES if group.by_severity.get(s)]
    return AlertGroupRow(
        rule=one_line(rule), title=RULE_TEXT.get(rule, (rule, "", ""))[0],
        bssid=one_line(bssid or "-"), ssid=one_line(group.ssid) if group.ssid is not None else None,
        ssids=group.ssids, count=group.count, seen=group.seen,
        severity=order[0] if order else "other", severities=_severity_counts(group),
        first=_local(group.first_ns, tz), last=_local(group.last_ns, tz))


# -- evidence files -------------------------------------------------------------------------------
def _evidence_check(evidence: EvidenceCheck | None) -> tuple[EvidenceCheck | None, str]:
    """The check to make (None: none) and the sentence that says so."""
    if evidence is None:
        return None, ("Evidence files were not checked: name the evidence directory with "
                      "--evidence DIR (or use --config) to mark the ones already deleted.")
    where = one_line(str(evidence.directory))
    try:
        with os.scandir(evidence.directory) as entries:
            next(entries, None)
    except OSError as exc:
        reason = "does not exist" if isinstance(exc, FileNotFoundError) else \
            f"cannot be read ({one_line(exc.strerror or exc)})"
        return None, f"Evidence files were not checked: the evidence directory {where} {reason}."
    return evidence, (f"Evidence files were looked up in {where} when this report was made; "
                      "the ones no longer there are marked.")


def _evidence_gone(name: str | None, time_ns: int, evidence: EvidenceCheck | None,
                   now_ns: int) -> str | None:
    """'deleted by retention' or 'missing' when ``name`` is not in the evidence
    directory; None when it is there or cannot be checked. Evidence file names are
    plain names in that directory; anything else cannot be one of ours."""
    if evidence is None or name is None:
        return None
    if name in (".", "..") or os.sep in name or "\0" in name or \
            (os.altsep is not None and os.altsep in name):
        return "missing"
    try:
        os.stat(evidence.directory / name)
        return None
    except FileNotFoundError:
        pass
    except OSError:  # unreadable, too long a name...: say nothing rather than guess
        return None
    days = evidence.retention_days
    if days and time_ns < now_ns - days * 86_400 * NS:
        return "deleted by retention"
    return "missing"


# -- the summary a non-expert signs off --------------------------------------------------------
def summarize(report: FacilityReport, by_rule: list[AlertGroup]) -> Summary:
    """The verdict, a headline sentence, notes, and what happened with what to do,
    from the period's alerts counted per rule (`AlertStore.alert_groups`)."""
    name = report.facility_name if report.facility_name == report.facility else \
        f"{report.facility_name} ({report.facility})"
    where = f"at {name}"
    when = report.period.when
    When = when[:1].upper() + when[1:]  # noqa: N806 (the same words at a sentence's start)
    imitations = _merge([g for g in by_rule if g.key[0] in IMPERSONATION_RULES])
    imitated = (f"{_count(imitations.count, 'alert')} about devices imitating the ward's "
                f"networks ({_severity_counts(imitations)})" if imitations.count else "")
    below = " What happened and what to do is listed below." if imitations.count else ""
    sensors = report.sensors
    listened = report.has_samples and bool(sensors)
    if not report.has_samples:
        held = imitated or "no alert about devices imitating the ward's networks"
        headline = (f"{When} the alert store holds {held} for {name}. The sensor's "
                    "uptime is unknown: this store was written by a version before 0.5.0, which "
                    f"did not record it.{below}")
    elif not listened:
        headline = (f"No record shows the sensor {where} listening {when}: it was not running, or "
                    "wrote to another alert store. This period cannot be signed off as checked.")
        if imitations.count:
            headline += f" The store still holds {imitated}.{below}"
    else:
        if len(sensors) == 1:
            ran = f"the sensor {where} ran {percent(sensors[0].uptime)} of the time"
        else:
            parts = [f"{percent(s.uptime)} ({s.sensor})" for s in sensors]
            ran = (f"the {len(sensors)} sensors {where} ran " + ", ".join(parts[:-1])
                   + f" and {parts[-1]} of the time")
        if imitations.count:
            they = "it" if len(sensors) == 1 else "they"
            headline = f"{When} {ran}; {they} raised {imitated}.{below}"
        else:
            caveat = "" if report.uptime >= UPTIME_WARN else " while it was listening"
            headline = f"{When} {ran}; no fake access point imitated the ward's " \
                       f"networks{caveat}."
    happenings = _happenings(by_rule, report.period.tz)
    notes: list[str] = []
    if report.unattributed:
        notes.append(f"{_count(report.unattributed, 'alert')} of this period "
                     f"{'carries' if report.unattributed == 1 else 'carry'} no facility (recorded "
                     "by a sensor or a replay without one) and "
                     f"{'is' if report.unattributed == 1 else 'are'} included here, because the "
                     "store cannot say where "
                     f"{'it was' if report.unattributed == 1 else 'they were'} seen. Set "
                     "sensor.facility (or replay with --facility) so that alerts name it.")
    other = [h for h in happenings if h.rule not in IMPERSONATION_RULES]
    if other:
        total = sum(h.count for h in other)
        notes.append(f"{_count(total, 'further alert')}: "
                     + "; ".join(f"{h.count} × {h.title[0].lower() + h.title[1:]}"
                                 for h in other) + ".")
    if listened:
        down_s = sum(report.length_s - s.up_s for s in sensors)
        if report.uptime < UPTIME_WARN:
            notes.append(f"The sensor was not listening for {duration(down_s)} in total; nothing "
                         "can be said about that time. Check its power supply and Wi-Fi adapter.")
        drops = report.kernel_drops
        ratio = drops / (report.frames + drops) if report.frames + drops else 0.0
        if ratio > DROP_WARN:
            notes.append(f"The sensor could not keep up at times: {drops:,} frames "
                         f"({percent(ratio)}) were dropped before it could look at them. "
                         "Consider a faster machine or fewer channels.")
        notes.extend(_availability_notes(report))
    serious = sum(g.by_severity.get(s, 0) for g in by_rule for s in ("critical", "high", "medium"))
    serious += sum(g.count - sum(g.by_severity.values()) for g in by_rule)  # unknown: assume so
    weak_aps = [a for a in report.aps
                if a.availability is not None and a.availability < AVAILABILITY_WARN]
    if report.has_samples and not listened:
        verdict = "unchecked"
    elif serious or weak_aps or not report.has_samples or report.uptime < UPTIME_WARN:
        verdict = "attention"
    else:
        verdict = "clear"
    verdict_text = {"clear": "Nothing to report", "attention": "Needs attention",
                    "unchecked": "Not checked"}[verdict]
    return Summary(verdict, verdict_text, headline, notes, happenings)


def _availability_notes(report: FacilityReport) -> list[str]:
    aps = report.aps
    if not aps:
        return ["The registry lists no access points for this facility."]
    if not report.presence_recorded:
        return ["The availability of the registered access points was not recorded (the "
                "ap_missing rule is disabled in the sensor's configuration)."]
    low = [a for a in aps if a.availability is not None and a.availability < AVAILABILITY_WARN]
    if not low:
        return [f"All {_count(len(aps), 'registered access point')} were on the air at least "
                f"{percent(AVAILABILITY_WARN, 0)} of the time the sensor listened."]
    names = ", ".join(f"{a.name} {percent(a.availability or 0.0)}" for a in low)
    return [f"{len(low)} of {_count(len(aps), 'registered access point')} were heard less than "
            f"{percent(AVAILABILITY_WARN, 0)} of the time the sensor listened: {names}. Ask the "
            "network operator whether they were switched off, moved or broken."]


def _happenings(by_rule: list[AlertGroup], tz: tzinfo) -> list[Happening]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    result = []
    for group in by_rule:
        rule = group.key[0]
        title, meaning, action = RULE_TEXT.get(
            rule, (rule, "An alert of a rule this version does not describe.",
                   "See the alert's message."))
        result.append((min([order[s] for s, n in group.by_severity.items() if n] or [9]),
                       Happening(rule=one_line(rule), title=title, count=group.count,
                                 severities=_severity_counts(group),
                                 first=_local(group.first_ns, tz), last=_local(group.last_ns, tz),
                                 meaning=meaning, action=action)))
    result.sort(key=lambda item: (item[0], -item[1].count, item[1].rule))
    return [h for _, h in result]


def _merge(groups: list[AlertGroup]) -> AlertGroup:
    """Several groups' counts as one (first, last and SSIDs are not needed)."""
    counts = {s: sum(g.by_severity.get(s, 0) for g in groups) for s in SEVERITIES}
    return AlertGroup((), sum(g.count for g in groups), 0, 0, sum(g.seen for g in groups), 0,
                      None, sum(g.unattributed for g in groups), counts)


def _severity_counts(group: AlertGroup) -> str:
    """'3 critical, 1 medium' (severities this version does not know: 'other')."""
    parts = [f"{group.by_severity[s]} {s}" for s in SEVERITIES if group.by_severity.get(s)]
    other = group.count - sum(group.by_severity.values())
    if other:
        parts.append(f"{other} other")
    return ", ".join(parts)


# -- formatting --------------------------------------------------------------------------------
def percent(value: float, digits: int = 1) -> str:
    """0.992 -> '99.2 %'; never rounds a shortfall up to 100 %."""
    shown = round(value * 100, digits)
    if shown >= 100 and value < 1:
        shown = 100 - 10 ** -digits
    return f"{shown:.{digits}f} %"


def duration(seconds: float) -> str:
    """'45 s', '12 min', '5 h 48 min', '3 days 4 h'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _local(ns: int, tz: tzinfo) -> str:
    """'2026-11-03 14:05:09 JST' in the report's time zone."""
    moment = datetime.fromtimestamp(ns // NS, tz=timezone.utc).astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def _utc(ns: int) -> str:
    """RFC 3339 in UTC to the second, as ``alerts --since/--until`` take it."""
    return datetime.fromtimestamp(ns // NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period_text(period: Period, end_ns: int) -> str:
    text = f"{period.first.isoformat()} 00:00 to {period.last.isoformat()} 24:00 ({period.tz_name})"
    if end_ns < period.end_ns:
        text += f", up to {_local(end_ns, period.tz)} when this report was made"
    return text
