"""Who has the adapter: an advisory lock the daemon and a live survey both take.

Theory of operation
-------------------
The daemon and ``survey --config`` take the radio the same way (nl80211
adopts a monitor interface of the configured name and deletes it on close),
so two of them at once hop channels under each other, and the first to end
deletes the other's interface. The kernel has no notion of an interface being
"taken", so whoever opens the radio first holds an exclusive ``flock(2)`` on a
lock file named after the configured interface, in the directory of the
configuration's alert store (``store.path``, used even when the store is
disabled): with the shipped unit that is ``/var/lib/evil-twin-monitor``, its
``StateDirectory=`` and the one place the sandboxed daemon may write. A survey
run with the sensor's own configuration therefore finds the daemon's lock.

The daemon holds the lock while its radio is open and gives it up with the
radio (shutdown, adapter lost), so a survey refuses to start while the sensor
runs, and a sensor that starts or reconnects during a survey waits for the
adapter as it waits for an unplugged one (`RadioBusy` is not permanent).

The kernel drops a ``flock`` when its holder exits, however it exits (even
SIGKILL), so a lock is never stale and the file is never deleted (deleting it
would race with a process about to lock it). It is opened read-only (a flock
needs no write access), without following a symbolic link, and created 0644
when missing, so that the survey (root) and the service user can each open a
file the other created. A directory that is missing or unusable skips the
lock with a reason (`RadioLock.acquire`): a missing lock must never keep the
sensor from running.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from .base import RadioError


class RadioBusy(RadioError):
    """Another process holds the adapter's lock: retry once it ends."""

    permanent = False


def lock_path(config: Any) -> Path:
    """The lock file of ``config``'s radio (a `config.SensorConfig` with a radio);
    interface names hold no ``/`` (the configuration checks them)."""
    return Path(config.store.path).parent / f".radio-{config.radio.interface}.lock"


class RadioLock:
    """An exclusive lock on one lock file at a time (see the module notes)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, path: Path, interface: str) -> str | None:
        """Hold the lock at ``path`` for ``interface`` (a lock held elsewhere is
        released first).

        Returns None when held, or why the lock had to be skipped (the
        caller goes on without it). Raises `RadioBusy` when another process
        holds it."""
        if self._fd is not None and self.path == path:
            return None
        self.release()
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags | os.O_CREAT, 0o644)
        except FileNotFoundError:
            return f"{path.parent}: no such directory"
        except OSError as exc:
            try:  # a read-only directory may still hold the file someone else created
                fd = os.open(path, flags)
            except OSError:
                return f"{path}: {exc.strerror or exc}"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RadioBusy(f"{interface} is in use by another evil-twin-monitor process "
                            f"(lock {path})") from None
        except OSError as exc:
            os.close(fd)
            return f"{path}: {exc.strerror or exc}"
        self._fd, self.path = fd, path
        return None

    def release(self) -> None:
        """Give the lock up (closing the file releases it); nothing if none is held."""
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self.path = None, None
