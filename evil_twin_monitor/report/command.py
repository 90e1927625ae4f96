"""``evil-twin-monitor report``: the periodic audit report, one per facility.

Reads the alert store (read-only, like ``alerts``: it can run while the daemon
writes) and the registry, and writes ``report-<facility>-<from>-<to>.html``
and ``.md`` into ``--out``. With ``--config`` the store, the registry and the
facility are the sensor's; with ``--store`` the registry must be named and
every facility of the registry that the store has data for gets a report.
Files are written whole or not at all (a temporary file renamed into place),
and their names are printed on stdout, one per line. A report names the
ward's networks, its weak spots and the attackers' addresses, so it is for
its readers only: a directory the command creates is 0700, every report file
0600 (whatever the umask; an existing directory keeps its mode).

Evidence files: with ``--config`` (its ``evidence.directory`` and
``retention_days``) or ``--evidence DIR``, every alert listed whose evidence
file is no longer there is marked "deleted by retention" (older than the
retention) or "missing"; without either, the files are not checked and the
report says so.

Exit status 0 when every report was written; 2 with one line on stderr for
bad dates (also days the store's times cannot hold: before 1970-01-01, after
2262-04-10) or arguments, a missing or foreign store, an invalid registry or
configuration, an ``--evidence`` that is not a directory, or an output
directory that cannot be written.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, TextIO

from .. import PROG
from ..registry import RegistryError  # ConfigError is one
from ..store.db import AlertStore, StoreError
from .data import EvidenceCheck, ReportError, facility_ids, gather, parse_period

FORMATS = {"html": "render_html", "md": "render_markdown"}  # functions of `render`


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to the top-level subparsers."""
    parser = subparsers.add_parser(
        "report", help="write the periodic audit report (HTML and Markdown) per facility",
        description="Write an audit report per facility for a period of whole days: registered "
                    "access points and their availability, every alert with its evidence file, "
                    "charts, the sensor's uptime and drops, a plain-language summary and a "
                    "sign-off block. The store is read, never written. Exit 2 with one line "
                    "for bad arguments or unusable input.")
    parser.add_argument("--from", dest="date_from", metavar="DATE", required=True,
                        help="first day of the period (YYYY-MM-DD), included")
    parser.add_argument("--to", dest="date_to", metavar="DATE", required=True,
                        help="last day of the period (YYYY-MM-DD), included")
    parser.add_argument("--facility", metavar="ID",
                        help="only this facility (default: the --config's facility, or every "
                             "facility of the registry that the store has data for)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="PATH",
                        help="sensor configuration naming the store, registry and facility")
    source.add_argument("--store", metavar="PATH", help="the alert store file (needs --registry)")
    parser.add_argument("--registry", metavar="PATH",
                        help="registry file or directory (with --config: instead of its own)")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="directory for the reports (created, mode 0700, if missing)")
    parser.add_argument("--format", default="html,md", metavar="LIST",
                        help="html, md or both (default html,md)")
    parser.add_argument("--evidence", metavar="DIR",
                        help="the evidence directory, to mark alerts whose evidence file is gone "
                             "(default: the --config's evidence.directory)")
    parser.add_argument("--timezone", default="UTC", metavar="NAME",
                        help="time zone of the days and of every time shown, e.g. Asia/Tokyo "
                             "(default UTC)")
    return parser


def report_command(args: argparse.Namespace, *, out: TextIO | None = None,
                   err: TextIO | None = None, now: Callable[[], float] = time.time) -> int:
    """Run ``report``; returns the exit status (0, or 2 after one line on stderr)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        for path in write_reports(args, int(now() * 1e9)):
            out.write(f"{path}\n")
        return 0
    except (ReportError, StoreError) as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except RegistryError as exc:
        err.write(f"{exc}\n")
        return 2
    except OverflowError as exc:  # a date or time beyond what the checks above foresaw
        err.write(f"{PROG}: error: --from {args.date_from} --to {args.date_to}: out of range "
                  f"({exc})\n")
        return 2



def write_reports(args: argparse.Namespace, now_ns: int) -> list[Path]:
    """Gather and write every report; the paths written."""
    from . import render  # Jinja2 only when a report is written, not at every start of the CLI
    formats = _formats(args.format)
    period = parse_period(args.date_from, args.date_to, args.timezone)
    src = _sources(args)
    out_dir = _out_dir(Path(args.out))
    store = AlertStore.open_reader(src.store_path)
    written: list[Path] = []
    try:
        sources = [f"alert store {src.store_path}", f"registry {src.registry_path}"]
        for facility_id in facility_ids(src.registry, store, args.facility or src.facility):
            report = gather(store, src.registry, facility_id, period, now_ns=now_ns,
                            sources=sources, alerts_source=src.alerts_source,
                            evidence=src.evidence)
            for fmt in formats:
                target = out_dir / f"report-{facility_id}-{period.file_part}.{fmt}"
                _write(target, getattr(render, FORMATS[fmt])(report))
                written.append(target)
    finally:
        store.close()
    return written


def _formats(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    bad = [part for part in chosen if part not in FORMATS]
    if bad or not chosen:
        raise ReportError(f"--format {text!r}: expected html, md or html,md")
    return list(dict.fromkeys(chosen))


class _Sources(NamedTuple):
    store_path: Path
    registry: Any
    registry_path: Path
    facility: str | None          # the default facility (the configuration's)
    alerts_source: str            # how `alerts` finds the same store: '--config PATH'
    evidence: EvidenceCheck | None


def _sources(args: argparse.Namespace) -> _Sources:
    explicit = _evidence_dir(args.evidence) if args.evidence else None
    if args.config:
        from ..config import load_config  # only then: it loads the registry too
        config = load_config(args.config, registry_path=args.registry)
        if not config.store.enabled:
            raise ReportError(f"{args.config}: the store is disabled (store.enabled: false); "
                              "name an existing store file with --store PATH --registry PATH")
        evidence = EvidenceCheck(explicit or Path(config.evidence.directory),
                                 config.evidence.retention_days)
        return _Sources(Path(config.store.path), config.registry, config.registry_path,
                        config.facility, f"--config {shlex.quote(args.config)}", evidence)
    if args.store:
        if not args.registry:
            raise ReportError("--store needs --registry PATH (the registry the sensor used)")
        from ..registry import load_registry
        return _Sources(Path(args.store), load_registry(args.registry), Path(args.registry), None,
                        f"--store {shlex.quote(args.store)}",
                        EvidenceCheck(explicit) if explicit else None)
    raise ReportError("report needs --config PATH, or --store PATH with --registry PATH")


def _evidence_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ReportError(f"--evidence {text}: "
                          f"{'not a directory' if path.exists() else 'no such directory'}")
    return path


def _out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ReportError(f"--out {path}: not a directory")
    try:
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)  # whatever the umask
    except OSError as exc:
        raise ReportError(f"--out {path}: cannot create the directory: {exc.strerror}") from exc
    return path


def _write(target: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a report."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise ReportError(f"{target}: cannot write: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)  # what mkstemp made; said again, as the mode is the point
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ReportError(f"{target}: cannot write: {exc.strerror}") from exc
