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

Everything shown that came from the store or the registry passes through
`one_line` (no line breaks, controls or bidi overrides survive); the
renderers add HTML or Markdown escaping on top (`render`).
"""

from __future__ import annotations

import calendar
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone, tzinfo
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import __version__
from ..decoding.text import printable_ssid
from ..registry.model import AccessPoint, Facility, Registry
from ..rules.base import SEVERITIES
from ..store.command import one_line
from ..store.db import AlertStore, HealthRow, PresenceRow, StoredAlert

NS = 1_000_000_000
MAX_DAYS = 3660
AVAILABILITY_WARN = 0.90     # an AP heard less than this share of the listening time is named
UPTIME_WARN = 0.99           # below this the summary says how long the sensor was deaf
DROP_WARN = 0.001            # kernel drops above this share of frames are reported
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
    """``--from``/``--to`` dates (YYYY-MM-DD, both days included) in ``tz_name``."""
    tz = _timezone(tz_name)
    first = _date(from_text, "--from")
    last = _date(to_text, "--to")
    if last < first:
        raise ReportError(f"--to {to_text} is before --from {from_text}")
    if (last - first).days >= MAX_DAYS:
        raise ReportError(f"--from {from_text} --to {to_text}: at most {MAX_DAYS} days per report")
    start = datetime.combine(first, dtime(0), tz)
    end = datetime.combine(last + timedelta(days=1), dtime(0), tz)
    return Period(first, last, tz, tz_name, _ns(start), _ns(end))


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
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{option} {text!r}: not a date; use YYYY-MM-DD, "
                          "like 2026-11-01") from None


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
    alerts: list[ReportAlert]
    buckets: list[Bucket]
    alert_counts: list[dict[str, int]]     # per bucket: severity -> alerts first seen in it
    listening_by_bucket: list[float]       # per bucket: share of the time the capture was open
    presence_by_bucket: list[float]        # per bucket: listening seconds with presence recorded
    summary: Summary
    severities: tuple[str, ...] = SEVERITIES

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
        raise ReportError(f"{store.path}: no data for any facility of the registry; name one "
                          f"with --facility (known: {', '.join(known) or 'none'})")
    return chosen


def gather(store: AlertStore, registry: Registry, facility_id: str, period: Period, *,
           now_ns: int, sources: Iterable[str] = ()) -> FacilityReport:
    """Everything one facility's report shows (see the module docstring)."""
    facility = registry.facility(facility_id)
    if facility is None:
        raise ReportError(f"--facility {facility_id}: no such facility in the registry")
    start = period.start_ns
    end = min(period.end_ns, now_ns)
    if end <= start:
        raise ReportError(f"--from {period.first.isoformat()}: the period has not begun yet")
    buckets = make_buckets(period, end)
    acc = _Accumulator(buckets, start, end, period.tz)
    presence = store.presence(facility_id, start, end)
    health_all = store.health(None, start, end)
    sensors = {h.sensor for h in health_all if h.facility == facility_id}
    sensors |= {p.sensor for p in presence}
    health = [h for h in health_all if h.sensor in sensors]
    acc.add_health(health)
    aps = _ap_rows(facility, registry)
    acc.add_presence(presence, aps)
    for row in acc.sensors.values():
        row.uptime = row.up_s / (end - start) * NS
    alerts = list(reversed(store.query(facility=facility_id, since_ns=start, until_ns=end)))
    alert_counts: list[dict[str, int]] = [{} for _ in buckets]
    edges = [b.start_ns for b in buckets]
    for alert in alerts:
        i = max(0, bisect_right(edges, max(alert.time_ns, start)) - 1)
        alert_counts[i][alert.severity] = alert_counts[i].get(alert.severity, 0) + 1
    rows = [_alert_row(a, period.tz) for a in alerts]
    report = FacilityReport(
        facility=facility.id, facility_name=one_line(facility.name), period=period,
        period_text=_period_text(period, end),
        generated=_local(now_ns, period.tz), version=__version__,
        sources=[one_line(s) for s in sources], tz_label=period.tz_name,
        has_samples=store.has_samples(), presence_recorded=acc.presence_recorded,
        length_s=(end - start) / NS, aps=list(aps.values()),
        sensors=sorted(acc.sensors.values(), key=lambda s: s.sensor), alerts=rows,
        buckets=buckets, alert_counts=alert_counts,
        listening_by_bucket=acc.listening_shares(),
        presence_by_bucket=acc.listening_by_bucket,
        summary=Summary("", "", "", [], []))
    report.summary = summarize(report, alerts)
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
        # (sensor, time_ns) -> (effective start ns, end ns, open seconds)
        self._spans: dict[tuple[str, int], tuple[int, int, float]] = {}

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

    def add_health(self, rows: list[HealthRow]) -> None:
        previous_end: dict[str, int] = {}
        last_end: dict[str, int] = {}
        for h in sorted(rows, key=lambda r: (r.sensor, r.time_ns)):
            interval_ns = int(h.interval_s * NS)
            end = h.time_ns
            lo = max(end - interval_ns, previous_end.get(h.sensor, end - interval_ns))
            previous_end[h.sensor] = max(end, previous_end.get(h.sensor, end))
            if end <= lo:
                continue
            share = (end - lo) / interval_ns if interval_ns > 0 else 0.0
            up = h.up_s * share
            self._spans[(h.sensor, h.time_ns)] = (lo, end, up)
            inside = self.spread(lo, end, 1.0, None)  # the share of the sample in the period
            if inside <= 0:
                continue
            row = self.sensors.get(h.sensor)
            if row is None:
                row = self.sensors[h.sensor] = SensorRow(sensor=h.sensor or "unnamed sensor")
            row.samples += 1
            row.up_s += self.spread(lo, end, up, self.up_by_bucket)
            row.frames += h.frames * share * inside
            row.kernel_drops += h.kernel_drops * share * inside
            if row.first_sample is None:
                row.first_sample = _local(max(lo, self.start_ns), self.tz)
            last_end[h.sensor] = min(end, self.end_ns)
            if h.presence:
                self.presence_recorded = True
                self.spread(lo, end, up, self.listening_by_bucket)
        for sensor, ns in last_end.items():
            self.sensors[sensor].last_sample = _local(ns, self.tz)

    def add_presence(self, rows: list[PresenceRow], aps: dict[str, ApRow]) -> None:
        listening = sum(self.listening_by_bucket)
        for ap in aps.values():
            ap.listening_s = listening
            ap.heard_by_bucket = [0.0] * len(self.listening_by_bucket)
        last: dict[str, int] = {}
        for p in rows:
            ap = aps.get(p.bssid)
            if ap is None:  # an entry no longer in the registry
                continue
            span = self._spans.get((p.sensor, p.time_ns))
            if span is None:  # no health row: the interval as written, assumed open
                span = (p.time_ns - int(p.interval_s * NS), p.time_ns, p.interval_s)
            lo, hi, up = span
            ap.heard_s += self.spread(lo, hi, up, ap.heard_by_bucket)
            ap.frames += p.frames
            last[p.bssid] = max(last.get(p.bssid, 0), min(hi, self.end_ns))
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


def _alert_row(alert: StoredAlert, tz: tzinfo) -> ReportAlert:
    title = RULE_TEXT.get(alert.rule, (alert.rule, "", ""))[0]
    evidence = alert.evidence
    shown: list[tuple[str, str]] = []
    for key, value in evidence.items():
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
    file = evidence.get("evidence_file")
    return ReportAlert(
        id=alert.id, time=_local(alert.time_ns, tz), last_seen=_local(alert.last_seen_ns, tz),
        rule=one_line(alert.rule), title=title, severity=one_line(alert.severity),
        state=one_line(alert.state), seen=alert.repeats + 1,
        ssid=one_line(alert.ssid) if alert.ssid is not None else None,
        bssid=one_line(alert.bssid or "-"),
        channel=str(alert.channel) if alert.channel else (
            f"{alert.frequency_mhz} MHz" if alert.frequency_mhz else "-"),
        message=one_line(alert.message), evidence=shown,
        evidence_file=one_line(file) if file not in (None, "") else None)


# -- the summary a non-expert signs off --------------------------------------------------------
def summarize(report: FacilityReport, alerts: list[StoredAlert]) -> Summary:
    """The verdict, a headline sentence, notes, and what happened with what to do."""
    name = report.facility_name if report.facility_name == report.facility else \
        f"{report.facility_name} ({report.facility})"
    where = f"at {name}"
    when = report.period.when
    When = when[:1].upper() + when[1:]  # noqa: N806 (the same words at a sentence's start)
    imitations = [a for a in alerts if a.rule in IMPERSONATION_RULES]
    imitated = (f"{_count(len(imitations), 'alert')} about devices imitating the ward's networks "
                f"({_severity_counts(imitations)})" if imitations else "")
    below = " What happened and what to do is listed below." if imitations else ""
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
        if imitations:
            headline += f" The store still holds {imitated}.{below}"
    else:
        if len(sensors) == 1:
            ran = f"the sensor {where} ran {percent(sensors[0].uptime)} of the time"
        else:
            parts = [f"{percent(s.uptime)} ({s.sensor})" for s in sensors]
            ran = (f"the {len(sensors)} sensors {where} ran " + ", ".join(parts[:-1])
                   + f" and {parts[-1]} of the time")
        if imitations:
            they = "it" if len(sensors) == 1 else "they"
            headline = f"{When} {ran}; {they} raised {imitated}.{below}"
        else:
            caveat = "" if report.uptime >= UPTIME_WARN else " while it was listening"
            headline = f"{When} {ran}; no fake access point imitated the ward's " \
                       f"networks{caveat}."
    happenings = _happenings(alerts, report.period.tz)
    notes: list[str] = []
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
    serious = [a for a in alerts if a.severity in ("critical", "high", "medium")]
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


def _happenings(alerts: list[StoredAlert], tz: tzinfo) -> list[Happening]:
    by_rule: dict[str, list[StoredAlert]] = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule, []).append(alert)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    result = []
    for rule, group in by_rule.items():
        title, meaning, action = RULE_TEXT.get(
            rule, (rule, "An alert of a rule this version does not describe.",
                   "See the alert's message."))
        result.append(Happening(
            rule=one_line(rule), title=title, count=len(group), severities=_severity_counts(group),
            first=_local(min(a.time_ns for a in group), tz),
            last=_local(max(a.last_seen_ns for a in group), tz), meaning=meaning, action=action))
    result.sort(key=lambda h: (min(order.get(a.severity, 9) for a in by_rule[h.rule]),
                               -h.count, h.rule))
    return result


def _severity_counts(alerts: list[StoredAlert]) -> str:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.severity] = counts.get(alert.severity, 0) + 1
    ordered = [s for s in SEVERITIES if s in counts] + sorted(set(counts) - set(SEVERITIES))
    return ", ".join(f"{counts[s]} {one_line(s)}" for s in ordered)


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


def _period_text(period: Period, end_ns: int) -> str:
    text = f"{period.first.isoformat()} 00:00 to {period.last.isoformat()} 24:00 ({period.tz_name})"
    if end_ns < period.end_ns:
        text += f", up to {_local(end_ns, period.tz)} when this report was made"
    return text
