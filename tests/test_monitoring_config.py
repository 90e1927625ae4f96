"""The shipped monitoring configuration (config/monitoring/) as Prometheus, Alertmanager and
Grafana read it.

The files are checked by the tools that will load them, not by re-implementing them:
``promtool check rules`` / ``check config`` and ``amtool check-config`` parse them as the servers
do, ``promtool test rules`` runs the shipped unit tests of every alerting rule, and each PromQL
expression of the Grafana dashboard is parsed by promtool as a recording rule (promtool has no
command that parses a bare expression). Around that, plain Python checks what the tools cannot
know: that every detection rule of the package and every severity it can be given reaches exactly
one alerting rule at the right Alertmanager severity, that only metrics of the sensor's contract
are used, that the dashboard's variables filter every query, and that the example routes deliver
each kind of alert where the file says. Deliberately broken copies show that the checks bite.

promtool and amtool come from the Debian packages ``prometheus`` and
``prometheus-alertmanager`` (scripts/setup.sh --with-test-tools installs them).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from evil_twin_monitor.metrics import DEFAULT_PORT, SensorMetrics
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.rules import RULES_BY_ID
from evil_twin_monitor.rules.base import SEVERITIES

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "config" / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TEST = PROMETHEUS_DIR / "rules_test.yml"
PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
SENSORS_YML = PROMETHEUS_DIR / "sensors.yml"
ALERTMANAGER_YML = MONITORING / "alertmanager" / "alertmanager.yml"
DASHBOARD = MONITORING / "grafana" / "evil-twin-monitor.json"
REGISTRY = ROOT / "config" / "registry"

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is missing (Debian package prometheus; scripts/setup.sh --with-test-tools)")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is missing (Debian package prometheus-alertmanager; "
           "scripts/setup.sh --with-test-tools)")

JOB = "evil-twin-monitor"
# The sensor's metric contract (README, "Metrics"), plus Prometheus' own `up`.
CONTRACT = frozenset({
    "evil_twin_monitor_build_info",
    "evil_twin_monitor_alerts_total",
    "evil_twin_monitor_active_alerts",
    "evil_twin_monitor_active_alert",
    "evil_twin_monitor_active_alert_series_overflow",
    "evil_twin_monitor_active_alert_series_dropped_total",
    "evil_twin_monitor_ap_last_heard_timestamp_seconds",
    "evil_twin_monitor_ap_signal_dbm",
    "evil_twin_monitor_ap_channel",
    "evil_twin_monitor_ap_frames_total",
    "evil_twin_monitor_frames_total",
    "evil_twin_monitor_malformed_frames_total",
    "evil_twin_monitor_kernel_drops_total",
    "evil_twin_monitor_radio_up",
    "evil_twin_monitor_radio_channel",
    "evil_twin_monitor_radio_frequency_hertz",
    "evil_twin_monitor_config_last_reload_successful",
    "evil_twin_monitor_config_last_reload_success_timestamp_seconds",
    "evil_twin_monitor_dropped_findings_total",
    "evil_twin_monitor_store_ok",
    "evil_twin_monitor_store_rows_written_total",
    "evil_twin_monitor_store_write_failures_total",
    "evil_twin_monitor_store_dropped_total",
    "evil_twin_monitor_store_pending",
    "up",
})
# Sensor severity -> Alertmanager severity, as rules.yml's header promises.
SEVERITY_CLASS = {"critical": "critical", "high": "warning", "medium": "warning",
                  "low": "info", "info": "info"}
DETECTION_METRIC = "evil_twin_monitor_active_alerts"
METRIC_NAME = re.compile(r"\b(evil_twin_monitor_[a-z_]+|up)\b")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def alerting_rules(path: Path = RULES) -> list[dict[str, Any]]:
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]
            if "alert" in rule]


def camel(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.split("_"))


# ---- Prometheus alerting rules ---------------------------------------------------------------

@needs_promtool
def test_rules_pass_promtool_check() -> None:
    result = run(PROMTOOL, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_rules_unit_tests_pass() -> None:
    result = run(PROMTOOL, "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_unit_tests_notice_a_wrong_severity_mapping(tmp_path: Path) -> None:
    """The shipped unit tests bite: a rules file that sends critical detections to the
    warning class fails them."""
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    text = RULES.read_text(encoding="utf-8")
    broken = text.replace("labels: {severity: critical, category: detection",
                          "labels: {severity: warning, category: detection")
    assert broken != text
    (tmp_path / RULES.name).write_text(broken, encoding="utf-8")
    result = run(PROMTOOL, "test", "rules", str(tmp_path / RULES_TEST.name))
    assert result.returncode != 0
    assert "EvilTwinUnknownBssid" in result.stdout + result.stderr


def test_every_alerting_rule_fires_in_a_unit_test_and_stays_silent_in_another() -> None:
    tests = load_yaml(RULES_TEST)["tests"]
    fired: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            if check["exp_alerts"]:
                fired.update((check["alertname"], alert["exp_labels"]["severity"])
                             for alert in check["exp_alerts"])
            else:
                silent.add(check["alertname"])
    rules = {(rule["alert"], rule["labels"]["severity"]) for rule in alerting_rules()}
    assert rules - fired == set(), "alerting rules no unit test sees firing"
    assert {name for name, _ in rules} - silent == set(), "alerting rules without a benign case"


def detection_matchers(rule: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The label matchers of a detection rule, which must read `<selector> > 0`."""
    match = re.fullmatch(DETECTION_METRIC + r"\{([^}]*)\}\s*>\s*0", rule["expr"].strip())
    assert match, f"{rule['alert']}: expected '{DETECTION_METRIC}{{...}} > 0', got {rule['expr']!r}"
    return MATCHER.findall(match.group(1))


def selects(matchers: list[tuple[str, str, str]], labels: dict[str, str]) -> bool:
    for name, op, value in matchers:
        actual = labels.get(name, "")
        ok = {"=": actual == value, "!=": actual != value,
              "=~": re.fullmatch(value, actual) is not None,
              "!~": re.fullmatch(value, actual) is None}[op]
        if not ok:
            return False
    return True


@pytest.mark.parametrize("rule_id", sorted(RULES_BY_ID) + ["future_rule"])
def test_each_rule_and_severity_reaches_exactly_one_alert(rule_id: str) -> None:
    """An operator may give any rule any severity (rules.<id>.severity): every combination must
    still notify, once, at the matching Alertmanager severity; a rule id this file does not
    know yet lands in EvilTwinOtherDetection."""
    detections = [rule for rule in alerting_rules() if DETECTION_METRIC + "{" in rule["expr"]]
    expected_name = "EvilTwinOtherDetection" if rule_id == "future_rule" else f"EvilTwin{camel(rule_id)}"
    for severity in SEVERITIES:
        series = {"facility": "city-hall", "sensor": "city-hall-01", "rule": rule_id,
                  "severity": severity}
        hits = [rule for rule in detections if selects(detection_matchers(rule), series)]
        assert [(r["alert"], r["labels"]["severity"]) for r in hits] == \
            [(expected_name, SEVERITY_CLASS[severity])], (rule_id, severity)


def test_alerting_rules_carry_routing_labels_and_plain_annotations() -> None:
    for rule in alerting_rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert labels["category"] in {"detection", "sensor"}, rule["alert"]
        assert rule["alert"].startswith("EvilTwin"), rule["alert"]
        assert annotations["summary"].strip() and annotations["description"].strip()
        assert "$labels.facility" in annotations["summary"] + annotations["description"] \
            or rule["alert"] == "EvilTwinNoSensorScraped", rule["alert"]


def test_rules_use_only_metrics_of_the_contract() -> None:
    for rule in alerting_rules():
        text = rule["expr"] + " ".join(rule["annotations"].values())
        used = set(METRIC_NAME.findall(text))
        assert used, rule["alert"]
        assert used <= CONTRACT, (rule["alert"], used - CONTRACT)


def test_contract_metrics_are_what_a_sensor_exports() -> None:
    """The configuration's idea of the contract against a real exposition of a live sensor."""
    metrics = SensorMetrics(load_registry(REGISTRY), "city-hall", "city-hall-01")
    metrics.update_health({"beacon": 10}, {"short": 1}, kernel_drops_total=0, radio_up=True,
                          freq_mhz=2412, dropped_findings=0)
    metrics.update_aps([])
    metrics.update_store({"ok": True, "written": 3, "writes_failed": 0, "queue_dropped": 0,
                          "pending_dropped": 0, "rejected": 0, "pending": 0, "queued": 0})
    exposition = metrics.exposition().decode()
    exported = set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.MULTILINE))
    assert CONTRACT - {"up"} <= exported, CONTRACT - {"up"} - exported


# ---- prometheus.yml and its targets file ------------------------------------------------------

@needs_promtool
def test_prometheus_config_passes_promtool_with_its_files() -> None:
    result = run(PROMTOOL, "check", "config", str(PROMETHEUS_YML))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # promtool only warns when the file_sd file is missing; here that is a failure.
    assert "WARNING" not in output, output
    assert "1 rule files found" in output


def test_prometheus_config_scrapes_the_sensors_file_with_honoured_labels() -> None:
    config = load_yaml(PROMETHEUS_YML)
    assert config["rule_files"] == ["rules.yml"]
    assert config["alerting"]["alertmanagers"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    assert job["honor_labels"] is True
    assert job["file_sd_configs"][0]["files"] == ["sensors.yml"]
    # The health rules and the dashboard find the sensors' `up` by this job name.
    up_job = re.compile(r'\bup\{job=~"([^"]+)"')
    in_rules = {regex for rule in alerting_rules() for regex in up_job.findall(rule["expr"])}
    in_dashboard = [regex for _, expr in expressions(dashboard()) for regex in up_job.findall(expr)]
    assert in_rules and set(in_dashboard) == in_rules
    for regex in in_rules:
        assert re.fullmatch(regex, JOB) and re.fullmatch(regex, JOB + "-https")


def test_sensors_file_names_registry_facilities_and_the_default_port() -> None:
    facilities = {facility.id for facility in load_registry(REGISTRY).facilities}
    entries = load_yaml(SENSORS_YML)
    assert len(entries) >= 2
    for entry in entries:
        assert set(entry["labels"]) == {"facility", "sensor"}
        assert entry["labels"]["facility"] in facilities
        assert re.fullmatch(r"[a-z0-9-]+", entry["labels"]["sensor"])
        for target in entry["targets"]:
            assert target.rsplit(":", 1)[1] == str(DEFAULT_PORT)


# ---- Alertmanager ---------------------------------------------------------------------------

@needs_amtool
def test_alertmanager_config_passes_amtool() -> None:
    result = run(AMTOOL, "check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_amtool
@pytest.mark.parametrize(("labels", "receiver"), [
    (("alertname=EvilTwinUnknownBssid", "severity=critical", "category=detection",
      "facility=city-hall"), "security-pager"),
    (("alertname=EvilTwinLookalikeSsid", "severity=warning", "category=detection",
      "facility=city-hall"), "security-mail"),
    (("alertname=EvilTwinSecurityMismatch", "severity=info", "category=detection",
      "facility=city-hall"), "security-chat"),
    (("alertname=EvilTwinSensorDown", "severity=warning", "category=sensor",
      "facility=city-hall"), "sensor-ops"),
    (("alertname=EvilTwinRegisteredApNotHeard", "severity=warning", "category=sensor",
      "facility=city-hall"), "sensor-ops"),
])
def test_alertmanager_routes_each_kind_of_alert(labels: tuple[str, ...], receiver: str) -> None:
    result = run(AMTOOL, "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_alertmanager_inhibitions_name_existing_alerts() -> None:
    """A typo in an inhibit rule would silently inhibit nothing."""
    names = {rule["alert"] for rule in alerting_rules()}
    config = load_yaml(ALERTMANAGER_YML)
    assert config["inhibit_rules"]
    for inhibit in config["inhibit_rules"]:
        assert "facility" in inhibit["equal"]
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            for name, op, value in MATCHER.findall(matcher):
                if name != "alertname":
                    continue
                if op in ("=", "!="):
                    assert value in names, matcher
                else:
                    assert any(re.fullmatch(value, n) for n in names), matcher
                    for alternative in value.split("|"):
                        assert not alternative.isalnum() or alternative in names, matcher


# ---- Grafana dashboard ----------------------------------------------------------------------

def dashboard() -> dict[str, Any]:
    with DASHBOARD.open(encoding="utf-8") as f:
        return json.load(f)


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def data_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in all_panels(board) if panel["type"] != "row"]


def expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every query, variable queries included."""
    found = [(f"panel {panel['id']} {target['refId']}", target["expr"])
             for panel in data_panels(board) for target in panel["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) \
                else variable["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert inner, query
            found.append((f"variable {variable['name']}", inner.group(1)))
    return found


# What Grafana substitutes before a query reaches Prometheus.
GRAFANA_VARIABLES = {"facility": "city-hall", "sensor": "city-hall-01",
                     "__rate_interval": "2m", "__interval": "1m", "__range": "6h"}


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in GRAFANA_VARIABLES, f"unknown dashboard variable ${name} in {expr!r}"
        return GRAFANA_VARIABLES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def promtool_parses(exprs: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": substitute(expr)}
        for i, (_, expr) in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_exprs.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    assert PROMTOOL is not None
    return run(PROMTOOL, "check", "rules", str(path))


def test_dashboard_is_importable_json_with_its_variables() -> None:
    board = dashboard()
    assert board["uid"] == "evil-twin-monitor" and board["title"]
    assert board["schemaVersion"] >= 36
    assert board.get("id") is None  # an id from another Grafana would clash on import
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("facility", "sensor"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert variables[name]["multi"] and variables[name]["includeAll"]
        assert f", {name})" in variables[name]["definition"]
    assert '$facility' in variables["sensor"]["definition"]


def test_dashboard_panels_have_unique_ids_datasource_targets_and_a_place() -> None:
    board = dashboard()
    panels = list(all_panels(board))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    occupied: dict[tuple[int, int], int] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps panel {occupied[(x, y)]}"
                occupied[(x, y)] = panel["id"]
    for panel in data_panels(board):
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_has_the_panels_operators_need() -> None:
    metrics_by_panel = {panel["title"]: set(METRIC_NAME.findall(
        " ".join(t["expr"] for t in panel["targets"]))) for panel in data_panels(dashboard())}
    used = set().union(*metrics_by_panel.values())
    for metric in ("evil_twin_monitor_active_alert", "evil_twin_monitor_alerts_total",
                   "evil_twin_monitor_ap_last_heard_timestamp_seconds",
                   "evil_twin_monitor_ap_signal_dbm", "evil_twin_monitor_frames_total",
                   "evil_twin_monitor_kernel_drops_total", "evil_twin_monitor_radio_up",
                   "evil_twin_monitor_radio_channel",
                   "evil_twin_monitor_config_last_reload_successful"):
        assert metric in used, metric
    (table,) = [p for p in data_panels(dashboard()) if p["title"] == "Active alerts"]
    assert table["type"] == "table" and table["targets"][0]["format"] == "table"


def test_dashboard_queries_use_contract_metrics_filtered_by_the_variables() -> None:
    for where, expr in expressions(dashboard()):
        if where.startswith("variable"):
            continue
        names = METRIC_NAME.findall(expr)
        assert names and set(names) <= CONTRACT, (where, set(names) - CONTRACT)
        selectors = re.findall(r"\b(?:evil_twin_monitor_[a-z_]+|up)\{([^}]*)\}", expr)
        assert len(selectors) == len(names), f"{where}: a metric without a selector: {expr}"
        for selector in selectors:
            assert 'facility=~"$facility"' in selector and 'sensor=~"$sensor"' in selector, \
                f"{where}: not filtered by the facility and sensor variables: {expr}"


@needs_promtool
def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    exprs = expressions(dashboard())
    result = promtool_parses(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


@needs_promtool
def test_expression_check_rejects_broken_promql(tmp_path: Path) -> None:
    result = promtool_parses([("broken", 'sum by (rule) (rate(evil_twin_monitor_alerts_total'
                                         '{facility=~"$facility"}[$__rate_interval])')], tmp_path)
    assert result.returncode != 0
