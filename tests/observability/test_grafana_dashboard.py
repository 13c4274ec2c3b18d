"""ops/grafana: provisioned datasource and dashboard that Grafana loads as shipped (fixed
datasource uid, no export placeholders), the panels the issue asks for, and queries that
parse (promtool) and read only exported series."""

from __future__ import annotations

import json

import pytest
import yaml
from obs_helpers import GRAFANA_DIR, OTHER_SERIES, metric_names, promtool

from tsp_celery.metrics.catalog import series_names

pytestmark = pytest.mark.timeout(90)
DASHBOARD = GRAFANA_DIR / "dashboards" / "tsp-celery.json"
# Panel title -> a series its queries must read: what an operator looks for at a glance.
REQUIRED_PANELS = {
    "Jobs by state": "tsp_celery_jobs",
    "Best gap per job (%)": "tsp_celery_job_best_length",
    "Rounds per minute": "tsp_celery_rounds_merged_total",
    "Unit runtime percentiles": "tsp_celery_unit_duration_seconds_bucket",
    "Workers alive": "tsp_celery_workers_alive",
    "Leader": "tsp_celery_coordinator_is_leader",
    "Term": "tsp_celery_leader_term",
    "Redis errors": "tsp_celery_redis_errors_total",
}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _targets(dashboard: dict):
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel, target


def test_datasource_and_provider_match_the_dashboard(dashboard):
    sources = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" /
                              "prometheus.yml").read_text())["datasources"]
    assert [(s["type"], s["uid"]) for s in sources] == [("prometheus", "prometheus")]
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" /
                               "tsp-celery.yml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert "${DS_" not in DASHBOARD.read_text()  # file provisioning would not resolve it
    for panel, target in _targets(dashboard):
        assert panel["datasource"] == target["datasource"] == {"type": "prometheus",
                                                               "uid": "prometheus"}


def test_structure_grafana_needs(dashboard):
    assert dashboard["uid"] and dashboard["title"] and dashboard["id"] is None
    assert dashboard["schemaVersion"] >= 30 and dashboard["time"] and dashboard["refresh"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert panel["type"] in ("timeseries", "stat") and panel["title"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
        for x in range(g["x"], g["x"] + g["w"]):  # no two panels overlap
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids))


def test_the_issue_panels_are_there(dashboard):
    by_title = {p["title"]: p for p in dashboard["panels"]}
    for title, series in REQUIRED_PANELS.items():
        exprs = " ".join(t["expr"] for t in by_title[title]["targets"])
        assert series in metric_names(exprs), title


def test_every_query_reads_exported_series(dashboard):
    known = series_names() | OTHER_SERIES
    for panel, target in _targets(dashboard):
        used = metric_names(target["expr"])
        assert used and used <= known, (panel["title"], used - known)


def test_every_query_parses(dashboard, tmp_path):
    """Each query as a recording rule: `promtool check rules` parses it as Prometheus would."""
    rules = [{"record": f"panel:{panel['id']}:{target['refId']}",
              "expr": target["expr"].replace("$__rate_interval", "1m")}
             for panel, target in _targets(dashboard)]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    proc = promtool("check", "rules", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
