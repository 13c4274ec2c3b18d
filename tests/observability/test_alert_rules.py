"""ops/prometheus/alerts.yml: valid for promtool, every rule unit-tested both ways, every
series it reads really exported (by us or the Redis exporter)."""

from __future__ import annotations

import pytest
import yaml
from obs_helpers import (
    ALERTS,
    OTHER_SERIES,
    PROMETHEUS_DIR,
    alert_rules,
    metric_names,
    promtool,
)

from tsp_celery.metrics.catalog import series_names

pytestmark = pytest.mark.timeout(90)
EXPECTED = {"NoLeader", "LeaderFlapping", "NoWorkers", "WorkersLost", "JobPastDeadline",
            "UnitFailureRateHigh", "QueueBacklogGrowing", "RedisErrors", "RedisMemoryHigh"}


def test_rules_pass_promtool_check():
    proc = promtool("check", "rules", str(ALERTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout


def test_rule_unit_tests_pass():
    proc = promtool("test", "rules", "alerts_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_the_issue_alerts_exist_with_severity_and_runbook():
    rules = alert_rules()
    assert set(rules) == EXPECTED
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("page", "warning"), name
        assert rule["annotations"]["runbook"].startswith("docs/operations.md#"), name


def test_every_alert_is_tested_firing_and_quiet():
    doc = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    fired, quiet = set(), set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == EXPECTED
    assert quiet == EXPECTED


def test_rules_read_only_exported_series():
    known = series_names() | OTHER_SERIES
    for name, rule in alert_rules().items():
        used = metric_names(rule["expr"])
        assert used, name
        assert used <= known, f"{name} reads unknown series {used - known}"


def test_a_broken_rule_fails_its_unit_test(tmp_path):
    """The unit tests can fail: NoLeader without its `for:` fires before the test expects."""
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in rules["groups"][0]["rules"]:
        if rule.get("alert") == "NoLeader":
            del rule["for"]
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "alerts_test.yml").write_text((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    proc = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert proc.returncode != 0
    assert "NoLeader" in proc.stdout + proc.stderr
