"""The elite pool and the round merge that uses it: what a new round's tours are merged with,
and the switch that turns merging off for measurements."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.solver.test_merge import circle, reversed_at, swapped_at
from tsp_celery.solver.elite import update_elite
from tsp_celery.solver.units import UnitResult, apply_results

pytestmark = pytest.mark.timeout(60)


def island(problem, tour, unit_id="u0") -> UnitResult:
    tour = np.asarray(tour)
    return UnitResult(unit_id, "island", tour, problem.tour_length(tour), None, False, 0.0,
                      "fast-tsp")


def test_pool_keeps_the_shortest_distinct_tours_in_order():
    problem = circle()
    optimum = np.arange(problem.n)
    spoilt = [reversed_at(optimum, 3, 3 + k) for k in (2, 4, 6)]   # longer as k grows
    twice = reversed_at(reversed_at(optimum, 3, 11), 20, 28)
    pool = update_elite(problem, [twice, spoilt[0]], [spoilt[1], spoilt[0].copy(), optimum],
                        size=3)
    lengths = [problem.tour_length(t) for t in pool]
    assert lengths == sorted(lengths) and len(set(lengths)) == 3
    assert lengths[0] == problem.tour_length(optimum)
    assert problem.tour_length(twice) not in lengths      # the longest one fell out


def test_pool_drops_invalid_tours():
    problem = circle()
    bad = np.zeros(problem.n, dtype=np.int64)
    pool = update_elite(problem, [bad], [np.arange(problem.n), np.arange(5)])
    assert len(pool) == 1 and sorted(pool[0].tolist()) == list(range(problem.n))


def test_round_merges_with_the_elite_pool():
    # the round's only run is spoilt where the pool's tour is right and vice versa: merging
    # with the pool yields the optimum, which neither the run nor the base alone is
    problem = circle()
    optimum = np.arange(problem.n)
    base = run = swapped_at(optimum, 5)
    pooled = swapped_at(optimum, 25)
    without = apply_results(problem, base, [island(problem, run)])
    with_pool = apply_results(problem, base, [island(problem, run)], elite=[pooled])
    assert problem.tour_length(without) == problem.tour_length(base)
    assert problem.tour_length(with_pool) == problem.tour_length(optimum)


def test_merge_off_keeps_the_shortest_tour_unmerged():
    problem = circle()
    optimum = np.arange(problem.n)
    a, b = swapped_at(optimum, 5), swapped_at(swapped_at(optimum, 25), 32)
    merged = apply_results(problem, a, [island(problem, b)])
    plain = apply_results(problem, b, [island(problem, a)], merge=False)
    assert problem.tour_length(merged) == problem.tour_length(optimum)
    np.testing.assert_array_equal(plain, a)
