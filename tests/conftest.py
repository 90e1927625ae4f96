"""Fixtures shared by the tests that need a network namespace of their own (root)."""

from __future__ import annotations

from typing import Any

import pytest

from lab import Lab
from netns import Netns


@pytest.fixture
def netns():
    """A fresh network namespace, always deleted afterwards."""
    ns = Netns()
    try:
        yield ns
    finally:
        ns.delete()


@pytest.fixture
def lab_factory(tmp_path):
    """Makes `lab.Lab`s (namespace, player, daemon) and always tears them down."""
    made: list[tuple[Netns, Lab | None]] = []

    def make(transmitters: list[dict[str, Any]], **kwargs: Any) -> Lab:
        netns = Netns()
        made.append((netns, None))
        lab = Lab(netns, tmp_path, transmitters, **kwargs)
        made[-1] = (netns, lab)
        return lab

    yield make
    for netns, lab in made:
        if lab is not None:
            lab.close()
        netns.delete()


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the detection times the fixture tests measured (record_property)."""
    lines = [value for report in terminalreporter.stats.get("passed", [])
             + terminalreporter.stats.get("failed", [])
             for name, value in getattr(report, "user_properties", ()) if name == "detection_time"]
    if lines:
        terminalreporter.section("detection times")
        for line in sorted(lines):
            terminalreporter.write_line(line)
