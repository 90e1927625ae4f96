"""Capture timestamps (integer nanoseconds) as text, one format everywhere."""

from __future__ import annotations

from datetime import datetime, timezone


def rfc3339(ts_ns: int) -> str:
    """UTC RFC 3339 with microseconds, e.g. ``2026-04-01T09:00:00.102400Z``."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns // 1000:06d}Z"
