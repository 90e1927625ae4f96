"""The evidence directory: file names, atomic writes, retention, size.

Theory of operation
-------------------
A file is named after its alert, from fields that are never attacker text:
``<alert time, UTC>_<rule>_<bssid hex>.pcap``, for example
``2026-04-01T09-00-08Z_unknown_bssid_025e1fa00c99.pcap`` (``-2``, ``-3``
before ``.pcap`` when one second holds more alerts of the rule and BSSID).
The name is relative to the evidence directory, the same on every sensor
and after the directory moves; the alert's ``evidence.evidence_file`` is
exactly this name.

Files are written to a temporary name (``.<name>.tmp``) and renamed, so a
reader never sees half a pcap. The directory is 0700, files 0600: they hold
pseudonyms and the offenders' frames, for the service user only.

Retention goes by the time in the name (the alert's time, i.e. the age of
the data), not by the file's mtime: replaying an old capture into the
directory does not make its evidence young. Only names of this pattern are
ever deleted; anything else in the directory is left alone. ``purge`` also
spares the files that alerts it keeps name (``keep``): an alert raised
before the date but still open, or ended after it, keeps its pcap.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from pathlib import Path
from typing import Collection

NS = 1_000_000_000
NAME_RE = re.compile(r"^\.?(?P<time>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)_(?P<rule>[a-z0-9_]+?)"
                     r"(?:_(?P<bssid>[0-9a-f]{12}))?(?:-(?P<n>\d+))?\.pcap(?P<tmp>\.tmp)?$")
_TIME_FORMAT = "%Y-%m-%dT%H-%M-%SZ"
_RULE_RE = re.compile(r"^[a-z0-9_]+$")


def evidence_name(time_ns: int, rule: str, bssid: bytes | None, n: int = 1) -> str:
    """The file name for an alert (see the module notes); ``n`` > 1 for a repeat."""
    if not _RULE_RE.match(rule):
        raise ValueError(f"rule id {rule!r} is not safe in a file name")
    stamp = time.strftime(_TIME_FORMAT, time.gmtime(time_ns // NS))
    name = f"{stamp}_{rule}"
    if bssid is not None:
        name += "_" + bssid.hex()
    if n > 1:
        name += f"-{n}"
    return name + ".pcap"


def name_time_ns(name: str) -> int | None:
    """The alert time in an evidence file name (or its temporary name), else None."""
    match = NAME_RE.match(name)
    if match is None:
        return None
    try:
        return calendar.timegm(time.strptime(match["time"], _TIME_FORMAT)) * NS
    except ValueError:
        return None


def prepare_directory(directory: Path) -> None:
    """Create ``directory`` (0700) if missing; tighten it to 0700 if others could read it.

    Raises OSError when it cannot be created or is not a directory."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = directory.stat().st_mode
    if mode & 0o077:
        os.chmod(directory, 0o700)


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view):]


def write_evidence(directory: Path, name: str, content: bytes, sync: bool = False) -> None:
    """Write ``content`` as ``directory/name`` (0600) atomically. Raises OSError."""
    temporary = directory / f".{name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)   # a leftover temporary file may have had another mode
            _write_all(fd, content)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, directory / name)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def evidence_before(directory: str | os.PathLike[str], time_ns: int,
                    keep: Collection[str] = frozenset()) -> tuple[list[str], int]:
    """(paths of the evidence files and left-over temporary files of alerts
    before ``time_ns``, evidence files spared because ``keep`` names them).

    ``keep`` holds file names (an alert's ``evidence_file``); a kept file's
    temporary name is spared too (the daemon may be writing it). A missing
    directory has nothing; other problems (permission denied) raise OSError."""
    found: list[str] = []
    kept = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found, 0
    for entry in entries:
        match = NAME_RE.match(entry.name)
        stamp = name_time_ns(entry.name) if match is not None else None
        if stamp is None or stamp >= time_ns or not entry.is_file(follow_symlinks=False):
            continue
        if keep and _final_name(entry.name, match) in keep:
            kept += match["tmp"] is None
            continue
        found.append(entry.path)
    return found, kept


def _final_name(name: str, match: re.Match[str]) -> str:
    """``.x.pcap.tmp`` -> ``x.pcap``."""
    return name[1:-4] if match["tmp"] is not None else name


def delete_evidence_before(directory: str | os.PathLike[str], time_ns: int,
                           keep: Collection[str] = frozenset()) -> int:
    """Delete the evidence files (and left-over temporary files) of alerts
    before ``time_ns``, except those ``keep`` names; returns how many were
    deleted. Other files are never touched. A missing directory has nothing
    to delete; other problems (permission denied) raise OSError."""
    deleted = 0
    for path in evidence_before(directory, time_ns, keep)[0]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted


def directory_usage(directory: str | os.PathLike[str]) -> tuple[int, int]:
    """(evidence files, their bytes) in ``directory``; (0, 0) when it is missing."""
    files = size = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        match = NAME_RE.match(entry.name)
        if match is None:
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                files += match["tmp"] is None
                size += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return files, size
