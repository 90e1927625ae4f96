"""``evil-twin-monitor alerts``: list and show the alert history.

The store is opened read-only (`AlertStore.open_reader`), so a listing can run
while the daemon writes and can never change or lock its file. Output for
people is one line per alert (``show``: one line per field), every text field
passed through `one_line` on the way out, so an SSID or evidence value that
somehow still holds a line break or a terminal control cannot break a line
or the terminal. ``--format jsonl`` prints the alert objects of the contract
with ``id``, ``last_seen``, ``repeats`` and ``state``, one JSON object per line.

Times (``--since``, ``--until``) are RFC 3339 (``2026-11-01T09:00:00Z``, an
offset such as ``+09:00`` allowed; no offset means UTC, like every time the
tool prints), a date (``2026-11-01``, midnight UTC) or an age (``90s``, ``30m``,
``24h``, ``7d``, ``2w``: that long before now). An alert matches when its
evidence overlaps the window: still seen at ``--since``, first seen before
``--until``.

Exit status 0 with or without alerts, 2 with one line on stderr for a
missing or unreadable store and for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TextIO

from .. import PROG
from ..registry import RegistryError  # ConfigError is one
from .db import AlertStore, StoredAlert, StoreError
from .settings import DEFAULT_PATH

DEFAULT_LIMIT = 100
_AGE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_FACILITY = re.compile(r"^[a-z0-9-]+$")
_RULE = re.compile(r"^[a-z0-9_]+$")
_INT64_MAX = 2**63 - 1
_BREAKING = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class AlertsUsageError(Exception):
    """Bad arguments or an unusable store: status 2 and one line."""


def add_alerts_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``alerts`` (and ``alerts show ID``) to the top-level subparsers."""
    parser = subparsers.add_parser(
        "alerts", help="list the alert history (alerts show ID: one alert with its evidence)",
        description="List stored alerts, newest first, or show one with its evidence. The store "
                    "is read, never written. Times: RFC 3339 (no offset = UTC), a date "
                    "(2026-11-01) or an age before now (30m, 24h, 7d). Exit 2 with one line "
                    "when the store is missing or an argument is bad.")
    _source_options(parser, None)
    parser.add_argument("--facility", metavar="ID", help="only this facility")
    parser.add_argument("--rule", metavar="ID", help="only this rule (unknown_bssid, ...)")
    parser.add_argument("--since", metavar="T", help="only alerts still seen at or after T")
    parser.add_argument("--until", metavar="T", help="only alerts first seen before T")
    parser.add_argument("--limit", metavar="N", default=str(DEFAULT_LIMIT),
                        help=f"at most N alerts (default {DEFAULT_LIMIT}; 0: all)")
    actions = parser.add_subparsers(dest="alerts_action", metavar="[show ID]",
                                    title="one alert instead of a list")
    show = actions.add_parser("show", help="one alert with its evidence",
                              description="Show one stored alert with all its evidence.")
    show.add_argument("alert_id", metavar="ID", help="the alert's id (first column of the list)")
    # Accepted after `show` too; SUPPRESS keeps a value given before `show`.
    _source_options(show, argparse.SUPPRESS)
    parser.set_defaults(alerts_action=None)
    return parser


def _source_options(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--store", metavar="PATH", default=default,
                       help=f"the store file (default: the --config's store, else {DEFAULT_PATH})")
    group.add_argument("--config", metavar="PATH", default=default,
                       help="sensor configuration naming the store")
    parser.add_argument("--format", choices=("text", "jsonl"),
                        default="text" if default is None else default,
                        help="text for people (default), jsonl: one alert object per line")


def alerts_command(args: argparse.Namespace, *, out: TextIO | None = None,
                   err: TextIO | None = None, now: Callable[[], float] = time.time) -> int:
    """Run ``alerts``; returns the exit status (0, or 2 after one line on stderr)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        path = _store_path(args)
        if args.alerts_action == "show":
            alert_id = parse_alert_id(args.alert_id)
            store = AlertStore.open_reader(path)
            try:
                alert = store.get(alert_id) if alert_id <= _INT64_MAX else None
            finally:
                store.close()
            if alert is None:
                raise AlertsUsageError(f"{path}: no alert with id {alert_id}")
            if args.format == "jsonl":
                out.write(_json_line(alert))
            else:
                out.write(format_details(alert))
            return 0
        return _list(args, path, out, err, now())
    except (AlertsUsageError, StoreError) as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except RegistryError as exc:
        err.write(f"{exc}\n")
        return 2



def _store_path(args: argparse.Namespace) -> Path:
    if getattr(args, "store", None):
        return Path(args.store)
    if getattr(args, "config", None):
        from ..config import load_config  # only then: it loads the registry too
        config = load_config(args.config)
        settings = config.store
        if not settings.enabled:
            raise AlertsUsageError(f"{args.config}: the store is disabled (store.enabled: false); "
                                   "read an existing file with --store PATH")
        return Path(settings.path)
    return DEFAULT_PATH


def _list(args: argparse.Namespace, path: Path, out: TextIO, err: TextIO, now: float) -> int:
    limit = _limit(args.limit)
    since = parse_time(args.since, "--since", now) if args.since else None
    until = parse_time(args.until, "--until", now) if args.until else None
    if since is not None and until is not None and since >= until:
        raise AlertsUsageError(f"--since {args.since} is not before --until {args.until}")
    if args.facility is not None and not _FACILITY.match(args.facility):
        raise AlertsUsageError(f"--facility {args.facility!r}: not a facility id (lowercase "
                               "letters, digits and '-', like city-hall)")
    if args.rule is not None and not _RULE.match(args.rule):
        raise AlertsUsageError(f"--rule {args.rule!r}: not a rule id (like unknown_bssid)")
    store = AlertStore.open_reader(path)
    try:
        if args.rule is not None:
            _check_rule(args.rule, store)
        alerts = store.query(facility=args.facility, rule=args.rule, since_ns=since,
                             until_ns=until, limit=limit + 1 if limit else None)
        if not alerts and args.facility is not None:
            known = store.distinct("facility")
            if args.facility not in known:
                err.write(f"no alerts for facility {args.facility} in {path} (facilities in the "
                          f"store: {', '.join(known) or 'none'})\n")
                return 0
    finally:
        store.close()
    more = bool(limit) and len(alerts) > limit
    alerts = alerts[:limit] if limit else alerts
    if args.format == "jsonl":
        for alert in alerts:
            out.write(_json_line(alert))
    elif alerts:
        out.write(format_table(alerts))
    else:
        err.write("no alerts match\n")
    if more:
        err.write(f"showing the newest {limit}; more match (--limit 0 shows all)\n")
    return 0


def _check_rule(rule: str, store: AlertStore) -> None:
    """A typo in --rule is an error, not an empty list: known rules are this
    version's plus any the store holds (written by a newer version)."""
    from ..rules import RULES_BY_ID
    known = set(RULES_BY_ID) | set(store.distinct("rule"))
    if rule not in known:
        raise AlertsUsageError(f"--rule {rule}: unknown rule; valid: {', '.join(sorted(known))}")


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise AlertsUsageError(f"--limit {text!r}: expected a whole number, 0 or more (0: all)")
    return min(value, _INT64_MAX - 1)


def parse_alert_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise AlertsUsageError(f"alert id {text!r}: expected a positive whole number "
                               "(the first column of `alerts`)")
    return value


def parse_time(text: str, option: str, now: float) -> int:
    """``--since``/``--until`` value -> nanoseconds since the epoch (UTC)."""
    value = text.strip()
    age = _AGE.match(value)
    if age:
        return _clamp(int((now - float(age.group(1)) * _UNITS[age.group(2)]) * 1e9))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AlertsUsageError(
            f"{option} {text!r}: not a time; use RFC 3339 (2026-11-01T09:00:00Z), a date "
            "(2026-11-01) or an age before now (30m, 24h, 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _clamp(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def _clamp(ns: int) -> int:
    """Within SQLite's integers (an age of 10^11 days is a valid, if odd, question)."""
    return max(-_INT64_MAX, min(_INT64_MAX, ns))


def one_line(text: Any) -> str:
    """Text that stays on one line and cannot drive a terminal: line breaks,
    controls and invisible formatting characters become escapes. Text already
    made printable (`printable_ssid`) passes unchanged."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _BREAKING:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def _json_line(alert: StoredAlert) -> str:
    # ensure_ascii=False keeps Japanese SSIDs readable; JSON escapes every control
    # character, and U+2028/U+2029 are escaped so the line is one line everywhere.
    text = json.dumps(alert.to_dict(), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _short_time(rfc3339: str) -> str:
    """``2026-04-01T09:00:00.102400Z`` -> ``2026-04-01T09:00:00Z`` for the table."""
    return rfc3339[:19] + "Z" if len(rfc3339) > 20 else rfc3339


def format_table(alerts: list[StoredAlert]) -> str:
    """A header and one line per alert, the SSID last (it has spaces)."""
    rows = [("ID", "FIRST SEEN (UTC)", "SEVERITY", "RULE", "BSSID", "CH", "SEEN", "STATE",
             "FACILITY/SENSOR", "SSID")]
    for a in alerts:
        where = f"{a.facility or '-'}/{a.sensor or '-'}"
        rows.append((str(a.id), _short_time(a.time), a.severity, a.rule, a.bssid or "-",
                     str(a.channel) if a.channel else "-", f"{a.repeats + 1}x", a.state, where,
                     f'"{a.ssid}"' if a.ssid is not None else "-"))
    rows = [tuple(one_line(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    right = {0, 5, 6}
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def format_details(a: StoredAlert) -> str:
    """``alerts show``: one field per line, then the evidence one key per line."""
    seen = (f"{a.last_seen} ({a.repeats} repeats)" if a.repeats
            else f"{a.last_seen} (no repeats)")
    channel = (f"{a.channel} ({a.frequency_mhz} MHz)" if a.channel
               else f"{a.frequency_mhz} MHz" if a.frequency_mhz else "-")
    fields = [
        ("time", a.time), ("last seen", seen), ("state", a.state), ("rule", a.rule),
        ("severity", a.severity), ("facility", a.facility or "-"), ("sensor", a.sensor or "-"),
        ("ssid", f'"{a.ssid}"' if a.ssid is not None else "-"),
        ("ssid octets", a.ssid_hex if a.ssid_hex else "-"),
        ("bssid", a.bssid or "-"), ("channel", channel), ("message", a.message),
    ]
    lines = [f"alert {a.id}"]
    lines += [f"  {name + ':':13}{one_line(value)}" for name, value in fields]
    lines.append("  evidence:")
    for key, value in a.evidence.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"    {one_line(key)}: {one_line(shown)}")
    return "\n".join(lines) + "\n"
