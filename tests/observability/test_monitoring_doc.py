"""docs/operations.md, Monitoring: the metric table is the one the code generates, and every
alert of alerts.yml has a row saying when it fires and what to do."""

from __future__ import annotations

import re

import pytest
from obs_helpers import ROOT, alert_rules

from tsp_celery.metrics.catalog import BEGIN, END, markdown

pytestmark = pytest.mark.timeout(60)
DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
SECTION = DOC.split("\n## Monitoring\n", 1)[1].split("\n## ", 1)[0]


def test_metric_table_is_generated_from_the_code():
    start, end = SECTION.index(BEGIN), SECTION.index(END) + len(END)
    assert SECTION[start:end] == markdown(), "regenerate: python -m tsp_celery.metrics.catalog"


def test_every_alert_has_a_runbook_row():
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| (\w+) \((?:page|warning)\) \| ([^|]+) \| ([^|]+) \|$", SECTION, re.MULTILINE)}
    rules = alert_rules()
    assert set(rows) == set(rules)
    for name, (fires_when, what_to_do) in rows.items():
        assert fires_when.strip() and len(what_to_do.strip()) > 20, name
        assert f"{name} ({rules[name]['labels']['severity']})" in SECTION


def test_the_documented_no_leader_delay_is_the_rule_s():
    assert "no coordinator leads for 6 s" in SECTION
    assert alert_rules()["NoLeader"]["for"] == "6s"


def test_alert_runbook_links_point_at_this_section():
    for name, rule in alert_rules().items():
        assert rule["annotations"]["runbook"] == "docs/operations.md#monitoring", name
