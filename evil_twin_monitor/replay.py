"""The replay shell: capture files through the same decoder and engine as the daemon.

This is the only place in ``replay`` that touches files; the loop below is
the hot path, kept flat on purpose (local names, no per-frame calls other
than decode and feed).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .decoding import Decoder, open_capture
from .engine import Engine


@dataclass
class ReplayStats:
    files: list[str] = field(default_factory=list)
    frames: int = 0
    frames_by_type: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    alerts_by_rule: dict[str, int] = field(default_factory=dict)
    dropped_findings: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "frames": self.frames,
            "frames_by_type": dict(sorted(self.frames_by_type.items())),
            "malformed": dict(sorted(self.malformed.items())),
            "alerts_by_rule": dict(sorted(self.alerts_by_rule.items())),
            "alerts": sum(self.alerts_by_rule.values()),
            "dropped_findings": self.dropped_findings,
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames_per_second),
        }

    def summary(self) -> str:
        """A few lines for people, printed on stderr after a replay."""
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
        d = self.to_dict()
        lines = [
            f"replayed {d['frames']} frames from {len(self.files)} file(s) in {d['seconds']} s "
            f"({d['frames_per_second']} frames/s)",
            f"  frames by type: {fmt(self.frames_by_type)}",
            f"  malformed or dropped: {fmt(self.malformed)}",
            f"  alerts by rule: {fmt(self.alerts_by_rule)} (total {d['alerts']})",
        ]
        if self.dropped_findings:
            lines.append(f"  findings dropped because too many alerts were open: {self.dropped_findings}")
        return "\n".join(lines)


def _observed(observe: Callable[[Any], None], feed: Callable[[Any], None]) -> Callable[[Any], None]:
    """``feed`` that lets ``observe`` see each frame first."""
    def both(frame: Any) -> None:
        observe(frame)
        feed(frame)
    return both


def replay_files(paths: Sequence[str], engine: Engine, decoder: Decoder | None = None, *,
                 before_finish: Callable[[ReplayStats], None] | None = None,
                 on_frame: Callable[[Any], None] | None = None,
                 recorder: Any = None) -> ReplayStats:
    """Run every file through decoder and engine, then close all alerts.

    Every file's header is checked before any frame is fed, so an unusable
    file fails the run before alerts are printed (CaptureFileError).
    ``before_finish`` sees the statistics after the last frame, while the
    alerts are still open (``replay --metrics-file`` writes its snapshot then).
    ``on_frame`` sees each decoded frame just before the engine does
    (``replay --store`` samples AP presence per minute of capture time).
    ``recorder`` (an `evidence.FrameRecorder`) gets each decoded frame with its
    raw bytes, also before the engine (``replay --evidence``).
    """
    decoder = decoder or Decoder()
    for path in paths:
        with open_capture(path):
            pass
    stats = ReplayStats(files=[os.fspath(p) for p in paths])
    started = time.perf_counter()
    decode = decoder.decode
    feed = engine.feed if on_frame is None else _observed(on_frame, engine.feed)
    record = recorder.record if recorder is not None else None
    for path in paths:
        if len(paths) > 1:
            engine.source = os.path.basename(path)
        number = 0
        with open_capture(path) as reader:
            for number, ts_ns, linktype, data in reader:
                frame = decode(data, linktype, ts_ns, number)
                if frame is not None:
                    if record is not None:
                        record(frame, data, linktype)
                    feed(frame)
            stats.frames += number
            for reason, count in reader.skipped.items():
                stats.malformed[reason] = stats.malformed.get(reason, 0) + count
    stats.frames_by_type = dict(decoder.frames)
    for reason, count in decoder.malformed.items():
        stats.malformed[reason] = stats.malformed.get(reason, 0) + count
    stats.alerts_by_rule = dict(engine.alerts_by_rule)
    stats.dropped_findings = engine.dropped_findings
    if before_finish is not None:
        before_finish(stats)
    engine.finish()
    stats.seconds = time.perf_counter() - started
    return stats
