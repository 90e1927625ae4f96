"""Client addresses never leave the process in clear.

Theory of operation
-------------------
A phone's MAC address is personal data: it follows its owner from place to
place. The sensor needs client addresses only to *count* clients (how many
devices a deauth flood targeted, how many phones a KARMA responder answered)
and, in evidence captures, to show that frames went to *some* client. Both
work with a pseudonym: a keyed hash (HMAC-SHA-256) with a secret that is
generated once per installation and never leaves the box. Without the secret
nobody can map a pseudonym back to an address, not even by hashing every
possible MAC address (2^46 of them would be easy to try against an unkeyed
hash), and two installations give the same phone different pseudonyms, so
their files cannot be joined.

`Pseudonymizer.token` is a short text pseudonym for counting or showing;
`Pseudonymizer.address` a locally administered unicast MAC address (first
octet 0x02 set, 0x01 clear) for rewriting captured frames, so evidence pcaps
stay valid 802.11 that tshark and Wireshark open as usual.

The secret lives in a file readable by the service user only (0600, created
atomically); `load_secret` creates it on first use. Deleting it makes every
earlier pseudonym unlinkable to later ones (a clean cut, e.g. after a purge).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32


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
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_secret(path, create=False)   # another process made it meanwhile
    except OSError as exc:
        raise PrivacyError(f"{path}: cannot create the privacy secret: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


class Pseudonymizer:
    """Keyed pseudonyms for client addresses (see the module notes)."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym secret must be at least 16 bytes")
        self._key = secret

    def _digest(self, addr: bytes) -> bytes:
        return hmac.new(self._key, addr, hashlib.sha256).digest()

    def token(self, addr: bytes) -> str:
        """``'c-3f9a51d2e07b'``: 48 bits, plenty to count the clients one sensor hears."""
        return "c-" + self._digest(addr)[:6].hex()

    def address(self, addr: bytes) -> bytes:
        """A locally administered unicast address standing for ``addr``."""
        digest = self._digest(addr)
        return bytes([(digest[0] & 0xFC) | 0x02]) + digest[1:6]

    @classmethod
    def ephemeral(cls) -> "Pseudonymizer":
        """A pseudonymizer whose secret dies with the process (replays, tests)."""
        return cls(secrets.token_bytes(SECRET_BYTES))
