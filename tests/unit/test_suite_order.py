"""The test suite's own promises (tests/conftest.py): the cluster suites run last, and
``-m "not slow"`` is a quick subset without them."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def collected(*args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", str(TESTS), *args],
                          capture_output=True, text=True, timeout=120, cwd=TESTS.parent)
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.mark.slow  # three collections of the whole suite
@pytest.mark.timeout(300)
def test_cluster_suites_run_last_and_are_left_out_of_the_quick_subset():
    with ThreadPoolExecutor(3) as pool:  # three independent collections: run side by side
        ids, cluster_ids, quick = pool.map(lambda args: collected(*args),
                                           [(), ("-m", "chaos or integration"),
                                            ("-m", "not slow")])
    cluster = set(cluster_ids)
    assert cluster and len(cluster) < len(ids)
    assert set(ids[-len(cluster):]) == cluster, "a quick test runs after a cluster suite"
    assert quick and not cluster & set(quick)


def test_test_modules_have_unique_names():
    """Test folders are not packages, so pytest imports each module by its bare name: two
    test_x.py in different folders stop the whole run at collection."""
    names = [p.name for p in TESTS.rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
