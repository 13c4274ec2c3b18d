"""bench/metrics.py still works: a small run prints both scrape rows with sane numbers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from obs_helpers import ROOT

pytestmark = pytest.mark.timeout(120)


def test_quick_run_prints_both_rows():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "metrics.py"), "--jobs", "3",
                           "--queued", "1", "--events", "2", "--processes", "2", "--scrapes",
                           "2"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    rows = {line.split(",")[0]: line.split()[-5:] for line in proc.stdout.splitlines()[1:]}
    assert set(rows) == {"coordinator", "worker"}
    coordinator = rows["coordinator"]
    assert float(coordinator[0]) > 0 and int(coordinator[2]) > 0
    assert int(coordinator[4]) >= 20  # metric names: the coordinator's and the cluster's
    assert 0 < int(rows["worker"][4]) <= 8
