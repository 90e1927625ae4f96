"""Fixtures shared by the tests that need a network namespace of their own."""

from __future__ import annotations

import pytest

from netns import Netns


@pytest.fixture
def netns():
    """A fresh network namespace, always deleted afterwards."""
    ns = Netns()
    try:
        yield ns
    finally:
        ns.delete()
