"""Client addresses never leave the process in clear.

Theory of operation
-------------------
A phone's MAC address is personal data: it follows its owner from place to
place. Evidence captures need client addresses only to show that frames went
to *some* client, and that the same one was hit again. A pseudonym does
that: a keyed hash (HMAC-SHA-256) with a secret that is generated once per
installation and never leaves the box. Without the secret nobody can map a
pseudonym back to an address, not even by hashing every possible MAC
address (2^46 of them would be easy to try against an unkeyed hash), and two
installations give the same phone different pseudonyms, so their files
cannot be joined. `Pseudonymizer.address` is a locally administered unicast
MAC address (first octet 0x02 set, 0x01 clear) for rewriting captured
frames, so evidence pcaps stay valid 802.11 that tshark and Wireshark open
as usual.

The rules that *count* clients (KARMA, deauthentication flood) do not use
this: they count Python's ``hash()`` of the address in memory. That hash is
SipHash keyed with a random value chosen at every start, so the counts are
unlinkable even across restarts, which is stronger than a per-installation
secret; the secret is only for pseudonyms that leave the process.

The secret lives in a file readable by the service user only (0600).
`load_secret` creates it on first use without ever showing a short one:
the bytes go to a temporary file in the same directory, are synced, and
the file is hard-linked into place, which fails if another process got
there first (then its secret is the one used). A crash leaves no secret
or a whole one, never an empty file that would stop the service; the
temporary files a crash leaves are deleted when the next secret is made.
A file
that already exists is used as it is (its mode is not changed). Deleting
it makes every earlier pseudonym unlinkable to later ones (a clean cut,
e.g. after a purge).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path

SECRET_BYTES = 32
LEFTOVER_AGE_S = 60.0   # a temporary secret file older than this was abandoned


class PrivacyError(Exception):
    """The secret cannot be read or created; the message is one line for people."""


def load_secret(path: str | Path, create: bool = True) -> bytes:
    """The installation's secret from ``path``, created (0600) when missing."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise PrivacyError(f"{path}: no such secret file") from None
        return _create_secret(path)
    except OSError as exc:
        raise PrivacyError(f"{path}: cannot read the privacy secret: {exc.strerror}") from exc
    if len(data) < 16:
        raise PrivacyError(f"{path}: the privacy secret is {len(data)} bytes; at least 16 needed "
                           f"(delete the file to make a new one)")
    return data


def _create_secret(path: Path) -> bytes:
    """Write a new secret so that ``path`` never names a partial one (module notes)."""
    secret = secrets.token_bytes(SECRET_BYTES)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(path)
        # mkstemp: a fresh name, O_EXCL, mode 0600.
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PrivacyError(f"{path}: cannot create the privacy secret: {exc.strerror}") from exc
    try:
        try:
            view = memoryview(secret)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)   # never replaces: the first secret in place wins
        except FileExistsError:
            return load_secret(path, create=False)   # another process made it meanwhile
        _sync_directory(directory)
    except OSError as exc:
        raise PrivacyError(f"{path}: cannot create the privacy secret: {exc.strerror}") from exc
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass
    return secret


def _remove_leftovers(path: Path) -> None:
    """Temporary files of a creation that crashed: one may be a second name of
    an old secret (a crash between link and unlink), which must not survive
    its deletion. Only old ones: a fresh one may be another process's."""
    prefix = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        try:
            if time.time() - entry.stat(follow_symlinks=False).st_mtime > LEFTOVER_AGE_S:
                os.unlink(entry.path)
        except OSError:
            continue


def _sync_directory(directory: Path) -> None:
    """Make the new name survive a power cut (the file's bytes are synced already)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Pseudonymizer:
    """Keyed pseudonyms for client addresses (see the module notes)."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym secret must be at least 16 bytes")
        self._key = secret

    def _digest(self, addr: bytes) -> bytes:
        return hmac.new(self._key, addr, hashlib.sha256).digest()

    def address(self, addr: bytes) -> bytes:
        """A locally administered unicast address standing for ``addr``."""
        digest = self._digest(addr)
        return bytes([(digest[0] & 0xFC) | 0x02]) + digest[1:6]

    @classmethod
    def ephemeral(cls) -> "Pseudonymizer":
        """A pseudonymizer whose secret dies with the process (replays, tests)."""
        return cls(secrets.token_bytes(SECRET_BYTES))
