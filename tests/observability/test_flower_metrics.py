"""Flower's /metrics stays Flower's: importing the Celery app (as `celery -A tasks flower` does)
puts none of ours in prometheus_client's default registry, which Flower serves; our names
follow Prometheus's conventions and none is one of Flower's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tsp_celery.metrics.catalog import catalog

pytestmark = pytest.mark.timeout(60)
# Flower 2.x's series (flower/events.py), besides the default process_* and python_* ones.
FLOWER_SERIES = {"flower_events_total", "flower_task_runtime_seconds",
                 "flower_task_prefetch_time_seconds", "flower_worker_prefetched_tasks",
                 "flower_worker_online", "flower_worker_number_of_currently_executing_tasks"}


def test_the_default_registry_gets_none_of_ours():
    script = ("import tasks, prometheus_client\n"
              "print('\\n'.join(f.name for f in prometheus_client.REGISTRY.collect()))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = set(proc.stdout.split())
    assert names and not any(n.startswith("tsp_celery") for n in names)


def test_our_names_follow_the_conventions_and_none_is_flowers():
    """One prefix, counters end in _total, histograms name their unit (Prometheus naming)."""
    entries = catalog()
    for e in entries:
        assert e.name.startswith("tsp_celery_"), e.name
        assert e.name.endswith("_total") == (e.type == "counter"), e.name
        if e.type == "histogram":
            assert e.name.endswith(("_seconds", "_bytes")), e.name
    assert not {e.name for e in entries} & FLOWER_SERIES
