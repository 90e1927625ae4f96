"""Network namespaces for tests that need interfaces of their own (root only).

Each namespace gets a unique name and is always deleted, so a failed test
leaves nothing behind. Code that must run inside it runs in a child process
(``ip netns exec``): a namespace belongs to a thread, and pytest's stays put.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root for network namespaces and TAP devices (CI runs as root)")


class Netns:
    def __init__(self) -> None:
        self.name = f"etm-{uuid.uuid4().hex[:10]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.exec(["ip", "link", "set", "lo", "up"], check=True)

    def command(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def exec(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(args), **kwargs)

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(self.command(args), **kwargs)

    def python(self, code: str) -> Any:
        """Run ``code`` in the namespace; it prints one JSON value, which is returned."""
        done = self.exec([sys.executable, "-c", code], cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


class JsonEvents:
    """The JSON lines a child process writes to one pipe, read by a thread.

    ``log`` keeps every event in order. `next` waits for the next matching
    event after the last one it returned (the reply to a command); `first`
    looks at every event since ``since`` (something that happened at some
    point, before or after the call).
    """

    def __init__(self, stream: Any, who: str, on_exit: Any = None) -> None:
        self.who = who
        self.log: list[dict[str, Any]] = []
        self.ended = False
        self._on_exit = on_exit
        self._cursor = 0
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            try:
                self._queue.put(json.loads(line))
            except ValueError:
                self._queue.put({"event": "not-json", "line": line})
        self._queue.put(None)

    def next(self, event: str, timeout: float = 20, unexpected: str | None = None,
             **fields: Any) -> dict[str, Any]:
        index, item = self._wait(self._cursor, event, timeout, fields, unexpected)
        self._cursor = index + 1
        return item

    def first(self, event: str, timeout: float = 20, since: int = 0,
              **fields: Any) -> dict[str, Any]:
        return self._wait(since, event, timeout, fields, None)[1]

    def drain(self, timeout: float = 10) -> None:
        """Read until the child closes the pipe."""
        deadline = time.monotonic() + timeout
        while not self.ended and self._pull(deadline):
            pass

    def _pull(self, deadline: float) -> bool:
        try:
            item = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if item is None:
            self.ended = True
        else:
            self.log.append(item)
        return True

    def _wait(self, start: int, event: str, timeout: float, fields: dict[str, Any],
              unexpected: str | None) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.log):
                item = self.log[index]
                if unexpected is not None and item.get("event") == unexpected:
                    raise AssertionError(f"{self.who}: {item}")
                if item.get("event") == event and all(item.get(k) == v for k, v in fields.items()):
                    return index, item
                index += 1
            if self.ended:
                extra = f"; {self._on_exit()}" if self._on_exit else ""
                raise AssertionError(f"{self.who} exited before {event} {fields}; last events: "
                                     f"{self.log[-3:]}{extra}")
            if not self._pull(deadline):
                raise AssertionError(f"{self.who}: no {event} {fields} within {timeout} s; "
                                     f"events: {[e.get('event') for e in self.log]}")
