"""Partition first tours: compact parts that fit the budget, joined into one valid, short tour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.solver.budget import matrix_bytes, max_matrix_nodes
from tsp_celery.solver.construct import greedy_tour
from tsp_celery.solver.partition import join_cycles, partition_tour, spatial_parts
from tsp_celery.solver.units import PARTITION_MIN_S_PER_NODE, initial_tour


@pytest.mark.parametrize("n, max_nodes", [(1000, 1000), (1000, 300), (2049, 512), (5, 1)])
def test_parts_cover_every_node_once_within_the_size(n, max_nodes, make_problem):
    p = make_problem(n, seed=1)
    parts = spatial_parts(p.coords, max_nodes)
    assert len(parts) == math.ceil(n / max_nodes)
    assert all(len(part) <= max_nodes for part in parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n))


def test_two_parts_are_split_across_the_longer_side():
    rng = np.random.default_rng(2)
    xy = rng.random((600, 2)) * [10_000, 1_000]  # wide: the cut must be vertical
    parts = spatial_parts(xy, 300)
    assert xy[parts[0], 0].max() <= xy[parts[1], 0].min()


def test_join_takes_the_cheapest_exchange():
    # two unit squares (x100) three units apart: drop the facing sides, add two bridges of 2
    xy = np.array([[0, 0], [0, 1], [1, 1], [1, 0], [3, 0], [3, 1], [4, 1], [4, 0]]) * 100
    p = Problem.from_coords(xy, "EUC_2D")
    a, b = np.array([0, 1, 2, 3]), np.array([4, 5, 6, 7])
    for right in (b, b[::-1], np.roll(b, 2)):
        joined = p.validate_tour(join_cycles(p, a, right))
        assert p.tour_length(joined) == 400 + 400 - 100 - 100 + 200 + 200
    np.testing.assert_array_equal(join_cycles(p, np.empty(0, dtype=np.int64), b), b)


def _best_exchange(p: Problem, a: np.ndarray, b: np.ndarray) -> float:
    """Brute force: the cheapest way to join two cycles by dropping one edge of each."""
    a1, a2 = a[:, None], np.roll(a, -1)[:, None]
    best = np.inf
    for b1, b2 in ((b, np.roll(b, -1)), (np.roll(b, -1), b)):
        cost = (p.distances(a1, b1[None, :]) + p.distances(a2, b2[None, :])
                - p.distances(a1, a2) - p.distances(b1, b2)[None, :])
        best = min(best, cost.min())
    return best


@pytest.mark.parametrize("seed", [8, 9, 12, 13])
def test_join_of_far_apart_clusters_is_the_cheapest_exchange(seed):
    # every b-point's 8 nearest points are in b: the join falls back to searching a directly
    rng = np.random.default_rng(seed)
    xy = np.vstack([rng.random((40, 2)) * 1000, rng.random((40, 2)) * 1000 + [50_000, 3_000]])
    p = Problem.from_coords(np.rint(xy), "EUC_2D")
    a, b = np.arange(40), np.arange(40, 80)
    joined = p.validate_tour(join_cycles(p, a, b))
    added = p.tour_length(joined) - p.tour_length(a) - p.tour_length(b)
    assert added == _best_exchange(p, a, b)


def test_join_keeps_every_node_of_large_cycles(make_problem):
    p = make_problem(900, seed=3)
    parts = spatial_parts(p.coords, 300)
    tour = np.empty(0, dtype=np.int64)
    for part in parts:
        tour = join_cycles(p, tour, part)
    p.validate_tour(tour)


@pytest.mark.timeout(60)
def test_partition_tour_is_far_shorter_than_greedy(make_problem):
    p = make_problem(3000, seed=4, span=1_000_000)
    tour = p.validate_tour(partition_tour(p, 800, 6.0, seed=1, threads=2))
    # fast-tsp parts are within a few % of optimal, greedy edge some 15-20 % above it
    assert p.tour_length(tour) < 0.93 * p.tour_length(greedy_tour(p, 1))


def test_partition_needs_coordinates(burma14):
    with pytest.raises(ValueError, match="coordinates"):
        partition_tour(Problem.from_matrix(burma14.submatrix()), 5, 1.0)


@pytest.mark.timeout(60)
def test_initial_tour_partitions_when_time_allows(make_problem):
    p = make_problem(2000, seed=5, span=1_000_000)
    budget = matrix_bytes(700)
    assert max_matrix_nodes(budget) < p.n
    greedy = initial_tour(p, 2, matrix_budget_bytes=budget, polish_s=0)
    too_short = initial_tour(p, 2, matrix_budget_bytes=budget, polish_s=0,
                             partition_s=0.5 * PARTITION_MIN_S_PER_NODE * p.n)
    np.testing.assert_array_equal(too_short, greedy)  # below the threshold: greedy
    parted = p.validate_tour(initial_tour(p, 2, matrix_budget_bytes=budget, polish_s=0,
                                          partition_s=3.0, threads=2))
    # three fast-tsp parts of ~667 nodes are within a few % of optimal, greedy ~15-20 % above
    assert p.tour_length(parted) < 0.93 * p.tour_length(greedy)
