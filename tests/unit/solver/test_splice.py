"""apply_results: splices segment and region results, picks the best whole tour, never longer."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.solver.decompose import segments
from tsp_celery.solver.units import UnitResult, UnitSpec, apply_results, run_unit


def _round(p, tour, kind, size, budget=0.1, offset=0):
    specs = [UnitSpec(f"u{i}", kind, i, budget, s, k)
             for i, (s, k) in enumerate(segments(p.n, size, offset))]
    return [run_unit(p, spec, tour) for spec in specs]


@pytest.mark.parametrize("kind", ["segment", "region"])
def test_round_splices_into_a_shorter_valid_tour(make_problem, kind):
    p = make_problem(1500, seed=31)
    tour = np.random.default_rng(0).permutation(p.n)
    results = _round(p, tour, kind, 300)
    new = p.validate_tour(apply_results(p, tour, results))
    assert p.tour_length(new) < p.tour_length(tour)
    if kind == "segment":  # disjoint paths with fixed ends always combine
        gain = sum(r.base_length - r.length for r in results)
        assert p.tour_length(tour) - p.tour_length(new) == gain


def test_segment_splice_is_exact(make_problem):
    p = make_problem(200, seed=32)
    tour = np.arange(p.n)
    better = UnitResult("u", "segment", np.array([10, 12, 11, 13]), 0, 0, False, 0.0, "test")
    base_len = p.distances(np.array([10, 11, 12]), np.array([11, 12, 13])).sum()
    new_len = p.distances(np.array([10, 12, 11]), np.array([12, 11, 13])).sum()
    out = apply_results(p, tour, [better])
    if new_len < base_len:
        np.testing.assert_array_equal(out[10:14], [10, 12, 11, 13])
    else:
        np.testing.assert_array_equal(out, tour)
    np.testing.assert_array_equal(np.delete(out, range(10, 14)), np.delete(tour, range(10, 14)))


def test_stale_and_invalid_results_are_skipped(make_problem):
    p = make_problem(500, seed=33)
    tour = np.random.default_rng(1).permutation(p.n)
    results = _round(p, tour, "segment", 100)
    other_base = np.random.default_rng(2).permutation(p.n)  # results computed for another tour
    out = p.validate_tour(apply_results(p, other_base, results))
    assert p.tour_length(out) <= p.tour_length(other_base)
    junk = [UnitResult("x", "segment", np.array([1, 1, 2]), 0, 5, False, 0.0, "t"),
            UnitResult("y", "island", np.arange(10), 0, None, False, 0.0, "t"),
            UnitResult("z", "region", np.array([-1, 7, p.n + 5]), 0, 5, False, 0.0, "t")]
    np.testing.assert_array_equal(apply_results(p, tour, junk), tour)


def test_overlapping_results_give_at_least_the_larger_gain(make_problem):
    p = make_problem(400, seed=34)
    tour = np.random.default_rng(3).permutation(p.n)
    a = run_unit(p, UnitSpec("a", "segment", 1, 0.2, 0, 100), tour)
    b = run_unit(p, UnitSpec("b", "segment", 2, 0.2, 50, 100), tour)
    out = p.validate_tour(apply_results(p, tour, [a, b]))
    best_gain = max(a.base_length - a.length, b.base_length - b.length)
    assert p.tour_length(tour) - p.tour_length(out) >= best_gain


def test_whole_tours_compete_with_the_base(make_problem):
    p = make_problem(100, seed=35)
    base = np.arange(p.n)
    worse = np.random.default_rng(4).permutation(p.n)
    island = run_unit(p, UnitSpec("i", "island", 0, 0.2), base, matrix_budget_bytes=1 << 30)
    out = apply_results(p, base, [
        UnitResult("w", "island", worse, p.tour_length(worse), None, False, 0.0, "t"), island])
    assert p.tour_length(out) == min(p.tour_length(base), island.length)
