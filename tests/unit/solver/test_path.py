"""Sub-problems with fixed ends: ends stay, results never get longer, bad engines are caught."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.solver.engine import get_engine
from tsp_celery.solver.path import (
    SEPARATOR,
    runs_in_tour,
    sequence_length,
    solve_path,
    solve_sequence,
)


class ShuffleEngine:
    """A hostile engine: a random permutation, usually with the dummies off their ends."""

    name = "test-shuffle"
    proves_optimality = False

    def solve(self, matrix, budget_s, seed):
        return np.random.default_rng(seed).permutation(matrix.shape[0])


class BrokenEngine(ShuffleEngine):
    name = "test-broken"

    def solve(self, matrix, budget_s, seed):
        return np.zeros(matrix.shape[0], dtype=np.int64)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size", [4, 15, 120])
def test_path_keeps_ends_and_never_gets_longer(make_problem, seed, size):
    p = make_problem(400, seed=seed)
    segment = np.random.default_rng(seed).permutation(p.n)[:size]
    res = solve_path(p, segment, get_engine("fast-tsp"), 0.2, seed)
    assert res.sequence[0] == segment[0] and res.sequence[-1] == segment[-1]
    assert sorted(res.sequence.tolist()) == sorted(segment.tolist())
    assert res.length <= res.base_length
    assert res.length == sequence_length(p, np.concatenate([[SEPARATOR], res.sequence]))
    if size >= 15:  # a random path of that size always has slack
        assert res.improved


def test_scaled_path_problem(make_problem):
    p = make_problem(300, seed=5, span=5_000_000)  # edges far beyond 65535
    segment = np.random.default_rng(0).permutation(p.n)[:200]
    res = solve_path(p, segment, get_engine("fast-tsp"), 0.3, 0)
    assert res.improved and res.sequence[0] == segment[0] and res.sequence[-1] == segment[-1]


@pytest.mark.parametrize("engine", [ShuffleEngine(), BrokenEngine()])
def test_invalid_engine_answers_keep_the_base(make_problem, engine):
    p = make_problem(100, seed=6)
    segment = np.arange(50)
    res = solve_path(p, segment, engine, 0.1, 3)
    np.testing.assert_array_equal(res.sequence, segment)
    assert res.length == res.base_length


def test_runs_in_tour_marks_each_stretch():
    tour = np.array([5, 3, 0, 1, 4, 2, 6, 7])
    np.testing.assert_array_equal(runs_in_tour(tour, np.array([3, 0, 2, 7])),
                                  [SEPARATOR, 3, 0, SEPARATOR, 2, SEPARATOR, 7])
    np.testing.assert_array_equal(runs_in_tour(tour, np.array([5, 7])), [SEPARATOR, 7, 5])
    np.testing.assert_array_equal(runs_in_tour(tour, np.arange(8)), tour)


def test_region_result_keeps_the_stretches_attached(make_problem):
    p = make_problem(600, seed=7)
    tour = np.random.default_rng(1).permutation(p.n)
    base = runs_in_tour(tour, np.arange(0, 600, 3))  # every third node: many runs
    res = solve_sequence(p, base, get_engine("fast-tsp"), 0.3, 2)
    assert res.improved
    assert sorted(res.sequence[res.sequence != SEPARATOR]) == sorted(base[base != SEPARATOR])
    assert np.count_nonzero(res.sequence == SEPARATOR) == np.count_nonzero(base == SEPARATOR)
