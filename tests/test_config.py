"""Sensor configuration: loading, the registry it names, rule overrides, and
the messages an operator sees for mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from evil_twin_monitor import config as config_module
from evil_twin_monitor.config import (
    ConfigError, EngineSettings, RuleConfig, default_engine_settings, load_config,
    summarize_config,
)
from evil_twin_monitor.registry import RegistryError

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "sensor.example.yaml"

REGISTRY = """\
facilities:
  - id: city-hall
    name: "新宿区役所 本庁舎"
    networks:
      - ssid: Shinjuku_Free_Wi-Fi
        security: [wpa2-psk]
        access_points:
          - bssid: "00:1a:2b:3c:4d:50"
            channels: [1, 6, 11]
"""

CONFIG = """\
sensor:
  id: city-hall-01
  facility: city-hall
registry: registry/
engine:
  hold_down_s: 120
  max_open_alerts: 500
rules:
  lookalike_ssid: {enabled: true, severity: high, max_distance: 1}
  ap_missing: {enabled: false}
"""


class FakeLookalike:
    id: ClassVar[str] = "lookalike_ssid"
    severity: ClassVar[str] = "medium"
    DEFAULTS: ClassVar[dict] = {"max_distance": 2, "min_ratio": 0.8, "fold_case": True,
                                "ignore": ()}


class FakeApMissing:
    id: ClassVar[str] = "ap_missing"
    severity: ClassVar[str] = "low"
    DEFAULTS: ClassVar[dict] = {"silence_s": 600}


@pytest.fixture(autouse=True)
def fake_rules(monkeypatch):
    """Two stand-in rules, so messages list known settings whatever the real rules hold."""
    catalogue = ({"lookalike_ssid": FakeLookalike, "ap_missing": FakeApMissing},
                 ("critical", "high", "medium", "low", "info"))
    monkeypatch.setattr(config_module, "_rule_catalogue", lambda: catalogue)


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str = CONFIG,
          registry: str = REGISTRY) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site" / "registry").mkdir(parents=True)
    (tmp_path / "site" / "registry" / "city-hall.yaml").write_text(registry, encoding="utf-8")
    (tmp_path / "site" / "sensor.yaml").write_text(config, encoding="utf-8")


def errors(path: str, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return str(info.value).splitlines()


def test_good_config(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch)
    cfg = load_config("site/sensor.yaml")
    assert cfg.sensor_id == "city-hall-01"
    assert cfg.facility == "city-hall"
    assert cfg.registry_path == Path("site/registry")
    assert cfg.registry.facility("city-hall").name == "新宿区役所 本庁舎"
    assert cfg.hold_down_s == 120.0
    assert cfg.max_open_alerts == 500
    assert cfg.engine == EngineSettings(120.0, 500)
    assert cfg.rules == {
        "lookalike_ssid": RuleConfig(True, "high", {"max_distance": 1}),
        "ap_missing": RuleConfig(False, None, {}),
    }
    assert cfg.rule("unknown_bssid") == RuleConfig(True, None, {})


def test_summary(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch)
    assert summarize_config(load_config("site/sensor.yaml")).splitlines() == [
        "sensor city-hall-01 at facility city-hall (新宿区役所 本庁舎)",
        "registry: site/registry",
        "engine: hold-down 120 s, at most 500 open alerts",
        "rules:",
        "  ap_missing: disabled",
        "  lookalike_ssid: enabled, severity high, max_distance=1",
        "city-hall: 新宿区役所 本庁舎  (site/registry/city-hall.yaml)",
        "  Shinjuku_Free_Wi-Fi  [wpa2-psk]  pmf optional  1 AP  2.4 GHz ch 1,6,11",
        "total: 1 facility, 1 network, 1 distinct SSID, 1 access point entry "
        "(0 of them BSSID prefixes)",
    ]


def test_defaults_without_engine_and_rules(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.split("engine:")[0])
    cfg = load_config("site/sensor.yaml")
    assert (cfg.hold_down_s, cfg.max_open_alerts, cfg.rules) == (300.0, 10000, {})
    assert cfg.engine == default_engine_settings() == EngineSettings(300.0, 10000)


def test_rule_settings_are_typed_by_their_defaults(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace(
        "max_distance: 1}", "min_ratio: 1, fold_case: false, ignore: [Shinjuku_Guest]}"))
    assert load_config("site/sensor.yaml").rule("lookalike_ssid").settings == {
        "min_ratio": 1.0, "fold_case": False, "ignore": ("Shinjuku_Guest",)}


def test_registry_override_makes_the_key_optional(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("registry: registry/\n", ""))
    cfg = load_config("site/sensor.yaml", registry_path="site/registry/city-hall.yaml")
    assert cfg.registry_path == Path("site/registry/city-hall.yaml")
    assert [f.id for f in cfg.registry.facilities] == ["city-hall"]


def test_example_config_loads_and_summarizes():
    cfg = load_config(EXAMPLE)
    assert (cfg.sensor_id, cfg.facility) == ("city-hall-01", "city-hall")
    assert [f.id for f in cfg.registry.facilities] == [
        "central-library", "city-hall", "sports-center"]
    lines = summarize_config(cfg).splitlines()
    assert lines[:6] == [
        "sensor city-hall-01 at facility city-hall (新宿区役所 本庁舎)",
        f"registry: {EXAMPLE.parent / 'registry'}",
        "engine: hold-down 300 s, at most 10000 open alerts",
        "rules:",
        "  ap_missing: enabled, severity low",
        "  lookalike_ssid: enabled, severity medium, max_distance=2",
    ]


def test_example_config_with_the_real_rules(monkeypatch):
    monkeypatch.undo()  # the real catalogue, not the fake one
    cfg = load_config(EXAMPLE)
    assert cfg.rule("ap_missing").severity == "low"
    assert cfg.rule("lookalike_ssid").settings == {"max_distance": 2}


# --- mistakes ------------------------------------------------------------------

def test_facility_missing_from_registry(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("facility: city-hall", "facility: city-hal"))
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:3: sensor.facility: 'city-hal' is not a facility in the registry "
        "site/registry (did you mean 'city-hall'?); valid: city-hall",
    ]


def test_unknown_rule_setting(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("max_distance: 1", "max_distnace: 1"))
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:9: rules.lookalike_ssid.max_distnace: unknown key 'max_distnace' "
        "(did you mean 'max_distance'?); valid keys: enabled, severity, max_distance, "
        "min_ratio, fold_case, ignore",
    ]


def test_unknown_rule_and_bad_values(tmp_path, monkeypatch):
    text = CONFIG.replace("ap_missing:", "ap_mising:").replace("severity: high", "severity: hi")
    text = text.replace("max_distance: 1", "max_distance: 1.5").replace("120", "soon")
    write(tmp_path, monkeypatch, text)
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:6: engine.hold_down_s: expected a number; got a string 'soon'",
        "site/sensor.yaml:9: rules.lookalike_ssid.severity: 'hi' is not a severity "
        "(did you mean 'high'?); valid: critical, high, medium, low, info",
        "site/sensor.yaml:9: rules.lookalike_ssid.max_distance: expected a whole number; "
        "got a decimal number '1.5'",
        "site/sensor.yaml:10: rules.ap_mising: unknown rule 'ap_mising' "
        "(did you mean 'ap_missing'?); valid: ap_missing, lookalike_ssid",
    ]


def test_typo_in_top_level_key_and_bad_sensor_id(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("engine:", "engin:").replace(
        "city-hall-01", "City Hall 01"))
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:2: sensor.id: 'City Hall 01' is not a valid sensor id; use lowercase "
        "letters, digits and '-' (like city-hall-01)",
        "site/sensor.yaml:5: engin: unknown key 'engin' (did you mean 'engine'?); valid keys: "
        "sensor, registry, engine, rules",
    ]


def test_registry_problems_are_reported_with_the_config(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("max_open_alerts: 500", "max_open_alerts: 0"),
          REGISTRY.replace("[1, 6, 11]", "[1, 6, 15]"))
    with pytest.raises(RegistryError) as info:  # ConfigError is a RegistryError
        load_config("site/sensor.yaml")
    assert str(info.value).splitlines() == [
        "site/sensor.yaml:7: engine.max_open_alerts: 0 is out of range; valid: 1 or more",
        "site/registry/city-hall.yaml:9: facilities[0].networks[0].access_points[0].channels[2]: "
        "15 is not a channel in 2.4 or 5 GHz; valid: 1-14, 32-177 (use frequencies: for 6 GHz)",
    ]


def test_missing_registry_path_points_at_the_config_line(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace("registry: registry/", "registry: registri/"))
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:4: registry: site/registri: no such file or directory",
    ]


def test_empty_and_missing_config(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, "")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml: the file is empty; a sensor configuration needs at least 'sensor:' "
        "(id, facility) and 'registry:'",
    ]
    assert errors("site/nothing.yaml") == ["site/nothing.yaml: no such file or directory"]


def test_missing_sections(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, "sensor:\n  id: city-hall-01\n")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:1: missing required key 'registry'",
        "site/sensor.yaml:2: sensor: missing required key 'facility'",
    ]
