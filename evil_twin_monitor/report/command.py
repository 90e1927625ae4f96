"""``evil-twin-monitor report``: the periodic audit report, one per facility.

Reads the alert store (read-only, like ``alerts``: it can run while the daemon
writes) and the registry, and writes ``report-<facility>-<from>-<to>.html``
and ``.md`` into ``--out``. With ``--config`` the store, the registry and the
facility are the sensor's; with ``--store`` the registry must be named and
every facility of the registry that the store has data for gets a report.
Files are written whole or not at all (a temporary file renamed into place),
and their names are printed on stdout, one per line.

Exit status 0 when every report was written; 2 with one line on stderr for
bad dates or arguments, a missing or foreign store, an invalid registry or
configuration, or an output directory that cannot be written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from ..store.db import AlertStore, StoreError
from .data import ReportError, facility_ids, gather, parse_period

PROG = "evil-twin-monitor"
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
                        help="directory for the reports (created if missing)")
    parser.add_argument("--format", default="html,md", metavar="LIST",
                        help="html, md or both (default html,md)")
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
    except _config_errors() as exc:
        err.write(f"{exc}\n")
        return 2


def _config_errors() -> tuple[type[Exception], ...]:
    from ..registry import RegistryError  # ConfigError is one
    return (RegistryError,)


def write_reports(args: argparse.Namespace, now_ns: int) -> list[Path]:
    """Gather and write every report; the paths written."""
    from . import render  # Jinja2 only when a report is written, not at every start of the CLI
    formats = _formats(args.format)
    period = parse_period(args.date_from, args.date_to, args.timezone)
    store_path, registry, registry_path, facility = _sources(args)
    out_dir = _out_dir(Path(args.out))
    store = AlertStore.open_reader(store_path)
    written: list[Path] = []
    try:
        sources = [f"alert store {store_path}", f"registry {registry_path}"]
        for facility_id in facility_ids(registry, store, args.facility or facility):
            report = gather(store, registry, facility_id, period, now_ns=now_ns, sources=sources)
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


def _sources(args: argparse.Namespace) -> tuple[Path, Any, Path, str | None]:
    """(store path, registry, registry path, default facility)."""
    if args.config:
        from ..config import load_config  # only then: it loads the registry too
        config = load_config(args.config, registry_path=args.registry)
        if not config.store.enabled:
            raise ReportError(f"{args.config}: the store is disabled (store.enabled: false); "
                              "name an existing store file with --store PATH --registry PATH")
        return Path(config.store.path), config.registry, config.registry_path, config.facility
    if args.store:
        if not args.registry:
            raise ReportError("--store needs --registry PATH (the registry the sensor used)")
        from ..registry import load_registry
        return Path(args.store), load_registry(args.registry), Path(args.registry), None
    raise ReportError("report needs --config PATH, or --store PATH with --registry PATH")


def _out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ReportError(f"--out {path}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
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
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # like any file the user writes (mkstemp makes 0600)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ReportError(f"{target}: cannot write: {exc.strerror}") from exc
