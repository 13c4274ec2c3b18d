"""bench/quality.py still works: a --quick smoke run on one tiny instance prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "quality.py"


@pytest.mark.timeout(120)
def test_quick_run_prints_a_row_per_solver(examples_dir):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(examples_dir), "--instances",
         "berlin52", "--solvers", "ours,fast-tsp,ortools,pyvrp,elkai"],
        capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines()[2:]]
    by_solver = {r[4].strip(): [c.strip() for c in r] for r in rows}
    for solver in ("ours", "fast-tsp"):
        name, n, opt, budget, _, length, gap, secs, peak, _ = by_solver[solver]
        assert (name, n, opt, budget) == ("berlin52", "52", "7542", "1")
        assert int(length) >= 7542 and float(gap) < 5.0
        assert float(secs) > 0 and float(peak) > 10  # seconds; MB of the whole process tree
    for solver in ("ortools", "pyvrp", "elkai"):  # each either ran or was skipped, with a word
        assert solver in by_solver or f"{solver}: not installed" in proc.stderr


def test_unknown_instance_is_a_clear_error(examples_dir):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(examples_dir), "--instances",
         "nosuch1"], capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0 and "nosuch1" in proc.stderr


@pytest.mark.timeout(120)
def test_repeats_add_a_summary_over_the_runs(examples_dir):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(examples_dir), "--instances",
         "berlin52", "--solvers", "ours,fast-tsp", "--repeats", "2"],
        capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr
    runs, summary = proc.stdout.split("\n\n")
    assert len(runs.strip().splitlines()) == 2 + 2 * 2          # header + 2 solvers x 2 runs
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in summary.splitlines()[2:]]
    assert {r[3] for r in rows} == {"ours", "fast-tsp"}
    for name, n, budget, _, count, mean, low, high in rows:
        assert (name, n, budget, count) == ("berlin52", "52", "1", "2")
        assert float(low) <= float(mean) <= float(high) < 5.0
