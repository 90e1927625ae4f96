"""Command line: ``evil-twin-monitor replay|run|check-config|alerts ...``.

Exit status: 0 when the command did its job (whether or not alerts were
raised); 2 for unusable input or arguments, with one line on stderr naming
the file and the problem. ``replay --format jsonl`` prints alerts and nothing
else on stdout; the summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from . import PROG, __version__
from .config import ConfigError, SensorConfig, default_engine_settings, load_config, summarize_config
from .decoding import CaptureFileError
from .engine import Engine
from .evidence import EvidenceError, EvidenceSink, replay_evidence_sink
from .registry import RegistryError, load_registry, summarize_registry
from .registry.command import add_registry_parser, registry_command
from .privacy_command import add_purge_parser, purge_command
from .replay import ReplayStats, replay_files
from .report import add_report_parser, report_command
from .sinks import JsonlSink, TextSink
from .survey import add_survey_parser, survey_command
from .store import (
    AlertStore, CaptureSampler, StoreError, StoreSettings, StoreSink, add_alerts_parser,
    alerts_command,
)



class UsageError(Exception):
    """Bad input that ends the command with status 2 and one line of text."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Catch evil-twin access points impersonating registered Wi-Fi networks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = commands.add_parser(
        "replay", help="run the detection engine over capture files (pcap, pcapng)",
        description="Run the engine over capture files and print the alerts.")
    replay.add_argument("pcaps", nargs="+", metavar="PCAP", help="capture files, replayed in order")
    replay.add_argument("--registry", metavar="PATH", help="registry file or directory "
                        "(default: the one named in --config)")
    replay.add_argument("--config", metavar="PATH", help="sensor configuration (rule tuning, facility, sensor)")
    replay.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text for people (default), jsonl: one alert object per line")
    replay.add_argument("--facility", metavar="ID", help="facility where the capture was made")
    replay.add_argument("--sensor", metavar="ID", help="sensor that made the capture")
    replay.add_argument("--stats-json", metavar="FILE", help="also write the summary as JSON to FILE")
    replay.add_argument("--quiet", action="store_true", help="no summary on stderr")
    replay.add_argument("--metrics-file", metavar="FILE",
                        help="also write the Prometheus metrics as a scrape would show them "
                             "after the last frame (alerts still open) to FILE")
    replay.add_argument("--store", metavar="PATH", help="also keep the alerts in this alert store "
                        "(created if missing; read it with `alerts --store PATH`)")
    replay.add_argument("--evidence", metavar="DIR", help="also write a pcap of the offending "
                        "frames of each alert into DIR (created if missing; client addresses "
                        "pseudonymised)")

    run = commands.add_parser(
        "run", help="the sensor daemon: monitor mode, channel plan, live capture",
        description="Run the sensor: put the adapter in monitor mode, hop the channel plan, "
                    "capture management frames and log alerts. SIGHUP reloads the configuration "
                    "and registry; SIGTERM stops cleanly. Exit 2 on configuration errors.")
    run.add_argument("--config", metavar="PATH", required=True, help="sensor configuration file")
    run.add_argument("--log-format", choices=("auto", "json", "console"),
                     help="override logging.format of the configuration")

    check = commands.add_parser(
        "check-config", help="validate a sensor configuration or a registry and explain it",
        description="Validate and summarise. Exit 0 when valid, 2 with one line per problem otherwise.")
    group = check.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", metavar="PATH", help="sensor configuration file")
    group.add_argument("--registry", metavar="PATH", help="registry file or directory")

    add_alerts_parser(commands)
    add_report_parser(commands)
    add_registry_parser(commands)
    add_survey_parser(commands)
    add_purge_parser(commands)
    return parser


def _load_replay_setup(args: argparse.Namespace) -> tuple[SensorConfig | None, object]:
    if args.config:
        config = load_config(args.config, registry_path=args.registry)
        return config, config.registry
    if args.registry:
        return None, load_registry(args.registry)
    raise UsageError("replay needs --registry PATH (or --config naming one)")


def _replay(args: argparse.Namespace) -> int:
    config, registry = _load_replay_setup(args)
    facility = args.facility or (config.facility if config else None)
    if facility is not None and registry.facility(facility) is None:
        known = ", ".join(f.id for f in registry.facilities) or "none"
        raise UsageError(f"--facility {facility}: no such facility in the registry (known: {known})")
    sink = JsonlSink(sys.stdout) if args.format == "jsonl" else TextSink(sys.stdout)
    settings = config.engine if config else default_engine_settings()
    sensor = args.sensor or (config.sensor_id if config else None)
    sinks: list = [sink]
    metrics = None
    if args.metrics_file:
        from .metrics import MetricsSettings, SensorMetrics
        metrics = SensorMetrics(registry, facility, sensor,
                                config.metrics if config else MetricsSettings())
        sinks.append(metrics)
    evidence = _replay_evidence(args.evidence, config, registry) if args.evidence else None
    if evidence is not None:
        sinks.insert(0, evidence)  # first: it adds evidence_file before the others see the alert
    store = _replay_store(args.store) if args.store else None
    if store is not None:
        sinks.append(store)
    engine = Engine(
        registry,
        facility=facility,
        sensor=sensor,
        rules=config.rules if config else None,
        hold_down_s=settings.hold_down_s,
        max_open_alerts=settings.max_open_alerts,
        sinks=sinks,
    )
    metrics_error: list[str] = []

    def write_metrics(stats: ReplayStats) -> None:
        from .metrics import MetricsError, ap_status_of
        assert metrics is not None
        metrics.update_health(stats.frames_by_type, stats.malformed, None, None, None,
                              stats.dropped_findings)
        metrics.update_aps(ap_status_of(engine))
        try:
            metrics.write_file(args.metrics_file)
        except MetricsError as exc:  # reported after the alerts, which are still printed
            metrics_error.append(str(exc))

    sampler = (CaptureSampler(store, engine, registry, facility=facility, sensor=sensor)
               if store is not None else None)

    def before_finish(stats: ReplayStats) -> None:
        if sampler is not None:
            sampler.finish()
        if metrics is not None:
            write_metrics(stats)

    try:
        stats = replay_files(args.pcaps, engine, before_finish=before_finish,
                             on_frame=sampler.frame if sampler is not None else None,
                             recorder=evidence.recorder if evidence is not None else None)
    finally:
        if store is not None and not store.close(timeout=60):
            raise UsageError(f"not every alert reached the store: {store.last_error}")
    sys.stdout.flush()
    if metrics_error:
        raise UsageError(metrics_error[0])
    if not args.quiet:
        print(stats.summary(), file=sys.stderr)
    if evidence is not None and (evidence.failed or not args.quiet):
        print(_evidence_summary(evidence, args.evidence), file=sys.stderr)
    if args.stats_json:
        try:
            Path(args.stats_json).write_text(json.dumps(stats.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"{args.stats_json}: cannot write statistics: {exc.strerror}") from exc
    return 0


def _replay_store(path: str) -> StoreSink:
    """A store sink for ``replay --store``: waits for room instead of dropping
    (nothing is live), and never deletes (old captures are not expired)."""
    settings = StoreSettings(path=Path(path), retention_days=0, max_alerts=0)
    try:
        AlertStore.open_writer(settings.path).close()  # a bad path fails before the replay
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    return StoreSink(settings, None, blocking=True)


def _replay_evidence(directory: str, config: SensorConfig | None, registry: object) -> EvidenceSink:
    try:
        return replay_evidence_sink(directory, config.evidence if config else None,
                                    registry)  # type: ignore[arg-type]
    except EvidenceError as exc:
        raise UsageError(str(exc)) from exc


def _evidence_summary(evidence: EvidenceSink, directory: str) -> str:
    """One line; a warning (shown even with --quiet) when files could not be written."""
    stats = evidence.stats()
    skipped = ", ".join(f"{reason} {n}" for reason, n in stats["skipped"].items() if n)
    text = f"evidence: {stats['written']} file(s) written to {directory}"
    if skipped:
        text += f"; alerts without a file: {skipped}"
    if stats["failed"]:
        return f"{PROG}: warning: {text}; last error: {stats['last_error']}"
    return "  " + text


def _run(args: argparse.Namespace) -> int:
    from .daemon import run  # the daemon's imports (scapy, pyroute2) only when needed
    return run(args.config, args.log_format)


def _check_config(args: argparse.Namespace) -> int:
    if args.config:
        print(summarize_config(load_config(args.config)))
    else:
        print(summarize_registry(load_registry(args.registry)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "run":
            return _run(args)
        if args.command == "registry":
            return registry_command(args)
        if args.command == "report":
            return report_command(args)
        if args.command == "alerts":
            return alerts_command(args)
        if args.command == "survey":
            return survey_command(args)
        if args.command == "purge":
            return purge_command(args)
        return _check_config(args)
    except (RegistryError, ConfigError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (CaptureFileError, UsageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `replay ... | head`: not an error of ours
        sys.stderr.close()
        return 0
