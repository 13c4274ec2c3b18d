"""bench/scale.py still works: its quick point (real Redis, two coordinators, a threads- or
gevent-pool worker with stub units, the leader killed -9 midway) finishes every job and prints
its row."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.parametrize("pool", ["threads", "gevent"])
def test_the_quick_point_finishes_every_job_through_a_failover_and_prints_its_row(pool):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--quick",
                           "--pool", pool],
                          capture_output=True, text=True, timeout=220,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{pool} pool" in proc.stdout.splitlines()[0]
    header, _, row = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = dict(zip(names, (c.strip() for c in row.strip("|").split("|")), strict=True))
    assert cells["slots"] == "8" and cells["job s"] == "6"
    assert cells["done"] == "4/4"  # nothing lost over the kill -9
    assert 0 < float(cells["util"].rstrip("%")) <= 100
    p50, p99 = (float(x) for x in cells["dispatch p50 / p99 (s)"].split("/"))
    assert 0 <= p50 <= p99
    failover = float(cells["failover (s)"])
    assert math.isfinite(failover) and failover > 0
    assert float(cells["Redis ops/s"]) > 0 and float(cells["events / round"]) > 0
    assert float(cells["worker CPU ms / unit"]) > 0


def test_the_celery_floor_runs_every_round_and_prints_its_row():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "celery_floor.py"), "--slots",
                           "8", "--jobs", "2", "--unit-s", "0.5", "--rounds", "2",
                           "--no-task-events"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = [c.strip() for c in proc.stdout.strip().splitlines()[-1].strip("|").split("|")]
    slots, jobs, _unit_s, shape, units, util, dispatch, worker_ms = cells
    assert (slots, jobs, shape) == ("8", "2", "2 rounds, no task events")
    assert units == "16"  # 2 jobs x 2 rounds x 4 units, every one ran
    assert 0 < float(util.rstrip("%")) <= 100
    p50, p99 = (float(x) for x in dispatch.split("/"))
    assert 0 <= p50 <= p99
    assert float(worker_ms) > 0


def test_retention_frees_the_finished_jobs_keys_and_the_table_says_so():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--quick",
                           "--no-failover", "--retention-s", "30"],
                          capture_output=True, text=True, timeout=220,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = proc.stdout.split("Memory with retention 30 s", 1)[1]
    rows = {cells[4]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                         for line in table.splitlines() if line.startswith("| 8"))}
    assert set(rows) == {"before", "end", "settled"}
    keys = {when: int(cells[6]) for when, cells in rows.items()}
    assert keys["before"] < keys["end"]
    assert keys["settled"] < keys["end"]  # the finished jobs' keys expired with the retention
    assert "Keys left after retention" in table
