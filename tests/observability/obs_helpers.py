"""Helpers of the observability tests (a module of its own name: no clash with other conftests)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
GRAFANA_DIR = ROOT / "ops" / "grafana"
# Series of Prometheus itself and of the Redis exporter (oliver006/redis_exporter) that rules
# and panels may use.
OTHER_SERIES = {"up", "redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes",
                         "redis_connected_clients", "redis_evicted_keys_total"}
# PromQL words that look like metric names in an expression but are not.
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                 "unless", "bool", "offset", "le", "inf", "nan", "vector", "time", "max", "min",
                 "sum", "count", "avg", "rate", "increase", "deriv", "changes",
                 "histogram_quantile", "max_over_time", "min_over_time", "topk", "label_replace",
                 "clamp_min", "abs", "scalar", "absent", "irate", "delta", "humanize",
                 "humanizePercentage"}


def tool(name: str) -> str:
    """Path of a CI requirement (Debian packages prometheus, prometheus-redis-exporter: see
    .ci/run); missing, the test fails."""
    exe = shutil.which(name)
    assert exe, f"{name} is missing: see .ci/run (apt-get install prometheus " \
                "prometheus-redis-exporter)"
    return exe


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def alert_rules(path: Path = ALERTS) -> dict[str, dict]:
    """Alert name -> rule, from a rules file."""
    doc = yaml.safe_load(path.read_text())
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def metric_names(expr: str) -> set[str]:
    """Identifiers of an expression that name series (not functions, labels or keywords)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r'"[^"]*"', "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w not in _PROMQL_WORDS and not w.startswith("$")}
