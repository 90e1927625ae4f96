"""Network namespaces for tests that need interfaces of their own (root only).

Each namespace gets a unique name and is always deleted, so a failed test
leaves nothing behind. Code that must run inside it runs in a child process
(``ip netns exec``): a namespace belongs to a thread, and pytest's stays put.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
