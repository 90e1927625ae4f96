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
```

``rules.<id>`` accepts ``enabled``, ``severity`` and exactly the keys of that
rule's ``DEFAULTS``; a setting's type must match its default's type (an int
default wants a whole number, a float default any number). `SensorConfig.rules`
holds only what the file overrides, so `Rule(ctx, cfg.rule(id).settings)`
gets the defaults for everything else.

Extending: a new section (interface, channel plan, metrics, storage) is one
more key in ``TOP_KEYS``, one ``_section`` method in `_ConfigReader`, and new
`SensorConfig` fields *with defaults*, so older files and callers keep working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .registry.loader import RegistryError, load_registry, summarize_registry
from .registry.model import Registry
from .registry.yamlsource import Located, Problem, Reader, by_line, load_yaml, plain, suggest


class ConfigError(RegistryError):
    """The sensor configuration (or the registry it names) could not be loaded.

    A subclass of `RegistryError`, so ``except RegistryError`` catches both."""


SENSOR_ID = re.compile(r"^[a-z0-9-]+$")
DEFAULT_HOLD_DOWN_S = 300.0
DEFAULT_MAX_OPEN_ALERTS = 10_000

TOP_KEYS = ("sensor", "registry")
TOP_OPTIONAL = ("engine", "rules")
SENSOR_KEYS = ("id", "facility")
ENGINE_KEYS = ("hold_down_s", "max_open_alerts")
RULE_KEYS = ("enabled", "severity")


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


class _ConfigReader(Reader):
    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.values: dict[str, Any] = {}
        self.facility_node: Located | None = None

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
        for key in ("sensor", "registry", "engine", "rules"):
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
            if config is not None:
                rules[rule_id] = config
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
    )


def summarize_config(cfg: SensorConfig) -> str:
    """What ``check-config`` prints: the sensor, engine, rules, then the registry."""
    facility = cfg.registry.facility(cfg.facility)
    name = f" ({facility.name})" if facility is not None and facility.name != cfg.facility else ""
    lines = [
        f"sensor {cfg.sensor_id} at facility {cfg.facility}{name}",
        f"registry: {cfg.registry_path}",
        f"engine: hold-down {cfg.hold_down_s:g} s, at most {cfg.max_open_alerts} open alerts",
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
