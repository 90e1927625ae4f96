"""The sensor's configuration file: who it is, where it stands, how it judges.

Theory of operation
-------------------
One YAML file per sensor, validated with the same machinery as the registry
(`registry.yamlsource`): every mistake is reported as ``file:line: field:
message`` and all of them are reported at once, as a `ConfigError`.

```yaml
sensor:
  id: city-hall-01          # [a-z0-9-]+
  facility: city-hall       # must exist in the registry
registry: registry/         # file or directory, relative to this file's directory
engine:
  hold_down_s: 300          # one alert per (rule, facility, ssid, bssid) per window
  max_open_alerts: 10000
rules:
  lookalike_ssid: {enabled: true, severity: medium, max_distance: 2}
radio:                      # optional for replay/check-config; `run` needs it
  interface: wlan1
  driver: nl80211           # nl80211 | simulated
  monitor_interface: etm0   # nl80211: the monitor interface created on the phy
  # control_socket: x.sock  # simulated only; relative to this file's directory
  retry_initial_s: 1        # backoff while the interface is missing or down
  retry_max_s: 30
channels:                   # see channelplan.py
  regulatory_domain: JP     # JP | US | ETSI
  home_dwell_s: 0.5
  other_dwell_s: 0.25
  others_per_cycle: 2
  only: []                  # channels (36), frequencies (5955) or bands (6GHz)
  exclude: []
capture:
  buffer_mb: 16
logging:
  level: info               # debug | info | warning | error
  format: auto              # auto | json | console
  stats_interval_s: 60
store:                      # the alert history; see store/settings.py
  enabled: true
  path: /var/lib/evil-twin-monitor/alerts.sqlite3   # relative to this file's directory
  retention_days: 90        # 0: keep forever
  max_alerts: 500000        # 0: no cap
evidence:                   # a pcap of the offender's frames per new alert; see evidence/settings.py
  directory: /var/lib/evil-twin-monitor/evidence   # relative to this file's directory
  retention_days: 30        # 0: keep forever
```

``rules.<id>`` accepts ``enabled``, ``severity`` and exactly the keys of that
rule's ``DEFAULTS``; a setting's type must match its default's type (an int
default wants a whole number, a float default any number). `SensorConfig.rules`
holds only what the file overrides, so `Rule(ctx, cfg.rule(id).settings)`
gets the defaults for everything else.

The channel plan is checked against the registry when the file is loaded
(a configuration that leaves nothing to listen on is an error then, not a
daemon that spins); `SensorConfig.channel_plan` builds it for the daemon with
the frequencies its radio reports.

Extending: a new section (metrics, storage) is one
more key in ``TOP_KEYS``, one ``_section`` method in `_ConfigReader`, and new
`SensorConfig` fields *with defaults*, so older files and callers keep working.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .channelplan import (
    DOMAINS, MAX_DWELL_S, MIN_DWELL_S, ChannelPlan, ChannelPlanError, ChannelSettings,
    build_plan, format_frequencies, parse_channel, seconds_text,
)
from .decoding.channels import BAND_6G, band_of
from .metrics.settings import MetricsSettings, read_metrics_section
from .radio.base import DRIVERS, SUN_PATH_MAX, RadioSettings, interface_name_problem
from .registry.loader import RegistryError, load_registry, summarize_registry
from .registry.model import Registry
from .registry.yamlsource import Located, Problem, Reader, by_line, load_yaml, plain, suggest
from .store.settings import StoreSettings, read_store_section
from .evidence.settings import EvidenceSettings, read_evidence_section


class ConfigError(RegistryError):
    """The sensor configuration (or the registry it names) could not be loaded.

    A subclass of `RegistryError`, so ``except RegistryError`` catches both."""


SENSOR_ID = re.compile(r"^[a-z0-9-]+$")
DEFAULT_HOLD_DOWN_S = 300.0
DEFAULT_MAX_OPEN_ALERTS = 10_000

TOP_KEYS = ("sensor", "registry")
TOP_OPTIONAL = ("engine", "rules", "radio", "channels", "capture", "logging", "metrics",
                "store", "evidence")
SENSOR_KEYS = ("id", "facility")
ENGINE_KEYS = ("hold_down_s", "max_open_alerts")
RULE_KEYS = ("enabled", "severity")
RADIO_KEYS = ("interface",)
RADIO_OPTIONAL = ("driver", "monitor_interface", "control_socket", "retry_initial_s",
                  "retry_max_s")
CHANNEL_KEYS = ("regulatory_domain", "home_dwell_s", "other_dwell_s", "others_per_cycle",
                "only", "exclude")
CAPTURE_KEYS = ("buffer_mb",)
LOGGING_KEYS = ("level", "format", "stats_interval_s")

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")
MAX_RETRY_S = 3600.0
MAX_OTHERS_PER_CYCLE = 1000
MAX_BUFFER_MB = 1024
MAX_STATS_INTERVAL_S = 86400.0


@dataclass(frozen=True)
class CaptureSettings:
    """The ``capture:`` section: the capture socket's receive buffer, in MiB.
    Generous by default, so a burst survives a slow moment of the engine."""

    buffer_mb: int = 16


@dataclass(frozen=True)
class LoggingSettings:
    """The ``logging:`` section. ``format`` auto means JSON lines unless
    stderr is a terminal (then readable console output)."""

    level: str = "info"
    format: str = "auto"
    stats_interval_s: float = 60.0


@dataclass(frozen=True)
class EngineSettings:
    """Alert bookkeeping: hold-down window and the cap on open alerts."""

    hold_down_s: float = DEFAULT_HOLD_DOWN_S
    max_open_alerts: int = DEFAULT_MAX_OPEN_ALERTS


def default_engine_settings() -> EngineSettings:
    """What ``replay`` uses without ``--config``."""
    return EngineSettings()


@dataclass(frozen=True)
class RuleConfig:
    """One rule's overrides. ``severity`` None means the rule's own default;
    ``settings`` holds only the keys the file sets."""

    enabled: bool = True
    severity: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SensorConfig:
    sensor_id: str
    facility: str
    registry_path: Path
    registry: Registry
    hold_down_s: float = DEFAULT_HOLD_DOWN_S
    max_open_alerts: int = DEFAULT_MAX_OPEN_ALERTS
    rules: Mapping[str, RuleConfig] = field(default_factory=dict)
    source: str = ""   # the configuration file, for messages
    radio: RadioSettings | None = None   # None: replay/check-config only; `run` needs it
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)

    def channel_plan(self, supported: frozenset[int] | None = None) -> ChannelPlan:
        """The channel plan for this sensor's facility; ``supported`` is what the
        radio can tune (None: unknown). Raises `ChannelPlanError`."""
        return build_plan(self.registry, self.facility, self.channels, supported)

    def rule(self, rule_id: str) -> RuleConfig:
        """The configuration of a rule; defaults when the file does not mention it."""
        return self.rules.get(rule_id) or RuleConfig()

    @property
    def engine(self) -> EngineSettings:
        return EngineSettings(self.hold_down_s, self.max_open_alerts)


def _rule_catalogue() -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """(RULES_BY_ID, SEVERITIES), imported late: the rules import the registry
    model, and the configuration must stay loadable on its own (tests swap this)."""
    from .rules import RULES_BY_ID
    from .rules.base import SEVERITIES
    return RULES_BY_ID, SEVERITIES


def _rule_setting_problem(rule: Any, settings: Mapping[str, Any]) -> str | None:
    """What the rule itself says about its settings: the one-line ValueError it
    raises when built (a threshold out of range, a signature that does not
    compile), so check-config reports it instead of the daemon failing later."""
    from .registry.model import build_registry
    from .rules import RuleContext
    try:
        rule(RuleContext(build_registry([])), settings)
    except (ValueError, TypeError, ArithmeticError) as exc:
        return str(exc).removeprefix(f"rule {rule.id}: ")
    return None


class _ConfigReader(Reader):
    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.values: dict[str, Any] = {}
        self.facility_node: Located | None = None
        self.channels_where: tuple[int | None, str] = (None, "channels")

    def read(self, root: Located | None, need_registry: bool) -> None:
        if root is None:
            self.problem(None, "", "the file is empty; a sensor configuration needs at least "
                                   "'sensor:' (id, facility) and 'registry:'")
            return
        required = TOP_KEYS if need_registry else ("sensor",)
        optional = TOP_OPTIONAL if need_registry else ("registry",) + TOP_OPTIONAL
        top = self.mapping(root, "", required, optional)
        if top is None:
            return
        for key in ("sensor", "registry") + TOP_OPTIONAL:
            if key in top:
                getattr(self, f"_section_{key}")(top[key], key)

    def _section_sensor(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, SENSOR_KEYS)
        if entries is None:
            return
        if "id" in entries:
            sensor_id = self.string(entries["id"], f"{path}.id")
            if sensor_id is not None and not SENSOR_ID.match(sensor_id):
                self.problem(entries["id"].line, f"{path}.id",
                             f"'{sensor_id}' is not a valid sensor id; use lowercase letters, "
                             "digits and '-' (like city-hall-01)")
            elif sensor_id is not None:
                self.values["sensor_id"] = sensor_id
        if "facility" in entries:
            facility = self.string(entries["facility"], f"{path}.facility")
            if facility is not None:
                self.values["facility"] = facility
                self.facility_node = entries["facility"]

    def _section_registry(self, node: Located, path: str) -> None:
        text = self.string(node, path)
        if text is not None:
            self.values["registry"] = (text, node.line)

    def _section_engine(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, (), ENGINE_KEYS)
        if entries is None:
            return
        if "hold_down_s" in entries:
            value = self.number(entries["hold_down_s"], f"{path}.hold_down_s", 0)
            if value is not None:
                self.values["hold_down_s"] = value
        if "max_open_alerts" in entries:
            value = self.integer(entries["max_open_alerts"], f"{path}.max_open_alerts", 1)
            if value is not None:
                self.values["max_open_alerts"] = value

    def _bounded(self, node: Located, path: str, low: float, high: float,
                 unit: str = "s") -> float | None:
        """A finite number within [low, high]."""
        value = self.number(node, path)
        if value is None:
            return None
        if not math.isfinite(value) or not low <= value <= high:
            self.problem(node.line, path, f"{node.text or value} is out of range; "
                                          f"valid: {low:g}-{high:g} {unit}")
            return None
        return value

    def _interface(self, node: Located, path: str) -> str | None:
        name = self.string(node, path)
        if name is None:
            return None
        why = interface_name_problem(name)
        if why is not None:
            self.problem(node.line, path, f"'{name}' is not a valid interface name: {why}")
            return None
        return name

    def _section_radio(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, RADIO_KEYS, RADIO_OPTIONAL)
        if entries is None:
            return
        problems = len(self.problems)
        values: dict[str, Any] = {"driver": "nl80211"}
        if "driver" in entries:
            values["driver"] = self.choice(entries["driver"], f"{path}.driver", DRIVERS,
                                           "radio driver")
        for key in ("interface", "monitor_interface"):
            if key in entries:
                values[key] = self._interface(entries[key], f"{path}.{key}")
        if "control_socket" in entries:
            socket_node = entries["control_socket"]
            text = self.string(socket_node, f"{path}.control_socket")
            if text is not None and values["driver"] == "nl80211":
                self.problem(socket_node.line, f"{path}.control_socket",
                             "only the simulated driver uses a control socket; remove it, or "
                             "set driver: simulated")
            elif text is not None:
                resolved = str(Path(self.file).parent / text)
                if len(resolved.encode("utf-8", "surrogateescape")) > SUN_PATH_MAX:
                    self.problem(socket_node.line, f"{path}.control_socket",
                                 f"'{resolved}' is longer than the {SUN_PATH_MAX} bytes a Unix "
                                 "socket path may have; use a shorter path")
                else:
                    values["control_socket"] = resolved
        for key, default in (("retry_initial_s", 1.0), ("retry_max_s", 30.0)):
            values[key] = default
            if key in entries:
                values[key] = self._bounded(entries[key], f"{path}.{key}", 0.1, MAX_RETRY_S)
        if values["retry_initial_s"] is not None and values["retry_max_s"] is not None \
                and values["retry_max_s"] < values["retry_initial_s"]:
            line = entries["retry_max_s"].line if "retry_max_s" in entries \
                else entries["retry_initial_s"].line
            self.problem(line, f"{path}.retry_max_s",
                         f"{values['retry_max_s']:g} is less than retry_initial_s "
                         f"({values['retry_initial_s']:g}); the backoff grows from the first "
                         "to the second")
        if len(self.problems) == problems and "interface" in values:
            self.values["radio"] = RadioSettings(**values)

    def _section_channels(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, (), CHANNEL_KEYS)
        if entries is None:
            return
        # Where a plan with nothing to listen on is reported: the key that emptied it.
        key = next((k for k in ("only", "exclude", "others_per_cycle") if k in entries), None)
        self.channels_where = (entries[key].line, f"{path}.{key}") if key else (node.line, path)
        problems = len(self.problems)
        defaults = ChannelSettings()
        domain = defaults.regulatory_domain
        if "regulatory_domain" in entries:
            domain_node = entries["regulatory_domain"]
            text = self.string(domain_node, f"{path}.regulatory_domain")
            if text is not None and text.upper() in DOMAINS:
                domain = text.upper()
            elif text is not None:
                self.problem(domain_node.line, f"{path}.regulatory_domain",
                             f"'{text}' is not a supported regulatory domain; valid: "
                             + ", ".join(f"{d.code} ({d.name})" for d in DOMAINS.values()))
        values: dict[str, Any] = {"regulatory_domain": domain}
        for key in ("home_dwell_s", "other_dwell_s"):
            if key in entries:
                values[key] = self._bounded(entries[key], f"{path}.{key}", MIN_DWELL_S,
                                            MAX_DWELL_S)
        if "others_per_cycle" in entries:
            values["others_per_cycle"] = self.integer(
                entries["others_per_cycle"], f"{path}.others_per_cycle", 0, MAX_OTHERS_PER_CYCLE)
        for key in ("only", "exclude"):
            if key in entries:
                values[key] = self._frequency_list(entries[key], f"{path}.{key}", domain)
        if len(self.problems) == problems:
            self.values["channels"] = ChannelSettings(**values)

    def _frequency_list(self, node: Located, path: str, domain: str) -> tuple[int, ...] | None:
        items = self.sequence(node, path, "[1, 6, 11, 5955]")
        if items is None:
            return None
        freqs: set[int] = set()
        for i, item in enumerate(items):
            if isinstance(item.value, (dict, list)):
                self.problem(item.line, f"{path}[{i}]", f"expected a channel, a frequency or a "
                                                        f"band; got {item.kind}")
                continue
            try:
                freqs.update(parse_channel(item.value, domain))
            except ValueError as exc:
                self.problem(item.line, f"{path}[{i}]", str(exc))
        return tuple(sorted(freqs))

    def _section_capture(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, (), CAPTURE_KEYS)
        if entries is None:
            return
        if "buffer_mb" in entries:
            value = self.integer(entries["buffer_mb"], f"{path}.buffer_mb", 1, MAX_BUFFER_MB)
            if value is not None:
                self.values["capture"] = CaptureSettings(value)

    def _section_logging(self, node: Located, path: str) -> None:
        entries = self.mapping(node, path, (), LOGGING_KEYS)
        if entries is None:
            return
        problems = len(self.problems)
        values: dict[str, Any] = {}
        if "level" in entries:
            values["level"] = self.choice(entries["level"], f"{path}.level", LOG_LEVELS,
                                          "log level")
        if "format" in entries:
            values["format"] = self.choice(entries["format"], f"{path}.format", LOG_FORMATS,
                                           "log format")
        if "stats_interval_s" in entries:
            values["stats_interval_s"] = self._bounded(
                entries["stats_interval_s"], f"{path}.stats_interval_s", 1, MAX_STATS_INTERVAL_S)
        if len(self.problems) == problems:
            self.values["logging"] = LoggingSettings(**values)

    def _section_metrics(self, node: Located, path: str) -> None:
        settings = read_metrics_section(self, node, path)
        if settings is not None:
            self.values["metrics"] = settings

    def _section_store(self, node: Located, path: str) -> None:
        settings = read_store_section(self, node, path)
        if settings is not None:
            self.values["store"] = settings

    def _section_evidence(self, node: Located, path: str) -> None:
        settings = read_evidence_section(self, node, path)
        if settings is not None:
            self.values["evidence"] = settings

    def _section_rules(self, node: Located, path: str) -> None:
        if not isinstance(node.value, dict):
            self.problem(node.line, path, f"expected a mapping of rule ids; got {node.kind}")
            return
        if not node.value:
            return
        try:
            rules_by_id, severities = _rule_catalogue()
        except ImportError as exc:
            self.problem(node.line, path, f"cannot check rule settings: {exc}")
            return
        rules: dict[str, RuleConfig] = {}
        for rule_id, value in node.value.items():
            rule_path = f"{path}.{rule_id}"
            rule = rules_by_id.get(rule_id)
            if rule is None:
                self.problem(node.key_lines.get(rule_id, node.line), rule_path,
                             f"unknown rule '{rule_id}'{suggest(rule_id, rules_by_id)}; "
                             f"valid: {', '.join(sorted(rules_by_id))}")
                continue
            config = self._rule(value, rule_path, dict(rule.DEFAULTS), severities)
            if config is not None and config.settings:
                problem = _rule_setting_problem(rule, config.settings)
                if problem is not None:
                    self.problem(node.key_lines.get(rule_id, node.line), rule_path, problem)
                    continue
            if config is not None:
                rules[rule_id] = config
        if rules and all(rule_id in rules and not rules[rule_id].enabled
                         for rule_id in rules_by_id):
            self.problem(node.line, path, "every rule is disabled; the sensor would detect "
                                          "nothing (enable at least one)")
        self.values["rules"] = rules

    def _rule(self, node: Located, path: str, defaults: dict[str, Any],
              severities: tuple[str, ...]) -> RuleConfig | None:
        entries = self.mapping(node, path, (), RULE_KEYS + tuple(defaults))
        if entries is None:
            return None
        ok = True
        enabled, severity = True, None
        if "enabled" in entries:
            value = self.boolean(entries["enabled"], f"{path}.enabled")
            ok &= value is not None
            enabled = bool(value) if value is not None else True
        if "severity" in entries:
            severity = self.choice(entries["severity"], f"{path}.severity", severities, "severity")
            ok &= severity is not None
        settings: dict[str, Any] = {}
        for key, default in defaults.items():
            if key in entries:
                marker = object()
                value = self._setting(entries[key], f"{path}.{key}", default, marker)
                if value is marker:
                    ok = False
                else:
                    settings[key] = value
        return RuleConfig(enabled, severity, settings) if ok else None

    def _setting(self, node: Located, path: str, default: Any, failed: object) -> Any:
        """A rule setting, type-checked against its default."""
        if isinstance(default, bool):
            value: Any = self.boolean(node, path)
        elif isinstance(default, int):
            value = self.integer(node, path, -(2 ** 63))
        elif isinstance(default, float):
            value = self.number(node, path)
        elif isinstance(default, str):
            value = self.string(node, path, allow_empty=True)
        elif isinstance(default, (list, tuple, set, frozenset)):
            items = self.sequence(node, path, "[...]")
            if items is None:
                return failed
            value = type(default)(plain(item) for item in items) \
                if not isinstance(default, list) else [plain(item) for item in items]
            return value
        elif isinstance(default, Mapping):
            if not isinstance(node.value, dict):
                self.problem(node.line, path, f"expected a mapping; got {node.kind}")
                return failed
            return plain(node)
        else:
            return plain(node)
        return failed if value is None else value


def load_config(path: str | Path, *, registry_path: str | Path | None = None) -> SensorConfig:
    """Load a sensor configuration and the registry it names.

    ``registry_path`` (a command-line ``--registry``) replaces the file's
    ``registry:``, which then becomes optional. Raises `ConfigError` listing
    every problem of the file and of the registry.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "no such file or directory"
        raise ConfigError([Problem(file, None, "", reason)])
    root, problems = load_yaml(path, file)
    reader = _ConfigReader(file)
    if root is not None or not problems:
        reader.read(root, need_registry=registry_path is None)
    problems = by_line(problems + reader.problems)
    values = reader.values

    registry = None
    resolved: Path | None = None
    if registry_path is not None:
        resolved = Path(registry_path)
    elif "registry" in values:
        text, line = values["registry"]
        resolved = path.parent / text
    if resolved is not None:
        try:
            registry = load_registry(resolved)
        except RegistryError as exc:
            if registry_path is None and len(exc.problems) == 1 \
                    and exc.problems[0].file == str(resolved) and exc.problems[0].line is None:
                # The path itself is wrong: say so at the line that names it.
                problems.append(Problem(file, line, "registry",
                                        f"{resolved}: {exc.problems[0].message}"))
            else:
                problems.extend(exc.problems)

    facility = values.get("facility")
    if registry is not None and facility is not None and registry.facility(facility) is None:
        known = [f.id for f in registry.facilities]
        node = reader.facility_node
        problems.append(Problem(
            file, node.line if node else None, "sensor.facility",
            f"'{facility}' is not a facility in the registry {resolved}{suggest(facility, known)}; "
            f"valid: {', '.join(sorted(known))}"))

    channels = values.get("channels", ChannelSettings())
    if registry is not None and facility is not None and registry.facility(facility) is not None \
            and not problems:
        try:
            build_plan(registry, facility, channels)
        except ChannelPlanError as exc:
            line, field_path = reader.channels_where
            problems.append(Problem(file, line, field_path, str(exc)))

    if problems:
        raise ConfigError(problems)
    assert registry is not None and resolved is not None
    return SensorConfig(
        sensor_id=values["sensor_id"],
        facility=values["facility"],
        registry_path=resolved,
        registry=registry,
        hold_down_s=values.get("hold_down_s", DEFAULT_HOLD_DOWN_S),
        max_open_alerts=values.get("max_open_alerts", DEFAULT_MAX_OPEN_ALERTS),
        rules=values.get("rules", {}),
        source=file,
        radio=values.get("radio"),
        channels=channels,
        capture=values.get("capture", CaptureSettings()),
        logging=values.get("logging", LoggingSettings()),
        metrics=values.get("metrics", MetricsSettings()),
        store=values.get("store", StoreSettings()),
        evidence=values.get("evidence", EvidenceSettings()),
    )


def summarize_config(cfg: SensorConfig) -> str:
    """What ``check-config`` prints: the sensor, engine, rules, then the registry."""
    facility = cfg.registry.facility(cfg.facility)
    name = f" ({facility.name})" if facility is not None and facility.name != cfg.facility else ""
    lines = [
        f"sensor {cfg.sensor_id} at facility {cfg.facility}{name}",
        f"registry: {cfg.registry_path}",
        f"engine: hold-down {cfg.hold_down_s:g} s, at most {cfg.max_open_alerts} open alerts",
        _summarize_radio(cfg.radio),
        *_summarize_channels(cfg),
        f"capture: {cfg.capture.buffer_mb} MiB socket receive buffer",
        _summarize_logging(cfg.logging),
        cfg.metrics.describe(),
        cfg.store.describe(),
        cfg.evidence.describe(),
    ]
    try:
        rules_by_id: Mapping[str, Any] = _rule_catalogue()[0]
    except ImportError:
        rules_by_id = {}
    rule_ids = sorted(set(rules_by_id) | set(cfg.rules))
    lines.append("rules:" if rule_ids else "rules: all defaults")
    for rule_id in rule_ids:
        rule = cfg.rule(rule_id)
        default_severity = getattr(rules_by_id.get(rule_id), "severity", None)
        if not rule.enabled:
            lines.append(f"  {rule_id}: disabled")
            continue
        severity = rule.severity or default_severity
        text = f"  {rule_id}: enabled"
        if severity:
            text += f", severity {severity}" + ("" if rule.severity else " (default)")
        if rule.settings:
            text += ", " + ", ".join(f"{k}={v!r}" for k, v in sorted(rule.settings.items()))
        lines.append(text)
    lines.append(summarize_registry(cfg.registry))
    return "\n".join(lines)


def _summarize_radio(radio: RadioSettings | None) -> str:
    if radio is None:
        return "radio: none configured (replay and check-config work without it; run needs radio:)"
    if radio.driver == "simulated":
        where = (f", channel changes sent to {radio.control_socket}" if radio.control_socket
                 else ", channel changes not sent anywhere (no control_socket)")
        text = f"radio: simulated, capturing on {radio.interface}{where}"
    else:
        text = (f"radio: {radio.interface} via nl80211, capturing on monitor interface "
                f"{radio.monitor_interface}")
    return (f"{text}; when the interface is missing or down, retry after "
            f"{seconds_text(radio.retry_initial_s)}, backing off to {seconds_text(radio.retry_max_s)}")


def _summarize_channels(cfg: SensorConfig) -> list[str]:
    """The channel plan in a few lines: what is visited, how often, how long a sweep takes."""
    settings = cfg.channels
    try:
        plan = cfg.channel_plan()
    except ChannelPlanError as exc:  # load_config has checked; a hand-made config may not be
        return [f"channels: {exc}"]
    domain = DOMAINS[plan.domain]
    lines = [f"channels: regulatory domain {domain.code} ({domain.name}: {domain.bands})"]
    if plan.fixed:
        lines.append(f"  only: {format_frequencies(plan.home)} ({len(plan.home)} channels, "
                     f"{seconds_text(plan.home_dwell_s)} each, in turn; no sweep)")
    elif plan.home:
        lines.append(f"  home: {format_frequencies(plan.home)} ({len(plan.home)} channels of "
                     f"the facility's access points, {seconds_text(plan.home_dwell_s)} each, "
                     "every cycle)")
    else:
        lines.append("  home: none (the facility has no registered access points)")
    if plan.others:
        lines.append(f"  others: {len(plan.others)} channels, {plan.per_cycle} per cycle in "
                     f"rotation ({seconds_text(plan.other_dwell_s)} each)")
    timing = (f"  cycle {seconds_text(plan.cycle_s)}, full sweep {seconds_text(plan.sweep_s)}")
    if any(band_of(f) == BAND_6G for f in plan.home + plan.others):
        without = frozenset(f for f in domain.frequencies + plan.home if band_of(f) != BAND_6G)
        try:
            narrow = build_plan(cfg.registry, cfg.facility, settings, without)
            timing += f" ({seconds_text(narrow.sweep_s)} with a radio that cannot tune 6 GHz)"
        except ChannelPlanError:
            timing += " (a radio that cannot tune 6 GHz has nothing to listen on)"
    lines.append(f"{timing}, {plan.home_share:.0%} of the time on home channels")
    lines.extend(f"  note: {note}" for note in plan.notes())
    return lines


def _summarize_logging(logging: LoggingSettings) -> str:
    how = {"auto": "auto (JSON lines unless stderr is a terminal)", "json": "JSON lines",
           "console": "console (readable lines)"}[logging.format]
    return (f"logging: level {logging.level}, format {how}, "
            f"statistics every {seconds_text(logging.stats_interval_s)}")
