"""``evil-twin-monitor survey``: what is on the air, and a registry draft for a facility.

Two sources: capture files (``survey PCAP...``), or live with a sensor
configuration's radio (``survey --config sensor.yaml --duration 120``), which
hops every channel of the regulatory domain (see `survey.live`). Two outputs:
the table of every network heard, for people (stdout; stderr when the draft
goes to stdout), and with ``--draft FILE`` a registry draft for ``--facility``
(see `survey.draft`), restricted to the ``--ssid`` values if given.

The draft is checked with the registry loader itself before it is written
(a draft that does not load would be a bug here, and is reported as one
instead of being handed out), and written through a temporary file and a
rename, so an interrupted run never leaves half a file. An existing file is
not overwritten without ``--force``: the draft is often named like the
registry it will be merged into. Even with ``--force`` only a regular file is
replaced: the target is looked at with ``lstat`` before the survey and again
just before the rename (a survey takes minutes), and a device node, FIFO,
socket or symbolic link is refused. A rename over ``/dev/null`` would
replace the device itself, and a symbolic link would either be replaced by a
plain file or, if followed, write the draft wherever it points (the live
registry, say); the operator names the file itself instead. Without
``--force`` the draft is linked into place (``link`` fails on an existing
name), so a file that appeared during the survey is not overwritten either.

Exit status 0 when the survey ran (networks heard or not; an ``--ssid``
heard nowhere is a warning), 2 with one line on stderr for bad arguments, an
unusable capture file, a radio that cannot be opened, or a radio lost half-way
(the table and draft of what was heard are still written, marked incomplete).
Ctrl-C (SIGINT) or SIGTERM ends a live survey early, normally: the outputs
cover the time surveyed and the exit status is 0.
"""

from __future__ import annotations

import argparse
import math
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from .. import __version__
from ..decoding import CaptureFileError, Decoder, open_capture
from ..decoding.text import printable_ssid, ssid_from_printable
from ..registry.loader import FACILITY_ID
from .collect import DEFAULT_MAX_NETWORKS, SurveyCollector
from .. import PROG
from ..registry import RegistryError  # ConfigError is one
from .draft import comment_text, render_draft
from .table import render_table

DEFAULT_DURATION_S = 120.0
MAX_DURATION_S = 7 * 86_400.0


class SurveyUsageError(Exception):
    """Bad arguments or unusable input: status 2 and one line."""


def add_survey_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``survey`` to the top-level subparsers."""
    parser = subparsers.add_parser(
        "survey", help="list every network heard (capture files or live) and write a "
                       "registry draft for a facility",
        description="List every network heard in capture files, or live with the radio of a "
                    "sensor configuration (every channel of its regulatory domain in turn), and "
                    "optionally write a registry draft for one facility to review and merge. "
                    "Ctrl-C ends a live survey early and keeps what was heard. Stop the sensor "
                    "service first: a survey and the daemon cannot share one adapter. Exit 2 "
                    "with one line for bad arguments or unusable input.")
    parser.add_argument("pcaps", nargs="*", metavar="PCAP", help="capture files (pcap, pcapng)")
    parser.add_argument("--config", metavar="PATH",
                        help="live survey with this sensor configuration's radio and domain")
    parser.add_argument("--duration", metavar="SECONDS", default=str(DEFAULT_DURATION_S),
                        help=f"live: how long to listen (default {DEFAULT_DURATION_S:g})")
    parser.add_argument("--dwell", metavar="SECONDS", default=None,
                        help="live: time on each channel per sweep (default 0.5)")
    parser.add_argument("--draft", metavar="FILE",
                        help="write a registry draft to FILE ('-': stdout, the table then goes "
                             "to stderr)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing draft FILE (a regular file only: never a "
                             "symbolic link, FIFO or device)")
    parser.add_argument("--facility", metavar="ID",
                        help="facility id of the draft (required with --draft; live: default "
                             "the sensor's facility)")
    parser.add_argument("--facility-name", metavar="TEXT", help="the facility's name for people")
    parser.add_argument("--ssid", action="append", metavar="SSID",
                        help="put only networks with this SSID in the draft (repeatable; the "
                             "printable form with \\xNN escapes is accepted); default: every "
                             "network heard")
    parser.add_argument("--max-networks", metavar="N", default=str(DEFAULT_MAX_NETWORKS),
                        help=f"networks kept in memory (default {DEFAULT_MAX_NETWORKS}); frames "
                             "of further ones are counted, not recorded")
    return parser


def survey_command(args: argparse.Namespace, *, out: TextIO | None = None,
                   err: TextIO | None = None,
                   now_ns: Callable[[], int] = time.time_ns) -> int:
    """Run ``survey``; returns the exit status (0, or 2 after one line on stderr)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _survey(args, out, err, now_ns)
    except SurveyUsageError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except CaptureFileError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except RegistryError as exc:  # the configuration or its registry: one line per problem
        err.write(f"{exc}\n")
        return 2



def _number(text: str, option: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise SurveyUsageError(f"{option} {text}: expected a number of seconds from {low:g} "
                               f"to {high:g}")
    return value


def _ssids(values: Sequence[str] | None) -> list[bytes] | None:
    if not values:
        return None
    ssids = []
    for text in values:
        try:
            ssid = ssid_from_printable(text)
        except (ValueError, OverflowError):   # an escape that is no character (\ud800)
            raise SurveyUsageError(f"--ssid {text!r}: not an SSID; write it as the table shows "
                                   f"it (\\xNN for octets that are not text)") from None
        if not 1 <= len(ssid) <= 32:
            raise SurveyUsageError(f"--ssid \"{printable_ssid(ssid)}\": an SSID is 1 to 32 "
                                   f"octets; this is {len(ssid)}")
        ssids.append(ssid)
    return ssids


def _survey(args: argparse.Namespace, out: TextIO, err: TextIO,
            now_ns: Callable[[], int]) -> int:
    live = args.config is not None
    if live and args.pcaps:
        raise SurveyUsageError("give capture files or --config PATH for a live survey, not both")
    if not live and not args.pcaps:
        raise SurveyUsageError("survey needs capture files (survey PCAP...) or --config PATH "
                               "for a live survey")
    if not live and args.dwell is not None:
        raise SurveyUsageError("--dwell is for a live survey (--config PATH)")
    ssids = _ssids(args.ssid)
    try:
        max_networks = int(args.max_networks)
    except ValueError:
        max_networks = 0
    if max_networks < 1:
        raise SurveyUsageError(f"--max-networks {args.max_networks}: expected a whole number "
                               "of 1 or more")
    collector = SurveyCollector(max_networks)
    config = None
    duration, dwell = DEFAULT_DURATION_S, None
    if live:
        from ..config import load_config
        duration = _number(args.duration, "--duration", 1, MAX_DURATION_S)
        dwell = _number(args.dwell, "--dwell", 0.01, 60) if args.dwell is not None else None
        config = load_config(args.config)
    facility = args.facility or (config.facility if config is not None else None)
    if args.draft is not None:
        _check_draft_target(args.draft, args.force, facility)

    error = None
    if live:
        source, error = _live(config, collector, duration, dwell, err)
    else:
        source = _files(args.pcaps, collector)

    table_to = err if args.draft == "-" else out
    for line in render_table(collector):
        table_to.write(line + "\n")
    table_to.flush()
    if args.draft is not None:
        assert facility is not None
        draft = render_draft(collector, facility, facility_name=args.facility_name or None,
                             ssids=ssids, source=source, written_ns=now_ns(),
                             generator=f"{PROG} {__version__} survey",
                             incomplete=error and f"the survey ended early: {error}")
        for warning in draft.warnings:
            err.write(f"{PROG}: warning: {warning}\n")
        _write_draft(args.draft, draft.text, out, args.force)
        where = "stdout" if args.draft == "-" else args.draft
        err.write(f"draft for {facility}: {draft.networks} network entries, "
                  f"{draft.access_points} access points written to {where}"
                  + (f"; {draft.left_out} heard but not registrable (see its comments)"
                     if draft.left_out else "") + "\n")
    elif ssids:
        err.write(f"{PROG}: warning: --ssid only selects what goes into a --draft\n")
    if collector.untracked_frames:
        err.write(f"{PROG}: warning: {collector.untracked_frames} frames of further networks "
                  f"were not recorded (--max-networks {max_networks})\n")
    if error is not None:
        raise SurveyUsageError(f"the survey ended early: {error}; the outputs cover only the "
                               "time before")
    return 0


def _check_draft_target(path: str, force: bool, facility: str | None) -> None:
    """Fail before surveying (which may take minutes) when the draft cannot be written."""
    if facility is None:
        raise SurveyUsageError("--draft needs --facility ID (the facility the networks belong to)")
    if not FACILITY_ID.match(facility):
        raise SurveyUsageError(f"--facility {facility}: not a valid facility id; use lowercase "
                               "letters, digits and '-' (like city-hall)")
    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise SurveyUsageError(f"{path}: is a directory; --draft wants a file name")
    _check_existing(path, force)
    parent = target.parent
    if not parent.is_dir():
        raise SurveyUsageError(f"{path}: no such directory {parent}")
    if not os.access(parent, os.W_OK):
        raise SurveyUsageError(f"{path}: cannot write in {parent} (permission denied)")


def _check_existing(path: str, force: bool) -> None:
    """Refuse an existing ``path`` unless ``force``, and even then anything but
    a regular file (``lstat``: a symbolic link is judged as a link)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise SurveyUsageError(f"{path}: cannot look at it: {exc.strerror or exc}") from exc
    if not force:
        raise SurveyUsageError(f"{path}: already exists; choose another name or add --force "
                               "to overwrite it")
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            shown = f" to {os.readlink(path)!r}"
        except OSError:
            shown = ""
        raise SurveyUsageError(f"{path}: is a symbolic link{shown}; --force replaces only a "
                               "regular file, give the path of the file itself")
    raise SurveyUsageError(f"{path}: is {_file_kind(st.st_mode)}, not a regular file; --force "
                           "replaces only a regular file")


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _files(paths: Sequence[str], collector: SurveyCollector) -> str:
    """Feed every capture file (all headers checked first); returns the source text."""
    for path in paths:
        with open_capture(path):
            pass
    decoder = Decoder()
    decode, feed = decoder.decode, collector.feed
    for path in paths:
        with open_capture(path) as reader:
            for number, ts_ns, linktype, data in reader:
                frame = decode(data, linktype, ts_ns, number)
                if frame is not None:
                    feed(frame)
    return "capture file" + ("s " if len(paths) > 1 else " ") + ", ".join(paths)


def _live(config: Any, collector: SurveyCollector, duration: float, dwell: float | None,
          err: TextIO) -> tuple[str, str | None]:
    from .live import DEFAULT_DWELL_S, SurveyError, survey_live  # scapy, netlink: only now

    def say(line: str) -> None:
        err.write(line + "\n")
        err.flush()

    try:
        result = survey_live(config, collector, duration, dwell or DEFAULT_DWELL_S, say)
    except SurveyError as exc:
        raise SurveyUsageError(str(exc)) from exc
    source = (f"live survey with {config.source} on {result.interface}, {result.plan.domain} "
              f"channels, {result.seconds:.0f} s of {duration:g} s")
    if result.stopped_by:
        source += f" (stopped early by {result.stopped_by})"
        say(f"stopped by {result.stopped_by} after {result.seconds:.1f} s")
    if result.refused:
        say(f"warning: the adapter refused {len(result.refused)} channel(s) (MHz: "
            f"{', '.join(map(str, result.refused))}); they were skipped")
        source += f"; the adapter refused {len(result.refused)} channel(s)"
    if result.kernel_drops:
        say(f"warning: the kernel dropped {result.kernel_drops} frames (a busy channel); "
            "counts are low, networks may be missing")
    return source, result.error


def _write_draft(path: str, text: str, out: TextIO, force: bool = False) -> None:
    """Check that the registry loader accepts the draft, then write it (atomically):
    without ``force`` linked into place (never over anything), with it renamed
    over a regular file only (checked again: the survey took a while)."""
    from ..registry import RegistryError, load_registry
    if path == "-":
        with tempfile.TemporaryDirectory(prefix="etm-survey-") as tmp:
            check = Path(tmp) / "draft.yaml"
            check.write_text(text, encoding="utf-8")
            _validate(check, load_registry, RegistryError)
        out.write(text)
        out.flush()
        return
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp's 0600 stays: a draft without --ssid lists every network heard,
        # phone hotspots named after their owners among them.
        _validate(tmp, load_registry, RegistryError)
        _check_existing(path, force)
        if force or not _link(tmp, target):
            os.replace(tmp, target)
    except FileExistsError:
        raise SurveyUsageError(f"{path}: was created while surveying; nothing written, "
                               "choose another name or add --force to overwrite it") from None
    except OSError as exc:
        raise SurveyUsageError(f"{path}: cannot write the draft: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _link(tmp: Path, target: Path) -> bool:
    """Put ``tmp`` at ``target`` unless something is there (`FileExistsError`);
    False when the file system has no hard links (FAT on a USB stick), where the
    caller renames after the ``lstat`` check instead."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _validate(path: Path, load: Callable[[Path], Any], error: type[Exception]) -> None:
    try:
        load(path)
    except error as exc:
        first = comment_text(str(exc).splitlines()[0])
        raise SurveyUsageError(f"internal error: the draft does not load as a registry "
                               f"({first}); please report this") from exc
