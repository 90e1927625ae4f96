"""The installation's privacy secret: created once, private, never seen short
or half-written (a crash, two processes starting at once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evil_twin_monitor.privacy import PrivacyError, Pseudonymizer, load_secret


def test_the_secret_is_created_once_private_and_read_back(tmp_path):
    path = tmp_path / "state" / "privacy.secret"
    secret = load_secret(path)
    assert len(secret) == 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_secret(path) == secret == path.read_bytes()
    assert os.listdir(path.parent) == ["privacy.secret"]   # no temporary file left


def test_a_crash_while_creating_it_leaves_no_short_secret_in_the_way(tmp_path):
    """The process dies at its first attempt to put the bytes in a file; the
    next start must get a whole secret, not "0 bytes; at least 16 needed"."""
    path = tmp_path / "privacy.secret"
    pid = os.fork()
    if pid == 0:   # pragma: no cover (the child)
        def die(*_args, **_kwargs):
            os._exit(9)
        os.write = os.fdopen = die   # type: ignore[assignment]
        try:
            load_secret(path)
        finally:
            os._exit(0)
    assert os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 9, "the child did not reach the write"
    secret = load_secret(path)
    assert len(secret) == 32 and path.read_bytes() == secret


def test_the_bytes_are_on_disk_before_the_name_appears(tmp_path, monkeypatch):
    """A reader (or a power cut) never sees the name before the whole secret is synced."""
    path = tmp_path / "privacy.secret"
    real_fsync = os.fsync
    seen: list[tuple[bool, bytes | None]] = []

    def fsync(fd: int) -> None:
        seen.append((path.exists(), path.read_bytes() if path.exists() else None))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    secret = load_secret(path)
    assert seen[0] == (False, None)          # the file's bytes, synced under another name
    assert seen[-1] == (True, secret)        # then the directory, with the whole secret in it


def test_two_processes_creating_it_at_once_both_use_the_first_one_in_place(tmp_path,
                                                                          monkeypatch):
    path = tmp_path / "privacy.secret"
    other = bytes(range(32))
    real_link = os.link

    def link(source, destination, **kwargs):
        if Path(destination) == path and not path.exists():
            path.write_bytes(other)         # the other process won the race
        return real_link(source, destination, **kwargs)

    monkeypatch.setattr(os, "link", link)
    assert load_secret(path) == other
    assert path.read_bytes() == other
    assert os.listdir(tmp_path) == ["privacy.secret"]


def test_a_short_secret_file_is_refused_with_one_line(tmp_path):
    path = tmp_path / "privacy.secret"
    path.write_bytes(b"short")
    with pytest.raises(PrivacyError, match=r"^[^\n]*: the privacy secret is 5 bytes; at least "
                                           r"16 needed \(delete the file to make a new one\)$"):
        load_secret(path)


def test_pseudonyms_are_local_unicast_addresses_keyed_by_the_secret():
    client = bytes.fromhex("32f4a2fd0b54")
    one, two = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert one.address(client) == one.address(client) != two.address(client)
    assert one.address(client)[0] & 0x03 == 0x02 and one.address(client) != client


def test_a_crash_s_leftover_copy_of_a_deleted_secret_goes_with_the_next_secret(tmp_path):
    """A crash between link and unlink leaves the secret under a second name;
    after the operator deletes the secret (a clean cut), no copy may remain."""
    path = tmp_path / "privacy.secret"
    old = load_secret(path)
    leftover = tmp_path / ".privacy.secret.x1y2z3.tmp"
    os.link(path, leftover)
    os.utime(leftover, (1, 1))              # from a crash long ago
    fresh = tmp_path / ".privacy.secret.a1b2c3.tmp"
    fresh.write_bytes(b"another process is writing this one now")
    path.unlink()
    assert load_secret(path) != old
    assert sorted(os.listdir(tmp_path)) == [fresh.name, "privacy.secret"]
