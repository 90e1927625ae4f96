"""The evidence sink's counters as Prometheus metrics, read at scrape time.

A custom collector (as in prometheus/client_python's guidance for state that
lives elsewhere): the capture loop pays nothing, and a scrape can never
disagree with the sink. Registered on `SensorMetrics.collector_registry`, so
the series carry the same ``facility`` and ``sensor`` labels as the others.
``reason`` has the fixed values of `sink.SKIP_REASONS`.
"""

from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..metrics.exporter import PREFIX
from .sink import SKIP_REASONS, EvidenceSink

_IDENTITY = ("facility", "sensor")


class EvidenceCollector:
    """``evil_twin_monitor_evidence_*``; nothing while evidence is disabled."""

    def __init__(self, sink: Callable[[], EvidenceSink | None],
                 identity: Callable[[], tuple[str | None, str | None]]) -> None:
        self._sink = sink
        self._identity = identity

    def collect(self) -> Iterator[Metric]:
        sink = self._sink()
        if sink is None:
            return
        stats = sink.stats()
        ident = tuple(value or "" for value in self._identity())

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(PREFIX + name, doc, labels=_IDENTITY)
            family.add_metric(ident, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(PREFIX + name, doc, labels=_IDENTITY)
            family.add_metric(ident, value)
            return family

        yield gauge("evidence_ok", "1 while evidence captures can be written, 0 after a failed "
                    "write until the next one succeeds.", 1 if stats["ok"] else 0)
        yield counter("evidence_files_written", "Evidence pcap files written.", stats["written"])
        yield counter("evidence_write_failures", "Evidence files that could not be written "
                      "(disk full, read-only, permission denied).", stats["failed"])
        skipped = CounterMetricFamily(PREFIX + "evidence_skipped", "Alerts that got no evidence "
                                      "file although one was due, by reason.",
                                      labels=_IDENTITY + ("reason",))
        for reason in SKIP_REASONS:
            skipped.add_metric(ident + (reason,), stats["skipped"].get(reason, 0))
        yield skipped
        yield counter("evidence_files_deleted", "Evidence files deleted by the retention.",
                      stats["deleted"])
        yield gauge("evidence_directory_bytes", "Bytes of evidence files in the evidence "
                    "directory.", stats["directory_bytes"])
