"""Sensor configuration: loading, the registry it names, rule overrides, and
the messages an operator sees for mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from evil_twin_monitor import config as config_module
from evil_twin_monitor.channelplan import ChannelSettings
from evil_twin_monitor.config import (
    CaptureSettings, ConfigError, EngineSettings, LoggingSettings, RuleConfig,
    default_engine_settings, load_config, summarize_config,
)
from evil_twin_monitor.radio.base import RadioSettings
from evil_twin_monitor.registry import RegistryError
from evil_twin_monitor.store import StoreSettings

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


class FakeRule:
    """Stands for a rule class: the configuration builds one to check settings."""

    def __init__(self, ctx: object, settings: object = None) -> None:
        pass


class FakeLookalike(FakeRule):
    id: ClassVar[str] = "lookalike_ssid"
    severity: ClassVar[str] = "medium"
    DEFAULTS: ClassVar[dict] = {"max_distance": 2, "min_ratio": 0.8, "fold_case": True,
                                "ignore": ()}


class FakeApMissing(FakeRule):
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
    (tmp_path / "site" / "registry").mkdir(parents=True, exist_ok=True)
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
        "radio: none configured (replay and check-config work without it; run needs radio:)",
        "channels: regulatory domain JP (Japan: 2.4 GHz 1-13, W52/W53/W56 36-144, "
        "6 GHz 5925-6425 MHz)",
        "  home: 2.4 GHz ch 1,6,11 (3 channels of the facility's access points, 0.5 s each, "
        "every cycle)",
        "  others: 54 channels, 2 per cycle in rotation (0.25 s each)",
        "  cycle 2 s, full sweep 54 s (30 s with a radio that cannot tune 6 GHz), 75% of the "
        "time on home channels",
        "capture: 16 MiB socket receive buffer",
        "logging: level info, format auto (JSON lines unless stderr is a terminal), "
        "statistics every 60 s",
        "metrics: listening on 0.0.0.0:18011, plain HTTP; at most 100 active-alert series "
        "(from this host: http://127.0.0.1:18011/metrics)",
        "store: /var/lib/evil-twin-monitor/alerts.sqlite3 (alerts kept 90 days after they end, "
        "at most 500,000)",
        "evidence: /var/lib/evil-twin-monitor/evidence (a pcap per new alert, kept 30 days; per "
        "file at most 64 frames and 256 KiB, at most 60 files an hour and 500 MiB in all; "
        "pseudonym secret /var/lib/evil-twin-monitor/privacy.secret)",
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
    assert cfg.radio == RadioSettings("nl80211", "wlan1", "etm0", None, 1.0, 30.0)
    assert cfg.channels == ChannelSettings()
    assert cfg.capture == CaptureSettings()
    assert cfg.logging == LoggingSettings()
    assert cfg.store == StoreSettings()
    lines = summarize_config(cfg).splitlines()
    assert lines[:16] == [
        "sensor city-hall-01 at facility city-hall (新宿区役所 本庁舎)",
        f"registry: {EXAMPLE.parent / 'registry'}",
        "engine: hold-down 300 s, at most 10000 open alerts",
        "radio: wlan1 via nl80211, capturing on monitor interface etm0; when the interface is "
        "missing or down, retry after 1 s, backing off to 30 s",
        "channels: regulatory domain JP (Japan: 2.4 GHz 1-13, W52/W53/W56 36-144, "
        "6 GHz 5925-6425 MHz)",
        "  home: 2.4 GHz ch 1,6,11; 5 GHz ch 36-64,100-140 (22 channels of the facility's "
        "access points, 0.5 s each, every cycle)",
        "  others: 35 channels, 2 per cycle in rotation (0.25 s each)",
        "  cycle 11.5 s, full sweep 206.75 s (68.75 s with a radio that cannot tune 6 GHz), "
        "96% of the time on home channels",
        "capture: 16 MiB socket receive buffer",
        "logging: level info, format auto (JSON lines unless stderr is a terminal), "
        "statistics every 60 s",
        "metrics: listening on 0.0.0.0:18011, plain HTTP; at most 100 active-alert series "
        "(from this host: http://127.0.0.1:18011/metrics)",
        "store: /var/lib/evil-twin-monitor/alerts.sqlite3 (alerts kept 90 days after they end, "
        "at most 500,000)",
        "evidence: /var/lib/evil-twin-monitor/evidence (a pcap per new alert, kept 30 days; per "
        "file at most 64 frames and 256 KiB, at most 60 files an hour and 500 MiB in all; "
        "pseudonym secret /var/lib/evil-twin-monitor/privacy.secret)",
        "rules:",
        "  ap_missing: enabled, severity low",
        "  lookalike_ssid: enabled, severity medium, max_distance=2",
    ]


def test_example_config_with_the_real_rules(monkeypatch):
    monkeypatch.undo()  # the real catalogue, not the fake one
    cfg = load_config(EXAMPLE)
    assert cfg.rule("ap_missing").severity == "low"
    assert cfg.rule("lookalike_ssid").settings == {"max_distance": 2}


def test_the_commented_rule_examples_of_the_example_config_are_valid(tmp_path, monkeypatch):
    """The examples an operator uncomments must load as they are written."""
    monkeypatch.undo()
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("rules:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace())
    for i in range(start + 1, end):
        if lines[i].startswith("  # ") and not lines[i].startswith("  #   ") \
                or lines[i].startswith("  #   "):
            lines[i] = "  " + lines[i][4:]
    text = "\n".join(lines).replace("registry: registry/", f"registry: {EXAMPLE.parent / 'registry'}")
    (tmp_path / "sensor.yaml").write_text(text)
    cfg = load_config(tmp_path / "sensor.yaml")
    assert cfg.rule("cloned_bssid").settings["min_score"] == 2
    assert cfg.rule("karma").settings["min_ssids"] == 5
    assert cfg.rule("rogue_hardware").settings["extra_signatures"][0]["id"] == "lab-beacon-spammer"


# --- mistakes ------------------------------------------------------------------

def test_a_rule_setting_the_rule_itself_refuses_is_a_configuration_error(tmp_path, monkeypatch):
    """Type-correct but meaningless values (a threshold of 0, a signature that
    does not compile) are found by check-config, not by the daemon at start."""
    monkeypatch.undo()
    (tmp_path / "sensor.yaml").write_text(
        "sensor: {id: s1, facility: city-hall}\n"
        f"registry: {Path(__file__).parents[1] / 'fixtures' / 'registry.yaml'}\n"
        "rules:\n"
        "  cloned_bssid: {min_score: 0}\n"
        "  rogue_hardware:\n"
        "    extra_signatures: [{id: x, field: ssid, pattern: '(', why: test}]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "sensor.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert lines[0].endswith(":4: rules.cloned_bssid: min_score must be at least 1; got 0")
    assert ":5: rules.rogue_hardware: " in lines[1] and "extra_signatures[0]" in lines[1]

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
        "sensor, registry, engine, rules, radio, channels, capture, logging, metrics, store, "
        "evidence",
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


# --- radio, channels, capture, logging ---------------------------------------------

SENSOR_SECTIONS = """\
radio:
  interface: tap-sim0
  driver: simulated
  control_socket: run/radio.sock
  retry_initial_s: 0.5
  retry_max_s: 10
channels:
  regulatory_domain: etsi
  home_dwell_s: 1
  other_dwell_s: 0.2
  others_per_cycle: 3
  exclude: [14, 5955, 5GHz]
capture:
  buffer_mb: 64
logging:
  level: debug
  format: json
  stats_interval_s: 30
"""


def test_sensor_sections(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + SENSOR_SECTIONS)
    cfg = load_config("site/sensor.yaml")
    assert cfg.radio == RadioSettings(driver="simulated", interface="tap-sim0",
                                      monitor_interface="etm0",
                                      control_socket="site/run/radio.sock",
                                      retry_initial_s=0.5, retry_max_s=10.0)
    five = tuple(5000 + 5 * c for c in (*range(36, 65, 4), *range(100, 141, 4)))
    assert cfg.channels == ChannelSettings("ETSI", 1.0, 0.2, 3, (), tuple(sorted(
        (2484, 5955) + five)))
    assert cfg.capture == CaptureSettings(64)
    assert cfg.logging == LoggingSettings("debug", "json", 30.0)
    plan = cfg.channel_plan()
    assert plan.domain == "ETSI" and plan.home == (2412, 2437, 2462)
    assert not any(4900 < f < 5925 or f == 5955 for f in plan.others)
    # The radio reports what it can tune: the daemon's plan follows.
    assert cfg.channel_plan(frozenset({2412, 2437, 2417})).others == (2417,)
    lines = summarize_config(cfg).splitlines()
    assert lines[3:10] == [
        "radio: simulated, capturing on tap-sim0, channel changes sent to site/run/radio.sock; "
        "when the interface is missing or down, retry after 0.5 s, backing off to 10 s",
        "channels: regulatory domain ETSI (Europe, ETSI: 2.4 GHz 1-13, 5 GHz 36-64 and "
        "100-140, 6 GHz 5945-6425 MHz)",
        "  home: 2.4 GHz ch 1,6,11 (3 channels of the facility's access points, 1 s each, "
        "every cycle)",
        "  others: 33 channels, 3 per cycle in rotation (0.2 s each)",
        "  cycle 3.6 s, full sweep 39.6 s (14 s with a radio that cannot tune 6 GHz), 83% of "
        "the time on home channels",
        "capture: 64 MiB socket receive buffer",
        "logging: level debug, format JSON lines, statistics every 30 s",
    ]


def test_sections_are_optional(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch)
    cfg = load_config("site/sensor.yaml")
    assert cfg.radio is None
    assert (cfg.channels, cfg.capture, cfg.logging) == (
        ChannelSettings(), CaptureSettings(), LoggingSettings())


def test_radio_defaults_to_nl80211(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + "radio:\n  interface: wlan1\n")
    assert load_config("site/sensor.yaml").radio == RadioSettings("nl80211", "wlan1")


def test_only_channels(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + "channels:\n  only: [1, 36, 5955]\n  home_dwell_s: 2\n")
    cfg = load_config("site/sensor.yaml")
    assert cfg.channels.only == (2412, 5180, 5955)
    assert summarize_config(cfg).splitlines()[5:7] == [
        "  only: 2.4 GHz ch 1; 5 GHz ch 36; 6 GHz 5955 MHz (3 channels, 2 s each, in turn; "
        "no sweep)",
        "  cycle 6 s, full sweep 6 s (4 s with a radio that cannot tune 6 GHz), 100% of the "
        "time on home channels",
    ]


def test_registered_channel_outside_the_domain_is_mentioned(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + "channels:\n  regulatory_domain: US\n",
          REGISTRY.replace("[1, 6, 11]", "[1, 6, 13]"))
    cfg = load_config("site/sensor.yaml")
    assert 2472 in cfg.channel_plan().home
    assert "  note: 2.4 GHz ch 13 is not in regulatory domain US but listed for a registered " \
           "access point; listened to anyway" in summarize_config(cfg).splitlines()


def test_radio_mistakes(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + """\
radio:
  interface: wlan0 monitor
  driver: nl80221
  monitor_interface: a-very-long-monitor0
  retry_initial_s: 0
  retry_max_s: 0.5
  retry: 3
""")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: radio.interface: 'wlan0 monitor' is not a valid interface name: "
        "an interface name cannot be '.' or '..' or contain '/', ':' or whitespace",
        "site/sensor.yaml:13: radio.driver: 'nl80221' is not a radio driver "
        "(did you mean 'nl80211'?); valid: nl80211, simulated",
        "site/sensor.yaml:14: radio.monitor_interface: 'a-very-long-monitor0' is not a valid "
        "interface name: interface names are at most 15 bytes long",
        "site/sensor.yaml:15: radio.retry_initial_s: 0 is out of range; valid: 0.1-3600 s",
        "site/sensor.yaml:17: radio.retry: unknown key 'retry' (did you mean 'retry_max_s'?); "
        "valid keys: interface, driver, monitor_interface, control_socket, retry_initial_s, "
        "retry_max_s",
    ]


def test_radio_needs_an_interface_and_control_socket_only_when_simulated(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + """\
radio:
  control_socket: /run/sim.sock
  retry_initial_s: 5
  retry_max_s: 2
""")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: radio: missing required key 'interface'",
        "site/sensor.yaml:12: radio.control_socket: only the simulated driver uses a control "
        "socket; remove it, or set driver: simulated",
        "site/sensor.yaml:14: radio.retry_max_s: 2 is less than retry_initial_s (5); the "
        "backoff grows from the first to the second",
    ]


def test_control_socket_path_length(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + "radio:\n  interface: tap0\n  driver: simulated\n"
                                          f"  control_socket: /run/{'x' * 110}.sock\n")
    assert errors("site/sensor.yaml") == [
        f"site/sensor.yaml:14: radio.control_socket: '/run/{'x' * 110}.sock' is longer than the "
        "107 bytes a Unix socket path may have; use a shorter path",
    ]


def test_channel_mistakes(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + """\
channels:
  regulatory_domain: EU
  home_dwell_s: 0
  other_dwell_s: 600
  others_per_cycle: -1
  only: [1, 15, 5190, W52, [36]]
  exclude: 6
  dwell: 1
""")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: channels.regulatory_domain: 'EU' is not a supported regulatory "
        "domain; valid: JP (Japan), US (United States, FCC), ETSI (Europe, ETSI)",
        "site/sensor.yaml:13: channels.home_dwell_s: 0 is out of range; valid: 0.01-60 s",
        "site/sensor.yaml:14: channels.other_dwell_s: 600 is out of range; valid: 0.01-60 s",
        "site/sensor.yaml:15: channels.others_per_cycle: -1 is out of range; valid: 0-1000",
        "site/sensor.yaml:16: channels.only[1]: 15 is not a 20 MHz channel in 2.4 or 5 GHz; "
        "valid: 1-14, 36-144 in steps of 4, 149-177 in steps of 4 (6 GHz: write the frequency "
        "in MHz, like 5955)",
        "site/sensor.yaml:16: channels.only[2]: 5190 MHz (channel 38) is not the centre of a "
        "20 MHz channel; valid: 2412-2472 in steps of 5, 2484, 5160-5720 and 5745-5885 in "
        "steps of 20, 5935, 5955-7115 in steps of 20",
        "site/sensor.yaml:16: channels.only[3]: 'W52' is neither a channel, a frequency in MHz "
        "nor a band; valid: a channel like 36, a frequency like 5955, or 2.4GHz, 5GHz, 6GHz",
        "site/sensor.yaml:16: channels.only[4]: expected a channel, a frequency or a band; "
        "got a list",
        "site/sensor.yaml:17: channels.exclude: expected a list like [1, 6, 11, 5955]; "
        "got a number '6'",
        "site/sensor.yaml:18: channels.dwell: unknown key 'dwell'; valid keys: "
        "regulatory_domain, home_dwell_s, other_dwell_s, others_per_cycle, only, exclude",
    ]


def test_excluding_everything_is_an_error_at_load_time(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + """\
channels:
  exclude: [2.4GHz, 5GHz, 6GHz]
""")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: channels.exclude: exclude: removes every channel of regulatory "
        "domain JP and every registered channel: nothing to listen on",
    ]


def test_facility_without_channels_to_visit(tmp_path, monkeypatch):
    registry = REGISTRY.split("    networks:")[0]
    write(tmp_path, monkeypatch, CONFIG + "channels:\n  others_per_cycle: 0\n", registry)
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: channels.others_per_cycle: the facility has no registered access "
        "points and others_per_cycle is 0: nothing to listen on",
    ]
    write(tmp_path, monkeypatch, CONFIG + "channels:\n  exclude: [6GHz]\n", registry)
    lines = summarize_config(load_config("site/sensor.yaml")).splitlines()
    assert lines[5:9] == [
        "  home: none (the facility has no registered access points)",
        "  others: 33 channels, 2 per cycle in rotation (0.25 s each)",
        "  cycle 0.5 s, full sweep 8.25 s, 0% of the time on home channels",
        "  note: the facility has no registered access points, so every channel is swept at "
        "the other-channel dwell",
    ]


def test_capture_and_logging_mistakes(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG + """\
capture:
  buffer_mb: 0
logging:
  level: verbose
  format: text
  stats_interval_s: .inf
""")
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:12: capture.buffer_mb: 0 is out of range; valid: 1-1024",
        "site/sensor.yaml:14: logging.level: 'verbose' is not a log level; valid: debug, info, "
        "warning, error",
        "site/sensor.yaml:15: logging.format: 'text' is not a log format; valid: auto, json, "
        "console",
        "site/sensor.yaml:16: logging.stats_interval_s: .inf is out of range; valid: 1-86400 s",
    ]


def test_example_documents_every_key():
    """Every key the reader accepts appears in the example, so it stays the reference."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in (config_module.RADIO_KEYS + config_module.RADIO_OPTIONAL
                + config_module.CHANNEL_KEYS + config_module.CAPTURE_KEYS
                + config_module.LOGGING_KEYS + config_module.TOP_OPTIONAL):
        assert f"{key}:" in text, key


def test_every_rule_disabled_is_an_error_not_a_deaf_sensor(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, CONFIG.replace(
        "lookalike_ssid: {enabled: true, severity: high, max_distance: 1}",
        "lookalike_ssid: {enabled: false}"))
    assert errors("site/sensor.yaml") == [
        "site/sensor.yaml:9: rules: every rule is disabled; the sensor would detect nothing "
        "(enable at least one)"]
