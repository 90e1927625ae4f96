"""``evil-twin-monitor registry approve``: register what an alert found.

Theory of operation
-------------------
The alert comes from the alert store (read-only, like ``alerts``): by id, or
with ``--bssid`` the newest alert about that BSSID. `approve.change_for_alert`
decides the change (or refuses), `approve.edit_text` makes it in the file that
holds the facility (a registry directory has one file per facility; the
loader knows which). Before anything is written:

- the edited file is loaded together with the rest of the registry from a
  temporary copy, and must give the old registry plus exactly the intended
  change (`approve.check_edit`), so a daemon reloading it can never fail on it;
- the file must be writable and not write-protected (a mode without write
  bits is an operator's "do not touch", honoured even for root).

The write is atomic: a temporary file in the same directory (a dot name the
loader skips) with the old file's mode, owner and group, renamed over it; the
previous version is kept as ``FILE.bak``. The file is read again just before
the rename; if someone changed it meanwhile, nothing is written.

The running sensor reads the registry again on SIGHUP; the command prints
that step instead of doing it (see `NEXT_STEP`): one reload after several
approvals, and no signal sent to a PID typed by hand.

Exit status 0 when the registry was changed or already held the change
(the command says which), 2 with one line on stderr when the approval is
refused or impossible.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from ..decoding.text import printable_ssid
from ..store.command import AlertsUsageError, one_line, parse_alert_id
from ..store.db import AlertStore, StoredAlert, StoreError
from ..store.settings import DEFAULT_PATH
from .approve import (
    AlreadyApproved, ApproveError, Change, NewAccessPoint, NewFingerprint,
    change_for_alert, check_conflicts, check_edit, edit_text,
)
from .. import PROG
from .loader import RegistryError, load_registry, parse_bssid, registry_files
from .model import Registry

SERVICE = "evil-twin-monitor"
NEXT_STEP = (f"next: the running sensor uses the new registry after a reload: "
             f"systemctl reload {SERVICE} (without systemd: kill -HUP the pid of "
             f"`{PROG} run`)")
_INT64_MAX = 2**63 - 1


class UsageError(Exception):
    """Bad arguments or an unusable store/registry: status 2 and one line."""


def add_registry_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``registry`` (with its ``approve`` subcommand) to the top-level subparsers."""
    parser = subparsers.add_parser(
        "registry", help="change the registry from the alert history (registry approve ...)",
        description="Change the registry from what the sensor saw.")
    actions = parser.add_subparsers(dest="registry_action", required=True, metavar="ACTION")
    approve = actions.add_parser(
        "approve", help="register the new AP, channel or fingerprint an alert found",
        description="Add what an alert found to the registry: a new access point "
                    "(unknown_bssid), a channel (unexpected_channel) or a fingerprint "
                    "(fingerprint_mismatch). Other alerts are refused. Comments and layout of "
                    "the registry file are kept; the previous version is kept as FILE.bak. "
                    "The running sensor uses the change after `systemctl reload "
                    f"{SERVICE}`. Exit 2 with one line when refused or impossible.")
    approve.add_argument("alert_id", nargs="?", metavar="ALERT_ID",
                         help="the alert's id (first column of `alerts`)")
    approve.add_argument("--bssid", metavar="BSSID",
                         help="instead of ALERT_ID: the newest stored alert about this BSSID")
    approve.add_argument("--store", metavar="PATH",
                         help=f"the alert store (default: the --config's store, else {DEFAULT_PATH})")
    approve.add_argument("--registry", metavar="PATH",
                         help="registry file or directory (default: the one named in --config)")
    approve.add_argument("--config", metavar="PATH",
                         help="sensor configuration naming the store and the registry")
    approve.add_argument("--label", metavar="TEXT",
                         help="label of a new access point (unknown_bssid), e.g. \"4F meeting room\"")
    approve.add_argument("--facility", metavar="ID",
                         help="facility of a new access point when the alert names none "
                              "(default: the --config's facility)")
    approve.add_argument("--dry-run", action="store_true",
                         help="print the change as a unified diff; write nothing")
    return parser


def registry_command(args: argparse.Namespace, *, out: TextIO | None = None,
                     err: TextIO | None = None) -> int:
    """Run ``registry approve``; returns the exit status (0, or 2 after one line on stderr)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _approve(args, out, err)
    except (UsageError, ApproveError, StoreError) as exc:
        err.write(f"{PROG}: error: {one_line(exc)}\n")
        return 2
    except RegistryError as exc:  # ConfigError too: file:line lines, as check-config prints them
        err.write(f"{exc}\n")
        return 2


def _approve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if (args.alert_id is None) == (args.bssid is None):
        raise UsageError("registry approve needs ALERT_ID or --bssid BSSID (one of them)")
    label = _label(args.label)
    store_path, registry_path, registry, default_facility = _sources(args)
    alert, related = _read_alert(store_path, args)
    try:
        change = change_for_alert(alert, registry, facility=args.facility or (
            default_facility if alert.facility is None else None), label=label)
    except AlreadyApproved as exc:
        out.write(f"alert {alert.id}: {one_line(exc)}\n")
        return 0
    check_conflicts(alert, related)
    facility = registry.facility(change.facility)
    assert facility is not None
    path = Path(facility.source)
    before_text = _read(path)
    after_text = edit_text(before_text, change, str(path))
    after = _validate(registry_path, path, after_text)
    check_edit(registry, after, change)
    if args.dry_run:
        out.writelines(difflib.unified_diff(
            before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
            fromfile=str(path), tofile=f"{path} (approved)"))
        err.write(f"dry run: alert {alert.id} would add {one_line(change.describe())}; "
                  "nothing written\n")
        return 0
    backup = write_registry_file(path, before_text, after_text)
    out.write(f"alert {alert.id} ({alert.rule}) approved: added {one_line(change.describe())}; "
              f"written to {path} (previous version: {backup})\n")
    for note in _notes(change):
        out.write(f"note: {note}\n")
    out.write(NEXT_STEP + "\n")
    return 0


def _label(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("--label: not valid UTF-8 text") from None
    return text


def _sources(args: argparse.Namespace) -> tuple[Path, Path, Registry, str | None]:
    """(store path, registry path, loaded registry, the sensor's facility)."""
    if args.config:
        from ..config import load_config  # only then: it checks the whole sensor setup
        config = load_config(args.config, registry_path=args.registry)
        store = Path(args.store) if args.store else None
        if store is None:
            if not config.store.enabled:
                raise UsageError(f"{args.config}: the store is disabled (store.enabled: false); "
                                 "name the store file with --store PATH")
            store = Path(config.store.path)
        return store, Path(config.registry_path), config.registry, config.facility
    if not args.registry:
        raise UsageError("registry approve needs --registry PATH (or --config naming one)")
    store = Path(args.store) if args.store else DEFAULT_PATH
    return store, Path(args.registry), load_registry(args.registry), None


def _read_alert(path: Path, args: argparse.Namespace) -> tuple[StoredAlert, list[StoredAlert]]:
    """The alert to approve and the other alerts about its BSSID."""
    store = AlertStore.open_reader(path)
    try:
        if args.bssid is not None:
            parsed = parse_bssid(args.bssid)
            if isinstance(parsed, str) or parsed[1] != 48:
                raise UsageError(f"--bssid {args.bssid!r}: not a BSSID; write six hex octets "
                                 "like 00:1a:2b:3c:4d:50")
            related = _about(store, parsed[0].hex(":"))
            if not related:
                raise UsageError(f"{path}: no stored alert about {parsed[0].hex(':')}")
            alert = related[0]
        else:
            try:
                alert_id = parse_alert_id(args.alert_id)
            except AlertsUsageError as exc:
                raise UsageError(str(exc)) from None
            found = store.get(alert_id) if alert_id <= _INT64_MAX else None
            if found is None:
                raise UsageError(f"{path}: no alert with id {alert_id}")
            alert = found
            related = _about(store, alert.bssid) if alert.bssid else []
    finally:
        store.close()
    return alert, related


def _about(store: AlertStore, bssid: str) -> list[StoredAlert]:
    """Every stored alert about ``bssid``, newest first."""
    rows = store.conn.execute(
        "SELECT * FROM alerts WHERE bssid = ? ORDER BY time_ns DESC, id DESC", (bssid,))
    return [StoredAlert.from_row(r) for r in rows]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")  # bytes: CRLF line ends stay as they are
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _validate(registry_path: Path, edited: Path, text: str) -> Registry:
    """Load the registry with ``edited`` replaced by ``text``, from a temporary copy."""
    files = registry_files(registry_path) if registry_path.is_dir() else [registry_path]
    with tempfile.TemporaryDirectory(prefix="etm-approve-") as tmp:
        copy_root = Path(tmp) / "registry"
        copy_root.mkdir()
        for file in files:
            target = copy_root / file.name
            if file.resolve() == edited.resolve():
                target.write_bytes(text.encode("utf-8"))
            else:
                shutil.copyfile(file, target)
        try:
            return load_registry(copy_root if registry_path.is_dir() else copy_root / files[0].name)
        except RegistryError as exc:
            first = str(exc.problems[0]).replace(str(copy_root), str(
                registry_path if registry_path.is_dir() else registry_path.parent))
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            raise ApproveError(f"the edited registry would not load, nothing written: "
                               f"{first}{more}") from exc


def write_registry_file(path: Path, before: str, after: str) -> Path:
    """Replace ``path`` (whose text was ``before``) by ``after`` atomically;
    keep ``before`` as ``path.bak``. Returns the backup's path."""
    target = Path(os.path.realpath(path))  # a symlink stays a symlink
    try:
        st = target.stat()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o222:
        raise UsageError(f"{path}: the file is write-protected (mode {mode:04o}); make it "
                         "writable (chmod u+w) to approve into it")
    if not os.access(target, os.W_OK) or not os.access(target.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: not writable by this user (run as the file's owner or root)")
    backup = target.with_name(target.name + ".bak")
    _write_like(target, backup, before, st)
    new_tmp = _write_like(target, None, after, st)
    try:
        if _read(target) != before:
            raise UsageError(f"{path}: changed by someone else while approving; nothing "
                             "written, try again")
        os.replace(new_tmp, target)
    except BaseException:
        _unlink(new_tmp)
        raise
    _sync_dir(target.parent)
    return backup


def _write_like(target: Path, final: Path | None, text: str, st: os.stat_result) -> Path:
    """Write ``text`` to a temporary file next to ``target`` with its mode and
    owner; rename it to ``final`` if given. Returns where the text is."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{target.parent}: cannot write a file there: {exc.strerror}") from exc
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if (st.st_uid, st.st_gid) != (os.stat(tmp).st_uid, os.stat(tmp).st_gid):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                raise UsageError(f"{target}: cannot keep its owner {st.st_uid}:{st.st_gid} "
                                 "(run as root or as the file's owner)") from None
        if final is not None:
            os.replace(tmp, final)
            return final
        return tmp
    except UsageError:
        _unlink(tmp)
        raise
    except OSError as exc:
        _unlink(tmp)
        raise UsageError(f"{target}: cannot write: {exc.strerror}") from exc
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _sync_dir(directory: Path) -> None:
    """Make the rename durable (a power cut must not bring the old file back)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _notes(change: Change) -> list[str]:
    notes = []
    if isinstance(change, NewFingerprint) and change.pins:
        kind = change.fingerprint.split(":", 1)[0]
        notes.append(f"the entry now lists its {kind} fingerprints, so the sensor no longer "
                     f"learns them for it: only listed ones are accepted")
    if isinstance(change, NewAccessPoint) and change.network_index is None:
        notes.append(f'facility {change.facility} had no network "{printable_ssid(change.ssid)}"; '
                     f"it was added with security [{', '.join(change.security)}] and pmf "
                     f"{change.pmf}, as the city network of that name elsewhere")
    return notes
